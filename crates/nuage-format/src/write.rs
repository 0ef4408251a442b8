//! Writing query results as table files: delimited text, OpenCSV, JSON lines
//! or Parquet, one file per partition per statement.
//!
//! Every file goes through `object_store`'s buffered multipart writer, which on
//! the local lake writes a staging file and renames it when complete: a reader
//! never sees half a file.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion_datasource::file_compression_type::FileCompressionType;
use nuage_catalog::{FileFormat, Table};
use nuage_lake::{Lake, Location};
use object_store::buffered::BufWriter;
use tokio::io::AsyncWriteExt;

use super::options::text_separators;
use crate::display::{Style, write_value};

/// Where text goes: the object's writer, possibly through a compressor.
type TextOut = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// One file being written.
enum Sink {
    Text {
        out: TextOut,
        buf: String,
        seps: super::Separators,
    },
    Csv {
        out: TextOut,
        buf: String,
        separator: char,
        quote: char,
        escape: char,
    },
    Json {
        out: TextOut,
    },
    Parquet(Box<AsyncArrowWriter<BufWriter>>),
}

/// A file a statement wrote: where, and how many rows.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub location: Location,
    /// The folder of the file (the partition's folder for partitioned tables).
    pub dir: Location,
    pub partition: Vec<String>,
    pub rows: u64,
}

/// Files a statement keeps open at once. Past this the least recently written
/// is closed, and its partition gets another file if more rows come: memory
/// stays bounded however many partitions one INSERT or CTAS writes.
const MAX_OPEN_FILES: usize = 64;

/// Routes rows to files per partition under a data folder.
pub struct TableWriter {
    lake: Arc<Lake>,
    table: Table,
    data_dir: Location,
    /// `part-<uuid>`; a partition's second file adds `-1`, and so on.
    file_stem: String,
    /// `.parquet`, `.json.gz`, ...
    file_extension: String,
    /// Values of partition columns fixed by `PARTITION (k='v')`; `None` entries come from the rows.
    static_partition: Vec<Option<String>>,
    data_schema: SchemaRef,
    /// Folders of partitions that already exist (they may live anywhere).
    partition_dirs: BTreeMap<Vec<String>, Location>,
    sinks: BTreeMap<Vec<String>, (Sink, WrittenFile, u64)>,
    /// Files closed early to stay under [`MAX_OPEN_FILES`].
    closed: Vec<WrittenFile>,
    /// How many files each partition has had, for their names.
    files_per_partition: BTreeMap<Vec<String>, usize>,
    /// Counts writes, to find the least recently written file.
    clock: u64,
}

impl TableWriter {
    /// `data_dir` is where this statement's files go (the table's data location or
    /// a new snapshot); `static_partition` has one entry per partition column.
    pub fn new(
        lake: Arc<Lake>,
        table: &Table,
        data_dir: Location,
        static_partition: Vec<Option<String>>,
    ) -> Self {
        let data_schema = crate::types::schema_of(&table.columns);
        let extension = match table.storage.format {
            FileFormat::Parquet => ".parquet",
            FileFormat::Json => ".json",
            FileFormat::Csv => ".csv",
            FileFormat::Text => "",
        };
        let codec = match table.storage.format {
            FileFormat::Parquet => "",
            _ => match text_codec(table) {
                Ok(Some(c)) if c == FileCompressionType::GZIP => ".gz",
                Ok(Some(c)) if c == FileCompressionType::ZSTD => ".zst",
                Ok(Some(c)) if c == FileCompressionType::BZIP2 => ".bz2",
                _ => "",
            },
        };
        Self {
            lake,
            table: table.clone(),
            data_dir,
            file_stem: format!("part-{}", uuid::Uuid::new_v4().simple()),
            file_extension: format!("{extension}{codec}"),
            static_partition,
            data_schema,
            partition_dirs: BTreeMap::new(),
            sinks: BTreeMap::new(),
            closed: Vec::new(),
            files_per_partition: BTreeMap::new(),
            clock: 0,
        }
    }

    /// Names the files `<stem>.parquet`, `<stem>-1.parquet`, ... instead of
    /// `part-<uuid>`: a writer that redoes the same rows after a crash
    /// replaces its earlier files instead of adding copies.
    pub fn with_file_stem(mut self, stem: &str) -> Self {
        self.file_stem = stem.to_string();
        self
    }

    /// Writes rows of these partitions into their existing folders.
    pub fn with_partition_dirs(mut self, dirs: BTreeMap<Vec<String>, Location>) -> Self {
        self.partition_dirs = dirs;
        self
    }

    /// Writes a batch whose columns are the table's data columns followed by the
    /// dynamic partition columns (those not fixed statically), in order.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let data_width = self.data_schema.fields().len();
        let dynamic: Vec<usize> = (0..self.static_partition.len())
            .filter(|i| self.static_partition[*i].is_none())
            .collect();
        if batch.num_columns() != data_width + dynamic.len() {
            return Err(DataFusionError::Plan(format!(
                "table {} needs {} columns{} but the query produces {}",
                self.table.qualified_name(),
                data_width + dynamic.len(),
                if dynamic.is_empty() {
                    String::new()
                } else {
                    format!(" ({} data + {} partition)", data_width, dynamic.len())
                },
                batch.num_columns()
            )));
        }
        let data = cast_to(batch, data_width, &self.data_schema)?;
        if dynamic.is_empty() {
            let values = self
                .static_partition
                .iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect();
            return self.sink_write(values, &data).await;
        }
        // Group rows by their dynamic partition values.
        let keys: Vec<Vec<String>> = (0..batch.num_rows())
            .map(|row| {
                dynamic
                    .iter()
                    .enumerate()
                    .map(|(j, _)| partition_text(batch.column(data_width + j), row))
                    .collect()
            })
            .collect();
        let mut groups: BTreeMap<Vec<String>, Vec<u32>> = BTreeMap::new();
        for (row, key) in keys.into_iter().enumerate() {
            groups.entry(key).or_default().push(row as u32);
        }
        for (key, rows) in groups {
            let indices = UInt32Array::from(rows);
            let columns: Vec<ArrayRef> = data
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<_, _>>()?;
            let part = RecordBatch::try_new(data.schema(), columns)?;
            let mut dynamic_values = key.into_iter();
            let values = self
                .static_partition
                .iter()
                .map(|v| {
                    v.clone()
                        .unwrap_or_else(|| dynamic_values.next().unwrap_or_default())
                })
                .collect();
            self.sink_write(values, &part).await?;
        }
        Ok(())
    }

    async fn sink_write(&mut self, partition: Vec<String>, batch: &RecordBatch) -> Result<()> {
        self.clock += 1;
        if !self.sinks.contains_key(&partition) && self.sinks.len() >= MAX_OPEN_FILES {
            let oldest = self
                .sinks
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone())
                .expect("files are open");
            let (sink, file, _) = self.sinks.remove(&oldest).expect("just found");
            close(sink).await?;
            self.closed.push(file);
        }
        if !self.sinks.contains_key(&partition) {
            let dir = if self.table.partition_columns.is_empty() {
                self.data_dir.clone()
            } else if let Some(dir) = self.partition_dirs.get(&partition) {
                dir.clone()
            } else {
                self.data_dir.join(&nuage_catalog::partition_spec(
                    &self.table.partition_columns,
                    &partition,
                ))
            };
            let count = self
                .files_per_partition
                .entry(partition.clone())
                .or_default();
            let name = match *count {
                0 => format!("{}{}", self.file_stem, self.file_extension),
                n => format!("{}-{n}{}", self.file_stem, self.file_extension),
            };
            *count += 1;
            let location = dir.join(&name);
            let sink = self.open(&location)?;
            let file = WrittenFile {
                location,
                dir,
                partition: partition.clone(),
                rows: 0,
            };
            self.sinks.insert(partition.clone(), (sink, file, 0));
        }
        let clock = self.clock;
        let (sink, file, used) = self.sinks.get_mut(&partition).expect("just inserted");
        *used = clock;
        file.rows += batch.num_rows() as u64;
        write_batch(sink, batch).await
    }

    /// After a failure: deletes the files already closed (open ones are
    /// abandoned unfinished, so they never appear).
    pub async fn abort(self) {
        for file in self.closed {
            let _ = self.lake.remove(&file.location, false).await;
        }
    }

    fn open(&self, location: &Location) -> Result<Sink> {
        let (store, path) = self
            .lake
            .store_for(location)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let writer = BufWriter::new(store, path);
        if self.table.storage.format == FileFormat::Parquet {
            let properties = WriterProperties::builder()
                .set_compression(parquet_codec(&self.table)?)
                .build();
            return Ok(Sink::Parquet(Box::new(AsyncArrowWriter::try_new(
                writer,
                self.data_schema.clone(),
                Some(properties),
            )?)));
        }
        let props = &self.table.storage.serde_properties;
        let out: TextOut = match text_codec(&self.table)? {
            Some(codec) => codec.convert_async_writer(writer)?,
            None => Box::new(writer),
        };
        Ok(match self.table.storage.format {
            FileFormat::Text => Sink::Text {
                out,
                buf: String::new(),
                seps: text_separators(props),
            },
            FileFormat::Csv => {
                let ch =
                    |k: &str, d: char| props.get(k).and_then(|v| v.chars().next()).unwrap_or(d);
                Sink::Csv {
                    out,
                    buf: String::new(),
                    separator: ch("separatorChar", ','),
                    quote: ch("quoteChar", '"'),
                    escape: ch("escapeChar", '\\'),
                }
            }
            FileFormat::Json => Sink::Json { out },
            FileFormat::Parquet => unreachable!("Parquet returned above"),
        })
    }

    /// Closes every file; returns what was written. Nothing is visible before this.
    pub async fn finish(self) -> Result<Vec<WrittenFile>> {
        let mut written = self.closed;
        for (_, (sink, file, _)) in self.sinks {
            close(sink).await?;
            written.push(file);
        }
        Ok(written)
    }
}

/// Finishes a file: from then on it is complete and visible.
async fn close(sink: Sink) -> Result<()> {
    match sink {
        Sink::Text { mut out, .. } | Sink::Csv { mut out, .. } | Sink::Json { mut out } => {
            out.shutdown().await.map_err(DataFusionError::IoError)
        }
        Sink::Parquet(writer) => {
            writer.close().await?;
            Ok(())
        }
    }
}

/// The compression a table asks for: Athena's `write_compression` (kept as
/// `write.compression`), or Hive's `parquet.compression` / `compression`.
fn requested_compression(table: &Table) -> Option<String> {
    ["write.compression", "parquet.compression", "compression"]
        .iter()
        .find_map(|k| table.properties.get(*k))
        .map(|v| v.trim().to_ascii_uppercase())
}

fn parquet_codec(table: &Table) -> Result<Compression> {
    use datafusion::parquet::basic::{GzipLevel, ZstdLevel};
    Ok(match requested_compression(table).as_deref() {
        None | Some("SNAPPY") => Compression::SNAPPY,
        Some("GZIP") => Compression::GZIP(GzipLevel::default()),
        Some("ZSTD") => Compression::ZSTD(ZstdLevel::default()),
        Some("LZ4") => Compression::LZ4_RAW,
        Some("NONE" | "UNCOMPRESSED") => Compression::UNCOMPRESSED,
        Some(other) => {
            return Err(DataFusionError::Plan(format!(
                "Parquet write compression {other} is not supported; use SNAPPY, GZIP, ZSTD, LZ4 or NONE"
            )));
        }
    })
}

fn text_codec(table: &Table) -> Result<Option<FileCompressionType>> {
    Ok(match requested_compression(table).as_deref() {
        None | Some("NONE" | "UNCOMPRESSED") => None,
        Some("GZIP") => Some(FileCompressionType::GZIP),
        Some("ZSTD") => Some(FileCompressionType::ZSTD),
        Some("BZIP2") => Some(FileCompressionType::BZIP2),
        Some(other) => {
            return Err(DataFusionError::Plan(format!(
                "text write compression {other} is not supported; use GZIP, ZSTD, BZIP2 or NONE"
            )));
        }
    })
}

/// The first `width` columns of `batch`, cast to the table's column types.
fn cast_to(batch: &RecordBatch, width: usize, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = (0..width)
        .map(|i| {
            let target = schema.field(i).data_type();
            let column = batch.column(i);
            if column.data_type() == target {
                Ok(column.clone())
            } else {
                datafusion::arrow::compute::cast(column, target).map_err(DataFusionError::from)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(schema.fields().clone())),
        columns,
        &datafusion::arrow::record_batch::RecordBatchOptions::new()
            .with_row_count(Some(batch.num_rows())),
    )?)
}

/// A partition value as text; NULL goes to Hive's default partition.
fn partition_text(array: &ArrayRef, row: usize) -> String {
    if crate::display::is_null(array.as_ref(), row) {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    }
    let mut out = String::new();
    write_value(&mut out, array, row, Style::Cli);
    out
}

async fn write_batch(sink: &mut Sink, batch: &RecordBatch) -> Result<()> {
    match sink {
        Sink::Text { out, buf, seps } => {
            buf.clear();
            let sep = seps.levels[0] as char;
            for row in 0..batch.num_rows() {
                for (i, column) in batch.columns().iter().enumerate() {
                    if i > 0 {
                        buf.push(sep);
                    }
                    write_value(buf, column, row, Style::Text(seps));
                }
                buf.push('\n');
            }
            out.write_all(buf.as_bytes())
                .await
                .map_err(DataFusionError::IoError)
        }
        Sink::Csv {
            out,
            buf,
            separator,
            quote,
            escape,
        } => {
            buf.clear();
            let mut value = String::new();
            for row in 0..batch.num_rows() {
                for (i, column) in batch.columns().iter().enumerate() {
                    if i > 0 {
                        buf.push(*separator);
                    }
                    value.clear();
                    if !crate::display::is_null(column.as_ref(), row) {
                        write_value(&mut value, column, row, Style::Cli);
                    }
                    buf.push(*quote);
                    for c in value.chars() {
                        if c == *quote || c == *escape {
                            buf.push(*escape);
                        }
                        buf.push(c);
                    }
                    buf.push(*quote);
                }
                buf.push('\n');
            }
            out.write_all(buf.as_bytes())
                .await
                .map_err(DataFusionError::IoError)
        }
        Sink::Json { out } => {
            let mut bytes = Vec::new();
            {
                let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut bytes);
                writer.write(batch)?;
                writer.finish()?;
            }
            out.write_all(&bytes)
                .await
                .map_err(DataFusionError::IoError)
        }
        Sink::Parquet(writer) => Ok(writer.write(batch).await?),
    }
}

use datafusion::arrow::array::Array;
