//! What the metastore stores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::HiveType;

/// A database (Hive) or schema (Athena): a namespace with a default location.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub name: String,
    pub comment: Option<String>,
    /// Where managed tables of this database live, e.g. `s3://warehouse/sales.db`.
    pub location: String,
    pub properties: BTreeMap<String, String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableKind {
    /// nuage owns the data: DROP deletes it, UPDATE/DELETE rewrite it.
    Managed,
    /// The data belongs to someone else: DROP keeps it.
    External,
    View,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Managed => "MANAGED_TABLE",
            TableKind::External => "EXTERNAL_TABLE",
            TableKind::View => "VIRTUAL_VIEW",
        }
    }

    pub fn parse(text: &str) -> Option<TableKind> {
        match text {
            "MANAGED_TABLE" => Some(TableKind::Managed),
            "EXTERNAL_TABLE" => Some(TableKind::External),
            "VIRTUAL_VIEW" => Some(TableKind::View),
            _ => None,
        }
    }
}

/// How the files of a table are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileFormat {
    /// Delimited text read by LazySimpleSerDe (`ROW FORMAT DELIMITED`).
    Text,
    /// Quoted CSV read by OpenCSVSerde.
    Csv,
    /// One JSON object per line (JsonSerDe, OpenX JsonSerDe).
    Json,
    Parquet,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Text => "TEXTFILE",
            FileFormat::Csv => "CSV",
            FileFormat::Json => "JSONFILE",
            FileFormat::Parquet => "PARQUET",
        }
    }

    pub fn parse(text: &str) -> Option<FileFormat> {
        match text.to_ascii_uppercase().as_str() {
            "TEXTFILE" | "TEXT" => Some(FileFormat::Text),
            "CSV" => Some(FileFormat::Csv),
            "JSONFILE" | "JSON" => Some(FileFormat::Json),
            "PARQUET" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

pub const LAZY_SIMPLE_SERDE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
pub const OPEN_CSV_SERDE: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";
pub const HIVE_JSON_SERDE: &str = "org.apache.hive.hcatalog.data.JsonSerDe";
pub const OPENX_JSON_SERDE: &str = "org.openx.data.jsonserde.JsonSerDe";
pub const PARQUET_SERDE: &str = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/// File format plus serde: everything needed to read and write the files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageFormat {
    pub format: FileFormat,
    /// The serde class name as the user gave it (or the format's default).
    pub serde: String,
    /// `field.delim`, `serialization.null.format`, `separatorChar`, ...
    pub serde_properties: BTreeMap<String, String>,
}

impl StorageFormat {
    pub fn new(format: FileFormat) -> Self {
        let serde = match format {
            FileFormat::Text => LAZY_SIMPLE_SERDE,
            FileFormat::Csv => OPEN_CSV_SERDE,
            FileFormat::Json => HIVE_JSON_SERDE,
            FileFormat::Parquet => PARQUET_SERDE,
        };
        Self {
            format,
            serde: serde.to_string(),
            serde_properties: BTreeMap::new(),
        }
    }

    /// The format a serde class implies, if nuage knows the class.
    pub fn format_of_serde(serde: &str) -> Option<FileFormat> {
        let short = serde
            .rsplit('.')
            .next()
            .unwrap_or(serde)
            .to_ascii_lowercase();
        match short.as_str() {
            "lazysimpleserde" => Some(FileFormat::Text),
            "opencsvserde" => Some(FileFormat::Csv),
            "jsonserde" => Some(FileFormat::Json),
            "parquethiveserde" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    pub fn input_format(&self) -> &'static str {
        match self.format {
            FileFormat::Parquet => "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            _ => "org.apache.hadoop.mapred.TextInputFormat",
        }
    }

    pub fn output_format(&self) -> &'static str {
        match self.format {
            FileFormat::Parquet => "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            _ => "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        }
    }
}

/// A column: lowercase name, Hive type, optional comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    pub comment: Option<String>,
}

impl Column {
    /// A column with a validated type; the name is lowercased.
    pub fn new(name: &str, data_type: &str) -> Result<Self, String> {
        let ty = HiveType::parse(data_type)?;
        Ok(Self {
            name: name.to_lowercase(),
            data_type: ty.to_string(),
            comment: None,
        })
    }

    pub fn hive_type(&self) -> HiveType {
        HiveType::parse(&self.data_type).expect("column types are validated when stored")
    }
}

/// Column names joined with ", ", for messages that list what exists.
pub fn column_list(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The property naming the current data snapshot of a managed table (see [`Table::data_location`]).
pub const SNAPSHOT_PROPERTY: &str = "nuage.snapshot";

/// A table or view.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub kind: TableKind,
    pub columns: Vec<Column>,
    pub partition_columns: Vec<Column>,
    /// The table's root location (`s3://...` or an absolute `file://` path).
    pub location: String,
    pub storage: StorageFormat,
    pub properties: BTreeMap<String, String>,
    pub comment: Option<String>,
    /// For views: the query text as written, and as nuage rewrote it for planning.
    pub view_text: Option<String>,
    pub view_expanded: Option<String>,
    pub owner: String,
    pub created_at: i64,
}

impl Table {
    /// A table created now, with no columns, properties or comment yet.
    pub fn new(
        database: &str,
        name: &str,
        kind: TableKind,
        location: String,
        storage: StorageFormat,
        owner: &str,
    ) -> Self {
        Self {
            database: database.to_string(),
            name: name.to_string(),
            kind,
            columns: Vec::new(),
            partition_columns: Vec::new(),
            location,
            storage,
            properties: BTreeMap::new(),
            comment: None,
            view_text: None,
            view_expanded: None,
            owner: owner.to_string(),
            created_at: chrono::Utc::now().timestamp(),
        }
    }

    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    pub fn is_partitioned(&self) -> bool {
        !self.partition_columns.is_empty()
    }

    /// The folder holding the current data. External tables keep their files
    /// right at `location`; managed tables keep each version of their data in
    /// a snapshot folder below it, so UPDATE and DELETE can write a new version
    /// next to the old one and switch in one catalog transaction.
    pub fn data_location(&self) -> String {
        match self.properties.get(SNAPSHOT_PROPERTY) {
            Some(snapshot) => format!("{}/{}", self.location.trim_end_matches('/'), snapshot),
            None => self.location.clone(),
        }
    }

    /// Looks a column up by name, case-insensitively, among data then partition columns.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .chain(&self.partition_columns)
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// `skip.header.line.count` (0 when absent or not a number).
    pub fn header_lines(&self) -> usize {
        self.properties
            .get("skip.header.line.count")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// One partition: its values (in partition-column order) and where its files are.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub values: Vec<String>,
    pub location: String,
    pub created_at: i64,
}

impl Partition {
    /// A partition registered now.
    pub fn new(values: Vec<String>, location: String) -> Self {
        Self {
            values,
            location,
            created_at: chrono::Utc::now().timestamp(),
        }
    }
}

/// The Hive spelling of a partition, `year=2024/month=01`, with Hive's escaping.
pub fn partition_spec(columns: &[Column], values: &[String]) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{}={}", c.name, escape_partition_value(v)))
        .collect::<Vec<_>>()
        .join("/")
}

/// Hive's FileUtils.escapePathName: characters unsafe in paths become %XX.
pub fn escape_partition_value(value: &str) -> String {
    if value.is_empty() {
        return "__HIVE_DEFAULT_PARTITION__".to_string();
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() || "\"#%'*/:=?\\\x7f{[]^".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The inverse of [`escape_partition_value`].
pub fn unescape_partition_value(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_escaped_like_hive() {
        let cols = vec![
            Column::new("dt", "string").unwrap(),
            Column::new("City", "string").unwrap(),
        ];
        let spec = partition_spec(&cols, &["2024/01/02".into(), "Paris".into()]);
        assert_eq!(spec, "dt=2024%2F01%2F02/city=Paris");
        assert_eq!(unescape_partition_value("2024%2F01%2F02"), "2024/01/02");
        assert_eq!(unescape_partition_value("100%"), "100%");
    }
}

/// One statement of the query history: who ran what, what it cost, how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRecord {
    pub query_id: String,
    pub user: String,
    pub database: String,
    pub statement: String,
    /// Milliseconds since the Unix epoch.
    pub started_ms: i64,
    pub duration_ms: i64,
    /// Rows returned; None for statements that return none.
    pub rows: Option<u64>,
    pub bytes_scanned: u64,
    pub files_scanned: u64,
    /// SUCCEEDED, FAILED or CANCELLED (as Athena names them).
    pub state: String,
    pub error: Option<String>,
}

/// A continuous SQL job (`INSERT INTO ... SELECT ... FROM <stream>`): what
/// the server runs, and resumes after a restart while it is RUNNING.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub database: String,
    pub statement: String,
    /// RUNNING, STOPPED or FAILED (as Flink's SQL client shows them).
    pub state: String,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}
