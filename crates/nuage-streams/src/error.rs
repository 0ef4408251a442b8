//! What can go wrong in a stream operation. The kinds mirror Kinesis's error
//! types (the server names them on the wire); the messages are AWS's.

use crate::segment::SegmentError;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
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
    /// ExpiredIteratorException
    #[error("{0}")]
    ExpiredIterator(String),
    /// ProvisionedThroughputExceededException
    #[error("{0}")]
    Throughput(String),
    /// A sequence number in the layout older than the shard's (version 0):
    /// AWS answers a bare InternalFailure, without a message.
    #[error("")]
    OldSequenceNumber,
    /// Damage or I/O failure in the log (InternalFailure on the wire).
    #[error(transparent)]
    Storage(#[from] SegmentError),
    /// The shard was closed by resharding between routing and appending.
    #[error("the shard is closed")]
    ShardClosed,
    #[error(
        "an earlier fsync of this shard failed, so nuage cannot promise the durability of new records; check the disk and restart nuage"
    )]
    SyncFailed,
    /// A file of the data dir could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A blocking task (an fsync) panicked or was cancelled at shutdown.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl StreamError {
    /// An I/O error with what was being done, for example `deleting <dir>`.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StreamError {
        let what = what.into();
        move |source| StreamError::Io { what, source }
    }
}
