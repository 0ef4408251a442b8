//! What can go wrong in a delivery-stream operation. The kinds mirror
//! Firehose's error types (the server names them on the wire).

use nuage_streams::StreamError;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// ResourceNotFoundException
    #[error("{0}")]
    NotFound(String),
    /// ResourceInUseException
    #[error("{0}")]
    InUse(String),
    /// InvalidArgumentException
    #[error("{0}")]
    InvalidArgument(String),
    /// LimitExceededException
    #[error("{0}")]
    LimitExceeded(String),
    /// ConcurrentModificationException
    #[error("{0}")]
    ConcurrentModification(String),
    /// The delivery log or the checkpoint failed (an internal error on the wire).
    #[error(transparent)]
    Log(#[from] StreamError),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, DeliveryError>;
