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
    /// A file of the data dir could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A JSON file or document could not be read or written.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// The delivery stream's own files contradict each other.
    #[error("{0}")]
    Damaged(String),
    #[error("building a Parquet batch: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("writing Parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Writing into the lake failed while the server was stopping (the flush
    /// stays pending and is redone at the next start).
    #[error("stopped while {location} could not be written: {source}")]
    Stopped {
        location: String,
        #[source]
        source: nuage_lake::LakeError,
    },
    /// A blocking task panicked or was cancelled at shutdown.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl DeliveryError {
    /// An I/O error with what was being done, for example `deleting <name>`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeliveryError {
        let what = what.into();
        move |source| DeliveryError::Io { what, source }
    }

    pub fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> DeliveryError {
        let what = what.into();
        move |source| DeliveryError::Json { what, source }
    }
}

pub type Result<T> = std::result::Result<T, DeliveryError>;
