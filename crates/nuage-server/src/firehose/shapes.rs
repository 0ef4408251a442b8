//! Every Firehose request, as AWS's model (Firehose_20150804) declares it:
//! members in the model's order, with their constraints. The checks and
//! their messages come from [`crate::shape`], as for Kinesis. Destinations
//! nuage does not deliver to are taken as plain JSON, so that the operation
//! can name them when it refuses them.

use std::ops::Deref;

use nuage_delivery::S3Destination;
use nuage_delivery::config::BufferingHints;
use serde::Deserialize;
use serde_json::Value;

use crate::shape;
use crate::shape::{Int, NAME, Pattern};
use crate::wire::Blob;

/// The largest record Firehose accepts: 1,000 KiB.
pub const MAX_RECORD_BYTES: usize = 1_024_000;

/// DeliveryStreamType values AWS knows.
pub const SOURCE_TYPES: &[&str] = &[
    "DirectPut",
    "KinesisStreamAsSource",
    "MSKAsSource",
    "DatabaseAsSource",
];

/// `arn:.*<marker><tail>`: some occurrence of `marker` after `arn:` is
/// followed by a `tail` that passes.
fn arn_with(s: &str, marker: &str, tail: impl Fn(&str) -> bool) -> bool {
    s.starts_with("arn:")
        && s[3..]
            .match_indices(marker)
            .any(|(i, _)| tail(&s[3 + i + marker.len()..]))
}

/// `\d{12}:<kind>/<name>` where every character of name passes.
fn account_then(s: &str, kinds: &[&str], name: impl Fn(char) -> bool) -> bool {
    let Some((account, rest)) = s.split_at_checked(12) else {
        return false;
    };
    account.bytes().all(|b| b.is_ascii_digit())
        && kinds.iter().any(|kind| {
            rest.strip_prefix(':')
                .and_then(|r| r.strip_prefix(kind))
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|n| !n.is_empty() && n.chars().all(&name))
        })
}

/// `[a-zA-Z_0-9+=,.@\-_/]`, the characters of an IAM role or KMS key name.
fn iam_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c)
}

/// `[a-zA-Z0-9\-]+`, a region.
fn region(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `<region>:\d{12}:<kind>/<name>`.
fn region_account_then(s: &str, kinds: &[&str], name: impl Fn(char) -> bool) -> bool {
    s.split_once(':')
        .is_some_and(|(r, rest)| region(r) && account_then(rest, kinds, name))
}

pub static ROLE_ARN: Pattern = Pattern {
    text: "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
    matches: |s| arn_with(s, ":iam::", |t| account_then(t, &["role"], iam_char)),
};

pub static BUCKET_ARN: Pattern = Pattern {
    text: "arn:.*:s3:::[\\w\\.\\-]{1,255}",
    matches: |s| {
        arn_with(s, ":s3:::", |t| {
            (1..=255).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        })
    },
};

pub static KMS_KEY_ARN: Pattern = Pattern {
    text: "arn:.*:kms:[a-zA-Z0-9\\-]+:\\d{12}:(key|alias)/[a-zA-Z_0-9+=,.@\\-_/]+",
    matches: |s| {
        arn_with(s, ":kms:", |t| {
            region_account_then(t, &["key", "alias"], iam_char)
        })
    },
};

pub static STREAM_ARN: Pattern = Pattern {
    text: "arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+",
    matches: |s| {
        arn_with(s, ":kinesis:", |t| {
            region_account_then(t, &["stream"], |c| {
                c.is_ascii_alphanumeric() || "_.-".contains(c)
            })
        })
    },
};

pub static DESTINATION_ID: Pattern = Pattern {
    text: "[a-zA-Z0-9-]+",
    matches: region,
};

pub static VERSION_ID: Pattern = Pattern {
    text: "[0-9]+",
    matches: |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
};

pub static FILE_EXTENSION: Pattern = Pattern {
    text: "^$|\\.[0-9a-z!\\-_.*'()]+",
    matches: |s| {
        s.is_empty()
            || s.strip_prefix('.').is_some_and(|rest| {
                !rest.is_empty()
                    && rest.chars().all(|c| {
                        c.is_ascii_digit() || c.is_ascii_lowercase() || "!-_.*'()".contains(c)
                    })
            })
    },
};

/// `[\p{L}\p{Z}\p{N}_.\/=+\-@%]`: letters, separators, numbers and a few
/// marks (a tab or newline is a control character, not a separator).
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_./=+-@%".contains(c)
}

pub static TAG_KEY: Pattern = Pattern {
    text: "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.\\/=+\\-@%]*$",
    matches: |s| !s.starts_with("aws:") && s.chars().all(tag_char),
};

pub static TAG_VALUE: Pattern = Pattern {
    text: "^[\\p{L}\\p{Z}\\p{N}_.\\/=+\\-@%]*$",
    matches: |s| s.chars().all(tag_char),
};

/// Each of UntagDeliveryStream's TagKeys.
static TAG_KEY_ITEM: [shape::Rule; 3] = [
    shape::Rule::MinLength(1),
    shape::Rule::MaxLength(128),
    shape::Rule::Pattern(&TAG_KEY),
];

pub const COMPRESSION_FORMATS: &[&str] =
    &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"];

shape! {
    pub struct CreateDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        delivery_stream_type "DeliveryStreamType": String [OneOf(SOURCE_TYPES)],
        direct_put_source_configuration "DirectPutSourceConfiguration": Value,
        kinesis_stream_source_configuration "KinesisStreamSourceConfiguration": KinesisSource,
        delivery_stream_encryption_configuration_input "DeliveryStreamEncryptionConfigurationInput": EncryptionInput,
        s3_destination_configuration "S3DestinationConfiguration": NewDestination,
        extended_s3_destination_configuration "ExtendedS3DestinationConfiguration": NewDestination,
        redshift_destination_configuration "RedshiftDestinationConfiguration": Value,
        elasticsearch_destination_configuration "ElasticsearchDestinationConfiguration": Value,
        amazonopensearchservice_destination_configuration "AmazonopensearchserviceDestinationConfiguration": Value,
        splunk_destination_configuration "SplunkDestinationConfiguration": Value,
        http_endpoint_destination_configuration "HttpEndpointDestinationConfiguration": Value,
        tags "Tags": Vec<Tag> [MinLength(1), MaxLength(50)],
        amazon_open_search_serverless_destination_configuration "AmazonOpenSearchServerlessDestinationConfiguration": Value,
        msk_source_configuration "MSKSourceConfiguration": Value,
        snowflake_destination_configuration "SnowflakeDestinationConfiguration": Value,
        iceberg_destination_configuration "IcebergDestinationConfiguration": Value,
        database_source_configuration "DatabaseSourceConfiguration": Value,
    }
}

impl CreateDeliveryStream {
    /// The first destination given that is not S3, by its wire name.
    pub fn other_destination(&self) -> Option<&'static str> {
        [
            (
                &self.redshift_destination_configuration,
                "RedshiftDestinationConfiguration",
            ),
            (
                &self.elasticsearch_destination_configuration,
                "ElasticsearchDestinationConfiguration",
            ),
            (
                &self.amazonopensearchservice_destination_configuration,
                "AmazonopensearchserviceDestinationConfiguration",
            ),
            (
                &self.splunk_destination_configuration,
                "SplunkDestinationConfiguration",
            ),
            (
                &self.http_endpoint_destination_configuration,
                "HttpEndpointDestinationConfiguration",
            ),
            (
                &self.amazon_open_search_serverless_destination_configuration,
                "AmazonOpenSearchServerlessDestinationConfiguration",
            ),
            (
                &self.snowflake_destination_configuration,
                "SnowflakeDestinationConfiguration",
            ),
            (
                &self.iceberg_destination_configuration,
                "IcebergDestinationConfiguration",
            ),
        ]
        .into_iter()
        .find_map(|(value, name)| value.is_some().then_some(name))
    }
}

shape! {
    pub struct KinesisSource as "com.amazonaws.firehose.v20150804.KinesisStreamSourceConfiguration" {
        kinesis_stream_arn "KinesisStreamARN": String [NotNull, Pattern(&STREAM_ARN), MinLength(1), MaxLength(512)],
        role_arn "RoleARN": String [NotNull, Pattern(&ROLE_ARN), MinLength(1), MaxLength(512)],
    }
}

shape! {
    pub struct EncryptionInput as "com.amazonaws.firehose.v20150804.DeliveryStreamEncryptionConfigurationInput" {
        key_arn "KeyARN": String [Pattern(&KMS_KEY_ARN), MinLength(1), MaxLength(512)],
        key_type "KeyType": String [NotNull, OneOf(&["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"])],
    }
}

/// An S3 destination given to CreateDeliveryStream: RoleARN and BucketARN
/// are required.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct NewDestination(pub S3Destination);

/// An S3 destination given to UpdateDestination: every member optional.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct DestinationUpdate(pub S3Destination);

impl Deref for NewDestination {
    type Target = S3Destination;
    fn deref(&self) -> &S3Destination {
        &self.0
    }
}

impl Deref for DestinationUpdate {
    type Target = S3Destination;
    fn deref(&self) -> &S3Destination {
        &self.0
    }
}

/// The members of an S3 destination, in the model's order; `NotNull` on
/// RoleARN and BucketARN when the destination is being created.
macro_rules! s3_destination {
    ($name:ident as $java:literal, [$($required:ident)?]) => {
        shape! {
            impl $name as $java {
                role_arn "RoleARN" [$($required,)? Pattern(&ROLE_ARN), MinLength(1), MaxLength(512)],
                bucket_arn "BucketARN" [$($required,)? Pattern(&BUCKET_ARN), MinLength(1), MaxLength(2048)],
                prefix "Prefix" [MinLength(0), MaxLength(1024)],
                error_output_prefix "ErrorOutputPrefix" [MinLength(0), MaxLength(1024)],
                buffering_hints "BufferingHints",
                compression_format "CompressionFormat" [OneOf(COMPRESSION_FORMATS)],
                file_extension "FileExtension" [Pattern(&FILE_EXTENSION), MinLength(0), MaxLength(128)],
                custom_time_zone "CustomTimeZone" [MinLength(0), MaxLength(50)],
            }
        }
    };
}

s3_destination!(NewDestination as "com.amazonaws.firehose.v20150804.ExtendedS3DestinationConfiguration", [NotNull]);
s3_destination!(DestinationUpdate as "com.amazonaws.firehose.v20150804.ExtendedS3DestinationUpdate", []);

shape! {
    impl BufferingHints as "com.amazonaws.firehose.v20150804.BufferingHints" {
        size_in_mbs "SizeInMBs" [Min(1), Max(128)],
        interval_in_seconds "IntervalInSeconds" [Min(0), Max(900)],
    }
}

shape! {
    pub struct Tag as "com.amazonaws.firehose.v20150804.Tag" {
        key "Key": String [NotNull, MinLength(1), MaxLength(128), Pattern(&TAG_KEY)],
        value "Value": String [MinLength(0), MaxLength(256), Pattern(&TAG_VALUE)],
    }
}

shape! {
    /// DeleteDeliveryStream.
    pub struct DeleteDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        allow_force_delete "AllowForceDelete": bool,
    }
}

shape! {
    pub struct DescribeDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        limit "Limit": Int [Min(1), Max(10000)],
        exclusive_start_destination_id "ExclusiveStartDestinationId": String [Pattern(&DESTINATION_ID), MinLength(1), MaxLength(100)],
    }
}

shape! {
    pub struct ListDeliveryStreams {
        limit "Limit": Int [Min(1), Max(10000)],
        delivery_stream_type "DeliveryStreamType": String [OneOf(SOURCE_TYPES)],
        exclusive_start_delivery_stream_name "ExclusiveStartDeliveryStreamName": String [Pattern(&NAME), MinLength(1), MaxLength(64)],
    }
}

shape! {
    pub struct PutRecord {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        record "Record": Record [NotNull],
    }
}

shape! {
    pub struct PutRecordBatch {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        records "Records": Vec<Record> [NotNull, MinLength(1), MaxLength(500)],
    }
}

shape! {
    /// No recording shows how Firehose prints a list of these, so the
    /// Java class is given without the hash code Java would append.
    pub struct Record as "com.amazonaws.firehose.v20150804.Record" {
        data "Data": Blob [NotNull, MaxLength(MAX_RECORD_BYTES)],
    }
}

shape! {
    pub struct UpdateDestination {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        current_delivery_stream_version_id "CurrentDeliveryStreamVersionId": String [NotNull, Pattern(&VERSION_ID), MinLength(1), MaxLength(50)],
        destination_id "DestinationId": String [NotNull, Pattern(&DESTINATION_ID), MinLength(1), MaxLength(100)],
        s3_destination_update "S3DestinationUpdate": DestinationUpdate,
        extended_s3_destination_update "ExtendedS3DestinationUpdate": DestinationUpdate,
        redshift_destination_update "RedshiftDestinationUpdate": Value,
        elasticsearch_destination_update "ElasticsearchDestinationUpdate": Value,
        amazonopensearchservice_destination_update "AmazonopensearchserviceDestinationUpdate": Value,
        splunk_destination_update "SplunkDestinationUpdate": Value,
        http_endpoint_destination_update "HttpEndpointDestinationUpdate": Value,
        amazon_open_search_serverless_destination_update "AmazonOpenSearchServerlessDestinationUpdate": Value,
        snowflake_destination_update "SnowflakeDestinationUpdate": Value,
        iceberg_destination_update "IcebergDestinationUpdate": Value,
    }
}

impl UpdateDestination {
    /// The first destination update given that is not S3, by wire name.
    pub fn other_destination(&self) -> Option<&'static str> {
        [
            (
                &self.redshift_destination_update,
                "RedshiftDestinationUpdate",
            ),
            (
                &self.elasticsearch_destination_update,
                "ElasticsearchDestinationUpdate",
            ),
            (
                &self.amazonopensearchservice_destination_update,
                "AmazonopensearchserviceDestinationUpdate",
            ),
            (&self.splunk_destination_update, "SplunkDestinationUpdate"),
            (
                &self.http_endpoint_destination_update,
                "HttpEndpointDestinationUpdate",
            ),
            (
                &self.amazon_open_search_serverless_destination_update,
                "AmazonOpenSearchServerlessDestinationUpdate",
            ),
            (
                &self.snowflake_destination_update,
                "SnowflakeDestinationUpdate",
            ),
            (&self.iceberg_destination_update, "IcebergDestinationUpdate"),
        ]
        .into_iter()
        .find_map(|(value, name)| value.is_some().then_some(name))
    }
}

shape! {
    pub struct TagDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        tags "Tags": Vec<Tag> [NotNull, MinLength(1), MaxLength(50)],
    }
}

shape! {
    pub struct UntagDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        tag_keys "TagKeys": Vec<String> [NotNull, MinLength(1), MaxLength(50), Items(&TAG_KEY_ITEM)],
    }
}

shape! {
    pub struct ListTagsForDeliveryStream {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        exclusive_start_tag_key "ExclusiveStartTagKey": String [MinLength(1), MaxLength(128), Pattern(&TAG_KEY)],
        limit "Limit": Int [Min(1), Max(50)],
    }
}

shape! {
    /// StartDeliveryStreamEncryption and StopDeliveryStreamEncryption.
    pub struct SetEncryption {
        delivery_stream_name "DeliveryStreamName": String [NotNull, Pattern(&NAME), MinLength(1), MaxLength(64)],
        delivery_stream_encryption_configuration_input "DeliveryStreamEncryptionConfigurationInput": EncryptionInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns as AWS's model writes them, tried on ARNs AWS's
    /// documentation shows and on near misses.
    #[test]
    fn arn_patterns_read_as_the_model_writes_them() {
        let role = ROLE_ARN.matches;
        assert!(role(
            "arn:aws:iam::123456789012:role/firehose_delivery_role"
        ));
        assert!(role("arn:aws-cn:iam::123456789012:role/path/to/x@y"));
        assert!(!role("arn:aws:iam::12345678901:role/x"));
        assert!(!role("arn:aws:iam::123456789012:user/x"));
        assert!(!role("arn:aws:iam::123456789012:role/"));
        let bucket = BUCKET_ARN.matches;
        assert!(bucket("arn:aws:s3:::my.bucket-1"));
        assert!(!bucket("arn:aws:s3:::"));
        assert!(!bucket("arn:aws:s3:::a/b"));
        assert!(!bucket("s3://bucket"));
        let key = KMS_KEY_ARN.matches;
        assert!(key(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(key("arn:aws:kms:eu-west-1:123456789012:alias/mine"));
        assert!(!key("arn:aws:kms::123456789012:key/x"));
        let stream = STREAM_ARN.matches;
        assert!(stream(
            "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"
        ));
        assert!(!stream("arn:aws:kinesis:us-east-1:000000000000:stream/a/b"));
        let ext = FILE_EXTENSION.matches;
        assert!(ext("") && ext(".json.gz") && ext(".parquet"));
        assert!(!ext("json") && !ext(".JSON") && !ext("."));
        assert!((TAG_KEY.matches)("team name_1/x=y+z-@%"));
        assert!(!(TAG_KEY.matches)("aws:reserved"));
        assert!(!(TAG_VALUE.matches)("tab\there"));
        assert!((TAG_VALUE.matches)("été"));
    }
}
