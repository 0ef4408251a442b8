//! What a stream is, as kept in `<data-dir>/streams/<name>/stream.json`:
//! shards with their hash ranges and lineage, retention, tags, consumers,
//! encryption and monitoring settings. Written whole (temp file, fsync,
//! rename) on every change; the records themselves are in the shard logs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sequence::SequenceNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Deleting => "DELETING",
            Self::Active => "ACTIVE",
            Self::Updating => "UPDATING",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamMode {
    Provisioned,
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }
}

mod u128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    #[serde(with = "u128_text")]
    pub start_hash: u128,
    #[serde(with = "u128_text")]
    pub end_hash: u128,
    pub created_ms: i64,
    /// Set when resharding closed the shard: its record count then.
    pub end_record: Option<u64>,
    pub closed_ms: Option<i64>,
}

pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// `shardId-000000000007` -> 7 (as AWS, the prefix may be left out).
pub fn parse_shard_id(text: &str) -> Option<u32> {
    // As AWS reads a shard id: the digits after the first '-' (or the whole
    // text without one), a number from 0 to 2^31-1, whatever precedes it.
    let digits = match text.split('-').nth(1) {
        Some(d) if !d.is_empty() => d,
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 10 {
        return None;
    }
    let n: u64 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    u32::try_from(n).ok().filter(|n| *n <= i32::MAX as u32)
}

impl ShardMeta {
    pub fn id(&self) -> String {
        shard_id(self.index)
    }

    pub fn is_open(&self) -> bool {
        self.end_record.is_none()
    }

    pub fn contains(&self, hash: u128) -> bool {
        self.start_hash <= hash && hash <= self.end_hash
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    pub kind: String,
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub status: StreamStatus,
    /// When CREATING/UPDATING turns ACTIVE, or DELETING ends.
    pub ready_at_ms: i64,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub shards: Vec<ShardMeta>,
    pub next_shard: u32,
    pub tags: BTreeMap<String, String>,
    pub encryption: Option<Encryption>,
    pub shard_level_metrics: BTreeSet<String>,
    pub consumers: Vec<Consumer>,
}

impl StreamMeta {
    /// The status a client sees at `now_ms` (transitions happen lazily).
    pub fn status_at(&self, now_ms: i64) -> StreamStatus {
        match self.status {
            StreamStatus::Creating | StreamStatus::Updating if now_ms >= self.ready_at_ms => {
                StreamStatus::Active
            }
            status => status,
        }
    }

    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.index == index)
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.is_open())
    }

    /// When a shard was created (the stream's creation for a shard it no
    /// longer lists).
    pub fn shard_created_ms(&self, shard: u32) -> i64 {
        self.shard(shard).map_or(self.created_ms, |s| s.created_ms)
    }

    /// The number just before `position` (see [`SequenceNumber::before`]).
    pub fn sequence_before(&self, shard: u32, position: u64) -> String {
        SequenceNumber::before(self.shard_created_ms(shard), shard, position).to_string()
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join("stream.json.tmp");
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        fs::rename(&tmp, dir.join("stream.json"))?;
        fs::File::open(dir)?.sync_all()
    }

    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let bytes = fs::read(dir.join("stream.json"))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}

/// `n` equal hash ranges covering 0..=2^128-1, as AWS creates them.
pub fn uniform_ranges(n: u32) -> Vec<(u128, u128)> {
    let n = u128::from(n.max(1));
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    let (q, r) = (u128::MAX / n, u128::MAX % n);
    let width = if r + 1 == n { q + 1 } else { q };
    (0..n)
        .map(|i| {
            let start = i * width;
            let end = if i + 1 == n {
                u128::MAX
            } else {
                start + width - 1
            };
            (start, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_aws() {
        assert_eq!(uniform_ranges(1), vec![(0, u128::MAX)]);
        let two = uniform_ranges(2);
        assert_eq!(two[0].1, 170141183460469231731687303715884105727);
        assert_eq!(two[1].0, 170141183460469231731687303715884105728);
        let three = uniform_ranges(3);
        assert_eq!(three[0].1, 113427455640312821154458202477256070484);
        assert_eq!(three[2].1, u128::MAX);
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shard-7"), Some(7));
        assert_eq!(parse_shard_id("shardId-2147483647"), Some(2147483647));
        assert_eq!(parse_shard_id("2147483648"), None);
        assert_eq!(parse_shard_id("shardId-002147483648"), None);
        assert_eq!(parse_shard_id("ABKLFD8"), None);
        assert_eq!(parse_shard_id("2.14E4"), None);
        assert_eq!(parse_shard_id("shardId-"), None);
    }
}
