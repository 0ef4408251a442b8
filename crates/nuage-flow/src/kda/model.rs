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
