//! Printing result rows: Hive's tab-separated text by default, or CSV, JSON
//! lines or an aligned table.

use std::io::Write;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use nuage_format::display::{Style, write_value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tab-separated, as `hive -f` prints
    Tsv,
    Csv,
    /// One JSON object per row
    Json,
    /// An aligned table (collects all rows first)
    Table,
}

/// Writes result rows as they arrive.
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    header: bool,
    header_done: bool,
    table: Vec<RecordBatch>,
    line: String,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: Format) -> Self {
        Self {
            out,
            format,
            header: false,
            header_done: false,
            table: Vec::new(),
            line: String::new(),
        }
    }

    /// Whether the next results start with a line of column names.
    pub fn set_header(&mut self, header: bool) {
        self.header = header;
    }

    fn header(&mut self, schema: &SchemaRef) -> std::io::Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        match self.format {
            Format::Tsv if self.header => writeln!(self.out, "{}", names.join("\t")),
            Format::Csv if self.header => writeln!(
                self.out,
                "{}",
                names
                    .iter()
                    .map(|n| csv_field(n))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            _ => Ok(()),
        }
    }

    pub fn batch(&mut self, batch: &RecordBatch) -> std::io::Result<()> {
        self.header(&batch.schema())?;
        match self.format {
            Format::Table => {
                self.table.push(batch.clone());
                Ok(())
            }
            Format::Tsv | Format::Csv => {
                for row in 0..batch.num_rows() {
                    self.line.clear();
                    for (i, column) in batch.columns().iter().enumerate() {
                        if i > 0 {
                            self.line.push(if self.format == Format::Tsv {
                                '\t'
                            } else {
                                ','
                            });
                        }
                        if self.format == Format::Tsv {
                            write_value(&mut self.line, column, row, Style::Cli);
                        } else if !nuage_format::display::is_null(column.as_ref(), row) {
                            let mut value = String::new();
                            write_value(&mut value, column, row, Style::Cli);
                            self.line.push_str(&csv_field(&value));
                        }
                    }
                    self.line.push('\n');
                    self.out.write_all(self.line.as_bytes())?;
                }
                Ok(())
            }
            Format::Json => {
                let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut self.out);
                writer.write(batch).map_err(std::io::Error::other)?;
                writer.finish().map_err(std::io::Error::other)
            }
        }
    }

    /// Ends one result (prints the collected table, if any).
    pub fn finish(&mut self, schema: &SchemaRef) -> std::io::Result<()> {
        self.header(schema)?;
        if self.format == Format::Table {
            let batches = std::mem::take(&mut self.table);
            let text = if batches.is_empty() {
                datafusion::arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(
                    schema.clone(),
                )])
            } else {
                datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            }
            .map_err(std::io::Error::other)?;
            writeln!(self.out, "{text}")?;
        }
        self.header_done = false;
        self.out.flush()
    }
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}
