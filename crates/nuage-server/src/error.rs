//! The one place where errors become AWS wire errors: [`ErrorCode`] lists the
//! error types nuage answers with (each with its HTTP status), and the
//! domain crates' error enums are mapped to them here, never in the
//! services' handlers and never inside the domain crates.

use axum::http::StatusCode;
use nuage_delivery::DeliveryError;
use nuage_streams::{PutFailure, StreamError};

use crate::wire::ApiError;

/// An AWS error type (`__type` / `x-amzn-ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    // The request itself.
    UnknownOperation,
    Serialization,
    Validation,
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
    // The services.
    ResourceNotFound,
    ResourceInUse,
    InvalidArgument,
    LimitExceeded,
    ExpiredIterator,
    ProvisionedThroughputExceeded,
    ConcurrentModification,
    CodeValidation,
    InvalidApplicationConfiguration,
    UnsupportedOperation,
    UnableToDetectSchema,
    TooManyTags,
    // Ours.
    InternalFailure,
    ServiceUnavailable,
}

impl ErrorCode {
    /// The name clients branch on.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownOperation => "UnknownOperationException",
            ErrorCode::Serialization => "SerializationException",
            ErrorCode::Validation => "ValidationException",
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorCode::IncompleteSignature => "IncompleteSignatureException",
            ErrorCode::InvalidSignature => "InvalidSignatureException",
            ErrorCode::UnrecognizedClient => "UnrecognizedClientException",
            ErrorCode::ResourceNotFound => "ResourceNotFoundException",
            ErrorCode::ResourceInUse => "ResourceInUseException",
            ErrorCode::InvalidArgument => "InvalidArgumentException",
            ErrorCode::LimitExceeded => "LimitExceededException",
            ErrorCode::ExpiredIterator => "ExpiredIteratorException",
            ErrorCode::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorCode::ConcurrentModification => "ConcurrentModificationException",
            ErrorCode::CodeValidation => "CodeValidationException",
            ErrorCode::InvalidApplicationConfiguration => {
                "InvalidApplicationConfigurationException"
            }
            ErrorCode::UnsupportedOperation => "UnsupportedOperationException",
            ErrorCode::UnableToDetectSchema => "UnableToDetectSchemaException",
            ErrorCode::TooManyTags => "TooManyTagsException",
            ErrorCode::InternalFailure => "InternalFailure",
            ErrorCode::ServiceUnavailable => "ServiceUnavailableException",
        }
    }

    /// AWS answers every client error of these JSON protocols with 400, its
    /// own failures with 500 and ServiceUnavailable with 503.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InternalFailure => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        let code = match &e {
            StreamError::NotFound(_) => ErrorCode::ResourceNotFound,
            StreamError::InUse(_) => ErrorCode::ResourceInUse,
            StreamError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            StreamError::LimitExceeded(_) => ErrorCode::LimitExceeded,
            StreamError::ExpiredIterator(_) => ErrorCode::ExpiredIterator,
            StreamError::Throughput(_) => ErrorCode::ProvisionedThroughputExceeded,
            StreamError::OldSequenceNumber => ErrorCode::InternalFailure,
            StreamError::Storage(_)
            | StreamError::ShardClosed
            | StreamError::SyncFailed
            | StreamError::Io { .. }
            | StreamError::Task(_) => {
                tracing::error!("{e}");
                ErrorCode::InternalFailure
            }
        };
        ApiError::new(code, e.to_string())
    }
}

/// Kinesis Analytics' errors (the continuous-SQL service's own JSON API
/// maps its errors in `flow`).
impl From<nuage_flow::FlowError> for ApiError {
    fn from(e: nuage_flow::FlowError) -> Self {
        use nuage_flow::FlowError as F;
        let code = match &e {
            F::NotFound(_) | F::NoSuchJob(_) => ErrorCode::ResourceNotFound,
            F::InUse(_) => ErrorCode::ResourceInUse,
            F::ConcurrentModification(_) => ErrorCode::ConcurrentModification,
            F::CodeValidation(_) => ErrorCode::CodeValidation,
            F::InvalidConfiguration(_) => ErrorCode::InvalidApplicationConfiguration,
            F::UnableToDetectSchema(_) => ErrorCode::UnableToDetectSchema,
            F::LimitExceeded(_) => ErrorCode::LimitExceeded,
            F::InvalidArgument(_) | F::Invalid(_) => ErrorCode::InvalidArgument,
            F::Unsupported(_) => ErrorCode::UnsupportedOperation,
            F::Source(_) | F::Sink(_) => ErrorCode::InvalidArgument,
            F::Sql(_) | F::Catalog(_) | F::DataFusion(_) | F::Arrow(_) | F::Io(_) => {
                tracing::error!("{e}");
                ErrorCode::InternalFailure
            }
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<PutFailure> for ErrorCode {
    fn from(failure: PutFailure) -> Self {
        match failure {
            PutFailure::Throughput => ErrorCode::ProvisionedThroughputExceeded,
            PutFailure::Internal => ErrorCode::InternalFailure,
        }
    }
}

impl From<DeliveryError> for ApiError {
    fn from(e: DeliveryError) -> Self {
        let code = match &e {
            DeliveryError::NotFound(_) => ErrorCode::ResourceNotFound,
            DeliveryError::InUse(_) => ErrorCode::ResourceInUse,
            DeliveryError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            DeliveryError::LimitExceeded(_) => ErrorCode::LimitExceeded,
            DeliveryError::ConcurrentModification(_) => ErrorCode::ConcurrentModification,
            DeliveryError::Log(_)
            | DeliveryError::Io { .. }
            | DeliveryError::Json { .. }
            | DeliveryError::Damaged(_)
            | DeliveryError::Arrow(_)
            | DeliveryError::Parquet(_)
            | DeliveryError::Stopped { .. }
            | DeliveryError::Task(_) => {
                tracing::error!("{e}");
                ErrorCode::ServiceUnavailable
            }
        };
        ApiError::new(code, e.to_string())
    }
}

/// Why `nuage serve` could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Streams(#[from] StreamError),
    #[error(transparent)]
    Deliveries(#[from] DeliveryError),
    #[error(transparent)]
    Lake(#[from] nuage_lake::LakeError),
    #[error(transparent)]
    Objects(#[from] nuage_lake::objects::ObjectError),
    #[error(transparent)]
    Catalog(#[from] nuage_catalog::CatalogError),
    #[error(transparent)]
    Functions(#[from] nuage_functions::FunctionError),
    #[error("continuous SQL: {0}")]
    Flow(String),
    #[error("access key {0:?} is not ACCESS_KEY_ID:SECRET_ACCESS_KEY[:USER_ID[:DISPLAY_NAME]]")]
    AccessKey(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}
