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
    #[error("{0}")]
    Internal(String),
}
