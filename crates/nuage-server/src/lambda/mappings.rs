//! Event-source mappings (`/2015-03-31/event-source-mappings/`).

use axum::body::Bytes;
use axum::http::StatusCode;
use nuage_functions::{MappingRequest, MappingState};
use serde_json::{Value, json};

use super::errors::{LambdaError, LambdaResult};
use super::functions::reply;
use super::{Lambda, Route, body, paged, shapes};

impl Lambda {
    pub(super) async fn create_mapping(&self, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::EventSourceMapping = body(body_bytes)?;
        if request.function_name.is_none() {
            return Err(crate::shape::validation_error(
                1,
                &["Value null at 'functionName' failed to satisfy constraint: Member must not be null".into()],
            )
            .into());
        }
        if request.event_source_arn.is_none() {
            return Err(LambdaError::invalid(
                "Unrecognized event source, must be kinesis, dynamodb stream or sqs: give \
                 EventSourceArn, the ARN of a nuage Kinesis stream",
            ));
        }
        let state = self
            .functions
            .create_mapping(mapping_request(request)?)
            .await?;
        Ok(reply(StatusCode::ACCEPTED, self.mapping_json(&state)))
    }

    pub(super) fn get_mapping(&self, uuid: &str) -> LambdaResult {
        let state = self.functions.mapping(uuid)?;
        Ok(reply(StatusCode::OK, self.mapping_json(&state)))
    }

    pub(super) fn list_mappings(&self, route: &Route) -> LambdaResult {
        let all = self
            .functions
            .mappings(route.query("FunctionName"), route.query("EventSourceArn"));
        let (page, next) = paged(&all, route)?;
        let mut out = json!({
            "EventSourceMappings": page.iter().map(|m| self.mapping_json(m)).collect::<Vec<_>>(),
        });
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) async fn update_mapping(&self, uuid: &str, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::EventSourceMapping = body(body_bytes)?;
        if request.event_source_arn.is_some() || request.starting_position.is_some() {
            return Err(LambdaError::invalid(
                "EventSourceArn and StartingPosition cannot be changed: delete the mapping and \
                 create a new one",
            ));
        }
        let state = self
            .functions
            .update_mapping(uuid, mapping_request(request)?)
            .await?;
        Ok(reply(StatusCode::ACCEPTED, self.mapping_json(&state)))
    }

    pub(super) async fn delete_mapping(&self, uuid: &str) -> LambdaResult {
        let state = self.functions.delete_mapping(uuid).await?;
        Ok(reply(StatusCode::ACCEPTED, self.mapping_json(&state)))
    }

    fn mapping_json(&self, state: &MappingState) -> Value {
        let m = &state.mapping;
        let config = self.functions.config();
        let mut out = json!({
            "UUID": m.uuid,
            "StartingPosition": m.starting_position,
            "BatchSize": m.batch_size,
            "MaximumBatchingWindowInSeconds": m.maximum_batching_window_seconds,
            "ParallelizationFactor": m.parallelization_factor,
            "EventSourceArn": m.event_source_arn,
            "FunctionArn": self.functions.arn(&m.function_name, m.qualifier.as_deref()),
            "LastModified": m.last_modified_ms as f64 / 1000.0,
            "LastProcessingResult": state.last_result,
            "State": state.state,
            "StateTransitionReason": "User action",
            "DestinationConfig": {
                "OnFailure": match &m.on_failure {
                    Some(arn) => json!({ "Destination": arn }),
                    None => json!({}),
                },
            },
            "MaximumRecordAgeInSeconds": m.maximum_record_age_seconds,
            "BisectBatchOnFunctionError": m.bisect_batch_on_function_error,
            "MaximumRetryAttempts": m.maximum_retry_attempts,
            "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": if m.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
            "EventSourceMappingArn": format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{}",
                config.region, config.account, m.uuid
            ),
        });
        if let Some(t) = m.starting_position_timestamp {
            out["StartingPositionTimestamp"] = json!(t);
        }
        if !m.filters.is_empty() {
            out["FilterCriteria"] = json!({
                "Filters": m.filters.iter().map(|p| json!({ "Pattern": p })).collect::<Vec<_>>(),
            });
        }
        out
    }
}

fn mapping_request(request: shapes::EventSourceMapping) -> Result<MappingRequest, LambdaError> {
    let timestamp = match &request.starting_position_timestamp {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(text)) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis() as f64 / 1000.0)
                .map_err(|_| {
                    LambdaError::invalid(format!("StartingPositionTimestamp {text} is not a time"))
                })?,
        ),
        Some(other) => {
            return Err(LambdaError::invalid(format!(
                "StartingPositionTimestamp {other} is not a time"
            )));
        }
    };
    let on_failure = request.destination_config.map(|d| {
        d.on_failure
            .and_then(|f| f.destination)
            .filter(|a| !a.is_empty())
    });
    Ok(MappingRequest {
        function_name: request.function_name,
        event_source_arn: request.event_source_arn,
        batch_size: request.batch_size.map(|n| n.0 as u32),
        maximum_batching_window_seconds: request
            .maximum_batching_window_in_seconds
            .map(|n| n.0 as u32),
        starting_position: request.starting_position,
        starting_position_timestamp: timestamp,
        parallelization_factor: request.parallelization_factor.map(|n| n.0 as u32),
        bisect_batch_on_function_error: request.bisect_batch_on_function_error,
        maximum_retry_attempts: request.maximum_retry_attempts.map(|n| n.0),
        maximum_record_age_seconds: request.maximum_record_age_in_seconds.map(|n| n.0),
        report_batch_item_failures: request
            .function_response_types
            .map(|types| types.iter().any(|t| t == "ReportBatchItemFailures")),
        filters: request.filter_criteria.map(|c| {
            c.filters
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.pattern)
                .collect()
        }),
        on_failure,
        enabled: request.enabled,
    })
}
