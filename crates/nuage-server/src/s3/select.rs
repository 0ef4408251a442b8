//! SelectObjectContent (S3 Select): the request's serializations read off
//! s3s's DTOs, the query run by `nuage_sql::select_object` over the
//! object's file, and its records answered as S3's event stream: Records
//! events, a Progress event after each when asked, Cont events while a
//! long scan has nothing to send, then Stats and End. An error before the
//! first records is an ordinary error status; a later one ends the stream
//! with an error event, as S3 does.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use nuage_lake::objects::Opened;
use nuage_sql::select_object::{
    self as engine, Compression, CsvInput, CsvOutput, Header, Input, Output, Request, SelectError,
    Selection, Source,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::errors::{OrS3, refuse, refuse_custom};
use super::objects::resolve_range;
use super::{NuageS3, sse};

/// How long a scan may go without sending anything before a Cont event
/// tells the client it is still running.
const KEEP_ALIVE: Duration = Duration::from_secs(1);

impl NuageS3 {
    pub(super) async fn select_object_content_(
        &self,
        req: S3Request<SelectObjectContentInput>,
    ) -> S3Result<S3Response<SelectObjectContentOutput>> {
        let input = req.input;
        let request = read_request(&input.request)?;
        let progress = input
            .request
            .request_progress
            .as_ref()
            .and_then(|p| p.enabled)
            .unwrap_or(false);
        let Opened { info, file, .. } = self
            .objects
            .open_version(&input.bucket, &input.key, None)
            .await
            .or_s3()?;
        let cipher = sse::open(&info.meta, customer!(input).key()?)?;
        let (range, _) = resolve_range(&info.meta, None, None)?;
        let source = match (file, cipher) {
            (Some(file), None) => Source::File {
                file: Arc::new(file),
                len: range.end,
            },
            // An SSE-C object is decrypted into memory first.
            (Some(file), Some(cipher)) => {
                let mut body = super::body::object_body(file, range, &info.meta, Some(cipher));
                let mut plain = Vec::new();
                while let Some(chunk) = body.next().await {
                    let chunk =
                        chunk.map_err(|e| refuse(S3ErrorCode::InternalError, e.to_string()))?;
                    plain.extend_from_slice(&chunk);
                }
                Source::Bytes(plain.into())
            }
            (None, _) => Source::Bytes(Bytes::new()),
        };
        let selection = engine::select(request, source).await.map_err(to_s3)?;
        let events = SyncStream(Mutex::new(events(selection, progress).boxed()));
        Ok(S3Response::new(SelectObjectContentOutput {
            payload: Some(SelectObjectContentEventStream::new(events)),
        }))
    }
}

/// The answer as events: records as they come, keep-alives while none do,
/// then the totals.
fn events(
    selection: Selection,
    progress: bool,
) -> impl Stream<Item = S3Result<SelectObjectContentEvent>> + Send {
    enum State {
        Running,
        Ending,
        Done,
    }
    let Selection { records, counts } = selection;
    futures::stream::unfold((records, State::Running), move |(mut records, state)| {
        let counts = counts.clone();
        async move {
            let totals = || {
                let (scanned, processed, returned) = counts.get();
                (scanned as i64, processed as i64, returned as i64)
            };
            match state {
                State::Done => None,
                State::Ending => Some((
                    vec![Ok(SelectObjectContentEvent::End(EndEvent {}))],
                    (records, State::Done),
                )),
                State::Running => match tokio::time::timeout(KEEP_ALIVE, records.next()).await {
                    Err(_) => Some((
                        vec![Ok(SelectObjectContentEvent::Cont(ContinuationEvent {}))],
                        (records, State::Running),
                    )),
                    Ok(Some(Ok(chunk))) => {
                        let mut out = vec![Ok(SelectObjectContentEvent::Records(RecordsEvent {
                            payload: Some(chunk),
                        }))];
                        if progress {
                            let (scanned, processed, returned) = totals();
                            out.push(Ok(SelectObjectContentEvent::Progress(ProgressEvent {
                                details: Some(Progress {
                                    bytes_scanned: Some(scanned),
                                    bytes_processed: Some(processed),
                                    bytes_returned: Some(returned),
                                }),
                            })));
                        }
                        Some((out, (records, State::Running)))
                    }
                    Ok(Some(Err(e))) => Some((vec![Err(to_s3(e))], (records, State::Done))),
                    Ok(None) => {
                        let (scanned, processed, returned) = totals();
                        Some((
                            vec![Ok(SelectObjectContentEvent::Stats(StatsEvent {
                                details: Some(Stats {
                                    bytes_scanned: Some(scanned),
                                    bytes_processed: Some(processed),
                                    bytes_returned: Some(returned),
                                }),
                            }))],
                            (records, State::Ending),
                        ))
                    }
                },
            }
        }
    })
    .flat_map(futures::stream::iter)
}

/// s3s wants a `Sync` stream; DataFusion's are `Send` only. Polling takes
/// `&mut`, so the lock is never contended.
struct SyncStream<S>(Mutex<S>);

impl<S: Stream + Unpin> Stream for SyncStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        inner.poll_next_unpin(cx)
    }
}

fn to_s3(e: SelectError) -> S3Error {
    let code = S3ErrorCode::from_bytes(e.code.as_bytes());
    match code {
        Some(code) if !matches!(code, S3ErrorCode::Custom(_)) => refuse(code, e.message),
        _ => refuse_custom(e.code, axum::http::StatusCode::BAD_REQUEST, e.message),
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> S3Error {
    to_s3(SelectError::new(code, message))
}

/// The request's XML as the engine's request, refusing what S3 refuses.
fn read_request(request: &SelectObjectContentRequest) -> S3Result<Request> {
    if request.expression_type.as_str() != ExpressionType::SQL {
        return Err(invalid(
            "InvalidExpressionType",
            "The ExpressionType is invalid. Only SQL expressions are supported.",
        ));
    }
    let given = &request.input_serialization;
    let formats = [
        given.csv.is_some(),
        given.json.is_some(),
        given.parquet.is_some(),
    ];
    let input = match formats {
        [true, false, false] => Input::Csv(csv_input(given.csv.as_ref().expect("checked"))?),
        [false, true, false] => Input::Json {
            document: match given.json.as_ref().and_then(|j| j.type_.as_ref()) {
                Some(t) if t.as_str() == JSONType::DOCUMENT => true,
                Some(t) if t.as_str() == JSONType::LINES => false,
                Some(t) => {
                    return Err(invalid(
                        "InvalidJsonType",
                        format!(
                            "The JsonType {} is invalid. Only DOCUMENT and LINES are supported.",
                            t.as_str()
                        ),
                    ));
                }
                None => {
                    return Err(invalid(
                        "MissingRequiredParameter",
                        "JSON input needs a Type: DOCUMENT or LINES.",
                    ));
                }
            },
        },
        [false, false, true] => Input::Parquet,
        [false, false, false] => {
            return Err(invalid(
                "MissingRequiredParameter",
                "InputSerialization needs one of CSV, JSON or Parquet.",
            ));
        }
        _ => {
            return Err(invalid(
                "ObjectSerializationConflict",
                "InputSerialization specifies more than one format (CSV, JSON, or Parquet).",
            ));
        }
    };
    let compression = match given.compression_type.as_ref().map(|c| c.as_str()) {
        None | Some(CompressionType::NONE) => Compression::None,
        Some(CompressionType::GZIP) => Compression::Gzip,
        Some(CompressionType::BZIP2) => Compression::Bzip2,
        Some(other) => {
            return Err(invalid(
                "InvalidCompressionFormat",
                format!(
                    "The file is not in a supported compression format ({other}). Only GZIP and BZIP2 are supported."
                ),
            ));
        }
    };
    let out = &request.output_serialization;
    let output = match (&out.csv, &out.json) {
        (Some(csv), None) => Output::Csv(csv_output(csv)?),
        (None, Some(json)) => Output::Json {
            record_delimiter: json
                .record_delimiter
                .clone()
                .unwrap_or_else(|| "\n".into())
                .into_bytes(),
        },
        (None, None) => {
            return Err(invalid(
                "MissingRequiredParameter",
                "OutputSerialization needs one of CSV or JSON.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "ObjectSerializationConflict",
                "OutputSerialization specifies more than one format (CSV or JSON).",
            ));
        }
    };
    let scan_range = request.scan_range.as_ref().map(|r| (r.start, r.end));
    if let Some((start, end)) = scan_range
        && (start.is_some_and(|s| s < 0) || end.is_some_and(|e| e < 0))
    {
        return Err(invalid(
            "InvalidScanRange",
            "ScanRange Start and End are not negative.",
        ));
    }
    Ok(Request {
        expression: request.expression.clone(),
        input,
        compression,
        output,
        scan_range: scan_range.map(|(s, e)| (s.map(|s| s as u64), e.map(|e| e as u64))),
    })
}

/// One character of a serialization setting (a byte: nuage's CSV reader
/// and writer take single-byte delimiters).
fn one_byte(value: Option<&String>, default: u8, what: &str) -> S3Result<u8> {
    match value.map(String::as_bytes) {
        None | Some([]) => Ok(default),
        Some([b]) => Ok(*b),
        Some(_) => Err(invalid(
            "InvalidRequestParameter",
            format!("{what} must be one single-byte character."),
        )),
    }
}

fn record_delimiter(value: Option<&String>) -> S3Result<Option<u8>> {
    match value.map(String::as_str) {
        None | Some("") | Some("\n") => Ok(Some(b'\n')),
        Some("\r\n") => Ok(None),
        Some(_) => one_byte(value, b'\n', "RecordDelimiter").map(Some),
    }
}

/// The field delimiter, quote and quote escape of CSV in or out: one byte
/// each, `,` and `"` by default, the escape the quote unless named.
fn csv_bytes(
    field_delimiter: Option<&String>,
    quote: Option<&String>,
    escape: Option<&String>,
) -> S3Result<(u8, u8, u8)> {
    let quote = one_byte(quote, b'"', "QuoteCharacter")?;
    Ok((
        one_byte(field_delimiter, b',', "FieldDelimiter")?,
        quote,
        one_byte(escape, quote, "QuoteEscapeCharacter")?,
    ))
}

fn csv_input(csv: &CSVInput) -> S3Result<CsvInput> {
    let header = match csv.file_header_info.as_ref().map(|h| h.as_str()) {
        None | Some(FileHeaderInfo::NONE) => Header::None,
        Some(FileHeaderInfo::IGNORE) => Header::Ignore,
        Some(FileHeaderInfo::USE) => Header::Use,
        Some(_) => {
            return Err(invalid(
                "InvalidFileHeaderInfo",
                "The FileHeaderInfo is invalid. Only NONE, USE, and IGNORE are supported.",
            ));
        }
    };
    let (field_delimiter, quote, escape) = csv_bytes(
        csv.field_delimiter.as_ref(),
        csv.quote_character.as_ref(),
        csv.quote_escape_character.as_ref(),
    )?;
    Ok(CsvInput {
        header,
        field_delimiter,
        quote,
        escape,
        comment: match csv.comments.as_deref() {
            None => Some(b'#'),
            Some("") => None,
            Some(_) => Some(one_byte(csv.comments.as_ref(), b'#', "Comments")?),
        },
        // `\n` also ends a `\r\n` record.
        record_delimiter: record_delimiter(csv.record_delimiter.as_ref())?.filter(|b| *b != b'\n'),
    })
}

fn csv_output(csv: &CSVOutput) -> S3Result<CsvOutput> {
    let always_quote = match csv.quote_fields.as_ref().map(|q| q.as_str()) {
        None | Some(QuoteFields::ASNEEDED) => false,
        Some(QuoteFields::ALWAYS) => true,
        Some(_) => {
            return Err(invalid(
                "InvalidQuoteFields",
                "The QuoteFields is invalid. Only ALWAYS and ASNEEDED are supported.",
            ));
        }
    };
    let (field_delimiter, quote, escape) = csv_bytes(
        csv.field_delimiter.as_ref(),
        csv.quote_character.as_ref(),
        csv.quote_escape_character.as_ref(),
    )?;
    Ok(CsvOutput {
        field_delimiter,
        quote,
        escape,
        record_delimiter: record_delimiter(csv.record_delimiter.as_ref())?,
        always_quote,
    })
}
