//! An application as jobs: its input schema becomes the source table, its
//! in-application streams become sinks (an output's stream or Firehose
//! delivery stream, or a stream nuage keeps for the application when only
//! other pumps read it), its reference objects become tables bound in each
//! job, and each pump one [`JobPlan`].

use std::collections::BTreeMap;

use bytes::Bytes;
use nuage_catalog::HiveType;

use super::dialect::{self, ROWTIME};
use super::model::{Application, SourceSchema};
use super::name_in_arn;
use crate::error::{FlowError, Result};
use crate::job::Env;
use crate::plan::{self, JobPlan, Tables};
use crate::source::{Decoder, Record};
use crate::table::{ColumnKind, StreamColumn, StreamTable, Watermark};

/// The database a KDA job's statement runs in (its tables are its own).
const DATABASE: &str = "default";

fn invalid(message: impl Into<String>) -> FlowError {
    FlowError::InvalidConfiguration(message.into())
}

fn engine(name: &str) -> String {
    name.to_lowercase()
}

fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The job of each pump: `kda-<application>-<pump>`.
pub fn job_ids(app: &Application) -> Vec<String> {
    dialect::parse(&app.code)
        .map(|code| code.pumps.iter().map(|p| job_id(app, &p.name)).collect())
        .unwrap_or_default()
}

fn job_id(app: &Application, pump: &str) -> String {
    format!("kda-{}-{}", safe(&app.name), safe(pump))
}

/// The stream nuage keeps for an in-application stream only pumps read.
fn hidden_stream(app: &Application, stream: &str) -> String {
    let name = format!(
        "kinesisanalytics-{}-{}",
        safe(&app.name),
        safe(&engine(stream))
    );
    name.chars().take(128).collect()
}

/// Every stream nuage made for `app`'s in-application streams.
pub fn hidden_streams(app: &Application) -> Vec<String> {
    dialect::parse(&app.code)
        .map(|code| {
            code.streams
                .iter()
                .map(|s| hidden_stream(app, &s.name))
                .collect()
        })
        .unwrap_or_default()
}

/// A KDA SQL type as the catalog's.
fn sql_type(text: &str) -> Result<HiveType> {
    crate::ddl::flink_type_to_hive(text).map_err(|e| {
        FlowError::InvalidArgument(format!("SqlType '{text}' is not a type nuage reads: {e}"))
    })
}

/// What the engine needs of a schema: a known format and types.
pub fn check_schema(schema: &SourceSchema) -> Result<()> {
    let format = schema
        .record_format
        .as_ref()
        .and_then(|f| f.record_format_type.as_deref())
        .unwrap_or_default();
    if !matches!(format, "JSON" | "CSV") {
        return Err(FlowError::InvalidArgument(format!(
            "RecordFormatType '{format}' is not JSON or CSV"
        )));
    }
    for column in schema.record_columns.iter().flatten() {
        sql_type(column.sql_type.as_deref().unwrap_or_default())?;
    }
    Ok(())
}

/// The options and columns a schema gives a table.
fn schema_table(name: &str, schema: &SourceSchema) -> Result<StreamTable> {
    check_schema(schema)?;
    let format = schema.record_format.as_ref().expect("checked");
    let mut options = BTreeMap::new();
    let mapping = format.mapping_parameters.as_ref();
    if format.record_format_type.as_deref() == Some("CSV") {
        options.insert("format".to_string(), "kda-csv".to_string());
        let csv = mapping.and_then(|m| m.csv.as_ref());
        let row = csv
            .and_then(|c| c.record_row_delimiter.clone())
            .unwrap_or_else(|| "\n".into());
        let column = csv
            .and_then(|c| c.record_column_delimiter.clone())
            .unwrap_or_else(|| ",".into());
        options.insert("kda.row-delimiter".into(), row);
        options.insert("kda.column-delimiter".into(), column);
    } else {
        options.insert("format".to_string(), "kda-json".to_string());
        let row_path = mapping
            .and_then(|m| m.json.as_ref())
            .and_then(|j| j.record_row_path.clone())
            .unwrap_or_else(|| "$".into());
        options.insert("kda.row-path".into(), row_path);
    }
    let mut columns = Vec::new();
    for column in schema.record_columns.iter().flatten() {
        let column_name = column.name.clone().unwrap_or_default();
        let ty_text = column.sql_type.clone().unwrap_or_default();
        if let Some(path) = &column.mapping {
            options.insert(
                format!("kda.mapping.{}", engine(&column_name)),
                path.clone(),
            );
        }
        columns.push((
            StreamColumn {
                name: column_name,
                flink_type: ty_text.clone(),
                kind: ColumnKind::Physical,
            },
            sql_type(&ty_text)?,
        ));
    }
    Ok(StreamTable {
        database: DATABASE.into(),
        name: engine(name),
        columns,
        watermark: None,
        partitioned_by: Vec::new(),
        options,
        statement: String::new(),
    })
}

/// A table read from a stream: ROWTIME (and APPROXIMATE_ARRIVAL_TIME) are
/// the record's arrival time, and the watermark follows the clock.
fn readable(mut table: StreamTable, stream: &str) -> StreamTable {
    for (name, key) in [
        (ROWTIME, "rowtime"),
        ("approximate_arrival_time", "timestamp"),
    ] {
        table.columns.push((
            StreamColumn {
                name: name.to_string(),
                flink_type: "TIMESTAMP(3)".into(),
                kind: ColumnKind::Metadata {
                    key: key.into(),
                    is_virtual: true,
                },
            },
            HiveType::Timestamp,
        ));
    }
    table.watermark = Some(Watermark {
        column: ROWTIME.into(),
        expr: ROWTIME.into(),
    });
    table.options.insert("connector".into(), "kinesis".into());
    table.options.insert("stream".into(), stream.into());
    table
        .options
        .insert("watermark.follows-clock".into(), "true".into());
    table
}

/// An in-application stream's declared columns as a table (for writing it,
/// or reading it back from its stream as JSON).
fn declared_table(
    stream: &dialect::InAppStream,
    connector: &str,
    target: &str,
    format: &str,
) -> Result<StreamTable> {
    let mut columns = Vec::new();
    for (name, ty) in &stream.columns {
        columns.push((
            StreamColumn {
                name: name.clone(),
                flink_type: ty.clone(),
                kind: ColumnKind::Physical,
            },
            sql_type(ty)?,
        ));
    }
    let mut options = BTreeMap::new();
    options.insert("connector".into(), connector.into());
    let key = match connector {
        "firehose" => "delivery-stream",
        "lambda" => "function",
        _ => "stream",
    };
    options.insert(key.into(), target.into());
    options.insert("format".into(), format.into());
    Ok(StreamTable {
        database: DATABASE.into(),
        name: engine(&stream.name),
        columns,
        watermark: None,
        partitioned_by: Vec::new(),
        options,
        statement: String::new(),
    })
}

/// The tables one pump's statement sees.
struct PumpTables<'a> {
    sources: &'a BTreeMap<String, StreamTable>,
    sinks: &'a BTreeMap<String, StreamTable>,
    source: String,
}

impl Tables for PumpTables<'_> {
    fn stream(&self, _database: &str, name: &str) -> Result<Option<StreamTable>> {
        if name == self.source {
            return Ok(self.sources.get(name).cloned());
        }
        Ok(self.sinks.get(name).cloned())
    }

    fn lake_table(&self, _database: &str, _name: &str) -> Result<bool> {
        Ok(false)
    }
}

/// One plan per pump, with the streams they need made.
pub async fn plans(env: &Env, app: &Application) -> Result<Vec<(String, JobPlan)>> {
    let code = dialect::parse(&app.code)?;
    let input = app
        .inputs
        .first()
        .ok_or_else(|| invalid(format!("Application {} has no input.", app.name)))?;
    let in_app = Application::in_app_streams(&input.input);
    let schema = input
        .input
        .input_schema
        .as_ref()
        .ok_or_else(|| invalid("the input has no InputSchema"))?;
    let source_stream = name_in_arn(
        input
            .input
            .kinesis_streams_input
            .as_ref()
            .and_then(|k| k.resource_arn.as_deref())
            .unwrap_or_default(),
    )
    .to_string();
    env.streams.get(&source_stream).map_err(|_| {
        invalid(format!(
            "the input stream {source_stream} does not exist: create it, then start the application"
        ))
    })?;
    // Readable in-application streams, and the ones pumps write.
    let mut sources: BTreeMap<String, StreamTable> = BTreeMap::new();
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut source_table = readable(schema_table(&in_app[0], schema)?, &source_stream);
    if let Some(config) = &input.input.input_processing_configuration {
        let options = &mut source_table.options;
        options.insert("preprocessor".into(), super::preprocessor_of(config)?);
        options.insert("kda.application-arn".into(), app.arn.clone());
        if let Some(arn) = input
            .input
            .kinesis_streams_input
            .as_ref()
            .and_then(|k| k.resource_arn.clone())
        {
            options.insert("kda.stream-arn".into(), arn);
        }
    }
    if let Some(error_output) = app.outputs.iter().find(|o| {
        o.output
            .name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("error_stream"))
    }) {
        match &error_output.output.kinesis_streams_output {
            Some(k) => {
                source_table.options.insert(
                    "error-stream".into(),
                    name_in_arn(k.resource_arn.as_deref().unwrap_or_default()).to_string(),
                );
            }
            None => {
                return Err(invalid(
                    "error_stream can be written to a Kinesis stream only (KinesisStreamsOutput)",
                ));
            }
        }
    }
    // With InputParallelism N, in-application stream k of N reads the
    // shards whose index is k modulo N.
    let input_columns: Vec<String> = schema
        .record_columns
        .iter()
        .flatten()
        .map(|c| engine(c.name.as_deref().unwrap_or_default()))
        .collect();
    for (k, name) in in_app.iter().enumerate() {
        let mut table = source_table.clone();
        table.name = engine(name);
        if in_app.len() > 1 {
            table
                .options
                .insert("shard-share".into(), format!("{k}/{}", in_app.len()));
        }
        columns.insert(engine(name), input_columns.clone());
        sources.insert(engine(name), table);
    }
    let mut sinks: BTreeMap<String, StreamTable> = BTreeMap::new();
    for stream in &code.streams {
        let key = engine(&stream.name);
        let output = app.outputs.iter().find(|o| {
            o.output
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&stream.name))
        });
        let format = match output
            .and_then(|o| o.output.destination_schema.as_ref())
            .and_then(|d| d.record_format_type.as_deref())
        {
            Some("CSV") => "csv",
            _ => "json",
        };
        let (sink, readable_from) = match output.map(|o| &o.output) {
            Some(o) if o.kinesis_streams_output.is_some() => {
                let target = name_in_arn(
                    o.kinesis_streams_output
                        .as_ref()
                        .and_then(|k| k.resource_arn.as_deref())
                        .unwrap_or_default(),
                )
                .to_string();
                env.streams.get(&target).map_err(|_| {
                    invalid(format!(
                        "output {}: stream {target} does not exist: create it, then start the application",
                        stream.name
                    ))
                })?;
                let sink = declared_table(stream, "kinesis", &target, format)?;
                (sink, Some((target, format)))
            }
            Some(o) if o.kinesis_firehose_output.is_some() => {
                let target = name_in_arn(
                    o.kinesis_firehose_output
                        .as_ref()
                        .and_then(|k| k.resource_arn.as_deref())
                        .unwrap_or_default(),
                )
                .to_string();
                (declared_table(stream, "firehose", &target, format)?, None)
            }
            Some(o) => {
                let function = o
                    .lambda_output
                    .as_ref()
                    .and_then(|l| l.resource_arn.clone())
                    .unwrap_or_default();
                let mut sink = declared_table(stream, "lambda", &function, format)?;
                sink.options
                    .insert("kda.application-arn".into(), app.arn.clone());
                (sink, None)
            }
            None => {
                let hidden = hidden_stream(app, &stream.name);
                if env.streams.get(&hidden).is_err() {
                    env.streams
                        .create(
                            &hidden,
                            1,
                            nuage_streams::meta::StreamMode::Provisioned,
                            BTreeMap::new(),
                        )
                        .map_err(|e| invalid(format!("cannot make stream {hidden}: {e}")))?;
                }
                let sink = declared_table(stream, "kinesis", &hidden, "json")?;
                (sink, Some((hidden, "json")))
            }
        };
        if let Some((target, "json")) = readable_from {
            let table = declared_table(stream, "kinesis", &target, "json")?;
            sources.insert(key.clone(), readable(table, &target));
            columns.insert(
                key.clone(),
                stream.columns.iter().map(|(c, _)| engine(c)).collect(),
            );
        }
        sinks.insert(key, sink);
    }
    let declared: BTreeMap<String, Vec<String>> = code
        .streams
        .iter()
        .map(|s| {
            (
                engine(&s.name),
                s.columns.iter().map(|(c, _)| engine(c)).collect(),
            )
        })
        .collect();
    let references = load_references(env, app).await?;
    let mut plans = Vec::new();
    for pump in &code.pumps {
        let translated = dialect::translate(pump, &columns, &declared)?;
        if !sinks.contains_key(&translated.target) {
            return Err(FlowError::CodeValidation(format!(
                "pump {}: it inserts into {}, which the code does not create (CREATE OR REPLACE STREAM)",
                pump.name, translated.target
            )));
        }
        // STAGGER's keys, computed on this pump's source rows.
        let mut pump_sources;
        let sources_for = if translated.keys.is_empty() {
            &sources
        } else {
            pump_sources = sources.clone();
            if let Some(table) = pump_sources.get_mut(&translated.source) {
                for (name, expr) in &translated.keys {
                    table.columns.push((
                        StreamColumn {
                            name: name.clone(),
                            flink_type: String::new(),
                            kind: ColumnKind::Computed { expr: expr.clone() },
                        },
                        HiveType::String,
                    ));
                }
            }
            &pump_sources
        };
        let tables = PumpTables {
            sources: sources_for,
            sinks: &sinks,
            source: translated.source.clone(),
        };
        let mut plan = plan::plan_with(&tables, DATABASE, &translated.statement)?
            .ok_or_else(|| invalid(format!("pump {}: it reads no stream", pump.name)))?;
        plan.bound = references.clone();
        plans.push((job_id(app, &pump.name), plan));
    }
    // The error_stream is written once per in-application input stream,
    // by the first pump that reads it.
    let mut seen = std::collections::BTreeSet::new();
    for (_, plan) in plans.iter_mut() {
        if plan.source.option("error-stream").is_some() && !seen.insert(plan.source.name.clone()) {
            plan.source.options.remove("error-stream");
        }
    }
    Ok(plans)
}

/// Every reference data source's object, read from the lake into rows.
async fn load_references(
    env: &Env,
    app: &Application,
) -> Result<Vec<(String, datafusion::arrow::array::RecordBatch)>> {
    let mut tables = Vec::new();
    for reference in &app.references {
        let source = &reference.source;
        let table_name = source.table_name.clone().unwrap_or_default();
        let s3 = source.s3_reference_data_source.as_ref().ok_or_else(|| {
            invalid(format!(
                "reference {table_name} has no S3ReferenceDataSource"
            ))
        })?;
        let bucket = super::bucket_in_arn(s3.bucket_arn.as_deref().unwrap_or_default());
        let key = s3.file_key.clone().unwrap_or_default();
        let schema = source
            .reference_schema
            .as_ref()
            .ok_or_else(|| invalid(format!("reference {table_name} has no ReferenceSchema")))?;
        let location = nuage_lake::Location::parse(&format!("s3://{bucket}/{key}"))
            .map_err(|e| invalid(format!("reference {table_name}: {e}")))?;
        let bytes = env.lake.get_bytes(&location).await.map_err(|e| {
            invalid(format!(
                "reference {table_name}: cannot read s3://{bucket}/{key}: {e}"
            ))
        })?;
        let batch = rows_of(&table_name, schema, &bytes)?;
        tables.push((engine(&table_name), batch));
    }
    Ok(tables)
}

/// An object's rows by a schema: JSON one record per line, CSV the whole
/// object split by its row delimiter.
pub fn rows_of(
    name: &str,
    schema: &SourceSchema,
    bytes: &Bytes,
) -> Result<datafusion::arrow::array::RecordBatch> {
    let table = schema_table(name, schema)?;
    let decoder = Decoder::new(&table)?;
    let pieces: Vec<&[u8]> = if table.option("format") == Some("kda-json") {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .collect()
    } else {
        vec![bytes.as_ref()]
    };
    let records: Vec<Record> = pieces
        .iter()
        .map(|data| Record {
            data,
            partition_key: "",
            arrival_ms: 0,
            number: 0,
            shard: 0,
            shard_created_ms: 0,
            shard_id: "",
        })
        .collect();
    let decoded = decoder.decode(&records)?;
    if let Some((_, why)) = decoded.rejected.first() {
        tracing::warn!(
            "reference {name}: {} rows do not fit the schema (first: {why})",
            decoded.rejected.len()
        );
    }
    Ok(decoded.rows)
}
