//! nuage's own JSON service for continuous SQL jobs (`NuageFlow_20261204.*`):
//! what `nuage sql` calls to start, list, stop and explain the jobs that run
//! inside this server. (The Kinesis Analytics API will sit beside it.)

use std::sync::Arc;

use bytes::Bytes;
use nuage_flow::{Flow, FlowError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::wire::{self, ApiError, ApiResult, ErrorCode, Format, empty_object, reply_value};

pub const SERVICE: &str = "NuageFlow_20261204";

/// The operations [`FlowApi::dispatch`] serves.
pub const OPERATIONS: &[&str] = &["StartJob", "ListJobs", "StopJob", "ExplainJob"];

pub struct FlowApi {
    pub flow: Arc<Flow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    #[serde(default = "default_database")]
    database: String,
    statement: String,
}

fn default_database() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JobId {
    job_id: String,
}

fn api_error(e: FlowError) -> ApiError {
    let code = match &e {
        FlowError::NoSuchJob(_) => ErrorCode::ResourceNotFound,
        _ => ErrorCode::InvalidArgument,
    };
    ApiError::new(code, e.to_string())
}

impl FlowApi {
    pub async fn dispatch(&self, operation: &str, format: Format, body: Bytes) -> ApiResult {
        match operation {
            "StartJob" => {
                let request: Statement = wire::parse(format, &body)?;
                let flow = self.flow.clone();
                let id = flow
                    .start(&request.database, &request.statement)
                    .map_err(api_error)?;
                Ok(reply_value(format, &json!({ "JobId": id })))
            }
            "ExplainJob" => {
                let request: Statement = wire::parse(format, &body)?;
                let plan = self
                    .flow
                    .explain(&request.database, &request.statement)
                    .map_err(api_error)?;
                Ok(reply_value(format, &json!({ "Plan": plan })))
            }
            "StopJob" => {
                let request: JobId = wire::parse(format, &body)?;
                self.flow.stop(&request.job_id).await.map_err(api_error)?;
                Ok(empty_object(format))
            }
            "ListJobs" => {
                let jobs: Vec<Value> = self
                    .flow
                    .list()
                    .map_err(api_error)?
                    .into_iter()
                    .map(|j| {
                        json!({
                            "JobId": j.id,
                            "Statement": j.statement,
                            "State": j.state,
                            "Error": j.error,
                            "EventsIn": j.events_in,
                            "EventsOut": j.events_out,
                            "LateEvents": j.late,
                            "WatermarkMillis": j.watermark_ms,
                            "Lag": j.lag,
                        })
                    })
                    .collect();
                Ok(reply_value(format, &json!({ "Jobs": jobs })))
            }
            other => Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!("unknown operation {other}"),
            )),
        }
    }
}
