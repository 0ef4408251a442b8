//! A delivery stream's S3 destination, in the shape Firehose's API gives it
//! (ExtendedS3DestinationConfiguration), and [`Plan`]: what that
//! configuration means for delivery, checked once.
//!
//! The configuration is kept as the user gave it (fields nuage stores but
//! does not act on, such as CloudWatchLoggingOptions, are kept in `other`
//! and reported back); the plan is derived from it whenever it changes.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::convert::Conversion;
use crate::error::{DeliveryError, Result};
use crate::partition::Extraction;
use crate::prefix::Template;
use crate::transform::Transform;

/// ExtendedS3DestinationConfiguration (the older S3DestinationConfiguration
/// is its subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Destination {
    #[serde(rename = "RoleARN", skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(rename = "BucketARN", skip_serializing_if = "Option::is_none")]
    pub bucket_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_output_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering_hints: Option<BufferingHints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_configuration: Option<ProcessingConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_partitioning_configuration: Option<DynamicPartitioning>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_format_conversion_configuration: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_time_zone: Option<String>,
    /// Everything else, stored and reported as given.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BufferingHints {
    #[serde(rename = "SizeInMBs", skip_serializing_if = "Option::is_none")]
    pub size_in_mbs: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_in_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessingConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processors: Option<Vec<Processor>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Processor {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ProcessorParameter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorParameter {
    pub parameter_name: String,
    pub parameter_value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DynamicPartitioning {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_options: Option<Value>,
}

impl S3Destination {
    /// UpdateDestination: the fields given replace the stored ones, objects
    /// merging member by member, as Firehose merges an update of the same
    /// destination type.
    pub fn merged(&self, update: &S3Destination) -> Result<S3Destination> {
        let mut current = to_value(self)?;
        merge(&mut current, to_value(update)?);
        serde_json::from_value(current).map_err(|e| DeliveryError::InvalidArgument(e.to_string()))
    }

    /// The bucket of `BucketARN` (`arn:aws:s3:::bucket`).
    pub fn bucket(&self) -> Result<String> {
        let arn = self.bucket_arn.as_deref().unwrap_or_default();
        arn.strip_prefix("arn:aws:s3:::")
            .or_else(|| arn.strip_prefix("arn:aws-cn:s3:::"))
            .or_else(|| arn.strip_prefix("arn:aws-us-gov:s3:::"))
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .map(str::to_string)
            .ok_or_else(|| {
                DeliveryError::InvalidArgument(format!(
                    "BucketARN {arn} is not a bucket ARN; write arn:aws:s3:::<bucket>"
                ))
            })
    }

    fn processors(&self) -> &[Processor] {
        match &self.processing_configuration {
            Some(p) if p.enabled != Some(false) => p.processors.as_deref().unwrap_or_default(),
            _ => &[],
        }
    }

    fn dynamic_partitioning(&self) -> bool {
        self.dynamic_partitioning_configuration
            .as_ref()
            .and_then(|d| d.enabled)
            .unwrap_or(false)
    }

    /// Checks the configuration and works out how to deliver with it.
    pub fn plan(&self) -> Result<Plan> {
        let invalid = |m: String| DeliveryError::InvalidArgument(m);
        let bucket = self.bucket()?;
        nuage_lake::validate_bucket(&bucket)
            .map_err(|reason| invalid(format!("bucket {bucket}: {reason}")))?;
        let hints = self.buffering_hints.unwrap_or_default();
        let size_mb = hints.size_in_mbs.unwrap_or(5);
        let interval = hints.interval_in_seconds.unwrap_or(300);
        let compression = match self.compression_format.as_deref().unwrap_or("UNCOMPRESSED") {
            "UNCOMPRESSED" => Compression::None,
            "GZIP" => Compression::Gzip,
            "Snappy" => Compression::Snappy,
            other @ ("ZIP" | "HADOOP_SNAPPY") => {
                return Err(invalid(format!(
                    "CompressionFormat {other} is not supported by nuage yet; use UNCOMPRESSED, GZIP or Snappy"
                )));
            }
            other => {
                return Err(invalid(format!(
                    "CompressionFormat {other} is not one of UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY"
                )));
            }
        };
        match self.custom_time_zone.as_deref() {
            None | Some("") | Some("UTC") => {}
            Some(zone) => {
                return Err(invalid(format!(
                    "CustomTimeZone {zone}: nuage evaluates prefixes in UTC only; leave CustomTimeZone out or set it to UTC"
                )));
            }
        }
        if let Some(ext) = &self.file_extension
            && !ext.is_empty()
            && !(ext.starts_with('.')
                && ext.len() > 1
                && ext[1..].bytes().all(|b| {
                    b.is_ascii_digit() || b.is_ascii_lowercase() || b"!-_.*'()".contains(&b)
                }))
        {
            return Err(invalid(format!(
                "FileExtension {ext} must start with a period followed by lowercase letters, digits or !-_.*'()"
            )));
        }
        let conversion = Conversion::parse(self.data_format_conversion_configuration.as_ref())?;
        if conversion.is_some() && size_mb < 64 {
            return Err(invalid(format!(
                "BufferingHints.SizeInMBs must be at least 64 when DataFormatConversionConfiguration is enabled (it is {size_mb})"
            )));
        }
        if conversion.is_some() && compression != Compression::None {
            return Err(invalid(
                "CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled; set the Parquet compression in ParquetSerDe.Compression".into(),
            ));
        }

        let mut delimiter = false;
        let mut extraction = None;
        let mut transform = None;
        for processor in self.processors() {
            match processor.kind.as_str() {
                "AppendDelimiterToRecord" => delimiter = true,
                "MetadataExtraction" => {
                    let query = processor
                        .parameters
                        .iter()
                        .find(|p| p.parameter_name == "MetadataExtractionQuery")
                        .ok_or_else(|| {
                            invalid("the MetadataExtraction processor needs a MetadataExtractionQuery parameter, like {customer:.customer_id}".into())
                        })?;
                    extraction = Some(Extraction::parse(&query.parameter_value)?);
                }
                "Lambda" => transform = Some(Transform::parse(processor)?),
                "RecordDeAggregation" | "CloudWatchLogProcessing" | "Decompression" => {
                    return Err(invalid(format!(
                        "the {} processor is not supported by nuage yet; Lambda, AppendDelimiterToRecord and MetadataExtraction are",
                        processor.kind
                    )));
                }
                other => {
                    return Err(invalid(format!(
                        "unknown processor type {other}; Firehose has RecordDeAggregation, Decompression, CloudWatchLogProcessing, Lambda, MetadataExtraction and AppendDelimiterToRecord"
                    )));
                }
            }
        }

        let prefix = Template::parse(self.prefix.as_deref().unwrap_or(""))?;
        let error_prefix = Template::parse(self.error_output_prefix.as_deref().unwrap_or(""))?;
        if prefix.has_error_output_type() {
            return Err(invalid(
                "Prefix cannot contain !{firehose:error-output-type}; use it in ErrorOutputPrefix"
                    .into(),
            ));
        }
        if prefix.has_expressions() && self.error_output_prefix.as_deref().unwrap_or("").is_empty()
        {
            return Err(invalid(
                "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions".into(),
            ));
        }
        if error_prefix.has_expressions() && !error_prefix.has_error_output_type() {
            return Err(invalid(
                "ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}"
                    .into(),
            ));
        }
        if error_prefix.has_partition_keys() {
            return Err(invalid(
                "ErrorOutputPrefix cannot contain partitionKeyFromQuery or partitionKeyFromLambda expressions".into(),
            ));
        }
        let dynamic = self.dynamic_partitioning();
        if dynamic {
            if size_mb < 64 {
                return Err(invalid(format!(
                    "BufferingHints.SizeInMBs must be at least 64 when dynamic partitioning is enabled (it is {size_mb})"
                )));
            }
            if self.error_output_prefix.as_deref().unwrap_or("").is_empty() {
                return Err(invalid(
                    "ErrorOutputPrefix is required when dynamic partitioning is enabled".into(),
                ));
            }
            if !prefix.has_partition_keys() {
                return Err(invalid(
                    "Prefix must contain at least one !{partitionKeyFromQuery:...} expression when dynamic partitioning is enabled".into(),
                ));
            }
        } else if prefix.has_partition_keys() {
            return Err(invalid(
                "Prefix uses partitionKeyFromQuery but dynamic partitioning is not enabled; set DynamicPartitioningConfiguration.Enabled to true".into(),
            ));
        }
        for key in prefix.partition_keys() {
            if !extraction.as_ref().is_some_and(|e| e.has(key)) {
                return Err(invalid(format!(
                    "Prefix uses !{{partitionKeyFromQuery:{key}}} but no MetadataExtractionQuery defines {key}"
                )));
            }
        }
        if prefix.uses_lambda_keys() {
            return Err(invalid(
                "partitionKeyFromLambda is not supported by nuage yet; use partitionKeyFromQuery"
                    .into(),
            ));
        }

        let extension = match &self.file_extension {
            Some(ext) if !ext.is_empty() => ext.clone(),
            _ if conversion.is_some() => ".parquet".to_string(),
            _ => compression.extension().to_string(),
        };
        Ok(Plan {
            bucket,
            prefix,
            error_prefix,
            size_bytes: size_mb as u64 * 1024 * 1024,
            interval: Duration::from_secs(interval as u64),
            compression,
            extension,
            delimiter,
            extraction: if dynamic { extraction } else { None },
            conversion,
            transform,
        })
    }

    /// The configuration as DescribeDeliveryStream reports it: the values
    /// Firehose defaults filled in.
    pub fn described(&self) -> Result<Value> {
        let mut out = self.clone();
        let hints = out
            .buffering_hints
            .get_or_insert_with(BufferingHints::default);
        hints.size_in_mbs.get_or_insert(5);
        hints.interval_in_seconds.get_or_insert(300);
        out.compression_format
            .get_or_insert_with(|| "UNCOMPRESSED".into());
        out.other
            .entry("EncryptionConfiguration")
            .or_insert_with(|| serde_json::json!({ "NoEncryptionConfig": "NoEncryption" }));
        out.other
            .entry("S3BackupMode")
            .or_insert_with(|| Value::from("Disabled"));
        to_value(&out)
    }
}

fn to_value(d: &S3Destination) -> Result<Value> {
    serde_json::to_value(d).map_err(DeliveryError::json("a destination"))
}

/// Merges `update` into `base`: objects member by member, anything else replaced.
fn merge(base: &mut Value, update: Value) {
    match (base, update) {
        (Value::Object(base), Value::Object(update)) => {
            for (key, value) in update {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, update) => *base = update,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// Snappy's framing format, as Firehose writes it.
    Snappy,
}

impl Compression {
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }
}

/// How a destination delivers, worked out from its configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bucket: String,
    pub prefix: Template,
    pub error_prefix: Template,
    pub size_bytes: u64,
    pub interval: Duration,
    pub compression: Compression,
    /// Appended to every object name.
    pub extension: String,
    /// AppendDelimiterToRecord: a newline after every record.
    pub delimiter: bool,
    /// Dynamic partitioning's keys, when it is enabled.
    pub extraction: Option<Extraction>,
    /// JSON to Parquet, when DataFormatConversionConfiguration is enabled.
    pub conversion: Option<Conversion>,
    /// The Lambda processor, when there is one.
    pub transform: Option<Transform>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(json: Value) -> S3Destination {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_and_unknown_fields_survive_a_round_trip() {
        let d = destination(serde_json::json!({
            "RoleARN": "arn:aws:iam::000000000000:role/x",
            "BucketARN": "arn:aws:s3:::tolls",
            "CloudWatchLoggingOptions": {"Enabled": false}
        }));
        let plan = d.plan().unwrap();
        assert_eq!(plan.bucket, "tolls");
        assert_eq!(plan.size_bytes, 5 * 1024 * 1024);
        assert_eq!(plan.interval, Duration::from_secs(300));
        let described = d.described().unwrap();
        assert_eq!(described["CloudWatchLoggingOptions"]["Enabled"], false);
        assert_eq!(described["BufferingHints"]["SizeInMBs"], 5);
        assert_eq!(described["CompressionFormat"], "UNCOMPRESSED");
    }

    #[test]
    fn an_update_merges_member_by_member() {
        let d = destination(serde_json::json!({
            "BucketARN": "arn:aws:s3:::tolls",
            "Prefix": "raw/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}
        }));
        let update = destination(serde_json::json!({"BufferingHints": {"IntervalInSeconds": 10}}));
        let merged = d.merged(&update).unwrap();
        assert_eq!(merged.prefix.as_deref(), Some("raw/"));
        assert_eq!(
            merged.buffering_hints,
            Some(BufferingHints {
                size_in_mbs: Some(1),
                interval_in_seconds: Some(10)
            })
        );
    }

    #[test]
    fn firehose_rules_on_prefixes_are_enforced() {
        let bad = |json: Value, needle: &str| {
            let err = destination(json).plan().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        };
        bad(
            serde_json::json!({"BucketARN": "arn:aws:s3:::b", "Prefix": "x/!{timestamp:yyyy}/"}),
            "ErrorOutputPrefix cannot be null or empty",
        );
        bad(
            serde_json::json!({"BucketARN": "arn:aws:s3:::b", "Prefix": "!{firehose:error-output-type}"}),
            "Prefix cannot contain",
        );
        bad(
            serde_json::json!({"BucketARN": "arn:aws:s3:::b", "ErrorOutputPrefix": "e/!{timestamp:yyyy}/"}),
            "must contain !{firehose:error-output-type}",
        );
        bad(
            serde_json::json!({"BucketARN": "s3://b"}),
            "is not a bucket ARN",
        );
        bad(
            serde_json::json!({"BucketARN": "arn:aws:s3:::b", "CompressionFormat": "ZIP"}),
            "not supported by nuage yet",
        );
        bad(
            serde_json::json!({"BucketARN": "arn:aws:s3:::b", "Prefix": "k=!{partitionKeyFromQuery:k}/", "ErrorOutputPrefix": "e/"}),
            "dynamic partitioning is not enabled",
        );
    }
}
