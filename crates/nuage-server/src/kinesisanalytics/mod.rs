//! Amazon Kinesis Analytics for SQL applications (`KinesisAnalytics_20150814.*`):
//! request shapes and AWS's validation here, the service's rules and the
//! applications themselves in [`nuage_flow::kda`].

mod shapes;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nuage_flow::kda::Applications;
use nuage_flow::kda::model::Application;
use serde_json::{Value, json};

use crate::shape;
use crate::wire::{ApiError, ApiResult, ErrorCode, Format, empty_object, reply_value};

pub const SERVICE: &str = "KinesisAnalytics_20150814";

/// The operations [`KinesisAnalytics::dispatch`] serves.
pub const OPERATIONS: &[&str] = &[
    "CreateApplication",
    "DescribeApplication",
    "ListApplications",
    "UpdateApplication",
    "DeleteApplication",
    "StartApplication",
    "StopApplication",
    "AddApplicationInput",
    "AddApplicationOutput",
    "DeleteApplicationOutput",
    "AddApplicationReferenceDataSource",
    "DeleteApplicationReferenceDataSource",
    "AddApplicationCloudWatchLoggingOption",
    "DeleteApplicationCloudWatchLoggingOption",
    "AddApplicationInputProcessingConfiguration",
    "DeleteApplicationInputProcessingConfiguration",
    "DiscoverInputSchema",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

pub struct KinesisAnalytics {
    pub apps: Arc<Applications>,
}

fn request<T>(format: Format, body: &Bytes) -> Result<T, ApiError>
where
    T: shape::Shape + serde::de::DeserializeOwned,
{
    let cx = shape::Context {
        max_record_bytes: usize::MAX,
    };
    shape::parse_checked(format, body, &cx)
}

/// A member the shape requires (checked before this is called).
fn given<T>(value: Option<T>) -> T {
    value.expect("the shape requires it")
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn summary(app: &Application) -> Value {
    json!({
        "ApplicationName": app.name,
        "ApplicationARN": app.arn,
        "ApplicationStatus": app.status,
    })
}

fn arn_description(role: &Option<nuage_flow::kda::model::ResourceRole>) -> Option<Value> {
    role.as_ref()
        .map(|r| json!({"ResourceARN": r.resource_arn, "RoleARN": r.role_arn}))
}

/// DescribeApplication's ApplicationDetail.
fn detail(app: &Application) -> Value {
    let inputs: Vec<Value> = app
        .inputs
        .iter()
        .map(|i| {
            let input = &i.input;
            let mut d = json!({
                "InputId": i.id,
                "NamePrefix": input.name_prefix,
                "InAppStreamNames": Application::in_app_streams(input),
                "InputSchema": input.input_schema,
                "InputParallelism": {"Count": input.input_parallelism.as_ref().and_then(|p| p.count).unwrap_or(1)},
            });
            let map = d.as_object_mut().expect("an object");
            if let Some(k) = arn_description(&input.kinesis_streams_input) {
                map.insert("KinesisStreamsInputDescription".into(), k);
            }
            if let Some(k) = arn_description(&input.kinesis_firehose_input) {
                map.insert("KinesisFirehoseInputDescription".into(), k);
            }
            if let Some(p) = &input.input_processing_configuration {
                let lambda = p.get("InputLambdaProcessor").cloned().unwrap_or(Value::Null);
                map.insert(
                    "InputProcessingConfigurationDescription".into(),
                    json!({"InputLambdaProcessorDescription": lambda}),
                );
            }
            if let Some(position) = &i.starting_position {
                map.insert(
                    "InputStartingPositionConfiguration".into(),
                    json!({"InputStartingPosition": position}),
                );
            }
            d
        })
        .collect();
    let outputs: Vec<Value> = app
        .outputs
        .iter()
        .map(|o| {
            let output = &o.output;
            let mut d = json!({
                "OutputId": o.id,
                "Name": output.name,
                "DestinationSchema": output.destination_schema,
            });
            let map = d.as_object_mut().expect("an object");
            for (key, role) in [
                (
                    "KinesisStreamsOutputDescription",
                    &output.kinesis_streams_output,
                ),
                (
                    "KinesisFirehoseOutputDescription",
                    &output.kinesis_firehose_output,
                ),
                ("LambdaOutputDescription", &output.lambda_output),
            ] {
                if let Some(v) = arn_description(role) {
                    map.insert(key.into(), v);
                }
            }
            d
        })
        .collect();
    let references: Vec<Value> = app
        .references
        .iter()
        .map(|r| {
            json!({
                "ReferenceId": r.id,
                "TableName": r.source.table_name,
                "S3ReferenceDataSourceDescription": r.source.s3_reference_data_source,
                "ReferenceSchema": r.source.reference_schema,
            })
        })
        .collect();
    let logging: Vec<Value> = app
        .logging
        .iter()
        .map(|l| {
            json!({
                "CloudWatchLoggingOptionId": l.id,
                "LogStreamARN": l.option.get("LogStreamARN"),
                "RoleARN": l.option.get("RoleARN"),
            })
        })
        .collect();
    let mut d = json!({
        "ApplicationName": app.name,
        "ApplicationARN": app.arn,
        "ApplicationStatus": app.status,
        "CreateTimestamp": seconds(app.create_ms),
        "LastUpdateTimestamp": seconds(app.update_ms),
        "InputDescriptions": inputs,
        "OutputDescriptions": outputs,
        "ReferenceDataSourceDescriptions": references,
        "CloudWatchLoggingOptionDescriptions": logging,
        "ApplicationCode": app.code,
        "ApplicationVersionId": app.version,
    });
    if let Some(description) = &app.description {
        d["ApplicationDescription"] = json!(description);
    }
    d
}

fn tags_of(tags: Vec<shapes::Tag>) -> BTreeMap<String, String> {
    tags.into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

/// AWS's cap on tags per application.
const MAX_TAGS: usize = 50;

impl KinesisAnalytics {
    /// Runs the operation in a task of its own: a change stops an
    /// application's jobs, then starts or records the new ones, and a client
    /// that disconnects half-way must not leave it stopped and RUNNING on
    /// disk (a dropped request future would end the change where it stood).
    pub async fn dispatch(&self, operation: &str, format: Format, body: Bytes) -> ApiResult {
        let apps = self.apps.clone();
        let operation = operation.to_string();
        tokio::spawn(async move { handle(&apps, &operation, format, body).await })
            .await
            .unwrap_or_else(|e| {
                let message = if e.is_panic() {
                    nuage_common::panic_message(&*e.into_panic())
                } else {
                    e.to_string()
                };
                tracing::error!("a Kinesis Analytics request failed: {message}");
                Err(ApiError::internal(format!(
                    "internal error in nuage (please report it): {message}"
                )))
            })
    }
}

async fn handle(
    apps: &Arc<Applications>,
    operation: &str,
    format: Format,
    body: Bytes,
) -> ApiResult {
    let value = match operation {
        "CreateApplication" => {
            let r: shapes::CreateApplication = request(format, &body)?;
            let tags = tags_of(r.tags.unwrap_or_default());
            if tags.len() > MAX_TAGS {
                return Err(ApiError::new(
                    ErrorCode::TooManyTags,
                    format!("An application can have at most {MAX_TAGS} tags."),
                ));
            }
            let logging = match r.cloud_watch_logging_options {
                Some(Value::Array(items)) => items,
                Some(_) => {
                    return Err(ApiError::new(
                        ErrorCode::Serialization,
                        "Unexpected value type in payload",
                    ));
                }
                None => Vec::new(),
            };
            let app = apps
                .create(
                    &given(r.application_name),
                    r.application_description,
                    r.inputs.unwrap_or_default(),
                    r.outputs.unwrap_or_default(),
                    logging,
                    r.application_code.unwrap_or_default(),
                    tags,
                )
                .await?;
            json!({"ApplicationSummary": summary(&app)})
        }
        "DescribeApplication" => {
            let r: shapes::Named = request(format, &body)?;
            let app = apps.describe(&given(r.application_name))?;
            json!({"ApplicationDetail": detail(&app)})
        }
        "ListApplications" => {
            let r: shapes::ListApplications = request(format, &body)?;
            let limit = r.limit.map(|l| l.0 as usize).unwrap_or(50);
            let all = apps.all()?;
            let after: Vec<&Application> = all
                .iter()
                .filter(|a| {
                    r.exclusive_start_application_name
                        .as_ref()
                        .is_none_or(|start| a.name.as_str() > start.as_str())
                })
                .collect();
            let page: Vec<Value> = after.iter().take(limit).map(|a| summary(a)).collect();
            json!({"ApplicationSummaries": page, "HasMoreApplications": after.len() > limit})
        }
        "UpdateApplication" => {
            let r: shapes::UpdateApplication = request(format, &body)?;
            apps.update(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.application_update),
            )
            .await?;
            json!({})
        }
        "DeleteApplication" => {
            let r: shapes::DeleteApplication = request(format, &body)?;
            apps.delete(&given(r.application_name), given(r.create_timestamp).0)
                .await?;
            json!({})
        }
        "StartApplication" => {
            let r: shapes::StartApplication = request(format, &body)?;
            let positions: Vec<(String, String)> = given(r.input_configurations)
                .into_iter()
                .map(|c| {
                    (
                        c.id.unwrap_or_default(),
                        c.input_starting_position_configuration
                            .and_then(|p| p.input_starting_position)
                            .unwrap_or_else(|| "NOW".into()),
                    )
                })
                .collect();
            apps.start(&given(r.application_name), &positions).await?;
            json!({})
        }
        "StopApplication" => {
            let r: shapes::Named = request(format, &body)?;
            apps.stop(&given(r.application_name)).await?;
            json!({})
        }
        "AddApplicationInput" => {
            let r: shapes::AddInput = request(format, &body)?;
            apps.add_input(
                &given(r.application_name),
                given(r.current_application_version_id),
                given(r.input),
            )
            .await?;
            json!({})
        }
        "AddApplicationOutput" => {
            let r: shapes::AddOutput = request(format, &body)?;
            apps.add_output(
                &given(r.application_name),
                given(r.current_application_version_id),
                given(r.output),
            )
            .await?;
            json!({})
        }
        "DeleteApplicationOutput" => {
            let r: shapes::DeleteOutput = request(format, &body)?;
            apps.delete_output(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.output_id),
            )
            .await?;
            json!({})
        }
        "AddApplicationReferenceDataSource" => {
            let r: shapes::AddReference = request(format, &body)?;
            let source = given(r.reference_data_source);
            if source.s3_reference_data_source.is_none() {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    "ReferenceDataSource must specify S3ReferenceDataSource.",
                ));
            }
            apps.add_reference(
                &given(r.application_name),
                given(r.current_application_version_id),
                source,
            )
            .await?;
            json!({})
        }
        "DeleteApplicationReferenceDataSource" => {
            let r: shapes::DeleteReference = request(format, &body)?;
            apps.delete_reference(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.reference_id),
            )
            .await?;
            json!({})
        }
        "AddApplicationCloudWatchLoggingOption" => {
            let r: shapes::AddLogging = request(format, &body)?;
            let option = given(r.cloud_watch_logging_option);
            apps.add_logging(
                &given(r.application_name),
                given(r.current_application_version_id),
                json!({"LogStreamARN": option.log_stream_arn, "RoleARN": option.role_arn}),
            )
            .await?;
            json!({})
        }
        "DeleteApplicationCloudWatchLoggingOption" => {
            let r: shapes::DeleteLogging = request(format, &body)?;
            apps.delete_logging(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.cloud_watch_logging_option_id),
            )
            .await?;
            json!({})
        }
        "AddApplicationInputProcessingConfiguration" => {
            let r: shapes::AddProcessing = request(format, &body)?;
            apps.add_processing(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.input_id),
                given(r.input_processing_configuration),
            )
            .await?;
            json!({})
        }
        "DeleteApplicationInputProcessingConfiguration" => {
            let r: shapes::DeleteProcessing = request(format, &body)?;
            apps.delete_processing(
                &given(r.application_name),
                given(r.current_application_version_id),
                &given(r.input_id),
            )
            .await?;
            json!({})
        }
        "DiscoverInputSchema" => discover(apps, format, &body).await?,
        "TagResource" => {
            let r: shapes::TagResource = request(format, &body)?;
            let new = tags_of(given(r.tags));
            apps.retag(&given(r.resource_arn), |tags| {
                tags.extend(new);
                if tags.len() > MAX_TAGS {
                    return Err(nuage_flow::FlowError::LimitExceeded(format!(
                        "An application can have at most {MAX_TAGS} tags."
                    )));
                }
                Ok(())
            })
            .await
            .map_err(|e| match e {
                nuage_flow::FlowError::LimitExceeded(m) => ApiError::new(ErrorCode::TooManyTags, m),
                other => other.into(),
            })?;
            json!({})
        }
        "UntagResource" => {
            let r: shapes::UntagResource = request(format, &body)?;
            let keys = given(r.tag_keys);
            apps.retag(&given(r.resource_arn), |tags| {
                for key in &keys {
                    tags.remove(key);
                }
                Ok(())
            })
            .await?;
            json!({})
        }
        "ListTagsForResource" => {
            let r: shapes::ListTags = request(format, &body)?;
            let app = apps.by_arn(&given(r.resource_arn))?;
            let tags: Vec<Value> = app
                .tags
                .iter()
                .map(|(k, v)| json!({"Key": k, "Value": v}))
                .collect();
            json!({"Tags": tags})
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::UnknownOperation,
                format!("nuage does not serve Kinesis Analytics {other}."),
            ));
        }
    };
    Ok(if value == json!({}) {
        empty_object(format)
    } else {
        reply_value(format, &value)
    })
}

async fn discover(apps: &Applications, format: Format, body: &Bytes) -> Result<Value, ApiError> {
    use nuage_flow::kda::discover;
    let r: shapes::DiscoverInputSchema = request(format, body)?;
    if r.input_processing_configuration.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "nuage discovers schemas from the records as they are: discover without \
             InputProcessingConfiguration (the preprocessor still runs when the application does)",
        ));
    }
    let env = apps.env();
    let found = match (&r.resource_arn, &r.s3_configuration) {
        (Some(arn), None) => {
            let position = r
                .input_starting_position_configuration
                .and_then(|p| p.input_starting_position)
                .unwrap_or_else(|| "NOW".into());
            discover::from_stream(env, arn, &position)?
        }
        (None, Some(s3)) => {
            discover::from_object(
                env,
                s3.bucket_arn.as_deref().unwrap_or_default(),
                s3.file_key.as_deref().unwrap_or_default(),
            )
            .await?
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "Specify either ResourceARN (with RoleARN and InputStartingPositionConfiguration) \
                 or S3Configuration.",
            ));
        }
    };
    Ok(json!({
        "InputSchema": found.schema,
        "ParsedInputRecords": found.parsed,
        "ProcessedInputRecords": found.raw,
        "RawInputRecords": found.raw,
    }))
}
