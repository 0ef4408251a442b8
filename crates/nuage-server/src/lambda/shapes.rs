//! Lambda's request bodies, member by member in the model's order, with
//! the constraints its ValidationException messages name.

use std::collections::BTreeMap;

use crate::shape;
use crate::shape::{Int, Pattern};
use crate::wire::Blob;

/// `FunctionName` as a path parameter or a member: a name, `name:qualifier`
/// or an ARN (`(arn:aws:lambda:region:)?(account:)?(function:)?name(:qualifier)?`).
pub static FUNCTION_NAME: Pattern = Pattern {
    text: "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
    matches: |s| {
        let (name, qualifier) = nuage_functions::store::parse_function_name(s);
        let prefix_ok = match s.find(":function:") {
            Some(at) => {
                s[..at].starts_with("arn:aws") || s[..at].bytes().all(|b| b.is_ascii_digit())
            }
            None => true,
        };
        prefix_ok
            && nuage_functions::store::valid_name(name)
            && qualifier.is_none_or(|q| q == "$LATEST" || nuage_functions::store::valid_name(q))
    },
};

/// A function name only, as CreateFunction's member (no qualifier).
pub static PLAIN_NAME: Pattern = Pattern {
    text: "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)",
    matches: |s| {
        let (name, qualifier) = nuage_functions::store::parse_function_name(s);
        qualifier.is_none() && nuage_functions::store::valid_name(name)
    },
};

pub static ROLE: Pattern = Pattern {
    text: "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
    matches: |s| {
        let Some(rest) = s.strip_prefix("arn:") else {
            return false;
        };
        let Some((partition, rest)) = rest.split_once(":iam::") else {
            return false;
        };
        let Some((account, role)) = rest.split_at_checked(12) else {
            return false;
        };
        let role = role
            .strip_prefix(":role")
            .map(|r| r.strip_prefix('/').unwrap_or(r));
        (partition.is_empty() || partition.starts_with("aws"))
            && account.bytes().all(|b| b.is_ascii_digit())
            && role.is_some_and(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
            })
    },
};

pub static HANDLER: Pattern = Pattern {
    text: "[^\\s]+",
    matches: |s| !s.is_empty() && !s.chars().any(char::is_whitespace),
};

pub static ALIAS: Pattern = Pattern {
    text: "(?!^[0-9]+$)([a-zA-Z0-9-_]+)",
    matches: |s| nuage_functions::store::valid_name(s) && !s.bytes().all(|b| b.is_ascii_digit()),
};

pub static VERSION: Pattern = Pattern {
    text: "(\\$LATEST|[0-9]+)",
    matches: |s| s == "$LATEST" || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())),
};

/// Runtime values Lambda's model knows (nuage runs a subset; the rest are
/// refused as InvalidParameterValue with what it does run).
pub const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "java8",
    "java8.al2",
    "java11",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "provided",
    "provided.al2",
    "nodejs18.x",
    "python3.10",
    "java17",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "python3.11",
    "nodejs20.x",
    "provided.al2023",
    "python3.12",
    "java21",
    "python3.13",
    "nodejs22.x",
    "nodejs24.x",
    "python3.14",
    "java25",
    "dotnet10",
];

shape! {
    pub struct FunctionCode as "com.amazonaws.lambda#FunctionCode" {
        zip_file "ZipFile": Blob,
        s3_bucket "S3Bucket": String [MinLength(3), MaxLength(63)],
        s3_key "S3Key": String [MinLength(1), MaxLength(1024)],
        s3_object_version "S3ObjectVersion": String [MinLength(1), MaxLength(1024)],
        image_uri "ImageUri": String,
    }
}

shape! {
    pub struct Environment as "com.amazonaws.lambda#Environment" {
        variables "Variables": BTreeMap<String, String>,
    }
}

shape! {
    pub struct CreateFunction {
        function_name "FunctionName": String [NotNull, MinLength(1), MaxLength(140), Pattern(&PLAIN_NAME)],
        runtime "Runtime": String [OneOf(RUNTIMES)],
        role "Role": String [NotNull, Pattern(&ROLE)],
        handler "Handler": String [MaxLength(128), Pattern(&HANDLER)],
        code "Code": FunctionCode [NotNull],
        description "Description": String [MinLength(0), MaxLength(256)],
        timeout "Timeout": Int [Min(1), Max(900)],
        memory_size "MemorySize": Int [Min(128), Max(10240)],
        publish "Publish": bool,
        vpc_config "VpcConfig": serde_json::Value,
        package_type "PackageType": String [OneOf(&["Zip", "Image"])],
        dead_letter_config "DeadLetterConfig": serde_json::Value,
        environment "Environment": Environment,
        kms_key_arn "KMSKeyArn": String,
        tracing_config "TracingConfig": serde_json::Value,
        tags "Tags": BTreeMap<String, String>,
        layers "Layers": Vec<String>,
        file_system_configs "FileSystemConfigs": serde_json::Value,
        image_config "ImageConfig": serde_json::Value,
        code_signing_config_arn "CodeSigningConfigArn": String,
        architectures "Architectures": Vec<String> [MinLength(1), MaxLength(1), Items(&[Rule::OneOf(&["x86_64", "arm64"])])],
        ephemeral_storage "EphemeralStorage": serde_json::Value,
        snap_start "SnapStart": serde_json::Value,
        logging_config "LoggingConfig": serde_json::Value,
    }
}

shape! {
    pub struct UpdateFunctionCode {
        zip_file "ZipFile": Blob,
        s3_bucket "S3Bucket": String [MinLength(3), MaxLength(63)],
        s3_key "S3Key": String [MinLength(1), MaxLength(1024)],
        s3_object_version "S3ObjectVersion": String [MinLength(1), MaxLength(1024)],
        image_uri "ImageUri": String,
        publish "Publish": bool,
        dry_run "DryRun": bool,
        revision_id "RevisionId": String,
        architectures "Architectures": Vec<String> [MinLength(1), MaxLength(1), Items(&[Rule::OneOf(&["x86_64", "arm64"])])],
    }
}

shape! {
    pub struct UpdateFunctionConfiguration {
        role "Role": String [Pattern(&ROLE)],
        handler "Handler": String [MaxLength(128), Pattern(&HANDLER)],
        description "Description": String [MinLength(0), MaxLength(256)],
        timeout "Timeout": Int [Min(1), Max(900)],
        memory_size "MemorySize": Int [Min(128), Max(10240)],
        vpc_config "VpcConfig": serde_json::Value,
        environment "Environment": Environment,
        runtime "Runtime": String [OneOf(RUNTIMES)],
        dead_letter_config "DeadLetterConfig": serde_json::Value,
        kms_key_arn "KMSKeyArn": String,
        tracing_config "TracingConfig": serde_json::Value,
        revision_id "RevisionId": String,
        layers "Layers": Vec<String>,
        file_system_configs "FileSystemConfigs": serde_json::Value,
        image_config "ImageConfig": serde_json::Value,
        ephemeral_storage "EphemeralStorage": serde_json::Value,
        snap_start "SnapStart": serde_json::Value,
        logging_config "LoggingConfig": serde_json::Value,
    }
}

shape! {
    pub struct PublishLayerVersion {
        description "Description": String [MinLength(0), MaxLength(256)],
        content "Content": FunctionCode,
        compatible_runtimes "CompatibleRuntimes": Vec<String> [MaxLength(15)],
        license_info "LicenseInfo": String [MaxLength(512)],
        compatible_architectures "CompatibleArchitectures": Vec<String> [MaxLength(2), Items(&[Rule::OneOf(&["x86_64", "arm64"])])],
    }
}

shape! {
    pub struct PublishVersion {
        code_sha256 "CodeSha256": String,
        description "Description": String [MinLength(0), MaxLength(256)],
        revision_id "RevisionId": String,
    }
}

shape! {
    pub struct CreateAlias {
        name "Name": String [NotNull, MinLength(1), MaxLength(128), Pattern(&ALIAS)],
        function_version "FunctionVersion": String [NotNull, MinLength(1), MaxLength(1024), Pattern(&VERSION)],
        description "Description": String [MinLength(0), MaxLength(256)],
        routing_config "RoutingConfig": serde_json::Value,
    }
}

shape! {
    pub struct UpdateAlias {
        function_version "FunctionVersion": String [MinLength(1), MaxLength(1024), Pattern(&VERSION)],
        description "Description": String [MinLength(0), MaxLength(256)],
        routing_config "RoutingConfig": serde_json::Value,
        revision_id "RevisionId": String,
    }
}

shape! {
    pub struct PutFunctionConcurrency {
        reserved_concurrent_executions "ReservedConcurrentExecutions": Int [NotNull, Min(0)],
    }
}

shape! {
    pub struct TagResource {
        tags "Tags": BTreeMap<String, String> [NotNull],
    }
}

shape! {
    pub struct OnDestination as "com.amazonaws.lambda#OnFailure" {
        destination "Destination": String [MinLength(0), MaxLength(350)],
    }
}

shape! {
    pub struct DestinationConfig as "com.amazonaws.lambda#DestinationConfig" {
        on_success "OnSuccess": OnDestination,
        on_failure "OnFailure": OnDestination,
    }
}

shape! {
    pub struct EventInvokeConfig {
        maximum_retry_attempts "MaximumRetryAttempts": Int [Min(0), Max(2)],
        maximum_event_age_in_seconds "MaximumEventAgeInSeconds": Int [Min(60), Max(21600)],
        destination_config "DestinationConfig": DestinationConfig,
    }
}

use crate::shape::Rule;

shape! {
    pub struct Filter as "com.amazonaws.lambda#Filter" {
        pattern "Pattern": String [MinLength(0), MaxLength(4096)],
    }
}

shape! {
    pub struct FilterCriteria as "com.amazonaws.lambda#FilterCriteria" {
        filters "Filters": Vec<Filter>,
    }
}

shape! {
    pub struct EventSourceMapping {
        event_source_arn "EventSourceArn": String [Pattern(&EVENT_SOURCE_ARN)],
        function_name "FunctionName": String [MinLength(1), MaxLength(140), Pattern(&FUNCTION_NAME)],
        enabled "Enabled": bool,
        batch_size "BatchSize": Int [Min(1), Max(10000)],
        filter_criteria "FilterCriteria": FilterCriteria,
        maximum_batching_window_in_seconds "MaximumBatchingWindowInSeconds": Int [Min(0), Max(300)],
        parallelization_factor "ParallelizationFactor": Int [Min(1), Max(10)],
        starting_position "StartingPosition": String [OneOf(&["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"])],
        starting_position_timestamp "StartingPositionTimestamp": serde_json::Value,
        destination_config "DestinationConfig": DestinationConfig,
        maximum_record_age_in_seconds "MaximumRecordAgeInSeconds": Int [Min(-1), Max(604800)],
        bisect_batch_on_function_error "BisectBatchOnFunctionError": bool,
        maximum_retry_attempts "MaximumRetryAttempts": Int [Min(-1), Max(10000)],
        tags "Tags": BTreeMap<String, String>,
        tumbling_window_in_seconds "TumblingWindowInSeconds": Int [Min(0), Max(900)],
        function_response_types "FunctionResponseTypes": Vec<String> [MinLength(0), MaxLength(1), Items(&[Rule::OneOf(&["ReportBatchItemFailures"])])],
    }
}

pub static EVENT_SOURCE_ARN: Pattern = Pattern {
    text: "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
    matches: |s| s.starts_with("arn:aws") && s.split(':').count() >= 6,
};

shape! {
    pub struct FunctionUrl {
        auth_type "AuthType": String [OneOf(&["NONE", "AWS_IAM"])],
        cors "Cors": serde_json::Value,
        invoke_mode "InvokeMode": String [OneOf(&["BUFFERED", "RESPONSE_STREAM"])],
    }
}
