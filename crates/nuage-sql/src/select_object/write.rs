//! The answer's rows in the request's OutputSerialization: CSV through
//! arrow's CSV writer (delimiters, quote, escape, QuoteFields), JSON as one
//! object per record keyed by S3 Select's column names, without the
//! attributes that are absent (NULL), ended by the record delimiter.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::writer::Terminator;
use datafusion::arrow::csv::{QuoteStyle, WriterBuilder as CsvWriter};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::json::writer::{LineDelimited, WriterBuilder as JsonWriter};

use super::{Output, SelectError};

pub struct Writer {
    output: Output,
    names: Vec<String>,
}

impl Writer {
    pub fn new(output: Output, names: Vec<String>) -> Self {
        Writer { output, names }
    }

    /// One batch of rows, printed.
    pub fn records(&self, batch: &RecordBatch) -> Result<Bytes, SelectError> {
        if batch.num_rows() == 0 {
            return Ok(Bytes::new());
        }
        let failed = |e: datafusion::arrow::error::ArrowError| {
            SelectError::new("InternalError", format!("writing records: {e}"))
        };
        let mut out = Vec::new();
        match &self.output {
            Output::Csv(csv) => {
                let mut builder = CsvWriter::new()
                    .with_header(false)
                    .with_delimiter(csv.field_delimiter)
                    .with_quote(csv.quote)
                    .with_quote_style(if csv.always_quote {
                        QuoteStyle::Always
                    } else {
                        QuoteStyle::Necessary
                    })
                    .with_line_terminator(match csv.record_delimiter {
                        Some(b) => Terminator::Any(b),
                        None => Terminator::CRLF,
                    });
                builder = if csv.escape == csv.quote {
                    builder.with_double_quote(true)
                } else {
                    builder.with_escape(csv.escape).with_double_quote(false)
                };
                let mut writer = builder.build(&mut out);
                writer.write(batch).map_err(failed)?;
            }
            Output::Json { record_delimiter } => {
                let named = self.named(batch).map_err(failed)?;
                let mut writer = JsonWriter::new()
                    .with_explicit_nulls(false)
                    .build::<_, LineDelimited>(&mut out);
                writer.write(&named).map_err(failed)?;
                writer.finish().map_err(failed)?;
                drop(writer);
                // A JSON line holds no raw newline (strings escape theirs).
                if record_delimiter.as_slice() != b"\n" {
                    out = out
                        .split(|b| *b == b'\n')
                        .filter(|line| !line.is_empty())
                        .flat_map(|line| line.iter().chain(record_delimiter.iter()).copied())
                        .collect();
                }
            }
        }
        Ok(out.into())
    }

    /// The batch with S3 Select's column names (which may repeat).
    fn named(
        &self,
        batch: &RecordBatch,
    ) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
        let fields: Vec<Field> = batch
            .schema()
            .fields()
            .iter()
            .zip(&self.names)
            .map(|(f, name)| f.as_ref().clone().with_name(name))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
    }
}
