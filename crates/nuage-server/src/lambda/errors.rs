//! Lambda's REST errors: the type in `x-amzn-ErrorType`, an HTTP status of
//! its own, and `{"Type": "User", "message": ...}` as the body.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nuage_functions::FunctionError;

use crate::wire::{ApiError, ErrorCode};

#[derive(Debug)]
pub struct LambdaError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    /// TooManyRequestsException's Reason.
    pub reason: Option<&'static str>,
}

pub type LambdaResult = Result<Response, LambdaError>;

impl LambdaError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            reason: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// nuage failed (Lambda's ServiceException).
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            message,
        )
    }

    /// A path or method Lambda does not have.
    pub fn unknown(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("nuage's Lambda API has no operation {method} {path}"),
        )
    }
}

impl IntoResponse for LambdaError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({ "Type": "User", "message": self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
        }
        let mut response = (
            self.status,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        response
    }
}

impl From<FunctionError> for LambdaError {
    fn from(e: FunctionError) -> Self {
        let (status, kind) = match &e {
            FunctionError::NotFound(_) => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            FunctionError::Conflict(_) => (StatusCode::CONFLICT, "ResourceConflictException"),
            FunctionError::InvalidParameter(_) => {
                (StatusCode::BAD_REQUEST, "InvalidParameterValueException")
            }
            FunctionError::Precondition(_) => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailedException",
            ),
            FunctionError::Throttled { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException")
            }
            FunctionError::Runtime(_) => (StatusCode::BAD_GATEWAY, "InvalidRuntimeException"),
            FunctionError::TooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLargeException")
            }
            FunctionError::Io { .. } => {
                tracing::error!("{e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "ServiceException")
            }
        };
        let reason = match &e {
            FunctionError::Throttled { reason } => Some(*reason),
            _ => None,
        };
        Self {
            status,
            kind,
            message: e.to_string(),
            reason,
        }
    }
}

/// Shape checks and body parsing, in Lambda's words.
impl From<ApiError> for LambdaError {
    fn from(e: ApiError) -> Self {
        match e.code {
            ErrorCode::Validation => {
                Self::new(StatusCode::BAD_REQUEST, "ValidationException", e.message)
            }
            ErrorCode::Serialization => Self::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {}", e.message),
            ),
            ErrorCode::MissingAuthenticationToken
            | ErrorCode::IncompleteSignature
            | ErrorCode::InvalidSignature => Self::new(
                StatusCode::FORBIDDEN,
                "InvalidSignatureException",
                e.message,
            ),
            ErrorCode::UnrecognizedClient => Self::new(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                e.message,
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                e.message,
            ),
        }
    }
}
