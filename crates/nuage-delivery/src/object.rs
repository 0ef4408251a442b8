//! Turning one flush's records into lake objects: grouping by partition
//! keys, deterministic names, the delimiter, compression, and the error
//! documents of records that could not be delivered.
//!
//! Names depend only on the delivery stream, the destination version and
//! the records flushed, so a flush repeated after a crash writes the same
//! keys again and never duplicates data.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use md5::{Digest, Md5};
use nuage_streams::Record;

use nuage_catalog::Partition;

use crate::config::{Compression, Plan};
use crate::convert::Converter;
use crate::error::{DeliveryError, Result};
use crate::prefix::Context;

/// One object to write: bucket key and content.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub key: String,
    pub body: Bytes,
    /// Records it holds (for errors: records that failed).
    pub records: usize,
    pub failed: bool,
    /// The catalog partition to register once it is written (Parquet
    /// conversion into a partitioned table).
    pub partition: Option<Partition>,
}

/// What object names are made of besides the records.
#[derive(Debug, Clone, Copy)]
pub struct Naming<'a> {
    pub stream: &'a str,
    /// The delivery stream's creation time: names of a stream re-created
    /// under the same name differ.
    pub created_ms: i64,
    pub version: u64,
}

/// How records become object content.
#[derive(Debug, Clone, Copy)]
pub enum Encoding<'a> {
    /// As they came, with the delimiter and the compression of the plan.
    Raw,
    /// Converted to Parquet with the table resolved for this flush, or the
    /// reason it could not be.
    Parquet(&'a std::result::Result<Converter, String>),
}

/// Why a record went to the error prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    Lambda(&'static str),
    Extraction,
    Conversion,
    Schema,
}

impl Failure {
    fn output_type(self) -> &'static str {
        match self {
            Failure::Lambda(_) | Failure::Extraction => "processing-failed",
            Failure::Conversion | Failure::Schema => "format-conversion-failed",
        }
    }
}

/// One flush: its first record (for object names), the records to
/// deliver, and those the transform already failed.
pub struct Flush<'a> {
    pub first: u64,
    pub records: &'a [Record],
    /// (record, error code, message) from the Lambda processor.
    pub transform_failed: Vec<(Record, &'static str, String)>,
}

/// The objects for one flush of `records` (in log order).
pub fn build(
    plan: &Plan,
    encoding: Encoding<'_>,
    naming: Naming<'_>,
    flush: &Flush<'_>,
    now_ms: i64,
) -> Result<Vec<Object>> {
    let records = flush.records;
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&Record>> = BTreeMap::new();
    let mut failed: Vec<(&Record, Failure, String)> = flush
        .transform_failed
        .iter()
        .map(|(record, code, why)| (record, Failure::Lambda(code), why.clone()))
        .collect();
    for record in records {
        match &plan.extraction {
            None => groups.entry(BTreeMap::new()).or_default().push(record),
            Some(extraction) => match extraction.evaluate(&record.data) {
                Ok(keys) => groups.entry(keys).or_default().push(record),
                Err(why) => failed.push((record, Failure::Extraction, why)),
            },
        }
    }
    let mut objects = Vec::new();
    for (index, (keys, group)) in groups.iter().enumerate() {
        let id = object_id(naming, flush.first, index as u64);
        let oldest = group.iter().map(|r| r.arrival_ms).min().unwrap_or_default();
        let time = utc(oldest);
        let prefix = plan.prefix.render(&Context {
            time,
            random: &id[..11],
            error_output_type: None,
            keys: Some(keys),
        });
        let key = format!("{prefix}{}{}", file_name(naming, time, &id), plan.extension);
        let (body, rows, partition) = match encoding {
            Encoding::Raw => {
                let mut body = Vec::with_capacity(group.iter().map(|r| r.data.len() + 1).sum());
                for record in group {
                    body.extend_from_slice(&record.data);
                    if plan.delimiter {
                        body.push(b'\n');
                    }
                }
                (compress(plan.compression, body)?, group.len(), None)
            }
            Encoding::Parquet(Err(why)) => {
                failed.extend(group.iter().map(|r| (*r, Failure::Schema, why.clone())));
                continue;
            }
            Encoding::Parquet(Ok(converter)) => {
                let converted = converter.encode(group)?;
                let delivered = group.len() - converted.failed.len();
                failed.extend(
                    converted
                        .failed
                        .into_iter()
                        .map(|(i, why)| (group[i], Failure::Conversion, why)),
                );
                let Some(body) = converted.body else {
                    continue;
                };
                (body, delivered, converter.partition_of(&plan.bucket, &key))
            }
        };
        objects.push(Object {
            key,
            body,
            records: rows,
            failed: false,
            partition,
        });
    }
    failed.sort_by_key(|f| (f.1, f.0.number));
    let mut kinds: Vec<Failure> = failed.iter().map(|f| f.1).collect();
    kinds.dedup();
    for (n, kind) in kinds.into_iter().enumerate() {
        let these: Vec<&(&Record, Failure, String)> =
            failed.iter().filter(|f| f.1 == kind).collect();
        let id = object_id(naming, flush.first, u64::MAX - n as u64);
        let time = utc(these[0].0.arrival_ms);
        let prefix = plan.error_prefix.render(&Context {
            time,
            random: &id[..11],
            error_output_type: Some(kind.output_type()),
            keys: None,
        });
        let mut body = Vec::new();
        for (record, _, why) in &these {
            let document = match kind {
                Failure::Extraction => serde_json::json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": record.arrival_ms,
                    "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
                    "errorMessage": why,
                    "attemptEndingTimestamp": now_ms,
                    "rawData": STANDARD.encode(&record.data),
                }),
                Failure::Lambda(code) => serde_json::json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": record.arrival_ms,
                    "errorCode": code,
                    "errorMessage": why,
                    "attemptEndingTimestamp": now_ms,
                    "rawData": STANDARD.encode(&record.data),
                    "lambdaArn": plan.transform.as_ref().map(|t| t.arn.as_str()),
                }),
                Failure::Conversion | Failure::Schema => serde_json::json!({
                    "attemptsMade": 1,
                    "arrivalTimestamp": record.arrival_ms,
                    "ErrorCode": if kind == Failure::Schema {
                        "DataFormatConversion.InvalidSchema"
                    } else {
                        "DataFormatConversion.MalformedData"
                    },
                    "ErrorMessage": why,
                    "attemptEndingTimestamp": now_ms,
                    "rawData": STANDARD.encode(&record.data),
                    "dataCatalogTable": plan.conversion.as_ref().map(Converter::catalog_table),
                }),
            };
            serde_json::to_writer(&mut body, &document)
                .map_err(DeliveryError::json("an error document"))?;
            body.push(b'\n');
        }
        // Error documents are JSON lines, compressed as configured but
        // never Parquet.
        objects.push(Object {
            key: format!(
                "{prefix}{}{}",
                file_name(naming, time, &id),
                plan.compression.extension()
            ),
            body: compress(plan.compression, body)?,
            records: these.len(),
            failed: true,
            partition: None,
        });
    }
    Ok(objects)
}

/// `<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>`.
fn file_name(naming: Naming<'_>, t: DateTime<Utc>, id: &str) -> String {
    format!(
        "{}-{}-{:04}-{:02}-{:02}-{:02}-{:02}-{:02}-{id}",
        naming.stream,
        naming.version,
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A UUID-shaped name made from the stream, the flush's first record and
/// the group: the same flush always gets the same one.
fn object_id(naming: Naming<'_>, first_record: u64, group: u64) -> String {
    let mut hash = Md5::new();
    hash.update(naming.stream.as_bytes());
    hash.update(naming.created_ms.to_le_bytes());
    hash.update(first_record.to_le_bytes());
    hash.update(group.to_le_bytes());
    let h: [u8; 16] = hash.finalize().into();
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn compress(compression: Compression, body: Vec<u8>) -> Result<Bytes> {
    let io = |e| DeliveryError::io("compressing an object")(e);
    Ok(match compression {
        Compression::None => Bytes::from(body),
        Compression::Gzip => {
            let mut out = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            out.write_all(&body).map_err(io)?;
            Bytes::from(out.finish().map_err(io)?)
        }
        Compression::Snappy => {
            let mut out = snap::write::FrameEncoder::new(Vec::with_capacity(body.len() / 2));
            out.write_all(&body).map_err(io)?;
            Bytes::from(out.into_inner().map_err(|e| io(e.into_error()))?)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::config::S3Destination;

    fn record(number: u64, data: &str) -> Record {
        Record {
            number,
            // 2025-11-22T09:05:03Z
            arrival_ms: 1_763_802_303_000 + number as i64,
            partition_key: String::new(),
            data: Bytes::copy_from_slice(data.as_bytes()),
        }
    }

    fn plan(json: serde_json::Value) -> Plan {
        serde_json::from_value::<S3Destination>(json)
            .unwrap()
            .plan()
            .unwrap()
    }

    fn flush(records: &[Record]) -> Flush<'_> {
        Flush {
            first: records[0].number,
            records,
            transform_failed: Vec::new(),
        }
    }

    const NAMING: Naming<'static> = Naming {
        stream: "tolls",
        created_ms: 1,
        version: 1,
    };

    #[test]
    fn one_object_per_flush_with_the_default_name() {
        let plan = plan(serde_json::json!({"BucketARN": "arn:aws:s3:::b", "Prefix": "raw/"}));
        let records = [record(7, "a"), record(8, "b")];
        let objects = build(&plan, Encoding::Raw, NAMING, &flush(&records), 0).unwrap();
        assert_eq!(objects.len(), 1);
        let key = &objects[0].key;
        assert!(
            key.starts_with("raw/2025/11/22/09/tolls-1-2025-11-22-09-05-03-"),
            "{key}"
        );
        assert_eq!(
            key.len(),
            "raw/2025/11/22/09/tolls-1-2025-11-22-09-05-03-".len() + 36
        );
        assert_eq!(&objects[0].body[..], b"ab");
        // The same flush names the same object.
        assert_eq!(
            build(&plan, Encoding::Raw, NAMING, &flush(&records), 99).unwrap(),
            objects
        );
        assert_ne!(
            build(&plan, Encoding::Raw, NAMING, &flush(&records[1..]), 0).unwrap()[0].key,
            *key
        );
    }

    #[test]
    fn compression_and_delimiters() {
        let records = [record(0, "{\"a\":1}"), record(1, "{\"a\":2}")];
        let gz = plan(serde_json::json!({
            "BucketARN": "arn:aws:s3:::b", "CompressionFormat": "GZIP",
            "ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
        }));
        let objects = build(&gz, Encoding::Raw, NAMING, &flush(&records), 0).unwrap();
        assert!(objects[0].key.ends_with(".gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&objects[0].body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");

        let snappy =
            plan(serde_json::json!({"BucketARN": "arn:aws:s3:::b", "CompressionFormat": "Snappy"}));
        let objects = build(&snappy, Encoding::Raw, NAMING, &flush(&records), 0).unwrap();
        assert!(objects[0].key.ends_with(".snappy"));
        let mut text = String::new();
        snap::read::FrameDecoder::new(&objects[0].body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}{\"a\":2}");
    }

    #[test]
    fn dynamic_partitioning_groups_records_and_reports_failures() {
        let plan = plan(serde_json::json!({
            "BucketARN": "arn:aws:s3:::b",
            "Prefix": "c=!{partitionKeyFromQuery:c}/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 64},
            "DynamicPartitioningConfiguration": {"Enabled": true},
            "ProcessingConfiguration": {"Enabled": true, "Processors": [
                {"Type": "MetadataExtraction", "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": "{c: .customer}"},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}]}
        }));
        let records = [
            record(0, r#"{"customer":"x"}"#),
            record(1, r#"{"customer":"y"}"#),
            record(2, r#"{"other":1}"#),
            record(3, r#"{"customer":"x"}"#),
        ];
        let objects = build(&plan, Encoding::Raw, NAMING, &flush(&records), 0).unwrap();
        assert_eq!(objects.len(), 3);
        assert!(objects[0].key.starts_with("c=x/tolls-1-"));
        assert_eq!(&objects[0].body[..], br#"{"customer":"x"}{"customer":"x"}"#);
        assert!(objects[1].key.starts_with("c=y/"));
        assert!(objects[2].failed);
        assert!(
            objects[2]
                .key
                .starts_with("errors/processing-failed/2025/11/22/09/")
        );
        let error: serde_json::Value =
            serde_json::from_slice(objects[2].body.trim_ascii()).unwrap();
        assert_eq!(error["rawData"], STANDARD.encode(r#"{"other":1}"#));
        assert!(
            error["errorMessage"]
                .as_str()
                .unwrap()
                .contains("c is missing")
        );
    }
}
