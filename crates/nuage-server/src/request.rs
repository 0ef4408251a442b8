//! What every API request must be before a service sees it, answered as AWS
//! answers, in AWS's order: CORS (an `OPTIONS` preflight with `Origin` is
//! answered here), the method (POST), the content type, an empty body, the
//! target (service and operation), then the presence of a signature (an
//! `Authorization` header or a presigned query), whether or not signatures
//! are verified. The order and texts follow AWS's recorded answers: a
//! client that sends two mistakes gets the same one back as from AWS.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use crate::wire::{ApiError, ErrorCode, Format, JSON};

/// Plain JSON: AWS takes it in, then answers every operation with a 200 that
/// wraps the error (the Coral service framework's own protocol).
const PLAIN_JSON: &str = "application/json";

/// The headers a browser may read from any response (the web console).
const EXPOSED: &str =
    "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date";

/// A request that passed: what to call, in which format.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub service: &'a str,
    pub operation: &'a str,
    pub format: Format,
}

/// The services and their operations, as `X-Amz-Target` names them.
pub struct Services<'a> {
    pub known: &'a [(&'a str, &'a [&'a str])],
}

impl Services<'_> {
    fn serves(&self, service: &str, operation: &str) -> bool {
        self.known
            .iter()
            .any(|(s, ops)| *s == service && ops.contains(&operation))
    }
}

/// What the checks decided.
pub enum Verdict<'a> {
    /// A well-formed call for a service.
    Call(Call<'a>),
    /// The whole answer: a refusal, or a CORS preflight's.
    Answer(Response),
}

/// Checks a request up to the signature's presence.
pub fn check<'a>(
    services: &Services<'_>,
    method: &Method,
    uri: &Uri,
    headers: &'a HeaderMap,
    body: &Bytes,
) -> Verdict<'a> {
    use Verdict::Answer;
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if *method == Method::OPTIONS && headers.contains_key(header::ORIGIN) {
        return Answer(preflight(headers));
    }
    if *method != Method::POST {
        return Answer(access_denied());
    }
    let content_type = text("content-type").split(';').next().unwrap_or("").trim();
    let (service, operation) = text("x-amz-target")
        .split_once('.')
        .unwrap_or((text("x-amz-target"), ""));
    let known = services.serves(service, operation);
    let format = match content_type {
        JSON | PLAIN_JSON => Format::Json,
        _ => Format::Cbor,
    };
    if body.is_empty() {
        let code = if known {
            ErrorCode::Serialization
        } else {
            ErrorCode::UnknownOperation
        };
        // Only JSON 1.1 is answered in JSON; anything else in CBOR.
        let format = if content_type == JSON {
            Format::Json
        } else {
            Format::Cbor
        };
        return Answer(ApiError::new(code, "").into_response(format));
    }
    if !matches!(content_type, JSON | PLAIN_JSON | crate::wire::CBOR) {
        if service.is_empty() || operation.is_empty() {
            return Answer(access_denied());
        }
        return Answer(xml(StatusCode::NOT_FOUND, "<UnknownOperationException/>\n"));
    }
    // A signed JSON 1.1 request for a known operation (every SDK call) goes
    // on at once: its operation parses the body and answers a malformed one
    // exactly as below. The rest is checked in AWS's order.
    let signed = signature_present(headers, uri);
    if !(content_type == JSON && known && signed.is_ok()) {
        if format == Format::Json && !is_json_object(body) {
            if content_type == PLAIN_JSON {
                return Answer(coral_output(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                ));
            }
            return Answer(ApiError::new(ErrorCode::Serialization, "").into_response(format));
        }
        if content_type == PLAIN_JSON {
            return Answer(coral_output(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
            ));
        }
        if !known {
            return Answer(ApiError::new(ErrorCode::UnknownOperation, "").into_response(format));
        }
        if let Err(e) = signed {
            return Answer(e.into_response(format));
        }
    }
    Verdict::Call(Call {
        service,
        operation,
        format,
    })
}

/// Adds the headers every answer carries: a request id (`x-amzn-RequestId`,
/// and `x-amz-id-2`, 72 random bytes in base64, as AWS sends them on all but
/// a preflight's answer) and, to a request with `Origin`, the CORS headers (a
/// preflight's answer has its own).
pub fn add_headers(method: &Method, request: &HeaderMap, response: &mut Response) {
    let preflight = *method == Method::OPTIONS && request.contains_key(header::ORIGIN);
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-RequestId", id);
    }
    if !preflight && let Some(id) = host_id() {
        headers.insert("x-amz-id-2", id);
    }
    if request.contains_key(header::ORIGIN) {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if !preflight {
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
}

/// An `x-amz-id-2` value: 72 random bytes in base64, as AWS sends it.
pub fn host_id() -> Option<HeaderValue> {
    let mut id = [0u8; 72];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut id);
    HeaderValue::from_str(&STANDARD.encode(id)).ok()
}

/// The answer to a CORS preflight: what the browser asked for is allowed.
fn preflight(request: &HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_METHOD) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("172800"),
    );
    response
}

/// Whether the body is a JSON object (checked without building it).
fn is_json_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// Requests that are not POST, or name no operation in a content type AWS
/// does not read.
fn access_denied() -> Response {
    xml(
        StatusCode::FORBIDDEN,
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n",
    )
}

fn xml(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
}

/// `application/json` requests: the Coral framework's error envelope (AWS
/// goes no further with them).
fn coral_output(status: StatusCode, kind: &str) -> Response {
    let body = serde_json::json!({
        "Output": {"__type": format!("com.amazon.coral.service#{kind}")},
        "Version": "1.0",
    });
    (
        status,
        [(header::CONTENT_TYPE, PLAIN_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// AWS refuses a request that carries no signature at all, or an incomplete
/// one, before looking at its members, even where it would not verify it.
fn signature_present(headers: &HeaderMap, uri: &Uri) -> Result<(), ApiError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let presigned = query.iter().any(|(k, _)| k == "X-Amz-Algorithm");
    let mut missing = String::new();
    match (authorization, presigned) {
        (Some(_), true) => {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
            ));
        }
        (None, false) => {
            return Err(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Missing Authentication Token",
            ));
        }
        (Some(authorization), false) => {
            let fields = authorization_fields(authorization);
            for name in ["Credential", "Signature", "SignedHeaders"] {
                if !fields.iter().any(|(k, _)| *k == name) {
                    missing += &format!("Authorization header requires '{name}' parameter. ");
                }
            }
            if !headers.contains_key("x-amz-date") && !headers.contains_key(header::DATE) {
                missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
            }
            if !missing.is_empty() {
                missing += &format!("Authorization={authorization}");
            }
        }
        (None, true) => {
            for name in [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Signature",
                "X-Amz-SignedHeaders",
                "X-Amz-Date",
            ] {
                if param(name).is_none() {
                    missing += &format!("AWS query-string parameters must include '{name}'. ");
                }
            }
            if !missing.is_empty() {
                missing += "Re-examine the query-string parameters.";
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::IncompleteSignature, missing))
    }
}

/// The `name=value` parts of an Authorization header after its algorithm,
/// empty values left out.
pub(crate) fn authorization_fields(header: &str) -> Vec<(&str, &str)> {
    header
        .split([',', ' '])
        .skip(1)
        .filter_map(|part| part.trim().split_once('='))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}
