//! The durable log under nuage's Kinesis-compatible streams.
//!
//! [`segment`] frames and checksums records in append-only files;
//! [`shard`] is one shard's log (segments, index, group commit, retention);
//! [`streams`] holds every stream of a data dir and implements the Kinesis
//! operations on them; [`meta`] is a stream's persisted description;
//! [`iterator`] and [`record`] are the opaque iterators and sequence numbers
//! clients see. Nothing here knows HTTP: `nuage-server` speaks the wire.

pub mod error;
pub mod iterator;
pub mod meta;
pub mod record;
pub mod segment;
pub mod sequence;
pub mod shard;
pub mod streams;
pub mod throttle;

pub use error::StreamError;
pub use meta::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
pub use record::Record;
pub use segment::{Recovery, SegmentError, SegmentReader, SegmentWriter};
pub use shard::{Batch, Durability, Entry, LogOptions, Position, ShardLog};
pub use streams::{
    PutEntry, PutFailure, PutOutcome, RecordsOut, ShardFilter, Start, Streams, StreamsConfig,
};
