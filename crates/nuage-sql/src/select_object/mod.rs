//! S3 Select (`SelectObjectContent`) on DataFusion: the records of one
//! object, CSV, JSON or Parquet, filtered and projected by S3 Select's SQL
//! and written back as CSV or JSON records.
//!
//! ```text
//!  object bytes ──read (CSV / JSON / Parquet; gzip, bzip2; scan range)──> record batches
//!                                                                              │
//!  expression ──sql (S3Object and its alias, names without case, _N)──> DataFusion plan
//!                                                                              │
//!                                       write (CSV or JSON records) <──────────┘
//! ```
//!
//! - [`read`] turns the object into batches on the blocking pool, counting
//!   the bytes it read (scanned) and decompressed (processed);
//! - [`sql`] checks the expression is what S3 Select accepts (one SELECT
//!   over `S3Object`, WHERE, LIMIT; no joins, grouping, ordering or
//!   subqueries) and names columns the way S3 Select does;
//! - [`write`] prints the answer's rows with the request's delimiters.
//!
//! Errors carry S3 Select's codes (`ParseUnexpectedToken`, `CSVParsingError`,
//! `CastFailed`, ...), for the S3 edge to answer with.

mod dates;
mod read;
mod sql;
mod write;

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use futures::stream::{BoxStream, StreamExt};

/// One SelectObjectContent request, as read off its XML.
#[derive(Debug, Clone)]
pub struct Request {
    pub expression: String,
    pub input: Input,
    pub compression: Compression,
    pub output: Output,
    /// `ScanRange`: the records whose first byte is in `start..=end`
    /// (`end` alone: the last `end` bytes).
    pub scan_range: Option<(Option<u64>, Option<u64>)>,
}

#[derive(Debug, Clone)]
pub enum Input {
    Csv(CsvInput),
    /// `document`: one JSON document (values may span lines); otherwise
    /// one value per line.
    Json {
        document: bool,
    },
    Parquet,
}

#[derive(Debug, Clone)]
pub struct CsvInput {
    pub header: Header,
    pub field_delimiter: u8,
    pub quote: u8,
    /// The character that escapes a quote inside a quoted field (the quote
    /// itself: a doubled quote).
    pub escape: u8,
    /// Lines starting with it are skipped.
    pub comment: Option<u8>,
    /// `None`: `\n` or `\r\n`.
    pub record_delimiter: Option<u8>,
}

impl Default for CsvInput {
    fn default() -> Self {
        CsvInput {
            header: Header::None,
            field_delimiter: b',',
            quote: b'"',
            escape: b'"',
            comment: Some(b'#'),
            record_delimiter: None,
        }
    }
}

/// `FileHeaderInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// The first line is a record.
    None,
    /// The first line is a header; columns are named `_1`, `_2`, ...
    Ignore,
    /// The first line names the columns (`_1`, `_2`, ... work too).
    Use,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
}

#[derive(Debug, Clone)]
pub enum Output {
    Csv(CsvOutput),
    Json { record_delimiter: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct CsvOutput {
    pub field_delimiter: u8,
    pub quote: u8,
    pub escape: u8,
    /// `None`: `\r\n`.
    pub record_delimiter: Option<u8>,
    /// `QuoteFields` ALWAYS (else as needed).
    pub always_quote: bool,
}

impl Default for CsvOutput {
    fn default() -> Self {
        CsvOutput {
            field_delimiter: b',',
            quote: b'"',
            escape: b'"',
            record_delimiter: Some(b'\n'),
            always_quote: false,
        }
    }
}

/// The object's bytes: its file (read at offsets, so a later overwrite of
/// the key does not change what is read), or bytes already in memory
/// (decrypted).
#[derive(Debug, Clone)]
pub enum Source {
    File { file: Arc<File>, len: u64 },
    Bytes(Bytes),
}

impl Source {
    pub fn len(&self) -> u64 {
        match self {
            Source::File { len, .. } => *len,
            Source::Bytes(bytes) => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What S3 Select reports in its Stats and Progress events.
#[derive(Debug, Default)]
pub struct Counts {
    /// Bytes read from the object (compressed).
    pub scanned: AtomicU64,
    /// Bytes of records after decompression.
    pub processed: AtomicU64,
    /// Bytes of records answered.
    pub returned: AtomicU64,
}

impl Counts {
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.scanned.load(Ordering::Relaxed),
            self.processed.load(Ordering::Relaxed),
            self.returned.load(Ordering::Relaxed),
        )
    }
}

/// A refusal or failure, with S3 Select's error code.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SelectError {
    pub code: &'static str,
    pub message: String,
}

impl SelectError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SelectError {
            code,
            message: message.into(),
        }
    }

    /// A DataFusion error, with the code of the reader's error inside it,
    /// or of what DataFusion was doing.
    fn from_datafusion(e: DataFusionError) -> Self {
        let root = e.find_root();
        if let DataFusionError::External(inner) = root
            && let Some(ours) = inner.downcast_ref::<SelectError>()
        {
            return ours.clone();
        }
        let message = root.to_string();
        let code = match root {
            DataFusionError::ArrowError(arrow, _) => match **arrow {
                datafusion::arrow::error::ArrowError::CastError(_)
                | datafusion::arrow::error::ArrowError::ParseError(_) => "CastFailed",
                datafusion::arrow::error::ArrowError::DivideByZero => "DivisionByZero",
                _ => "InternalError",
            },
            DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => "UnsupportedSyntax",
            DataFusionError::NotImplemented(_) => "UnsupportedSqlOperation",
            DataFusionError::Execution(m) if m.contains("Cast") || m.contains("cast") => {
                "CastFailed"
            }
            _ => "InternalError",
        };
        SelectError::new(code, message)
    }
}

/// The records a request selects, as they are written.
pub struct Selection {
    /// Chunks of records in the output format, a batch at a time.
    pub records: BoxStream<'static, Result<Bytes, SelectError>>,
    pub counts: Arc<Counts>,
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection").finish_non_exhaustive()
    }
}

/// Plans `request` over `source` and starts reading. Errors found before
/// the first records (the expression, the serializations, a first batch
/// that does not parse) come back here; later ones end the stream.
pub async fn select(request: Request, source: Source) -> Result<Selection, SelectError> {
    let (expression, path) = sql::take_from_path(&request.expression)?;
    let counts = Arc::new(Counts::default());
    let table = read::table(&request, source, &path, counts.clone())?;
    let planned = sql::plan(&expression, &table.columns)?;

    let config = SessionConfig::new().with_target_partitions(1);
    let ctx = SessionContext::new_with_config(config);
    dates::register(&ctx);
    let provider = table
        .provider(&planned.fields)
        .map_err(SelectError::from_datafusion)?;
    ctx.register_table(sql::TABLE, Arc::new(provider))
        .map_err(SelectError::from_datafusion)?;
    let plan = ctx
        .state()
        .statement_to_plan(DFStatement::Statement(Box::new(planned.statement)))
        .await
        .map_err(SelectError::from_datafusion)?;
    let mut batches = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(SelectError::from_datafusion)?
        .execute_stream()
        .await
        .map_err(SelectError::from_datafusion)?;

    let writer = write::Writer::new(request.output, planned.names);
    // The first batch is read before answering, so that a bad cast or an
    // unparsable first record is an error status, not an error event.
    let first = match batches.next().await {
        Some(batch) => Some(
            batch
                .map_err(SelectError::from_datafusion)
                .and_then(|b| writer.records(&b))?,
        ),
        None => None,
    };
    let returned = counts.clone();
    let rest = batches.map(move |batch| {
        batch
            .map_err(SelectError::from_datafusion)
            .and_then(|b| writer.records(&b))
    });
    let records = futures::stream::iter(first.map(Ok))
        .chain(rest)
        .filter(|chunk| futures::future::ready(!matches!(chunk, Ok(b) if b.is_empty())))
        .inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                returned
                    .returned
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        })
        .boxed();
    Ok(Selection { records, counts })
}

#[cfg(test)]
mod tests;
