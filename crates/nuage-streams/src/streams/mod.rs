//! All streams of a data dir, and the Kinesis operations on them.
//!
//! Each stream is a folder: `stream.json` (see [`crate::meta`]) and one folder
//! per shard holding its log. A stream is created under a hidden name and
//! renamed into place, and deleted by renaming it away first, so a crash
//! never leaves half a stream.

mod records;
mod settings;
mod shards;

pub use records::{Put, PutEntry, PutFailure, PutOutcome, RecordsOut, Start};
pub use shards::ShardFilter;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use md5::{Digest, Md5};

use crate::error::StreamError;
use crate::iterator::{ITERATOR_TTL_MS, Iterator};
use crate::meta::{
    Consumer, Encryption, ShardMeta, StreamMeta, StreamMode, StreamStatus, shard_id, uniform_ranges,
};
use crate::record::Record;
use crate::sequence::{Parsed, Prefix, SequenceNumber, secs};
use crate::shard::{Entry, LogOptions, Position, ShardLog};
use crate::throttle::Throttle;

type Result<T> = std::result::Result<T, StreamError>;

pub const MAX_RETENTION_HOURS: u32 = 8760;
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_TAGS: usize = 50;
pub const MAX_CONSUMERS: usize = 20;

/// What EnableEnhancedMonitoring takes: the shard-level metrics, then
/// "ALL" (which means all of them).
pub const MONITORING_NAMES: [&str; 8] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
    "ALL",
];

/// The shard-level metrics a stream can have enabled.
pub const SHARD_LEVEL_METRICS: &[&str] = MONITORING_NAMES.split_at(7).0;

/// GetRecords returns at most this much data (AWS: 10 MiB).
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// `<data-dir>/streams`
    pub dir: PathBuf,
    pub log: LogOptions,
    pub account: String,
    pub region: String,
    /// How long CREATING, UPDATING and DELETING last.
    pub state_delay_ms: i64,
    /// Open shards allowed over all streams (AWS's account quota).
    pub shard_limit: u32,
    /// Refuse what a provisioned shard would (see [`crate::throttle`]).
    pub enforce_limits: bool,
}

impl StreamsConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: LogOptions::default(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
            state_delay_ms: 0,
            shard_limit: 500,
            enforce_limits: false,
        }
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// MD5 of the partition key read as a big-endian unsigned 128-bit number.
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// An open shard's hash range and log.
struct Route {
    start: u128,
    shard: u32,
    /// The shard's creation time, part of its records' sequence numbers.
    created_ms: i64,
    log: Arc<ShardLog>,
}

/// One open stream: its metadata and its shard logs.
pub struct Stream {
    dir: PathBuf,
    meta: Mutex<StreamMeta>,
    logs: RwLock<BTreeMap<u32, Arc<ShardLog>>>,
    /// Open shards by hash range, for routing puts.
    routes: RwLock<Arc<Vec<Route>>>,
    /// Per-shard throughput, with `enforce_limits` on a provisioned stream.
    throttles: Mutex<BTreeMap<u32, Throttle>>,
}

impl Stream {
    /// Runs `f` on the shard's throughput buckets (made on first use).
    fn throttle<T>(&self, shard: u32, f: impl FnOnce(&mut Throttle) -> T) -> T {
        f(self
            .throttles
            .lock()
            .expect("throttle lock")
            .entry(shard)
            .or_default())
    }
}

impl Stream {
    fn open(dir: &Path, log: LogOptions) -> Result<Self> {
        let meta = StreamMeta::load(dir).map_err(StreamError::io(format!(
            "{}: cannot read stream.json",
            dir.display()
        )))?;
        let mut logs = BTreeMap::new();
        for shard in &meta.shards {
            let shard_log = ShardLog::open(&dir.join(shard.id()), log)?;
            if !shard.is_open() {
                shard_log.set_closed();
            }
            logs.insert(shard.index, Arc::new(shard_log));
        }
        let stream = Self {
            dir: dir.to_path_buf(),
            meta: Mutex::new(meta),
            logs: RwLock::new(logs),
            routes: RwLock::new(Arc::new(Vec::new())),
            throttles: Mutex::new(BTreeMap::new()),
        };
        stream.reroute();
        Ok(stream)
    }

    fn reroute(&self) {
        let meta = self.meta.lock().expect("meta lock");
        let logs = self.logs.read().expect("logs lock");
        let mut routes: Vec<_> = meta
            .open_shards()
            .map(|s| Route {
                start: s.start_hash,
                shard: s.index,
                created_ms: s.created_ms,
                log: logs[&s.index].clone(),
            })
            .collect();
        routes.sort_by_key(|r| r.start);
        *self.routes.write().expect("routes lock") = Arc::new(routes);
    }

    pub fn meta(&self) -> StreamMeta {
        self.meta.lock().expect("meta lock").clone()
    }

    pub fn log(&self, shard: u32) -> Option<Arc<ShardLog>> {
        self.logs.read().expect("logs lock").get(&shard).cloned()
    }

    fn save(&self, meta: &StreamMeta) -> Result<()> {
        meta.save(&self.dir).map_err(StreamError::io(format!(
            "{}: cannot write stream.json",
            self.dir.display()
        )))
    }
}

pub struct Streams {
    config: StreamsConfig,
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    /// Serialises creates, deletes and reshards (not puts and gets).
    admin: Mutex<()>,
    /// Held (flock) while open.
    _lock: fs::File,
}

fn dir_name(stream: &str) -> String {
    // Names may be "." or ".."; hidden folders are nuage's own.
    if stream.starts_with('.') {
        format!("%{stream}")
    } else {
        stream.to_string()
    }
}

impl Streams {
    /// Opens every stream under `config.dir`, recovering their logs.
    pub fn open(config: StreamsConfig) -> Result<Self> {
        let io = |e: std::io::Error| StreamError::io(config.dir.display().to_string())(e);
        fs::create_dir_all(&config.dir).map_err(io)?;
        // One process owns the logs: a second server on the same data dir
        // would interleave appends.
        let lock = fs::File::create(config.dir.join("nuage.lock")).map_err(io)?;
        if lock.try_lock().is_err() {
            return Err(StreamError::InUse(format!(
                "{} is in use by another nuage server; stop it, or give this one another --data-dir",
                config.dir.display()
            )));
        }
        let mut streams = BTreeMap::new();
        for entry in fs::read_dir(&config.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                // A create or delete that a crash interrupted.
                let _ = fs::remove_dir_all(entry.path());
                continue;
            }
            if !entry.path().join("stream.json").exists() {
                continue;
            }
            let stream = Stream::open(&entry.path(), config.log)?;
            let meta = stream.meta();
            if meta.status == StreamStatus::Deleting {
                drop(stream);
                remove_stream_dir(&config.dir, &entry.path())?;
                continue;
            }
            streams.insert(meta.name.clone(), Arc::new(stream));
        }
        Ok(Self {
            config,
            streams: RwLock::new(streams),
            admin: Mutex::new(()),
            _lock: lock,
        })
    }

    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    pub fn arn(&self, stream: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{stream}",
            self.config.region, self.config.account
        )
    }

    /// The stream name in a stream ARN (any region or account is accepted).
    pub fn name_from_arn(arn: &str) -> Option<&str> {
        let rest = arn.strip_prefix("arn:")?;
        let mut parts = rest.splitn(6, ':');
        let (_partition, service, _region, _account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if service != "kinesis" {
            return None;
        }
        let name = resource.strip_prefix("stream/")?;
        Some(name.split('/').next().unwrap_or(name))
    }

    fn not_found(&self, stream: &str) -> StreamError {
        StreamError::NotFound(format!(
            "Stream {stream} under account {} not found.",
            self.config.account
        ))
    }

    fn shard_not_found(&self, stream: &str, shard: &str) -> StreamError {
        StreamError::NotFound(format!(
            "Shard {shard} in stream {stream} under account {} does not exist",
            self.config.account
        ))
    }

    fn not_active(&self, stream: &str, status: StreamStatus) -> StreamError {
        StreamError::InUse(format!(
            "Stream {stream} under account {} not ACTIVE, instead in state {}",
            self.config.account,
            status.as_str()
        ))
    }

    /// The stream, reaping it first if its deletion has finished.
    pub fn get(&self, name: &str) -> Result<Arc<Stream>> {
        let stream = self
            .streams
            .read()
            .expect("streams lock")
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))?;
        let meta = stream.meta.lock().expect("meta lock").clone();
        if meta.status == StreamStatus::Deleting && now_ms() >= meta.ready_at_ms {
            self.reap(name)?;
            return Err(self.not_found(name));
        }
        Ok(stream)
    }

    /// A stream that takes records: ACTIVE or UPDATING.
    fn get_for_data(&self, name: &str) -> Result<Arc<Stream>> {
        let stream = self.get(name)?;
        match stream.meta.lock().expect("meta lock").status_at(now_ms()) {
            StreamStatus::Active | StreamStatus::Updating => Ok(stream.clone()),
            _ => Err(self.not_found(name)),
        }
    }

    fn reap(&self, name: &str) -> Result<()> {
        let removed = self.streams.write().expect("streams lock").remove(name);
        if let Some(stream) = removed {
            remove_stream_dir(&self.config.dir, &stream.dir)?;
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        let names: Vec<String> = self
            .streams
            .read()
            .expect("streams lock")
            .keys()
            .cloned()
            .collect();
        names.into_iter().filter(|n| self.get(n).is_ok()).collect()
    }

    pub fn describe(&self, name: &str) -> Result<StreamMeta> {
        let mut meta = self.get(name)?.meta();
        meta.status = meta.status_at(now_ms());
        Ok(meta)
    }

    fn open_shard_total(&self) -> u32 {
        let streams = self.streams.read().expect("streams lock");
        streams
            .values()
            .map(|s| s.meta.lock().expect("meta lock").open_shards().count() as u32)
            .sum()
    }

    fn check_shard_limit(&self, more: u32) -> Result<()> {
        let current = self.open_shard_total();
        if current + more > self.config.shard_limit {
            return Err(StreamError::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {current}. Limit: {}. Number of additional shards that would have resulted from this request: {more}. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
                self.config.account, self.config.region, self.config.shard_limit
            )));
        }
        Ok(())
    }

    pub fn create(
        &self,
        name: &str,
        shard_count: u32,
        mode: StreamMode,
        tags: BTreeMap<String, String>,
    ) -> Result<()> {
        let _admin = self.admin.lock().expect("admin lock");
        if self.get(name).is_ok() {
            return Err(StreamError::InUse(format!(
                "Stream {name} under account {} already exists.",
                self.config.account
            )));
        }
        self.check_shard_limit(shard_count)?;
        let now = now_ms();
        let meta = StreamMeta {
            name: name.to_string(),
            arn: self.arn(name),
            created_ms: now,
            status: StreamStatus::Creating,
            ready_at_ms: now + self.config.state_delay_ms,
            mode,
            retention_hours: MIN_RETENTION_HOURS,
            shards: uniform_ranges(shard_count)
                .into_iter()
                .enumerate()
                .map(|(i, (start_hash, end_hash))| ShardMeta {
                    index: i as u32,
                    parent: None,
                    adjacent_parent: None,
                    start_hash,
                    end_hash,
                    created_ms: now,
                    end_record: None,
                    closed_ms: None,
                })
                .collect(),
            next_shard: shard_count,
            tags,
            encryption: None,
            shard_level_metrics: Default::default(),
            consumers: Vec::new(),
        };
        let io = |e: std::io::Error| StreamError::io(format!("creating stream {name}"))(e);
        let staging = self
            .config
            .dir
            .join(format!(".creating-{}-{now}", dir_name(name)));
        fs::create_dir_all(&staging).map_err(io)?;
        meta.save(&staging).map_err(io)?;
        let target = self.config.dir.join(dir_name(name));
        fs::rename(&staging, &target).map_err(io)?;
        fs::File::open(&self.config.dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        let stream = Stream::open(&target, self.config.log)?;
        self.streams
            .write()
            .expect("streams lock")
            .insert(name.to_string(), Arc::new(stream));
        Ok(())
    }

    pub fn delete(&self, name: &str, enforce_consumer_deletion: bool) -> Result<()> {
        let _admin = self.admin.lock().expect("admin lock");
        let stream = self.get(name)?;
        let mut meta = stream.meta.lock().expect("meta lock");
        if !meta.consumers.is_empty() && !enforce_consumer_deletion {
            return Err(StreamError::InUse(format!(
                "Stream {name} under account {} has registered consumers. Deregister them or set EnforceConsumerDeletion.",
                self.config.account
            )));
        }
        let mut next = meta.clone();
        next.status = StreamStatus::Deleting;
        next.ready_at_ms = now_ms() + self.config.state_delay_ms;
        stream.save(&next)?;
        *meta = next;
        drop(meta);
        if self.config.state_delay_ms <= 0 {
            self.reap(name)?;
        }
        Ok(())
    }

    /// Applies `change` to a stream's metadata (under the admin lock) and saves it.
    fn change<T>(
        &self,
        name: &str,
        change: impl FnOnce(&Stream, &mut StreamMeta) -> Result<T>,
    ) -> Result<T> {
        let _admin = self.admin.lock().expect("admin lock");
        let stream = self.get(name)?;
        let mut next = stream.meta();
        let out = change(&stream, &mut next)?;
        stream.save(&next)?;
        *stream.meta.lock().expect("meta lock") = next;
        stream.reroute();
        Ok(out)
    }

    /// Every shard's log by stream and shard id (for /metrics).
    pub fn shard_stats(&self) -> Vec<(String, String, Arc<ShardLog>)> {
        let streams: Vec<(String, Arc<Stream>)> = self
            .streams
            .read()
            .expect("streams lock")
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        let mut out = Vec::new();
        for (name, stream) in streams {
            for (index, log) in stream.logs.read().expect("logs lock").iter() {
                out.push((name.clone(), shard_id(*index), log.clone()));
            }
        }
        out
    }
}

fn remove_stream_dir(root: &Path, dir: &Path) -> Result<()> {
    let trash = root.join(format!(
        ".deleting-{}-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        now_ms()
    ));
    let io = |e: std::io::Error| StreamError::io(format!("deleting {}", dir.display()))(e);
    fs::rename(dir, &trash).map_err(io)?;
    fs::remove_dir_all(&trash).map_err(io)
}

/// `Thu Jan 22 01:22:02 UTC 2015`, the time format of Kinesis's messages.
fn amz_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%a %b %d %H:%M:%S UTC %Y").to_string(),
        None => format!("{ms} ms after the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_time_formats_like_kinesis() {
        assert_eq!(amz_time(1_421_889_722_000), "Thu Jan 22 01:22:02 UTC 2015");
    }

    #[test]
    fn hash_keys_are_md5_big_endian() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
        assert_eq!(
            Streams::name_from_arn("arn:aws:kinesis:eu-west-1:123456789012:stream/tolls"),
            Some("tolls")
        );
        assert_eq!(Streams::name_from_arn("arn:aws:s3:::tolls"), None);
    }
}
