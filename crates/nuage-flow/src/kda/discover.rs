//! DiscoverInputSchema: a schema inferred from sample records of a stream
//! or lines of a lake object, with the samples as parsed by it. JSON
//! objects give one column per leaf (nested keys mapped by their path);
//! other text is read as CSV (`COL1`, `COL2`, ...). Types as KDA's
//! discovery names them: INTEGER or BIGINT, REAL for fractions (as its
//! stock-ticker sample shows: `CHANGE REAL`, `PRICE REAL`), BOOLEAN,
//! TIMESTAMP for text that reads as one, else VARCHAR(n) with n the
//! longest value rounded up to a power of two.

use serde_json::Value;

use super::model::{RecordColumn, RecordFormat, SourceSchema};
use crate::error::{FlowError, Result};
use crate::job::Env;

/// Records sampled at most.
const SAMPLES: usize = 100;

/// Bytes of a lake object read for its samples at most.
const SAMPLE_BYTES: usize = 1024 * 1024;

pub struct Discovered {
    pub schema: SourceSchema,
    /// Each sample's values as the schema reads them.
    pub parsed: Vec<Vec<String>>,
    /// The samples as read.
    pub raw: Vec<String>,
}

/// Samples of a stream (by ARN): from its oldest records (TRIM_HORIZON),
/// or its latest ones (NOW: the most recent records already there).
pub fn from_stream(env: &Env, stream_arn: &str, position: &str) -> Result<Discovered> {
    let stream = super::name_in_arn(stream_arn);
    let stream = env
        .streams
        .get(stream)
        .map_err(|_| FlowError::NotFound(format!("Stream {stream} does not exist.")))?;
    let mut raw = Vec::new();
    for shard in &stream.meta().shards {
        let Some(log) = stream.log(shard.index) else {
            continue;
        };
        let from = if position == "TRIM_HORIZON" {
            log.trim_horizon()
        } else {
            log.end()
                .saturating_sub(SAMPLES as u64)
                .max(log.trim_horizon())
        };
        if log.end() <= from {
            continue;
        }
        let batch = log
            .read(nuage_streams::Position::at(from), SAMPLES, 4 * 1024 * 1024)
            .map_err(|e| FlowError::Source(e.to_string()))?;
        raw.extend(
            batch
                .records
                .iter()
                .map(|r| String::from_utf8_lossy(&r.data).to_string()),
        );
        if raw.len() >= SAMPLES {
            break;
        }
    }
    raw.truncate(SAMPLES);
    infer(raw)
}

/// Samples of a lake object (bucket by ARN): its first lines.
pub async fn from_object(env: &Env, bucket_arn: &str, key: &str) -> Result<Discovered> {
    let bucket = super::bucket_in_arn(bucket_arn);
    let location = nuage_lake::Location::parse(&format!("s3://{bucket}/{key}"))
        .map_err(|e| FlowError::InvalidArgument(e.to_string()))?;
    // The samples are the first lines: read no more than they can need.
    let bytes = env
        .lake
        .get_head(&location, SAMPLE_BYTES)
        .await
        .map_err(|e| FlowError::InvalidArgument(format!("cannot read s3://{bucket}/{key}: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let complete = if bytes.len() == SAMPLE_BYTES {
        // The last line may be cut.
        text.rsplit_once('\n').map_or("", |(head, _)| head)
    } else {
        &text
    };
    let raw: Vec<String> = complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(SAMPLES)
        .map(str::to_string)
        .collect();
    infer(raw)
}

#[derive(Default, Clone, Copy, PartialEq)]
enum Kind {
    #[default]
    Unknown,
    Int,
    BigInt,
    Double,
    Boolean,
    Timestamp,
    Text,
}

impl Kind {
    fn of_text(text: &str) -> Kind {
        if text.parse::<i32>().is_ok() {
            Kind::Int
        } else if text.parse::<i64>().is_ok() {
            Kind::BigInt
        } else if text.parse::<f64>().is_ok_and(f64::is_finite) {
            Kind::Double
        } else if looks_like_timestamp(text) {
            Kind::Timestamp
        } else {
            Kind::Text
        }
    }

    fn of_json(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Unknown,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Kind::Int,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::BigInt,
            Value::Number(_) => Kind::Double,
            Value::String(s) if looks_like_timestamp(s) => Kind::Timestamp,
            _ => Kind::Text,
        }
    }

    fn merge(self, other: Kind) -> Kind {
        use Kind::*;
        match (self, other) {
            (Unknown, k) | (k, Unknown) => k,
            (a, b) if a == b => a,
            (Int, BigInt) | (BigInt, Int) => BigInt,
            (Int | BigInt | Double, Int | BigInt | Double) => Double,
            _ => Text,
        }
    }

    fn sql(self, longest: usize) -> String {
        match self {
            Kind::Int => "INTEGER".into(),
            Kind::BigInt => "BIGINT".into(),
            Kind::Double => "REAL".into(),
            Kind::Boolean => "BOOLEAN".into(),
            Kind::Timestamp => "TIMESTAMP".into(),
            Kind::Unknown | Kind::Text => {
                format!("VARCHAR({})", longest.max(1).next_power_of_two())
            }
        }
    }
}

fn looks_like_timestamp(text: &str) -> bool {
    let t = text.trim();
    t.len() >= 19
        && t.as_bytes()[4] == b'-'
        && t.as_bytes()[7] == b'-'
        && (chrono::NaiveDateTime::parse_from_str(&t.replace('T', " ")[..19], "%Y-%m-%d %H:%M:%S")
            .is_ok())
}

/// A name the API takes: no '-', blanks, '<', '>' or '&'.
fn column_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c == '-' || c.is_whitespace() || "<>&".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn leaves(value: &Value, path: &str, out: &mut Vec<(String, String, Value)>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            let p = format!("{path}.{k}");
            match v {
                Value::Object(_) => leaves(v, &p, out),
                _ => out.push((k.clone(), p, v.clone())),
            }
        }
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn infer(raw: Vec<String>) -> Result<Discovered> {
    if raw.is_empty() {
        return Err(FlowError::UnableToDetectSchema(
            "No data found in the source: put records first (or discover from TRIM_HORIZON)."
                .into(),
        ));
    }
    let json: Option<Vec<Value>> = raw
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r)
                .ok()
                .filter(Value::is_object)
        })
        .collect();
    // Columns in order of first appearance: (name, path, kind, longest).
    let mut columns: Vec<(String, Option<String>, Kind, usize)> = Vec::new();
    let mut parsed = Vec::new();
    let schema_format;
    match &json {
        Some(objects) => {
            let mut rows: Vec<Vec<(String, String, Value)>> = Vec::new();
            for object in objects {
                let mut found = Vec::new();
                leaves(object, "$", &mut found);
                for (key, path, value) in &found {
                    let at = match columns
                        .iter()
                        .position(|c| c.1.as_deref() == Some(path.as_str()))
                    {
                        Some(i) => i,
                        None => {
                            let mut name = column_name(key);
                            if columns.iter().any(|c| c.0.eq_ignore_ascii_case(&name)) {
                                name = format!("{name}_{}", columns.len());
                            }
                            columns.push((name, Some(path.clone()), Kind::Unknown, 0));
                            columns.len() - 1
                        }
                    };
                    let c = &mut columns[at];
                    c.2 = c.2.merge(Kind::of_json(value));
                    c.3 = c.3.max(text_of(value).chars().count());
                }
                rows.push(found);
            }
            for found in rows {
                parsed.push(
                    columns
                        .iter()
                        .map(|c| {
                            found
                                .iter()
                                .find(|(_, p, _)| Some(p) == c.1.as_ref())
                                .map(|(_, _, v)| text_of(v))
                                .unwrap_or_default()
                        })
                        .collect(),
                );
            }
            schema_format = RecordFormat::json("$");
        }
        None => {
            for line in &raw {
                let fields: Vec<&str> = line.split(',').collect();
                for (i, field) in fields.iter().enumerate() {
                    if columns.len() <= i {
                        columns.push((format!("COL{}", i + 1), None, Kind::Unknown, 0));
                    }
                    let c = &mut columns[i];
                    if !field.is_empty() {
                        c.2 = c.2.merge(Kind::of_text(field));
                    }
                    c.3 = c.3.max(field.chars().count());
                }
                parsed.push(fields.iter().map(|f| f.to_string()).collect());
            }
            schema_format = RecordFormat::csv("\n", ",");
        }
    }
    let record_columns = columns
        .iter()
        .map(|(name, path, kind, longest)| RecordColumn {
            name: Some(name.clone()),
            mapping: path.clone(),
            sql_type: Some(kind.sql(*longest)),
        })
        .collect();
    Ok(Discovered {
        schema: SourceSchema {
            record_format: Some(schema_format),
            record_encoding: Some("UTF-8".into()),
            record_columns: Some(record_columns),
        },
        parsed,
        raw,
    })
}
