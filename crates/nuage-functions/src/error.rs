//! What the functions service refuses or fails with, in its own words; the
//! edge maps each kind to Lambda's error type and HTTP status.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// ResourceNotFoundException (404).
    #[error("{0}")]
    NotFound(String),
    /// ResourceConflictException (409): the name is taken, or the
    /// resource is busy.
    #[error("{0}")]
    Conflict(String),
    /// InvalidParameterValueException (400).
    #[error("{0}")]
    InvalidParameter(String),
    /// PreconditionFailedException (412): a RevisionId that is not the
    /// current one.
    #[error("{0}")]
    Precondition(String),
    /// TooManyRequestsException (429) with Lambda's throttle reason.
    #[error("Rate Exceeded.")]
    Throttled { reason: &'static str },
    /// InvalidRuntimeException (502): the machine cannot run the runtime.
    #[error("{0}")]
    Runtime(String),
    /// RequestTooLargeException (413).
    #[error("{0}")]
    TooLarge(String),
    /// ServiceException (500): nuage's own storage failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = FunctionError> = std::result::Result<T, E>;

impl FunctionError {
    /// An I/O failure on `path`, said as what nuage was doing.
    pub(crate) fn io(doing: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Self {
        let context = format!("{doing} {}", path.display());
        move |source| FunctionError::Io { context, source }
    }
}
