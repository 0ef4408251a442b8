//! Record format conversion: JSON records to Parquet with the columns of a
//! catalog table (Firehose's DataFormatConversionConfiguration, with the
//! nuage catalog in the role of the Glue Data Catalog).
//!
//! JSON values become column values the way the table's JSON SerDe reads
//! them in SQL (the same builders as `nuage sql`), so a row converted here
//! and the same JSON line read through a JSON table agree.

use std::collections::BTreeMap;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression as ParquetCodec, GzipLevel};
use datafusion::parquet::file::properties::WriterProperties;
use nuage_catalog::{Metastore, Partition, Table, TableKind, unescape_partition_value};
use nuage_format::builder::ColumnBuilder;
use nuage_format::lookup_ignore_case;
use nuage_format::types::schema_of;
use nuage_lake::Location;
use nuage_streams::Record;
use serde_json::{Map, Value};

use crate::error::{DeliveryError, Result};

/// What DataFormatConversionConfiguration asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    pub database: String,
    pub table: String,
    /// OpenX `CaseInsensitive` (default true; Hive's JSON SerDe always is).
    pub case_insensitive: bool,
    /// OpenX `ConvertDotsInJsonKeysToUnderscores`.
    pub dots_to_underscores: bool,
    /// OpenX `ColumnToJsonKeyMappings`: column (lowercase) -> JSON key.
    pub mappings: BTreeMap<String, String>,
    /// ParquetSerDe `Compression` (default SNAPPY).
    pub codec: ParquetCodec,
    /// ParquetSerDe `PageSizeBytes`.
    pub page_bytes: Option<usize>,
    /// ParquetSerDe `EnableDictionaryCompression` (default true).
    pub dictionary: bool,
}

impl Conversion {
    /// Reads the configuration; `None` when conversion is absent or disabled.
    pub fn parse(config: Option<&Value>) -> Result<Option<Conversion>> {
        let invalid = |m: &str| DeliveryError::InvalidArgument(m.to_string());
        let Some(config) = config else {
            return Ok(None);
        };
        if !config
            .get("Enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
        {
            return Ok(None);
        }
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let schema = config.get("SchemaConfiguration");
        let database = text(schema.and_then(|s| s.get("DatabaseName")));
        let table = text(schema.and_then(|s| s.get("TableName")));
        if database.is_empty() || table.is_empty() {
            return Err(invalid(
                "SchemaConfiguration needs DatabaseName and TableName when DataFormatConversionConfiguration is enabled: the catalog table whose columns the records are converted to",
            ));
        }
        let deserializer = config
            .pointer("/InputFormatConfiguration/Deserializer")
            .ok_or_else(|| {
                invalid(
                    "InputFormatConfiguration.Deserializer is required: give OpenXJsonSerDe or HiveJsonSerDe",
                )
            })?;
        let mut conversion = Conversion {
            database: database.to_lowercase(),
            table: table.to_lowercase(),
            case_insensitive: true,
            dots_to_underscores: false,
            mappings: BTreeMap::new(),
            codec: ParquetCodec::SNAPPY,
            page_bytes: None,
            dictionary: true,
        };
        match (
            deserializer.get("OpenXJsonSerDe"),
            deserializer.get("HiveJsonSerDe"),
        ) {
            (Some(openx), None) => {
                let flag = |name: &str, default: bool| {
                    openx.get(name).and_then(Value::as_bool).unwrap_or(default)
                };
                conversion.case_insensitive = flag("CaseInsensitive", true);
                conversion.dots_to_underscores = flag("ConvertDotsInJsonKeysToUnderscores", false);
                if let Some(Value::Object(map)) = openx.get("ColumnToJsonKeyMappings") {
                    for (column, key) in map {
                        let key = key.as_str().ok_or_else(|| {
                            invalid("ColumnToJsonKeyMappings maps column names to JSON key names (strings)")
                        })?;
                        conversion
                            .mappings
                            .insert(column.to_lowercase(), key.to_string());
                    }
                }
            }
            (None, Some(hive)) => {
                let formats = hive.get("TimestampFormats").and_then(Value::as_array);
                if let Some(other) = formats
                    .into_iter()
                    .flatten()
                    .find(|f| f.as_str() != Some("millis"))
                {
                    return Err(DeliveryError::InvalidArgument(format!(
                        "HiveJsonSerDe TimestampFormats {other} is not supported by nuage yet; timestamps are read as 'yyyy-MM-dd HH:mm:ss[.fff]', ISO 8601 or epoch numbers (give [\"millis\"] or leave TimestampFormats out)"
                    )));
                }
            }
            _ => {
                return Err(invalid(
                    "InputFormatConfiguration.Deserializer must hold exactly one of OpenXJsonSerDe and HiveJsonSerDe",
                ));
            }
        }
        let serializer = config
            .pointer("/OutputFormatConfiguration/Serializer")
            .ok_or_else(|| {
                invalid("OutputFormatConfiguration.Serializer is required: give ParquetSerDe")
            })?;
        if serializer.get("OrcSerDe").is_some() {
            return Err(invalid(
                "OrcSerDe is not supported by nuage yet; give ParquetSerDe",
            ));
        }
        let parquet = serializer.get("ParquetSerDe").ok_or_else(|| {
            invalid("OutputFormatConfiguration.Serializer must hold ParquetSerDe")
        })?;
        conversion.codec = match parquet.get("Compression").and_then(Value::as_str) {
            None | Some("SNAPPY") => ParquetCodec::SNAPPY,
            Some("GZIP") => ParquetCodec::GZIP(GzipLevel::default()),
            Some("UNCOMPRESSED") => ParquetCodec::UNCOMPRESSED,
            Some(other) => {
                return Err(DeliveryError::InvalidArgument(format!(
                    "ParquetSerDe Compression {other} is not one of UNCOMPRESSED, GZIP, SNAPPY"
                )));
            }
        };
        conversion.page_bytes = parquet
            .get("PageSizeBytes")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        conversion.dictionary = parquet
            .get("EnableDictionaryCompression")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        Ok(Some(conversion))
    }

    /// Looks the table up for one flush.
    pub fn resolve(&self, catalog: &dyn Metastore) -> std::result::Result<Converter, String> {
        let table = catalog
            .get_table(&self.database, &self.table)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "table {}.{} (SchemaConfiguration) does not exist in the nuage catalog; create it, e.g. CREATE EXTERNAL TABLE ... STORED AS PARQUET LOCATION 's3://<bucket>/<prefix>'",
                    self.database, self.table
                )
            })?;
        if table.kind == TableKind::View || table.columns.is_empty() {
            return Err(format!(
                "{} is a view or has no columns; conversion needs a table with columns",
                table.qualified_name()
            ));
        }
        Ok(Converter {
            conversion: self.clone(),
            schema: schema_of(&table.columns),
            table,
        })
    }
}

/// A conversion with its table resolved.
#[derive(Debug)]
pub struct Converter {
    conversion: Conversion,
    table: Table,
    schema: SchemaRef,
}

/// One converted group: the Parquet file (None when no record converted)
/// and the records that could not be, with why.
pub struct Converted {
    pub body: Option<Bytes>,
    pub rows: usize,
    pub failed: Vec<(usize, String)>,
}

impl Converter {
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Converts records (each one or more concatenated JSON objects).
    pub fn encode(&self, records: &[&Record]) -> Result<Converted> {
        let fields = self.schema.fields();
        let mut builders: Vec<ColumnBuilder> = fields
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type(), records.len()))
            .collect();
        let mut failed = Vec::new();
        let mut rows = 0;
        let mut objects = Vec::new();
        for (index, record) in records.iter().enumerate() {
            objects.clear();
            let mut error = None;
            for value in serde_json::Deserializer::from_slice(&record.data).into_iter::<Value>() {
                match value {
                    Ok(Value::Object(map)) => objects.push(map),
                    Ok(other) => {
                        error = Some(format!(
                            "the record holds a JSON {}, not an object",
                            kind(&other)
                        ));
                        break;
                    }
                    Err(e) => {
                        error = Some(format!("the record is not valid JSON: {e}"));
                        break;
                    }
                }
            }
            if error.is_none() && objects.is_empty() {
                error = Some("the record is empty".into());
            }
            if let Some(why) = error {
                failed.push((index, why));
                continue;
            }
            for object in &objects {
                for (builder, field) in builders.iter_mut().zip(fields.iter()) {
                    let value = self.lookup(object, field.name());
                    match (field.data_type(), value) {
                        (DataType::Timestamp(..), Some(v)) => {
                            builder.append_json(timestamp(v).as_ref().or(Some(v)))
                        }
                        _ => builder.append_json(value),
                    }
                }
                rows += 1;
            }
        }
        if rows == 0 {
            return Ok(Converted {
                body: None,
                rows,
                failed,
            });
        }
        let columns = builders.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        let mut properties = WriterProperties::builder()
            .set_compression(self.conversion.codec)
            .set_dictionary_enabled(self.conversion.dictionary);
        if let Some(bytes) = self.conversion.page_bytes {
            properties = properties.set_data_page_size_limit(bytes);
        }
        let mut out = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut out, self.schema.clone(), Some(properties.build()))?;
        writer.write(&batch)?;
        writer.close()?;
        Ok(Converted {
            body: Some(Bytes::from(out)),
            rows,
            failed,
        })
    }

    fn lookup<'a>(&self, object: &'a Map<String, Value>, column: &str) -> Option<&'a Value> {
        let key = self
            .conversion
            .mappings
            .get(column)
            .map_or(column, String::as_str);
        let found = if self.conversion.case_insensitive {
            lookup_ignore_case(object, key)
        } else {
            object.get(key)
        };
        found.or_else(|| {
            self.conversion
                .dots_to_underscores
                .then(|| {
                    object.iter().find(|(k, _)| {
                        let k = k.replace('.', "_");
                        k == key
                            || (self.conversion.case_insensitive && k.eq_ignore_ascii_case(key))
                    })
                })
                .flatten()
                .map(|(_, v)| v)
        })
    }

    /// The partition an object at `bucket`/`key` belongs to, when the table
    /// is partitioned and the key's folder below the table's location is
    /// `col=value/...` for its partition columns.
    pub fn partition_of(&self, bucket: &str, key: &str) -> Option<Partition> {
        if !self.table.is_partitioned() {
            return None;
        }
        let folder = key.rsplit_once('/')?.0;
        let relative = below(&self.table.location, bucket, folder)?;
        let parts: Vec<&str> = relative.split('/').collect();
        if parts.len() != self.table.partition_columns.len() {
            return None;
        }
        let mut values = Vec::new();
        for (part, column) in parts.iter().zip(&self.table.partition_columns) {
            let (name, value) = part.split_once('=')?;
            if !name.eq_ignore_ascii_case(&column.name) {
                return None;
            }
            values.push(unescape_partition_value(value));
        }
        Some(Partition::new(values, format!("s3://{bucket}/{folder}")))
    }

    /// Whether SQL over the table sees an object at `bucket`/`key`.
    pub fn covers(&self, bucket: &str, key: &str) -> bool {
        if self.table.is_partitioned() {
            self.partition_of(bucket, key).is_some()
        } else {
            below(&self.table.data_location(), bucket, key).is_some()
        }
    }

    /// `dataCatalogTable` of the error documents.
    pub fn catalog_table(conversion: &Conversion) -> Value {
        serde_json::json!({
            "catalogId": "000000000000",
            "databaseName": conversion.database,
            "tableName": conversion.table,
        })
    }
}

/// `key` relative to `location` when it lies below it in `bucket`.
fn below<'a>(location: &str, bucket: &str, key: &'a str) -> Option<&'a str> {
    let Ok(Location::Object {
        bucket: root_bucket,
        key: root_key,
    }) = Location::parse(location)
    else {
        return None;
    };
    if root_bucket != bucket {
        return None;
    }
    let root_key = root_key.trim_end_matches('/');
    if root_key.is_empty() {
        return Some(key);
    }
    key.strip_prefix(root_key)?.strip_prefix('/')
}

/// Epoch numbers (seconds, or milliseconds when that large) and ISO 8601
/// text as the `yyyy-MM-dd HH:mm:ss.fff` a timestamp column reads.
fn timestamp(value: &Value) -> Option<Value> {
    let time = match value {
        Value::Number(n) => {
            let n = n.as_f64()?;
            let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
            chrono::DateTime::from_timestamp_millis(ms as i64)?
        }
        Value::String(s) if s.contains('T') => {
            chrono::DateTime::parse_from_rfc3339(s).ok()?.to_utc()
        }
        _ => return None,
    };
    Some(Value::String(
        time.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
    ))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, Float64Array};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use nuage_catalog::{Column, FileFormat, StorageFormat};

    use super::*;

    fn config(serde: Value) -> Value {
        serde_json::json!({
            "SchemaConfiguration": {"DatabaseName": "Default", "TableName": "Tolls"},
            "InputFormatConfiguration": {"Deserializer": serde},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "GZIP"}}}
        })
    }

    fn converter(conversion: Conversion, partitioned: bool) -> Converter {
        let mut table = Table::new(
            "default",
            "tolls",
            TableKind::External,
            "s3://lake/tolls".into(),
            StorageFormat::new(FileFormat::Parquet),
            "me",
        );
        table.columns = vec![
            Column::new("car", "string").unwrap(),
            Column::new("amount", "double").unwrap(),
        ];
        if partitioned {
            table.partition_columns = vec![
                Column::new("year", "string").unwrap(),
                Column::new("month", "string").unwrap(),
            ];
        }
        Converter {
            schema: schema_of(&table.columns),
            conversion,
            table,
        }
    }

    fn record(data: &str) -> Record {
        Record {
            number: 0,
            arrival_ms: 0,
            partition_key: String::new(),
            data: Bytes::copy_from_slice(data.as_bytes()),
        }
    }

    #[test]
    fn the_configuration_is_read_and_checked() {
        let openx = Conversion::parse(Some(&config(serde_json::json!({"OpenXJsonSerDe": {
            "CaseInsensitive": false,
            "ColumnToJsonKeyMappings": {"Amount": "amount.eur"}
        }}))))
        .unwrap()
        .unwrap();
        assert_eq!(
            (openx.database.as_str(), openx.table.as_str()),
            ("default", "tolls")
        );
        assert!(!openx.case_insensitive);
        assert_eq!(openx.mappings["amount"], "amount.eur");
        assert_eq!(openx.codec, ParquetCodec::GZIP(GzipLevel::default()));
        let disabled = serde_json::json!({"Enabled": false});
        assert_eq!(Conversion::parse(Some(&disabled)).unwrap(), None);
        for (bad, says) in [
            (serde_json::json!({"Enabled": true}), "SchemaConfiguration"),
            (config(serde_json::json!({})), "exactly one of"),
            (
                config(serde_json::json!({"HiveJsonSerDe": {"TimestampFormats": ["yyyy"]}})),
                "not supported",
            ),
        ] {
            let error = Conversion::parse(Some(&bad)).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn records_become_rows_and_bad_ones_are_reported() {
        let mut conversion =
            Conversion::parse(Some(&config(serde_json::json!({"OpenXJsonSerDe": {
                "ConvertDotsInJsonKeysToUnderscores": true
            }}))))
            .unwrap()
            .unwrap();
        conversion.mappings.insert("car".into(), "vehicle".into());
        let converter = converter(conversion, false);
        let records = [
            record(r#"{"VEHICLE":"a","amount":1.5}"#),
            record("[1,2]"),
            record(r#"{"vehicle":"b"} {"vehicle":"c","amount":"2.5"}"#),
            record("{broken"),
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let converted = converter.encode(&refs).unwrap();
        assert_eq!(converted.rows, 3);
        let failed: Vec<usize> = converted.failed.iter().map(|f| f.0).collect();
        assert_eq!(failed, [1, 3]);
        assert!(
            converted.failed[0].1.contains("array"),
            "{:?}",
            converted.failed
        );
        let batch = ParquetRecordBatchReaderBuilder::try_new(converted.body.unwrap())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let cars: Vec<_> = batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        assert_eq!(cars, ["a", "b", "c"]);
        let amounts = batch.column(1).as_primitive::<Float64Type>();
        assert_eq!(
            amounts,
            &Float64Array::from(vec![Some(1.5), None, Some(2.5)])
        );
    }

    #[test]
    fn partitions_come_from_the_folders_below_the_table() {
        let conversion =
            Conversion::parse(Some(&config(serde_json::json!({"OpenXJsonSerDe": {}}))))
                .unwrap()
                .unwrap();
        let partitioned = converter(conversion.clone(), true);
        let p = partitioned
            .partition_of("lake", "tolls/year=2025/month=11/f.parquet")
            .unwrap();
        assert_eq!(p.values, ["2025", "11"]);
        assert_eq!(p.location, "s3://lake/tolls/year=2025/month=11");
        for outside in [
            "tolls/year=2025/f.parquet",
            "tolls/month=11/year=2025/f.parquet",
            "other/year=2025/month=11/f.parquet",
            "tolls/year=2025/month=11/day=1/f.parquet",
        ] {
            assert_eq!(partitioned.partition_of("lake", outside), None, "{outside}");
        }
        assert_eq!(
            partitioned.partition_of("other", "tolls/year=2025/month=11/f"),
            None
        );
        let flat = converter(conversion, false);
        assert!(flat.covers("lake", "tolls/2025/11/22/09/f.parquet"));
        assert!(!flat.covers("lake", "tollsx/f.parquet"));
    }
}
