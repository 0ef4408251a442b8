//! Invoke (RequestResponse, Event, DryRun) and the legacy InvokeAsync.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use nuage_functions::InvokeRequest;

use super::errors::{LambdaError, LambdaResult};
use super::{Lambda, Route};

/// Lambda's payload limits: 6 MB synchronous, 1 MB queued.
const MAX_SYNC: usize = 6_291_456;
const MAX_EVENT: usize = 1_048_576;

impl Lambda {
    pub(super) async fn invoke(
        &self,
        route: &Route,
        headers: &HeaderMap,
        body: Bytes,
    ) -> LambdaResult {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let kind = header("x-amz-invocation-type").unwrap_or("RequestResponse");
        if !["Event", "RequestResponse", "DryRun"].contains(&kind) {
            return Err(enum_error(
                kind,
                "invocationType",
                "[Event, RequestResponse, DryRun]",
            ));
        }
        let log_type = header("x-amz-log-type").unwrap_or("None");
        if !["None", "Tail"].contains(&log_type) {
            return Err(enum_error(log_type, "logType", "[None, Tail]"));
        }
        let limit = if kind == "Event" { MAX_EVENT } else { MAX_SYNC };
        if body.len() > limit {
            return Err(LambdaError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                format!(
                    "Request must be smaller than {limit} bytes for the InvokeFunction operation"
                ),
            ));
        }
        let payload = payload(body)?;
        let request = InvokeRequest {
            name: route.name.clone(),
            qualifier: route.qualifier().map(str::to_string),
            payload,
            client_context: header("x-amz-client-context")
                .map(client_context)
                .transpose()?,
        };
        match kind {
            "DryRun" => {
                self.functions
                    .get(&request.name, request.qualifier.as_deref())?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            "Event" => {
                let (request_id, version) = self.functions.invoke_event(request).await?;
                let mut response = StatusCode::ACCEPTED.into_response();
                set(&mut response, "x-amzn-RequestId", &request_id);
                set(&mut response, "X-Amz-Executed-Version", &version);
                Ok(response)
            }
            _ => {
                let outcome = self.functions.invoke(request).await?;
                let mut response = (
                    StatusCode::OK,
                    [("content-type", "application/json")],
                    outcome.payload.clone(),
                )
                    .into_response();
                set(&mut response, "x-amzn-RequestId", &outcome.request_id);
                set(
                    &mut response,
                    "X-Amz-Executed-Version",
                    &outcome.executed_version,
                );
                if outcome.function_error {
                    set(&mut response, "X-Amz-Function-Error", "Unhandled");
                }
                if log_type == "Tail" {
                    let tail = base64::engine::general_purpose::STANDARD.encode(outcome.log_tail());
                    set(&mut response, "X-Amz-Log-Result", &tail);
                }
                Ok(response)
            }
        }
    }

    /// InvokeAsync (deprecated by Lambda, still answered): queued like an
    /// Event invocation, `{"Status": 202}`.
    pub(super) async fn invoke_async(&self, route: &Route, body: Bytes) -> LambdaResult {
        let request = InvokeRequest {
            name: route.name.clone(),
            qualifier: None,
            payload: payload(body)?,
            client_context: None,
        };
        self.functions.invoke_event(request).await?;
        Ok((
            StatusCode::ACCEPTED,
            [("content-type", "application/json")],
            r#"{"Status":202}"#,
        )
            .into_response())
    }
}

/// The payload must be JSON; none at all is `{}`.
fn payload(body: Bytes) -> Result<Bytes, LambdaError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        return Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ),
        ));
    }
    Ok(body)
}

/// X-Amz-Client-Context: base64 of a JSON object, at most 3,583 bytes.
fn client_context(text: &str) -> Result<String, LambdaError> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .filter(|d| serde_json::from_slice::<serde_json::Value>(d).is_ok_and(|v| v.is_object()));
    match decoded {
        Some(json) if text.len() <= 3583 => Ok(String::from_utf8_lossy(&json).into_owned()),
        _ => Err(LambdaError::invalid(
            "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes.",
        )),
    }
}

fn enum_error(value: &str, member: &str, allowed: &str) -> LambdaError {
    crate::shape::validation_error(
        1,
        &[format!(
            "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: {allowed}"
        )],
    )
    .into()
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
