//! Shared pieces every nuage crate uses: the platform configuration, the
//! names of the places on disk that make up a data directory, and Java date
//! patterns (`java_time`), which Hive, Athena and Firehose all speak.
//!
//! ```text
//! nuage-data/            --data-dir / NUAGE_DATA_DIR (default ./nuage-data)
//!   lake/<bucket>/<key>  the embedded object store
//!   catalog.db           the SQLite metastore
//! ```

mod config;
pub mod durable;
pub mod java_time;

pub use config::{Config, S3Config, absolute};

/// The text a caught panic carried (`panic!("...")` gives a `&str` or a
/// `String`), for the "internal error" a request or statement fails with.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
