//! The data lake: every byte nuage reads or writes goes through here.
//!
//! A location is either an object in a bucket (`s3://bucket/key`, also `s3a://`
//! and `s3n://` as Hadoop users write them) or a plain local path (`/abs/dir`,
//! `file:///abs/dir`, or a relative path). With the embedded default a bucket is
//! the folder `<data-dir>/lake/<bucket>`; with an S3 endpoint configured, buckets
//! are real S3 buckets. Both are served through `object_store`, so callers never
//! care which one they have.
//!
//! ```text
//!  "s3://movies/ratings/"  --parse-->  Location::Object { bucket, key }
//!                                          |  Lake::store_for
//!                                          v
//!                    (Arc<dyn ObjectStore>, object_store::path::Path)
//! ```
//!
//! [`objects::Objects`] is the same embedded lake as the S3 API sees it:
//! durable all-or-nothing writes, metadata beside each file, listings in
//! S3's key order, multipart uploads.
//!
//! [`events`]: changes made through a bucket's store are journaled for its
//! notification configuration, which `nuage serve` delivers.
//!
//! [`CountingStore`] wraps any store and counts the bytes read through it: the
//! "Data scanned" figure every SQL statement reports.

mod counting;
mod error;
pub mod events;
mod location;
pub mod objects;
mod store;

pub use counting::{CountingStore, ScanCounter};
pub use error::{LakeError, Result};
pub use location::{Location, validate_bucket};
pub use store::{Lake, ObjectInfo};
