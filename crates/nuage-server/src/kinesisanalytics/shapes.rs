//! Every Kinesis Analytics (SQL, API version 1) request as AWS's model
//! (KinesisAnalytics_20150814) declares it: members in the model's order
//! with their constraints, checked by [`crate::shape`]. Nested structures
//! are nuage-flow's own (`nuage_flow::kda::model`), declared here by their
//! wire names.

use nuage_flow::kda::model::{
    ApplicationUpdate, ArnUpdate, CsvMapping, DestinationSchema, Input, InputParallelism,
    InputSchemaUpdate, InputUpdate, JsonMapping, MappingParameters, Output, OutputUpdate,
    ParallelismUpdate, RecordColumn, RecordFormat, ReferenceDataSource, ReferenceUpdate,
    ResourceRole, S3Reference, S3ReferenceUpdate, SourceSchema,
};
use serde_json::Value;

use crate::shape;
use crate::shape::{NAME, Pattern};
use crate::wire::Timestamp;

/// `arn:.*`
pub static ARN: Pattern = Pattern {
    text: "arn:.*",
    matches: |s| s.starts_with("arn:"),
};

/// `arn:aws:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
pub static ROLE_ARN: Pattern = Pattern {
    text: "arn:aws:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
    matches: |s| {
        let Some(rest) = s.strip_prefix("arn:aws:iam::") else {
            return false;
        };
        let Some((account, role)) = rest.split_at_checked(12) else {
            return false;
        };
        let role = role.strip_prefix(":role").unwrap_or("!");
        let role = role.strip_prefix('/').unwrap_or(role);
        account.bytes().all(|b| b.is_ascii_digit())
            && !role.is_empty()
            && role
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
    },
};

/// `arn:aws:kinesisanalytics:[a-z]{2}-[a-z]+-\d{1}+:\d{12}+:application/[a-zA-Z0-9_.-]{1,128}`
pub static APPLICATION_ARN: Pattern = Pattern {
    text: "arn:aws:kinesisanalytics:[a-z]{2}-[a-z]+-\\d{1}+:\\d{12}+:application/[a-zA-Z0-9_.-]{1,128}",
    matches: |s| {
        let Some(rest) = s.strip_prefix("arn:aws:kinesisanalytics:") else {
            return false;
        };
        let parts: Vec<&str> = rest.splitn(3, ':').collect();
        let [region, account, resource] = parts.as_slice() else {
            return false;
        };
        let region_ok = {
            let r: Vec<&str> = region.split('-').collect();
            r.len() == 3
                && r[0].len() == 2
                && r[0].bytes().all(|b| b.is_ascii_lowercase())
                && !r[1].is_empty()
                && r[1].bytes().all(|b| b.is_ascii_lowercase())
                && !r[2].is_empty()
                && r[2].bytes().all(|b| b.is_ascii_digit())
        };
        let name = resource.strip_prefix("application/").unwrap_or("");
        region_ok
            && account.len() >= 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && (1..=128).contains(&name.len())
            && (NAME.matches)(name)
    },
};

pub static UTF8: Pattern = Pattern {
    text: "UTF-8",
    matches: |s| s == "UTF-8",
};

pub const FORMATS: &[&str] = &["JSON", "CSV"];
pub const POSITIONS: &[&str] = &["NOW", "TRIM_HORIZON", "LAST_STOPPED_POINT"];

shape! {
    impl ResourceRole as "com.amazonaws.kinesisanalytics.v20150814.KinesisStreamsInput" {
        resource_arn "ResourceARN" [NotNull, MinLength(1), MaxLength(2048), Pattern(&ARN)],
        role_arn "RoleARN" [NotNull, MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
    }
}

shape! {
    impl ArnUpdate as "com.amazonaws.kinesisanalytics.v20150814.KinesisStreamsInputUpdate" {
        resource_arn_update "ResourceARNUpdate" [MinLength(1), MaxLength(2048), Pattern(&ARN)],
        role_arn_update "RoleARNUpdate" [MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
    }
}

shape! {
    impl InputParallelism as "com.amazonaws.kinesisanalytics.v20150814.InputParallelism" {
        count "Count" [Min(1), Max(64)],
    }
}

shape! {
    impl ParallelismUpdate as "com.amazonaws.kinesisanalytics.v20150814.InputParallelismUpdate" {
        count_update "CountUpdate" [Min(1), Max(64)],
    }
}

shape! {
    impl JsonMapping as "com.amazonaws.kinesisanalytics.v20150814.JSONMappingParameters" {
        record_row_path "RecordRowPath" [NotNull, MinLength(1)],
    }
}

shape! {
    impl CsvMapping as "com.amazonaws.kinesisanalytics.v20150814.CSVMappingParameters" {
        record_row_delimiter "RecordRowDelimiter" [NotNull, MinLength(1)],
        record_column_delimiter "RecordColumnDelimiter" [NotNull, MinLength(1)],
    }
}

shape! {
    impl MappingParameters as "com.amazonaws.kinesisanalytics.v20150814.MappingParameters" {
        json "JSONMappingParameters",
        csv "CSVMappingParameters",
    }
}

shape! {
    impl RecordFormat as "com.amazonaws.kinesisanalytics.v20150814.RecordFormat" {
        record_format_type "RecordFormatType" [NotNull, OneOf(FORMATS)],
        mapping_parameters "MappingParameters",
    }
}

shape! {
    impl RecordColumn as "com.amazonaws.kinesisanalytics.v20150814.RecordColumn" {
        name "Name" [NotNull],
        mapping "Mapping",
        sql_type "SqlType" [NotNull, MinLength(1)],
    }
}

shape! {
    impl SourceSchema as "com.amazonaws.kinesisanalytics.v20150814.SourceSchema" {
        record_format "RecordFormat" [NotNull],
        record_encoding "RecordEncoding" [Pattern(&UTF8)],
        record_columns "RecordColumns" [NotNull, MinLength(1), MaxLength(1000)],
    }
}

shape! {
    impl InputSchemaUpdate as "com.amazonaws.kinesisanalytics.v20150814.InputSchemaUpdate" {
        record_format_update "RecordFormatUpdate",
        record_encoding_update "RecordEncodingUpdate" [Pattern(&UTF8)],
        record_column_updates "RecordColumnUpdates" [MinLength(1), MaxLength(1000)],
    }
}

shape! {
    impl Input as "com.amazonaws.kinesisanalytics.v20150814.Input" {
        name_prefix "NamePrefix" [NotNull, MinLength(1), MaxLength(32)],
        input_processing_configuration "InputProcessingConfiguration",
        kinesis_streams_input "KinesisStreamsInput",
        kinesis_firehose_input "KinesisFirehoseInput",
        input_parallelism "InputParallelism",
        input_schema "InputSchema" [NotNull],
    }
}

shape! {
    impl InputUpdate as "com.amazonaws.kinesisanalytics.v20150814.InputUpdate" {
        input_id "InputId" [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
        name_prefix_update "NamePrefixUpdate" [MinLength(1), MaxLength(32)],
        input_processing_configuration_update "InputProcessingConfigurationUpdate",
        kinesis_streams_input_update "KinesisStreamsInputUpdate",
        kinesis_firehose_input_update "KinesisFirehoseInputUpdate",
        input_schema_update "InputSchemaUpdate",
        input_parallelism_update "InputParallelismUpdate",
    }
}

shape! {
    impl DestinationSchema as "com.amazonaws.kinesisanalytics.v20150814.DestinationSchema" {
        record_format_type "RecordFormatType" [NotNull, OneOf(FORMATS)],
    }
}

shape! {
    impl Output as "com.amazonaws.kinesisanalytics.v20150814.Output" {
        name "Name" [NotNull, MinLength(1), MaxLength(32)],
        kinesis_streams_output "KinesisStreamsOutput",
        kinesis_firehose_output "KinesisFirehoseOutput",
        lambda_output "LambdaOutput",
        destination_schema "DestinationSchema" [NotNull],
    }
}

shape! {
    impl OutputUpdate as "com.amazonaws.kinesisanalytics.v20150814.OutputUpdate" {
        output_id "OutputId" [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
        name_update "NameUpdate" [MinLength(1), MaxLength(32)],
        kinesis_streams_output_update "KinesisStreamsOutputUpdate",
        kinesis_firehose_output_update "KinesisFirehoseOutputUpdate",
        lambda_output_update "LambdaOutputUpdate",
        destination_schema_update "DestinationSchemaUpdate",
    }
}

shape! {
    impl S3Reference as "com.amazonaws.kinesisanalytics.v20150814.S3ReferenceDataSource" {
        bucket_arn "BucketARN" [NotNull, MinLength(1), MaxLength(2048), Pattern(&ARN)],
        file_key "FileKey" [NotNull, MinLength(1), MaxLength(1024)],
        reference_role_arn "ReferenceRoleARN" [NotNull, MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
    }
}

shape! {
    impl S3ReferenceUpdate as "com.amazonaws.kinesisanalytics.v20150814.S3ReferenceDataSourceUpdate" {
        bucket_arn_update "BucketARNUpdate" [MinLength(1), MaxLength(2048), Pattern(&ARN)],
        file_key_update "FileKeyUpdate" [MinLength(1), MaxLength(1024)],
        reference_role_arn_update "ReferenceRoleARNUpdate" [MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
    }
}

shape! {
    impl ReferenceDataSource as "com.amazonaws.kinesisanalytics.v20150814.ReferenceDataSource" {
        table_name "TableName" [NotNull, MinLength(1), MaxLength(32)],
        s3_reference_data_source "S3ReferenceDataSource",
        reference_schema "ReferenceSchema" [NotNull],
    }
}

shape! {
    impl ReferenceUpdate as "com.amazonaws.kinesisanalytics.v20150814.ReferenceDataSourceUpdate" {
        reference_id "ReferenceId" [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
        table_name_update "TableNameUpdate" [MinLength(1), MaxLength(32)],
        s3_reference_data_source_update "S3ReferenceDataSourceUpdate",
        reference_schema_update "ReferenceSchemaUpdate",
    }
}

shape! {
    impl ApplicationUpdate as "com.amazonaws.kinesisanalytics.v20150814.ApplicationUpdate" {
        input_updates "InputUpdates",
        application_code_update "ApplicationCodeUpdate" [MinLength(0), MaxLength(102400)],
        output_updates "OutputUpdates",
        reference_data_source_updates "ReferenceDataSourceUpdates",
        cloud_watch_logging_option_updates "CloudWatchLoggingOptionUpdates",
    }
}

shape! {
    pub struct Tag as "com.amazonaws.kinesisanalytics.v20150814.Tag" {
        key "Key": String [NotNull, MinLength(1), MaxLength(128)],
        value "Value": String [MinLength(0), MaxLength(256)],
    }
}

shape! {
    pub struct CreateApplication {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        application_description "ApplicationDescription": String [MinLength(0), MaxLength(1024)],
        inputs "Inputs": Vec<Input>,
        outputs "Outputs": Vec<Output>,
        cloud_watch_logging_options "CloudWatchLoggingOptions": Value,
        application_code "ApplicationCode": String [MinLength(0), MaxLength(102400)],
        tags "Tags": Vec<Tag> [MinLength(1), MaxLength(200)],
    }
}

shape! {
    /// DescribeApplication, StopApplication.
    pub struct Named {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
    }
}

shape! {
    pub struct DeleteApplication {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        create_timestamp "CreateTimestamp": Timestamp [NotNull],
    }
}

shape! {
    pub struct ListApplications {
        limit "Limit": shape::Int [Min(1), Max(50)],
        exclusive_start_application_name "ExclusiveStartApplicationName": String [MinLength(1), MaxLength(128), Pattern(&NAME)],
    }
}

shape! {
    pub struct StartingPosition as "com.amazonaws.kinesisanalytics.v20150814.InputStartingPositionConfiguration" {
        input_starting_position "InputStartingPosition": String [OneOf(POSITIONS)],
    }
}

shape! {
    pub struct InputConfiguration as "com.amazonaws.kinesisanalytics.v20150814.InputConfiguration" {
        id "Id": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
        input_starting_position_configuration "InputStartingPositionConfiguration": StartingPosition [NotNull],
    }
}

shape! {
    pub struct StartApplication {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        input_configurations "InputConfigurations": Vec<InputConfiguration> [NotNull],
    }
}

shape! {
    pub struct UpdateApplication {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        application_update "ApplicationUpdate": ApplicationUpdate [NotNull],
    }
}

shape! {
    pub struct AddInput {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        input "Input": Input [NotNull],
    }
}

shape! {
    pub struct AddOutput {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        output "Output": Output [NotNull],
    }
}

shape! {
    pub struct DeleteOutput {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        output_id "OutputId": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
    }
}

shape! {
    pub struct AddReference {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        reference_data_source "ReferenceDataSource": ReferenceDataSource [NotNull],
    }
}

shape! {
    pub struct DeleteReference {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        reference_id "ReferenceId": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
    }
}

shape! {
    pub struct LoggingOption as "com.amazonaws.kinesisanalytics.v20150814.CloudWatchLoggingOption" {
        log_stream_arn "LogStreamARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&ARN)],
        role_arn "RoleARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
    }
}

shape! {
    pub struct AddLogging {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        cloud_watch_logging_option "CloudWatchLoggingOption": LoggingOption [NotNull],
    }
}

shape! {
    pub struct DeleteLogging {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        cloud_watch_logging_option_id "CloudWatchLoggingOptionId": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
    }
}

shape! {
    pub struct AddProcessing {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        input_id "InputId": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
        input_processing_configuration "InputProcessingConfiguration": Value [NotNull],
    }
}

shape! {
    pub struct DeleteProcessing {
        application_name "ApplicationName": String [NotNull, MinLength(1), MaxLength(128), Pattern(&NAME)],
        current_application_version_id "CurrentApplicationVersionId": i64 [NotNull, Min(1), Max(999999999)],
        input_id "InputId": String [NotNull, MinLength(1), MaxLength(50), Pattern(&NAME)],
    }
}

shape! {
    pub struct S3Configuration as "com.amazonaws.kinesisanalytics.v20150814.S3Configuration" {
        role_arn "RoleARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
        bucket_arn "BucketARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&ARN)],
        file_key "FileKey": String [NotNull, MinLength(1), MaxLength(1024)],
    }
}

shape! {
    pub struct DiscoverInputSchema {
        resource_arn "ResourceARN": String [MinLength(1), MaxLength(2048), Pattern(&ARN)],
        role_arn "RoleARN": String [MinLength(1), MaxLength(2048), Pattern(&ROLE_ARN)],
        input_starting_position_configuration "InputStartingPositionConfiguration": StartingPosition,
        s3_configuration "S3Configuration": S3Configuration,
        input_processing_configuration "InputProcessingConfiguration": Value,
    }
}

shape! {
    pub struct TagResource {
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&APPLICATION_ARN)],
        tags "Tags": Vec<Tag> [NotNull, MinLength(1), MaxLength(200)],
    }
}

/// Each of UntagResource's TagKeys.
static TAG_KEY_ITEM: [shape::Rule; 2] = [shape::Rule::MinLength(1), shape::Rule::MaxLength(128)];

shape! {
    pub struct UntagResource {
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&APPLICATION_ARN)],
        tag_keys "TagKeys": Vec<String> [NotNull, MinLength(1), MaxLength(200), Items(&TAG_KEY_ITEM)],
    }
}

shape! {
    pub struct ListTags {
        resource_arn "ResourceARN": String [NotNull, MinLength(1), MaxLength(2048), Pattern(&APPLICATION_ARN)],
    }
}
