//! `checkpoint.json`, the flusher's durable progress: the records
//! delivered, a flush that may be half written, and for a Kinesis source the
//! next record of each source shard. Also the atomic JSON files that hold it
//! and the delivery stream's metadata.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use nuage_streams::Record;
use serde::{Deserialize, Serialize};

use crate::config::S3Destination;
use crate::error::{DeliveryError, Result};

/// `checkpoint.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// Records below this number are in the lake.
    pub(crate) delivered: u64,
    /// A flush that may have written some of its objects.
    pub(crate) pending: Option<Pending>,
    /// KinesisStreamAsSource: per source shard, the next record to read,
    /// as of `delivered` (records after it in the log move it further).
    #[serde(default)]
    pub(crate) sources: BTreeMap<u32, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) version: u64,
    pub(crate) destination: S3Destination,
}

/// Writes `name` in `dir` atomically and durably.
pub(crate) fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(DeliveryError::json(name))?;
    nuage_common::durable::write_file(&dir.join(name), &bytes).map_err(DeliveryError::io(format!(
        "{}: cannot write {name}",
        dir.display()
    )))
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Result<Option<T>> {
    match fs::read(dir.join(name)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(DeliveryError::json(format!(
                "{}: {name} is damaged",
                dir.display()
            ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DeliveryError::io(format!(
            "{}: cannot read {name}",
            dir.display()
        ))(e)),
    }
}

/// `(shard, record number)` of a record copied from a source shard.
fn origin(record: &Record) -> Option<(u32, u64)> {
    let (shard, number) = record.partition_key.split_once(':')?;
    Some((shard.parse().ok()?, number.parse().ok()?))
}

/// Moves the per-shard positions past `records` (copied ones).
pub(crate) fn advance(positions: &mut BTreeMap<u32, u64>, records: &[Record]) {
    for (shard, number) in records.iter().filter_map(origin) {
        let next = positions.entry(shard).or_default();
        *next = (*next).max(number + 1);
    }
}
