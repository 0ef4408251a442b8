//! The durable log under nuage's Kinesis-compatible streams.
//!
//! Built so far: [`segment`], the append-only file every shard's records go
//! to (framed, checksummed, recovered after a crash). Shards, sequence
//! numbers, iterators, retention and resharding come next (issue 4).

pub mod segment;

pub use segment::{Recovery, SegmentError, SegmentReader, SegmentWriter};
