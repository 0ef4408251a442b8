//! A Kinesis Analytics (SQL) application as its API describes it: the
//! structures keep AWS's member names (every member optional, as on the
//! wire, so the edge checks them against AWS's constraints) and are kept
//! as they were given, in `<data-dir>/flow/applications/<name>.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource and the role to reach it (roles are kept, not enforced).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceRole {
    #[serde(rename = "ResourceARN", skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    #[serde(rename = "RoleARN", skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputParallelism {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JsonMapping {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_row_path: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CsvMapping {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_row_delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_column_delimiter: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MappingParameters {
    #[serde(
        rename = "JSONMappingParameters",
        skip_serializing_if = "Option::is_none"
    )]
    pub json: Option<JsonMapping>,
    #[serde(
        rename = "CSVMappingParameters",
        skip_serializing_if = "Option::is_none"
    )]
    pub csv: Option<CsvMapping>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordFormat {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_format_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_parameters: Option<MappingParameters>,
}

impl RecordFormat {
    /// JSON records, rows at `row_path` (`$`: the record is the row).
    pub fn json(row_path: &str) -> RecordFormat {
        RecordFormat {
            record_format_type: Some("JSON".into()),
            mapping_parameters: Some(MappingParameters {
                json: Some(JsonMapping {
                    record_row_path: Some(row_path.into()),
                }),
                csv: None,
            }),
        }
    }

    /// CSV records with these delimiters.
    pub fn csv(row_delimiter: &str, column_delimiter: &str) -> RecordFormat {
        RecordFormat {
            record_format_type: Some("CSV".into()),
            mapping_parameters: Some(MappingParameters {
                json: None,
                csv: Some(CsvMapping {
                    record_row_delimiter: Some(row_delimiter.into()),
                    record_column_delimiter: Some(column_delimiter.into()),
                }),
            }),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordColumn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_type: Option<String>,
}

/// How records map to rows (an input's, or reference data's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceSchema {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_format: Option<RecordFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_columns: Option<Vec<RecordColumn>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_processing_configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_streams_input: Option<ResourceRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_firehose_input: Option<ResourceRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_parallelism: Option<InputParallelism>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<SourceSchema>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationSchema {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_format_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_streams_output: Option<ResourceRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_firehose_output: Option<ResourceRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambda_output: Option<ResourceRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_schema: Option<DestinationSchema>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct S3Reference {
    #[serde(rename = "BucketARN", skip_serializing_if = "Option::is_none")]
    pub bucket_arn: Option<String>,
    #[serde(rename = "FileKey", skip_serializing_if = "Option::is_none")]
    pub file_key: Option<String>,
    #[serde(rename = "ReferenceRoleARN", skip_serializing_if = "Option::is_none")]
    pub reference_role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReferenceDataSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    #[serde(
        rename = "S3ReferenceDataSource",
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_reference_data_source: Option<S3Reference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_schema: Option<SourceSchema>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInput {
    pub id: String,
    pub input: Input,
    /// The position StartApplication last named (NOW, TRIM_HORIZON, ...).
    pub starting_position: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOutput {
    pub id: String,
    pub output: Output,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReference {
    pub id: String,
    pub source: ReferenceDataSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLogging {
    pub id: String,
    pub option: Value,
}

pub const READY: &str = "READY";
pub const RUNNING: &str = "RUNNING";

/// One application, as kept on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    pub description: Option<String>,
    pub arn: String,
    /// READY or RUNNING (the transitions in between are instant here).
    pub status: String,
    pub create_ms: i64,
    pub update_ms: i64,
    pub version: i64,
    pub code: String,
    pub inputs: Vec<StoredInput>,
    pub outputs: Vec<StoredOutput>,
    pub references: Vec<StoredReference>,
    pub logging: Vec<StoredLogging>,
    pub tags: BTreeMap<String, String>,
    /// The last number given to an input, output, reference or logging
    /// option id ("1.N"): ids are never reused.
    pub last_id: u32,
}

impl Application {
    pub fn next_id(&mut self) -> String {
        self.last_id += 1;
        format!("1.{}", self.last_id)
    }

    /// The in-application stream names an input creates:
    /// `<prefix>_001` ... per its parallelism.
    pub fn in_app_streams(input: &Input) -> Vec<String> {
        let prefix = input.name_prefix.clone().unwrap_or_default();
        let count = input
            .input_parallelism
            .as_ref()
            .and_then(|p| p.count)
            .unwrap_or(1)
            .max(1);
        (1..=count).map(|n| format!("{prefix}_{n:03}")).collect()
    }
}

/// `ResourceARNUpdate` / `RoleARNUpdate` of a stream, delivery stream or
/// function.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArnUpdate {
    #[serde(rename = "ResourceARNUpdate")]
    pub resource_arn_update: Option<String>,
    #[serde(rename = "RoleARNUpdate")]
    pub role_arn_update: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputSchemaUpdate {
    pub record_format_update: Option<RecordFormat>,
    pub record_encoding_update: Option<String>,
    pub record_column_updates: Option<Vec<RecordColumn>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelismUpdate {
    pub count_update: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputUpdate {
    pub input_id: Option<String>,
    pub name_prefix_update: Option<String>,
    pub input_processing_configuration_update: Option<Value>,
    pub kinesis_streams_input_update: Option<ArnUpdate>,
    pub kinesis_firehose_input_update: Option<ArnUpdate>,
    pub input_schema_update: Option<InputSchemaUpdate>,
    pub input_parallelism_update: Option<ParallelismUpdate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputUpdate {
    pub output_id: Option<String>,
    pub name_update: Option<String>,
    pub kinesis_streams_output_update: Option<ArnUpdate>,
    pub kinesis_firehose_output_update: Option<ArnUpdate>,
    pub lambda_output_update: Option<ArnUpdate>,
    pub destination_schema_update: Option<DestinationSchema>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct S3ReferenceUpdate {
    #[serde(rename = "BucketARNUpdate")]
    pub bucket_arn_update: Option<String>,
    #[serde(rename = "FileKeyUpdate")]
    pub file_key_update: Option<String>,
    #[serde(rename = "ReferenceRoleARNUpdate")]
    pub reference_role_arn_update: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReferenceUpdate {
    pub reference_id: Option<String>,
    pub table_name_update: Option<String>,
    #[serde(rename = "S3ReferenceDataSourceUpdate")]
    pub s3_reference_data_source_update: Option<S3ReferenceUpdate>,
    pub reference_schema_update: Option<SourceSchema>,
}

/// UpdateApplication's ApplicationUpdate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApplicationUpdate {
    pub input_updates: Option<Vec<InputUpdate>>,
    pub application_code_update: Option<String>,
    pub output_updates: Option<Vec<OutputUpdate>>,
    pub reference_data_source_updates: Option<Vec<ReferenceUpdate>>,
    /// A list of CloudWatchLoggingOptionUpdate, kept as given.
    pub cloud_watch_logging_option_updates: Option<Value>,
}

fn apply_arn(target: &mut Option<ResourceRole>, update: &Option<ArnUpdate>) {
    if let Some(u) = update {
        let t = target.get_or_insert_with(ResourceRole::default);
        if let Some(arn) = &u.resource_arn_update {
            t.resource_arn = Some(arn.clone());
        }
        if let Some(role) = &u.role_arn_update {
            t.role_arn = Some(role.clone());
        }
    }
}

impl Application {
    /// Applies an UpdateApplication; an id that names nothing is an error
    /// (its message).
    pub fn apply(&mut self, update: &ApplicationUpdate) -> Result<(), String> {
        if let Some(code) = &update.application_code_update {
            self.code = code.clone();
        }
        for u in update.input_updates.iter().flatten() {
            let id = u.input_id.clone().unwrap_or_default();
            let input = self.inputs.iter_mut().find(|i| i.id == id).ok_or_else(|| {
                format!("Input id {id} is not found in application {}.", self.name)
            })?;
            let i = &mut input.input;
            if let Some(prefix) = &u.name_prefix_update {
                i.name_prefix = Some(prefix.clone());
            }
            if u.kinesis_streams_input_update.is_some() {
                i.kinesis_firehose_input = None;
                apply_arn(
                    &mut i.kinesis_streams_input,
                    &u.kinesis_streams_input_update,
                );
            }
            if u.kinesis_firehose_input_update.is_some() {
                i.kinesis_streams_input = None;
                apply_arn(
                    &mut i.kinesis_firehose_input,
                    &u.kinesis_firehose_input_update,
                );
            }
            if let Some(s) = &u.input_schema_update {
                let schema = i.input_schema.get_or_insert_with(SourceSchema::default);
                if let Some(f) = &s.record_format_update {
                    schema.record_format = Some(f.clone());
                }
                if let Some(e) = &s.record_encoding_update {
                    schema.record_encoding = Some(e.clone());
                }
                if let Some(c) = &s.record_column_updates {
                    schema.record_columns = Some(c.clone());
                }
            }
            if let Some(p) = &u.input_parallelism_update {
                i.input_parallelism = Some(InputParallelism {
                    count: p.count_update,
                });
            }
        }
        for u in update.output_updates.iter().flatten() {
            let id = u.output_id.clone().unwrap_or_default();
            let output = self
                .outputs
                .iter_mut()
                .find(|o| o.id == id)
                .ok_or_else(|| {
                    format!("Output id {id} is not found in application {}.", self.name)
                })?;
            let o = &mut output.output;
            if let Some(name) = &u.name_update {
                o.name = Some(name.clone());
            }
            for (given, target) in [
                (&u.kinesis_streams_output_update, 0),
                (&u.kinesis_firehose_output_update, 1),
                (&u.lambda_output_update, 2),
            ] {
                if given.is_some() {
                    let slots = [
                        &mut o.kinesis_streams_output,
                        &mut o.kinesis_firehose_output,
                        &mut o.lambda_output,
                    ];
                    for (n, slot) in slots.into_iter().enumerate() {
                        if n == target {
                            apply_arn(slot, given);
                        } else {
                            *slot = None;
                        }
                    }
                }
            }
            if let Some(d) = &u.destination_schema_update {
                o.destination_schema = Some(d.clone());
            }
        }
        for u in update.reference_data_source_updates.iter().flatten() {
            let id = u.reference_id.clone().unwrap_or_default();
            let reference = self
                .references
                .iter_mut()
                .find(|r| r.id == id)
                .ok_or_else(|| {
                    format!(
                        "Reference id {id} is not found in application {}.",
                        self.name
                    )
                })?;
            let r = &mut reference.source;
            if let Some(t) = &u.table_name_update {
                r.table_name = Some(t.clone());
            }
            if let Some(s3) = &u.s3_reference_data_source_update {
                let target = r
                    .s3_reference_data_source
                    .get_or_insert_with(S3Reference::default);
                if let Some(b) = &s3.bucket_arn_update {
                    target.bucket_arn = Some(b.clone());
                }
                if let Some(k) = &s3.file_key_update {
                    target.file_key = Some(k.clone());
                }
                if let Some(role) = &s3.reference_role_arn_update {
                    target.reference_role_arn = Some(role.clone());
                }
            }
            if let Some(schema) = &u.reference_schema_update {
                r.reference_schema = Some(schema.clone());
            }
        }
        for u in update
            .cloud_watch_logging_option_updates
            .iter()
            .filter_map(Value::as_array)
            .flatten()
        {
            let id = u
                .get("CloudWatchLoggingOptionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let option = self
                .logging
                .iter_mut()
                .find(|l| l.id == id)
                .ok_or_else(|| {
                    format!(
                        "CloudWatch logging option id {id} is not found in application {}.",
                        self.name
                    )
                })?;
            for (from, to) in [
                ("LogStreamARNUpdate", "LogStreamARN"),
                ("RoleARNUpdate", "RoleARN"),
            ] {
                if let (Some(v), Some(map)) = (u.get(from), option.option.as_object_mut()) {
                    map.insert(to.to_string(), v.clone());
                }
            }
        }
        Ok(())
    }
}
