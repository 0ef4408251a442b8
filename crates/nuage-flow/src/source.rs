//! A stream table's records as rows: the payload decoded by its format
//! (Flink's `json`, `csv` or `raw`), metadata columns from the record
//! (ApproximateArrivalTimestamp, partition key, sequence number, shard),
//! computed columns and the watermark expression evaluated by DataFusion.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use nuage_catalog::HiveType;

use crate::error::{FlowError, Result};
use crate::table::{ColumnKind, StreamTable};

/// Where a job starts reading a shard it has no position for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartPosition {
    TrimHorizon,
    Latest,
    /// Milliseconds since the epoch.
    AtTimestamp(i64),
}

impl StartPosition {
    /// `scan.stream.initpos` (Flink's Kinesis connector before 4.0) or
    /// `source.init.position` (4.x), with their timestamp options. Flink's
    /// default is LATEST.
    pub fn of(table: &StreamTable) -> Result<StartPosition> {
        let value = table
            .option("scan.stream.initpos")
            .or(table.option("source.init.position"))
            .unwrap_or("LATEST");
        match value.to_ascii_uppercase().as_str() {
            "LATEST" => Ok(StartPosition::Latest),
            "TRIM_HORIZON" => Ok(StartPosition::TrimHorizon),
            "AT_TIMESTAMP" => {
                let text = table
                    .option("scan.stream.initpos-timestamp")
                    .or(table.option("source.init.timestamp"))
                    .ok_or_else(|| {
                        FlowError::Invalid(format!(
                            "table {}: AT_TIMESTAMP needs 'scan.stream.initpos-timestamp' \
                             (seconds since the epoch, or yyyy-MM-dd'T'HH:mm:ss.SSSXXX)",
                            table.name
                        ))
                    })?;
                parse_timestamp_ms(text)
                    .map(StartPosition::AtTimestamp)
                    .ok_or_else(|| {
                        FlowError::Invalid(format!(
                            "table {}: '{text}' is not a timestamp: write seconds since the epoch \
                         (1700000000.5) or 2024-01-31T10:00:00.000Z",
                            table.name
                        ))
                    })
            }
            other => Err(FlowError::Invalid(format!(
                "table {}: 'scan.stream.initpos' = '{other}' is not a position: \
                 use TRIM_HORIZON, LATEST or AT_TIMESTAMP",
                table.name
            ))),
        }
    }
}

fn parse_timestamp_ms(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.trim().parse::<f64>() {
        return Some((seconds * 1000.0) as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `'5s'`, `'1 min'`, `'500 ms'`, `'2h'`: Flink's duration options.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let n: u64 = text[..split].parse().ok()?;
    let ms = match text[split..].trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => n,
        "s" | "sec" | "secs" | "second" | "seconds" => n * 1000,
        "min" | "m" | "minute" | "minutes" => n * 60_000,
        "h" | "hour" | "hours" => n * 3_600_000,
        "d" | "day" | "days" => n * 86_400_000,
        _ => return None,
    };
    Some(std::time::Duration::from_millis(ms))
}

/// One record as the decoder sees it.
pub struct Record<'a> {
    pub data: &'a [u8],
    pub partition_key: &'a str,
    pub arrival_ms: i64,
    /// The record's number in its shard, the shard and its creation time:
    /// its sequence number, written out only when asked for.
    pub number: u64,
    pub shard: u32,
    pub shard_created_ms: i64,
    pub shard_id: &'a str,
}

impl Record<'_> {
    pub fn sequence(&self) -> String {
        nuage_streams::sequence::Prefix::for_records(
            self.shard_created_ms,
            self.shard,
            self.arrival_ms,
        )
        .record_text(self.number)
    }
}

/// A record's rows as a Kinesis Analytics input schema maps them: JSON
/// with a row path (`$`, or `$.rows[0:]` for one row per array item) and
/// a path per column, or CSV with row and column delimiters.
enum RowShape {
    Json {
        row_path: Vec<Step>,
        /// Per payload column, the path from a row.
        columns: Vec<Vec<Step>>,
    },
    Csv {
        row_delimiter: String,
        column_delimiter: String,
    },
}

/// One step of a JSONPath: `.key`, `[n]` or `[0:]` (every item).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Every,
}

/// `$.a.b[0].c[0:]` as steps; `None` when it is not such a path.
fn json_path(text: &str) -> Option<Vec<Step>> {
    let mut rest = text.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inside = r[..end].trim();
            if inside == "0:" || inside == "*" {
                steps.push(Step::Every);
            } else if let Some(key) = inside
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
            {
                steps.push(Step::Key(key.to_string()));
            } else {
                steps.push(Step::Index(inside.parse().ok()?));
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The values `steps` reach from `value` (several past an `[0:]`).
fn select<'v>(value: &'v serde_json::Value, steps: &[Step], out: &mut Vec<&'v serde_json::Value>) {
    let Some((first, rest)) = steps.split_first() else {
        out.push(value);
        return;
    };
    match first {
        Step::Key(k) => {
            if let Some(v) = value.get(k) {
                select(v, rest, out)
            }
        }
        Step::Index(i) => {
            if let Some(v) = value.get(i) {
                select(v, rest, out)
            }
        }
        Step::Every => {
            if let Some(items) = value.as_array() {
                for v in items {
                    select(v, rest, out);
                }
            }
        }
    }
}

enum Format {
    Rows(RowShape),
    Json {
        ignore_errors: bool,
    },
    Csv {
        delimiter: u8,
        quote: Option<u8>,
        ignore_errors: bool,
    },
    Raw,
}

/// Decodes records into the table's rows (column names lowercased, as the
/// SQL engine resolves them).
pub struct Decoder {
    table: String,
    format: Format,
    /// The payload's fields, names as written (JSON is case-sensitive).
    payload: SchemaRef,
    /// Every column in declared order.
    columns: Vec<Source>,
    pub schema: SchemaRef,
    watermark: Option<Arc<dyn PhysicalExpr>>,
}

enum Source {
    Payload(usize),
    Metadata(String),
    Computed(Arc<dyn PhysicalExpr>),
}

fn arrow_type(ty: &HiveType) -> DataType {
    nuage_format::types::arrow_type(ty)
}

impl Decoder {
    pub fn new(table: &StreamTable) -> Result<Decoder> {
        let format = match table.option("format").unwrap_or("json") {
            "json" => Format::Json {
                ignore_errors: table.option("json.ignore-parse-errors") == Some("true"),
            },
            "csv" => Format::Csv {
                delimiter: single_byte(table, "csv.field-delimiter", b',')?,
                quote: if table.option("csv.disable-quote-character") == Some("true") {
                    None
                } else {
                    Some(single_byte(table, "csv.quote-character", b'"')?)
                },
                ignore_errors: table.option("csv.ignore-parse-errors") == Some("true"),
            },
            "raw" => Format::Raw,
            "kda-json" => {
                let path = |text: &str| {
                    json_path(text).ok_or_else(|| {
                        FlowError::Invalid(format!(
                            "'{text}' is not a JSON path: write $.field, $.a.b or $.rows[0:]"
                        ))
                    })
                };
                let row_text = table.option("kda.row-path").unwrap_or("$");
                let row_path = path(row_text)?;
                let mut columns = Vec::new();
                for (c, _) in table
                    .columns
                    .iter()
                    .filter(|(c, _)| c.kind == ColumnKind::Physical)
                {
                    let key = format!("kda.mapping.{}", c.name.to_lowercase());
                    let steps = match table.option(&key) {
                        // A mapping is written from the record's root.
                        Some(text) => {
                            let full = path(text)?;
                            match full.strip_prefix(row_path.as_slice()) {
                                Some(relative) => relative.to_vec(),
                                None => full,
                            }
                        }
                        None => vec![Step::Key(c.name.clone())],
                    };
                    columns.push(steps);
                }
                Format::Rows(RowShape::Json { row_path, columns })
            }
            "kda-csv" => Format::Rows(RowShape::Csv {
                row_delimiter: table
                    .option("kda.row-delimiter")
                    .unwrap_or("\n")
                    .to_string(),
                column_delimiter: table
                    .option("kda.column-delimiter")
                    .unwrap_or(",")
                    .to_string(),
            }),
            "debezium-json" | "changelog-json" => {
                return Err(FlowError::Unsupported(format!(
                    "table {}: a job cannot read a changelog ('{}') yet, only write one",
                    table.name,
                    table.option("format").unwrap_or_default()
                )));
            }
            other => {
                return Err(FlowError::Invalid(format!(
                    "table {}: format '{other}' is not supported",
                    table.name
                )));
            }
        };
        let payload: Vec<Field> = table
            .columns
            .iter()
            .filter(|(c, _)| c.kind == ColumnKind::Physical)
            .map(|(c, ty)| Field::new(&c.name, arrow_type(ty), true))
            .collect();
        let payload = Arc::new(Schema::new(payload));
        let ctx = SessionContext::new();
        let mut fields: Vec<Field> = Vec::new();
        let mut columns = Vec::new();
        let mut payload_index = 0;
        for (column, ty) in &table.columns {
            let name = column.name.to_lowercase();
            match &column.kind {
                ColumnKind::Physical => {
                    fields.push(Field::new(&name, arrow_type(ty), true));
                    columns.push(Source::Payload(payload_index));
                    payload_index += 1;
                }
                ColumnKind::Metadata { key, .. } => {
                    fields.push(Field::new(&name, arrow_type(ty), true));
                    columns.push(Source::Metadata(key.clone()));
                }
                ColumnKind::Computed { expr } => {
                    let so_far = Schema::new(fields.clone());
                    let expr = physical(&ctx, &so_far, expr).map_err(|e| {
                        FlowError::Invalid(format!(
                            "computed column {} of {}: {e}",
                            column.name, table.name
                        ))
                    })?;
                    let ty = expr.data_type(&so_far)?;
                    fields.push(Field::new(&name, ty, true));
                    columns.push(Source::Computed(expr));
                }
            }
        }
        let schema = Arc::new(Schema::new(fields));
        let watermark = match &table.watermark {
            Some(wm) => {
                let expr = physical(&ctx, &schema, &wm.expr)
                    .map_err(|e| FlowError::Invalid(format!("watermark of {}: {e}", table.name)))?;
                if !matches!(expr.data_type(&schema)?, DataType::Timestamp(..)) {
                    return Err(FlowError::Invalid(format!(
                        "watermark of {}: {} must be a TIMESTAMP",
                        table.name, wm.expr
                    )));
                }
                Some(expr)
            }
            None => None,
        };
        Ok(Decoder {
            table: table.name.clone(),
            format,
            payload,
            columns,
            schema,
            watermark,
        })
    }

    /// The rows of `records` and the largest watermark among them. A record
    /// that does not parse fails the job (as in Flink) unless the format's
    /// `ignore-parse-errors` is set; then it is skipped (listed in
    /// `rejected`). Kinesis Analytics' formats always skip such records.
    pub fn decode(&self, records: &[Record<'_>]) -> Result<Decoded> {
        let (payload, kept, rejected) = self.decode_payload(records)?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let kept_records: Vec<&Record> = kept.iter().map(|&i| &records[i]).collect();
        for (i, source) in self.columns.iter().enumerate() {
            let array: ArrayRef = match source {
                Source::Payload(p) => payload.column(*p).clone(),
                Source::Metadata(key) => metadata(key, &kept_records),
                Source::Computed(expr) => {
                    let so_far = RecordBatch::try_new(
                        Arc::new(Schema::new(self.schema.fields()[..i].to_vec())),
                        arrays.clone(),
                    )?;
                    expr.evaluate(&so_far)?.into_array(kept.len())?
                }
            };
            arrays.push(array);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        let watermark = match &self.watermark {
            Some(expr) => {
                let values = expr.evaluate(&batch)?.into_array(batch.num_rows())?;
                let values = datafusion::arrow::compute::cast(
                    &values,
                    &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None),
                )?;
                let values = values
                    .as_any()
                    .downcast_ref::<TimestampNanosecondArray>()
                    .expect("cast to nanoseconds");
                datafusion::arrow::compute::max(values)
            }
            None => None,
        };
        Ok(Decoded {
            rows: batch,
            kept,
            watermark,
            rejected,
        })
    }

    /// The payload batch, the record each row comes from, and the records
    /// skipped with the reason.
    fn decode_payload(
        &self,
        records: &[Record<'_>],
    ) -> Result<(RecordBatch, Vec<usize>, Rejected)> {
        if let Format::Rows(shape) = &self.format {
            return self.decode_rows(shape, records);
        }
        let all: Vec<usize> = (0..records.len()).collect();
        match self.decode_some(records, &all) {
            Ok(batch) => return Ok((batch, all, Vec::new())),
            Err(_) if records.len() > 1 => {}
            Err(e) => {
                if !self.ignore_errors() {
                    return Err(self.parse_error(&records[0], &e));
                }
                let rejected = vec![(0, e.to_string())];
                return Ok((
                    RecordBatch::new_empty(self.payload.clone()),
                    vec![],
                    rejected,
                ));
            }
        }
        // Find the bad records one by one.
        let mut kept = Vec::new();
        let mut rejected = Vec::new();
        for (i, record) in records.iter().enumerate() {
            if let Err(e) = self.decode_some(records, &[i]) {
                if !self.ignore_errors() {
                    return Err(self.parse_error(record, &e));
                }
                rejected.push((i, e.to_string()));
            } else {
                kept.push(i);
            }
        }
        Ok((self.decode_some(records, &kept)?, kept, rejected))
    }

    /// Kinesis Analytics' formats: each record's rows as flat JSON objects
    /// (one key per column), read by arrow-json with its coercions; a row
    /// whose values do not fit the column types is rejected with its record
    /// (KDA's error_stream).
    fn decode_rows(
        &self,
        shape: &RowShape,
        records: &[Record<'_>],
    ) -> Result<(RecordBatch, Vec<usize>, Rejected)> {
        let names: Vec<&str> = self
            .payload
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let mut lines: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut rejected: Rejected = Vec::new();
        for (i, record) in records.iter().enumerate() {
            match flat_rows(shape, &names, record.data) {
                Ok(rows) => lines.extend(rows.into_iter().map(|r| (i, r))),
                Err(e) => rejected.push((i, e)),
            }
        }
        let decode = |which: &[&(usize, Vec<u8>)]| -> Result<RecordBatch> {
            let mut decoder = datafusion::arrow::json::ReaderBuilder::new(self.payload.clone())
                .with_batch_size(which.len().max(1))
                .with_coerce_primitive(true)
                .build_decoder()?;
            for (_, line) in which {
                decoder.decode(line)?;
                decoder.decode(b"\n")?;
            }
            Ok(decoder
                .flush()?
                .unwrap_or_else(|| RecordBatch::new_empty(self.payload.clone())))
        };
        let all: Vec<&(usize, Vec<u8>)> = lines.iter().collect();
        if let Ok(batch) = decode(&all) {
            return Ok((batch, lines.iter().map(|(i, _)| *i).collect(), rejected));
        }
        let mut good = Vec::new();
        for line in &lines {
            match decode(&[line]) {
                Ok(_) => good.push(line),
                Err(e) => rejected.push((line.0, format!("type coercion: {e}"))),
            }
        }
        rejected.sort_by_key(|(i, _)| *i);
        Ok((
            decode(&good)?,
            good.iter().map(|(i, _)| *i).collect(),
            rejected,
        ))
    }

    fn ignore_errors(&self) -> bool {
        match self.format {
            Format::Json { ignore_errors } | Format::Csv { ignore_errors, .. } => ignore_errors,
            Format::Rows(_) => true,
            Format::Raw => false,
        }
    }

    fn parse_error(&self, record: &Record<'_>, e: &FlowError) -> FlowError {
        let text = String::from_utf8_lossy(&record.data[..record.data.len().min(200)]);
        FlowError::Invalid(format!(
            "table {}: record {} of {} does not parse ({e}): {text:?}; set \
             'json.ignore-parse-errors' = 'true' (or csv.ignore-parse-errors) to skip such records",
            self.table,
            record.sequence(),
            record.shard_id
        ))
    }

    fn decode_some(&self, records: &[Record<'_>], which: &[usize]) -> Result<RecordBatch> {
        match &self.format {
            Format::Json { .. } => {
                let mut decoder = datafusion::arrow::json::ReaderBuilder::new(self.payload.clone())
                    .with_batch_size(which.len().max(1))
                    .build_decoder()?;
                for (n, &i) in which.iter().enumerate() {
                    let data = records[i].data;
                    let read = decoder.decode(data)?;
                    if read != data.len() {
                        return Err(FlowError::Invalid(
                            "trailing bytes after a JSON value".into(),
                        ));
                    }
                    decoder.decode(b"\n")?;
                    if decoder.len() != n + 1 {
                        return Err(FlowError::Invalid(
                            "a record must hold exactly one JSON object".into(),
                        ));
                    }
                }
                Ok(decoder
                    .flush()?
                    .unwrap_or_else(|| RecordBatch::new_empty(self.payload.clone())))
            }
            Format::Csv {
                delimiter, quote, ..
            } => {
                let mut builder = datafusion::arrow::csv::ReaderBuilder::new(self.payload.clone())
                    .with_delimiter(*delimiter)
                    .with_batch_size(which.len().max(1));
                if let Some(q) = quote {
                    builder = builder.with_quote(*q);
                }
                let mut decoder = builder.build_decoder();
                for &i in which {
                    let mut line = records[i].data.to_vec();
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    let mut at = 0;
                    while at < line.len() {
                        let read = decoder.decode(&line[at..])?;
                        if read == 0 {
                            break;
                        }
                        at += read;
                    }
                }
                Ok(decoder
                    .flush()?
                    .unwrap_or_else(|| RecordBatch::new_empty(self.payload.clone())))
            }
            Format::Rows(_) => unreachable!("rows are decoded by decode_rows"),
            Format::Raw => {
                let field = self.payload.field(0);
                let array: ArrayRef = match field.data_type() {
                    DataType::Binary => Arc::new(BinaryArray::from_iter_values(
                        which.iter().map(|&i| records[i].data),
                    )),
                    _ => Arc::new(StringArray::from_iter_values(
                        which
                            .iter()
                            .map(|&i| String::from_utf8_lossy(records[i].data)),
                    )),
                };
                Ok(RecordBatch::try_new(self.payload.clone(), vec![array])?)
            }
        }
    }
}

/// Records skipped, by index, with what was wrong.
pub type Rejected = Vec<(usize, String)>;

/// A read's rows.
pub struct Decoded {
    pub rows: RecordBatch,
    /// The record each row comes from (a record may give several rows).
    pub kept: Vec<usize>,
    /// The largest watermark among the rows.
    pub watermark: Option<i64>,
    pub rejected: Rejected,
}

/// A record's rows as flat JSON objects keyed by column name.
fn flat_rows(
    shape: &RowShape,
    names: &[&str],
    data: &[u8],
) -> std::result::Result<Vec<Vec<u8>>, String> {
    use serde_json::{Map, Value};
    let text = std::str::from_utf8(data).map_err(|_| "the record is not UTF-8".to_string())?;
    let mut out = Vec::new();
    match shape {
        RowShape::Json { row_path, columns } => {
            let value: Value =
                serde_json::from_str(text).map_err(|e| format!("the record is not JSON: {e}"))?;
            let mut rows = Vec::new();
            select(&value, row_path, &mut rows);
            for row in rows {
                let mut object = Map::new();
                for (name, path) in names.iter().zip(columns) {
                    let mut found = Vec::new();
                    select(row, path, &mut found);
                    let v = match found.first() {
                        None | Some(Value::Null) => Value::Null,
                        // Nested values land in a column as their JSON text.
                        Some(v @ (Value::Object(_) | Value::Array(_))) => {
                            Value::String(v.to_string())
                        }
                        Some(v) => (*v).clone(),
                    };
                    object.insert(name.to_string(), v);
                }
                out.push(serde_json::to_vec(&Value::Object(object)).expect("JSON"));
            }
        }
        RowShape::Csv {
            row_delimiter,
            column_delimiter,
        } => {
            for line in text.split(row_delimiter.as_str()) {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.is_empty() {
                    continue;
                }
                let fields: Vec<&str> = line.split(column_delimiter.as_str()).collect();
                if fields.len() > names.len() {
                    return Err(format!(
                        "the row has {} columns and the schema {}",
                        fields.len(),
                        names.len()
                    ));
                }
                let mut object = Map::new();
                for (i, name) in names.iter().enumerate() {
                    let v = match fields.get(i) {
                        None | Some(&"") => Value::Null,
                        Some(f) => Value::String(f.to_string()),
                    };
                    object.insert(name.to_string(), v);
                }
                out.push(serde_json::to_vec(&Value::Object(object)).expect("JSON"));
            }
        }
    }
    Ok(out)
}

fn single_byte(table: &StreamTable, key: &str, default: u8) -> Result<u8> {
    match table.option(key) {
        None => Ok(default),
        Some("\\t") => Ok(b'\t'),
        Some(v) if v.len() == 1 => Ok(v.as_bytes()[0]),
        Some(v) => Err(FlowError::Invalid(format!(
            "table {}: '{key}' must be a single character, not '{v}'",
            table.name
        ))),
    }
}

fn metadata(key: &str, records: &[&Record<'_>]) -> ArrayRef {
    match key {
        "timestamp" => Arc::new(TimestampNanosecondArray::from_iter_values(
            records.iter().map(|r| r.arrival_ms * 1_000_000),
        )),
        // Kinesis Analytics' ROWTIME: the arrival time, records of one
        // millisecond kept apart in their order (nanoseconds from the
        // record's number), as rows enter an in-application stream one by one.
        "rowtime" => Arc::new(TimestampNanosecondArray::from_iter_values(
            records
                .iter()
                .map(|r| r.arrival_ms * 1_000_000 + (r.number % 1_000_000) as i64),
        )),
        "partition-key" => Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.partition_key),
        )),
        "sequence-number" => Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.sequence()),
        )),
        _ => Arc::new(StringArray::from_iter_values(
            records.iter().map(|r| r.shard_id),
        )),
    }
}

fn physical(
    ctx: &SessionContext,
    schema: &Schema,
    text: &str,
) -> datafusion::error::Result<Arc<dyn PhysicalExpr>> {
    let df_schema = DFSchema::try_from(schema.clone())?;
    let expr = ctx.parse_sql_expr(text, &df_schema)?;
    ctx.create_physical_expr(expr, &df_schema)
}

/// Metadata column types are fixed by the connector.
pub fn metadata_type(key: &str) -> HiveType {
    match key {
        "timestamp" | "rowtime" => HiveType::Timestamp,
        _ => HiveType::String,
    }
}
