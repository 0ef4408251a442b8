//! Shared pieces every nuage crate uses: the platform configuration and the
//! names of the places on disk that make up a data directory.
//!
//! ```text
//! nuage-data/            --data-dir / NUAGE_DATA_DIR (default ./nuage-data)
//!   lake/<bucket>/<key>  the embedded object store
//!   catalog.db           the SQLite metastore
//! ```

mod config;

pub use config::{Config, S3Config, absolute};
