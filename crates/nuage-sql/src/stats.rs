//! What a statement costs, as Athena bills it: bytes read from storage, files
//! scanned and pruned, partitions kept by pruning; and the per-query scan
//! limit of an Athena workgroup (`SET nuage.max_scan_bytes = 10g`).
//!
//! One [`QueryStats`] belongs to one session. It sits in the DataFusion
//! session config as an extension, so table scans planned by that session
//! (also through views) record into it, and its [`ScanCounter`] wraps the
//! session's object stores.

use std::sync::atomic::{AtomicU64, Ordering};

use nuage_lake::ScanCounter;
use serde::Serialize;

#[derive(Debug, Default)]
pub struct QueryStats {
    pub counter: ScanCounter,
    partitions_total: AtomicU64,
    partitions_read: AtomicU64,
    files_listed: AtomicU64,
    /// Bytes a statement may read; 0 for no limit.
    max_scan_bytes: AtomicU64,
}

/// The figures of one statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScanStats {
    /// Bytes fetched from storage.
    pub bytes: u64,
    /// Files read from.
    pub files: u64,
    /// Files listed in the kept partitions.
    pub files_listed: u64,
    /// Files of the kept partitions that were never read (Parquet statistics, LIMIT).
    pub files_pruned: u64,
    /// Partitions read, of the partitions of the tables scanned.
    pub partitions_read: u64,
    pub partitions_total: u64,
}

impl QueryStats {
    /// Starts a new statement.
    pub fn reset(&self) {
        self.counter.reset();
        for value in [
            &self.partitions_total,
            &self.partitions_read,
            &self.files_listed,
        ] {
            value.store(0, Ordering::Relaxed);
        }
    }

    /// A table scan was planned: it kept `read` of `total` partitions and
    /// listed `files` files in them.
    pub fn planned(&self, total: u64, read: u64, files: u64) {
        self.partitions_total.fetch_add(total, Ordering::Relaxed);
        self.partitions_read.fetch_add(read, Ordering::Relaxed);
        self.files_listed.fetch_add(files, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ScanStats {
        let files = self.counter.files();
        let listed = self.files_listed.load(Ordering::Relaxed);
        ScanStats {
            bytes: self.counter.bytes(),
            files,
            files_listed: listed,
            files_pruned: listed.saturating_sub(files),
            partitions_read: self.partitions_read.load(Ordering::Relaxed),
            partitions_total: self.partitions_total.load(Ordering::Relaxed),
        }
    }

    pub fn max_scan_bytes(&self) -> Option<u64> {
        match self.max_scan_bytes.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    pub fn set_max_scan_bytes(&self, limit: Option<u64>) {
        self.max_scan_bytes
            .store(limit.unwrap_or(0), Ordering::Relaxed);
    }
}

/// `12345 bytes (12.1 KB)` style sizes for messages.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = "bytes";
    for u in units {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{bytes} bytes ({value:.1} {unit})")
    }
}
