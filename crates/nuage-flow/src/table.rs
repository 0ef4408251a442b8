//! A stream table: a Flink `CREATE TABLE ... WITH ('connector' = 'kinesis')`
//! as the catalog keeps it. Its columns are catalog columns (so `DESCRIBE`
//! and `SHOW TABLES` see it); what only a stream table has (metadata and
//! computed columns, the watermark, the connector's options) is one JSON
//! property, `flow.definition`.

use std::collections::BTreeMap;

use nuage_catalog::{Column, FileFormat, HiveType, StorageFormat, Table, TableKind};
use serde::{Deserialize, Serialize};

use crate::error::{FlowError, Result};

/// The catalog property that marks a stream table and names its connector.
pub const CONNECTOR: &str = "connector";
const DEFINITION: &str = "flow.definition";

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ColumnKind {
    /// A field of the record's payload.
    Physical,
    /// `METADATA FROM 'timestamp'`: the record's ApproximateArrivalTimestamp;
    /// `partition-key`, `sequence-number` and `shard-id` too.
    Metadata { key: String, is_virtual: bool },
    /// `name AS expr`: computed from the other columns.
    Computed { expr: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamColumn {
    pub name: String,
    /// Flink's type as written (`TIMESTAMP(3)`), for SHOW CREATE TABLE.
    pub flink_type: String,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watermark {
    /// The event-time column.
    pub column: String,
    /// The watermark expression, e.g. `ts - INTERVAL '5' SECOND`.
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Definition {
    columns: Vec<StreamColumn>,
    watermark: Option<Watermark>,
    partitioned_by: Vec<String>,
    options: BTreeMap<String, String>,
    statement: String,
}

/// A stream table with its catalog columns.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamTable {
    pub database: String,
    pub name: String,
    /// Every column in declared order, with its Hive type (computed ones
    /// typed once their expression is planned).
    pub columns: Vec<(StreamColumn, HiveType)>,
    pub watermark: Option<Watermark>,
    pub partitioned_by: Vec<String>,
    /// The WITH options, keys as written.
    pub options: BTreeMap<String, String>,
    /// The CREATE TABLE statement as the user wrote it.
    pub statement: String,
}

/// Whether a stream table's format carries changes (an updating result):
/// Flink's `debezium-json`, or nuage's `changelog-json` (`{"op": "+U",
/// "row": {...}}`, what `nuage sql` shows a SELECT through).
pub fn is_changelog(table: &StreamTable) -> bool {
    matches!(
        table.option("format"),
        Some("debezium-json" | "changelog-json")
    )
}

impl StreamTable {
    pub fn connector(&self) -> &str {
        self.options
            .get(CONNECTOR)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The stream's name: `stream`, or the name inside `stream.arn`.
    pub fn stream_name(&self) -> Result<String> {
        if let Some(name) = self.option("stream") {
            return Ok(name.to_string());
        }
        if let Some(arn) = self.option("stream.arn") {
            return nuage_streams::Streams::name_from_arn(arn)
                .map(str::to_string)
                .ok_or_else(|| {
                    FlowError::Invalid(format!(
                        "table {}: 'stream.arn' = '{arn}' is not a Kinesis stream ARN \
                         (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)",
                        self.name
                    ))
                });
        }
        if let Some(name) = self.option("delivery-stream") {
            return Ok(name.to_string());
        }
        if let Some(name) = self.option("function") {
            return Ok(name.to_string());
        }
        Err(FlowError::Invalid(format!(
            "table {} names no stream: add 'stream' = '<name>' (or 'stream.arn') to its WITH options",
            self.name
        )))
    }

    pub fn column(&self, name: &str) -> Option<&(StreamColumn, HiveType)> {
        self.columns
            .iter()
            .find(|(c, _)| c.name.eq_ignore_ascii_case(name))
    }

    /// The catalog's record of this table.
    pub fn to_catalog(&self, owner: &str) -> Table {
        let mut table = Table::new(
            &self.database,
            &self.name,
            TableKind::External,
            format!(
                "{}://{}",
                self.connector(),
                self.stream_name().unwrap_or_default()
            ),
            StorageFormat::new(FileFormat::Json),
            owner,
        );
        table.columns = self
            .columns
            .iter()
            .map(|(c, ty)| {
                Column::new(&c.name, &ty.to_string()).expect("a Hive type's text parses")
            })
            .collect();
        table.properties = self.options.clone();
        let definition = Definition {
            columns: self.columns.iter().map(|(c, _)| c.clone()).collect(),
            watermark: self.watermark.clone(),
            partitioned_by: self.partitioned_by.clone(),
            options: self.options.clone(),
            statement: self.statement.clone(),
        };
        table.properties.insert(
            DEFINITION.to_string(),
            serde_json::to_string(&definition).expect("a definition serializes"),
        );
        table
    }

    /// The stream table a catalog table is, if it is one.
    pub fn from_catalog(table: &Table) -> Option<StreamTable> {
        table.properties.get(CONNECTOR)?;
        let definition: Definition =
            serde_json::from_str(table.properties.get(DEFINITION)?).ok()?;
        let columns = definition
            .columns
            .into_iter()
            .zip(table.columns.iter())
            .map(|(c, column)| Some((c, HiveType::parse(&column.data_type).ok()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(StreamTable {
            database: table.database.clone(),
            name: table.name.clone(),
            columns,
            watermark: definition.watermark,
            partitioned_by: definition.partitioned_by,
            options: definition.options,
            statement: definition.statement,
        })
    }
}
