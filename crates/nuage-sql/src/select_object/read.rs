//! The object's records as a DataFusion table: CSV and JSON through
//! arrow's readers (after gzip or bzip2), Parquet through its own reader,
//! each on the blocking pool, a batch at a time.
//!
//! CSV columns are all text (S3 Select casts them where a query needs a
//! number) and are named `_1`, `_2`, ... inside the table whatever their
//! header says, so headers that repeat or differ only in case still work.
//! JSON is read twice: once to learn the records' keys and types, once to
//! decode; neither keeps more than a batch of records in memory.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::csv::reader::Format;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::reader::infer_json_schema_from_iterator;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::file::reader::{ChunkReader, Length};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use serde_json::Value;

use super::sql::{Column, Columns, Step, Unknown};
use super::{Compression, Counts, CsvInput, Header, Input, Request, SelectError, Source};

/// Records per batch.
const BATCH: usize = 8192;

/// The object's records: the names a query may use, and how to read them.
pub struct Table {
    pub columns: Columns,
    schema: SchemaRef,
    open: Arc<Open>,
}

impl Table {
    fn new(
        schema: SchemaRef,
        columns: Columns,
        open: impl Fn(&[usize]) -> Result<Batches, DataFusionError> + Send + Sync + 'static,
    ) -> Self {
        Table {
            columns,
            schema,
            open: Arc::new(open),
        }
    }

    /// The table DataFusion reads, with only `fields` (the first one when
    /// the query names none, so that rows are still counted): the readers
    /// build no column the query does not read.
    pub fn provider(&self, fields: &BTreeSet<String>) -> Result<StreamingTable, DataFusionError> {
        let mut indices: Vec<usize> = fields
            .iter()
            .filter_map(|f| self.schema.index_of(f).ok())
            .collect();
        indices.sort_unstable();
        if indices.is_empty() && !self.schema.fields().is_empty() {
            indices.push(0);
        }
        let projected = Arc::new(self.schema.project(&indices)?);
        let scan = Scan {
            schema: projected.clone(),
            indices,
            open: self.open.clone(),
        };
        StreamingTable::try_new(projected, vec![Arc::new(scan)])
    }
}

/// Learns the object's columns and prepares its scan.
pub fn table(
    request: &Request,
    source: Source,
    path: &[Step],
    counts: Arc<Counts>,
) -> Result<Table, SelectError> {
    let compressed = request.compression != Compression::None;
    let range = scan_range(request, &source)?;
    let bytes = Object {
        source,
        compression: request.compression,
        counts,
    };
    match &request.input {
        Input::Csv(csv) => {
            if !path.is_empty() && path != [Step::Elements] {
                return Err(path_on_flat_input("CSV"));
            }
            csv_table(csv, bytes, range)
        }
        Input::Json { .. } => json_table(bytes, path, range),
        Input::Parquet => {
            if compressed {
                return Err(SelectError::new(
                    "ObjectSerializationConflict",
                    "Parquet input takes CompressionType NONE (Parquet compresses its own columns)",
                ));
            }
            if !path.is_empty() && path != [Step::Elements] {
                return Err(path_on_flat_input("Parquet"));
            }
            parquet_table(bytes)
        }
    }
}

fn path_on_flat_input(kind: &str) -> SelectError {
    SelectError::new(
        "UnsupportedSyntax",
        format!("a path after S3Object is for JSON input; {kind} records are flat"),
    )
}

/// The bytes to read: the whole object, or the records a ScanRange starts.
fn scan_range(request: &Request, source: &Source) -> Result<Option<(u64, u64)>, SelectError> {
    let Some((start, end)) = request.scan_range else {
        return Ok(None);
    };
    let invalid = |why: &str| SelectError::new("InvalidScanRange", why.to_string());
    let scannable = matches!(
        request.input,
        Input::Csv(_) | Input::Json { document: false }
    ) && request.compression == Compression::None;
    if !scannable {
        return Err(invalid(
            "ScanRange is for uncompressed CSV and JSON LINES objects",
        ));
    }
    let len = source.len();
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) if start > end => {
            return Err(invalid("the ScanRange's Start is past its End"));
        }
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, u64::MAX),
        (None, Some(last)) => (len.saturating_sub(last), u64::MAX),
        (None, None) => return Err(invalid("a ScanRange needs a Start or an End")),
    };
    Ok(Some((start, end)))
}

/// Where records begin and end in a scan range: from the first record
/// starting at or after `start` to the end of the record holding `end`.
fn record_bounds(
    source: &Source,
    (start, end): (u64, u64),
    delimiter: u8,
) -> io::Result<(u64, u64)> {
    let len = source.len();
    let begin = if start == 0 {
        0
    } else {
        next_delimiter(source, start - 1, delimiter)?.map_or(len, |at| at + 1)
    };
    let stop = if end >= len {
        len
    } else {
        next_delimiter(source, end, delimiter)?.map_or(len, |at| at + 1)
    };
    Ok((begin, stop.max(begin)))
}

fn next_delimiter(source: &Source, from: u64, delimiter: u8) -> io::Result<Option<u64>> {
    let mut at = from;
    let mut buf = vec![0; 64 * 1024];
    while at < source.len() {
        let n = source.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        if let Some(i) = memchr::memchr(delimiter, &buf[..n]) {
            return Ok(Some(at + i as u64));
        }
        at += n as u64;
    }
    Ok(None)
}

impl Source {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Source::File { file, len } => {
                let want = buf.len().min(len.saturating_sub(offset) as usize);
                file.read_at(&mut buf[..want], offset)
            }
            Source::Bytes(bytes) => {
                let Some(rest) = bytes.get(offset as usize..) else {
                    return Ok(0);
                };
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
        }
    }
}

/// The object's bytes, opened as many times as a scan needs.
#[derive(Clone)]
struct Object {
    source: Source,
    compression: Compression,
    counts: Arc<Counts>,
}

impl Object {
    /// A reader of `range` (default: all), decompressed; `count` adds what
    /// it reads to the request's figures.
    fn open(&self, range: Option<(u64, u64)>, count: bool) -> Box<dyn Read + Send> {
        let (at, end) = range.unwrap_or((0, self.source.len()));
        let raw = Counting {
            inner: At {
                source: self.source.clone(),
                at,
                end,
            },
            counter: count.then(|| self.counts.clone()),
            scanned: true,
        };
        let plain: Box<dyn Read + Send> = match self.compression {
            Compression::None => Box::new(raw),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(raw))),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(raw))),
        };
        Box::new(Counting {
            inner: plain,
            counter: count.then(|| self.counts.clone()),
            scanned: false,
        })
    }
}

/// Reads a source from an offset.
struct At {
    source: Source,
    at: u64,
    end: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.end.saturating_sub(self.at) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.source.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Adds the bytes read to the scanned or processed count.
struct Counting<R> {
    inner: R,
    counter: Option<Arc<Counts>>,
    scanned: bool,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(counts) = &self.counter {
            let counter = if self.scanned {
                &counts.scanned
            } else {
                &counts.processed
            };
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

fn csv_format(csv: &CsvInput, header: bool) -> Format {
    let mut format = Format::default()
        .with_header(header)
        .with_delimiter(csv.field_delimiter)
        .with_quote(csv.quote)
        .with_truncated_rows(true);
    if csv.escape != csv.quote {
        format = format.with_escape(csv.escape);
    }
    if let Some(comment) = csv.comment {
        format = format.with_comment(comment);
    }
    if let Some(terminator) = csv.record_delimiter {
        format = format.with_terminator(terminator);
    }
    format
}

fn csv_table(
    csv: &CsvInput,
    bytes: Object,
    range: Option<(u64, u64)>,
) -> Result<Table, SelectError> {
    let has_header = csv.header != Header::None;
    let (first, _) = csv_format(csv, has_header)
        .infer_schema(bytes.open(None, false), Some(0))
        .map_err(csv_error)?;
    let widest = widest_record(csv, bytes.open(None, false), SAMPLE).map_err(|e| {
        SelectError::new(
            "CSVParsingError",
            format!("the CSV object does not read: {e}"),
        )
    })?;
    let headers: Vec<String> = if csv.header == Header::Use {
        first.fields().iter().map(|f| f.name().clone()).collect()
    } else {
        Vec::new()
    };
    let columns: Vec<Column> = (1..=widest.max(first.fields().len()))
        .map(|i| Column {
            field: format!("_{i}"),
            name: headers
                .get(i - 1)
                .cloned()
                .unwrap_or_else(|| format!("_{i}")),
        })
        .collect();
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.field, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let bounds = match range {
        Some(range) => Some(
            record_bounds(&bytes.source, range, csv.record_delimiter.unwrap_or(b'\n'))
                .map_err(|e| SelectError::new("InternalError", e.to_string()))?,
        ),
        None => None,
    };
    // A range that starts past the first record has no header to skip.
    let skip_header = has_header && bounds.is_none_or(|(begin, _)| begin == 0);
    let format = csv_format(csv, skip_header);
    let scan_schema = schema.clone();
    let open = move |indices: &[usize]| -> Result<Batches, DataFusionError> {
        let reader = datafusion::arrow::csv::ReaderBuilder::new(scan_schema.clone())
            .with_format(format.clone())
            .with_batch_size(BATCH)
            .with_projection(indices.to_vec())
            .build(bytes.open(bounds, true))?;
        Ok(Box::new(reader.map(|batch| {
            batch
                .map_err(|e| external(csv_error(e)))
                .and_then(empty_fields_are_text)
        })))
    };
    let columns = Columns {
        list: columns,
        unknown: Unknown::Csv,
    };
    Ok(Table::new(schema, columns, open))
}

/// Records sampled for the widest one: rows may have more fields than the
/// first (a trailing delimiter, say), and every field must have a column.
const SAMPLE: usize = 10_000;

/// The most fields among the first `records` records.
fn widest_record(csv: &CsvInput, mut reader: impl Read, records: usize) -> io::Result<usize> {
    let mut builder = csv_core::ReaderBuilder::new();
    builder
        .delimiter(csv.field_delimiter)
        .quote(csv.quote)
        .comment(csv.comment)
        .terminator(match csv.record_delimiter {
            Some(b) => csv_core::Terminator::Any(b),
            None => csv_core::Terminator::CRLF,
        });
    if csv.escape != csv.quote {
        builder.escape(Some(csv.escape)).double_quote(false);
    }
    let mut parser = builder.build();
    let (mut input, mut field) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    let (mut widest, mut fields, mut seen) = (0, 0, 0);
    let (mut start, mut end) = (0, 0);
    loop {
        if start == end {
            end = reader.read(&mut input)?;
            start = 0;
        }
        let (result, read, _) = parser.read_field(&input[start..end], &mut field);
        start += read;
        match result {
            csv_core::ReadFieldResult::InputEmpty | csv_core::ReadFieldResult::OutputFull => {}
            csv_core::ReadFieldResult::Field { record_end } => {
                fields += 1;
                if record_end {
                    widest = widest.max(fields);
                    fields = 0;
                    seen += 1;
                    if seen == records {
                        return Ok(widest);
                    }
                }
            }
            csv_core::ReadFieldResult::End => return Ok(widest.max(fields)),
        }
    }
}

/// arrow reads an empty field as NULL; in S3 Select it is an empty string.
/// A NULL's slot holds no bytes, so dropping the null mask makes it one
/// (a field missing from a short row becomes one too).
fn empty_fields_are_text(batch: RecordBatch) -> Result<RecordBatch, DataFusionError> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| -> ArrayRef {
            match column.as_any().downcast_ref::<StringArray>() {
                Some(text) if text.null_count() > 0 => {
                    let (offsets, values, _) = text.clone().into_parts();
                    Arc::new(StringArray::new(offsets, values, None))
                }
                _ => column.clone(),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn csv_error(e: ArrowError) -> SelectError {
    SelectError::new(
        "CSVParsingError",
        format!("the CSV object does not parse: {e}"),
    )
}

fn json_error(e: impl fmt::Display) -> SelectError {
    SelectError::new(
        "JSONParsingError",
        format!("the JSON object does not parse: {e}"),
    )
}

fn external(e: SelectError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The records of a JSON object: each root value, walked down `path`;
/// a value that is not an object is the record `{"<last name or _1>": value}`.
fn json_records(
    reader: Box<dyn Read + Send>,
    path: Vec<Step>,
) -> impl Iterator<Item = Result<Value, SelectError>> {
    // S3Object[*] is the root values themselves.
    let path: Vec<Step> = match path.split_first() {
        Some((Step::Elements, rest)) => rest.to_vec(),
        _ => path,
    };
    let name = match path.last() {
        Some(Step::Name(name)) => name.clone(),
        _ => "_1".to_string(),
    };
    serde_json::Deserializer::from_reader(BufReader::new(reader))
        .into_iter::<Value>()
        .flat_map(move |root| -> Vec<Result<Value, SelectError>> {
            match root {
                Err(e) => vec![Err(json_error(e))],
                Ok(root) => walk(root, &path)
                    .into_iter()
                    .map(|value| {
                        Ok(match value {
                            Value::Object(_) => value,
                            other => Value::Object([(name.clone(), other)].into_iter().collect()),
                        })
                    })
                    .collect(),
            }
        })
}

fn walk(value: Value, path: &[Step]) -> Vec<Value> {
    let Some((step, rest)) = path.split_first() else {
        return vec![value];
    };
    let next: Vec<Value> = match (step, value) {
        (Step::Name(name), Value::Object(mut map)) => {
            let key = map
                .keys()
                .find(|k| *k == name)
                .or_else(|| map.keys().find(|k| k.eq_ignore_ascii_case(name)))
                .cloned();
            key.and_then(|k| map.remove(&k)).into_iter().collect()
        }
        (Step::Index(i), Value::Array(mut items)) if *i < items.len() => {
            vec![items.swap_remove(*i)]
        }
        (Step::Elements, Value::Array(items)) => items,
        (Step::Members, Value::Object(map)) => map.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    next.into_iter().flat_map(|v| walk(v, rest)).collect()
}

fn json_table(
    bytes: Object,
    path: &[Step],
    range: Option<(u64, u64)>,
) -> Result<Table, SelectError> {
    let bounds = match range {
        Some(range) => Some(
            record_bounds(&bytes.source, range, b'\n')
                .map_err(|e| SelectError::new("InternalError", e.to_string()))?,
        ),
        None => None,
    };
    let mut failure = None;
    let inferred = infer_json_schema_from_iterator(
        json_records(bytes.open(bounds, false), path.to_vec()).map_while(|record| match record {
            Ok(value) => Some(Ok(value)),
            Err(e) => {
                failure = Some(e);
                None
            }
        }),
    );
    if let Some(e) = failure {
        return Err(e);
    }
    let schema = Arc::new(inferred.map_err(json_error)?);
    let columns = named_as_in(&schema);
    let scan_schema = schema.clone();
    let path = path.to_vec();
    let open = move |indices: &[usize]| -> Result<Batches, DataFusionError> {
        // Keys outside the projection are skipped by the decoder.
        let projected = Arc::new(scan_schema.project(indices)?);
        let mut decoder = datafusion::arrow::json::ReaderBuilder::new(projected)
            .with_batch_size(BATCH)
            .with_coerce_primitive(true)
            .build_decoder()?;
        let mut records = json_records(bytes.open(bounds, true), path.clone());
        let batches = std::iter::from_fn(move || {
            let mut chunk = Vec::with_capacity(BATCH);
            for record in records.by_ref() {
                match record {
                    Ok(value) => chunk.push(value),
                    Err(e) => return Some(Err(external(e))),
                }
                if chunk.len() == BATCH {
                    break;
                }
            }
            if chunk.is_empty() {
                return None;
            }
            let decoded = decoder
                .serialize(&chunk)
                .and_then(|()| decoder.flush())
                .map_err(|e| external(json_error(e)));
            match decoded {
                Ok(Some(batch)) => Some(Ok(batch)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        });
        Ok(Box::new(batches))
    };
    let columns = Columns {
        list: columns,
        unknown: Unknown::Missing,
    };
    Ok(Table::new(schema, columns, open))
}

/// Parquet reads at offsets (footer first), counted as it goes.
#[derive(Clone)]
struct ParquetBytes(Object);

impl Length for ParquetBytes {
    fn len(&self) -> u64 {
        self.0.source.len()
    }
}

impl ChunkReader for ParquetBytes {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> datafusion::parquet::errors::Result<Self::T> {
        Ok(self.0.open(Some((start, self.0.source.len())), true))
    }

    fn get_bytes(
        &self,
        start: u64,
        length: usize,
    ) -> datafusion::parquet::errors::Result<bytes::Bytes> {
        let mut buf = vec![0; length];
        let mut reader = self.0.open(Some((start, start + length as u64)), true);
        reader.read_exact(&mut buf)?;
        Ok(buf.into())
    }
}

fn parquet_table(bytes: Object) -> Result<Table, SelectError> {
    let parquet = ParquetBytes(bytes);
    let invalid = |e: datafusion::parquet::errors::ParquetError| {
        SelectError::new(
            "InvalidDataSource",
            format!("the object is not Parquet: {e}"),
        )
    };
    let schema = ParquetRecordBatchReaderBuilder::try_new(parquet.clone())
        .map_err(invalid)?
        .schema()
        .clone();
    let columns = named_as_in(&schema);
    let open = move |indices: &[usize]| -> Result<Batches, DataFusionError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(parquet.clone())?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH)
            .build()?;
        Ok(Box::new(reader.map(|b| b.map_err(DataFusionError::from))))
    };
    let columns = Columns {
        list: columns,
        unknown: Unknown::Error,
    };
    Ok(Table::new(schema, columns, open))
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, DataFusionError>> + Send>;
/// Opens a reader of the columns at these indices.
type Open = dyn Fn(&[usize]) -> Result<Batches, DataFusionError> + Send + Sync;

/// One pass over the object per execution, read on the blocking pool and
/// handed over a batch at a time (the reader stops when the query does).
struct Scan {
    schema: SchemaRef,
    indices: Vec<usize>,
    open: Arc<Open>,
}

impl fmt::Debug for Scan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scan")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PartitionStream for Scan {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let (open, indices) = (self.open.clone(), self.indices.clone());
        tokio::task::spawn_blocking(move || match open(&indices) {
            Ok(batches) => {
                for batch in batches {
                    if tx.blocking_send(batch).is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let batches = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}

/// A JSON or Parquet object's columns: queried by the names it has.
fn named_as_in(schema: &Schema) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column {
            field: f.name().clone(),
            name: f.name().clone(),
        })
        .collect()
}
