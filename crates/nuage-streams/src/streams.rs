//! All streams of a data dir, and the Kinesis operations on them.
//!
//! Each stream is a folder: `stream.json` (see [`crate::meta`]) and one folder
//! per shard holding its log. A stream is created under a hidden name and
//! renamed into place, and deleted by renaming it away first, so a crash
//! never leaves half a stream.

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
use crate::record::{Record, SequenceNumber};
use crate::shard::{Entry, LogOptions, Position, ShardLog};
use crate::throttle::Throttle;

type Result<T> = std::result::Result<T, StreamError>;

pub const MAX_RETENTION_HOURS: u32 = 8760;
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_TAGS: usize = 50;
pub const MAX_CONSUMERS: usize = 20;
/// The shard-level metrics EnableEnhancedMonitoring knows ("ALL" means these).
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];
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

/// A record to put.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub partition_key: String,
    pub data: Bytes,
    pub explicit_hash_key: Option<u128>,
}

/// Where a record went, or why it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Stored {
        shard_id: String,
        sequence_number: String,
    },
    Failed {
        reason: PutFailure,
        message: String,
    },
}

/// Why one record of a put was refused (the rest of the put may succeed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFailure {
    /// The shard's write limit (`--enforce-limits`).
    Throughput,
    /// The shard's log could not take the record.
    Internal,
}

/// What a put did: each record's outcome, and whether the stream encrypts.
#[derive(Debug)]
pub struct Put {
    pub outcomes: Vec<PutOutcome>,
    pub encrypted: bool,
}

/// Where a new iterator starts.
#[derive(Debug, Clone)]
pub enum Start {
    TrimHorizon,
    Latest,
    AtSequence(String),
    AfterSequence(String),
    AtTimestamp(i64),
}

#[derive(Debug)]
pub struct RecordsOut {
    pub stream: String,
    pub shard: u32,
    /// Whether the stream encrypts (records then report EncryptionType KMS).
    pub encrypted: bool,
    /// Records with their sequence numbers.
    pub records: Vec<(Record, String)>,
    pub next_iterator: Option<String>,
    /// The record the next read starts at.
    pub next_record: u64,
    /// The sequence number to resume after (SubscribeToShard's
    /// ContinuationSequenceNumber); `None` at a closed shard's end.
    pub continuation: Option<String>,
    pub millis_behind: i64,
    /// At the end of a closed shard: the shards that continue it.
    pub child_shards: Vec<ShardMeta>,
}

/// Which shards ListShards returns.
#[derive(Debug, Clone)]
pub enum ShardFilter {
    AfterShardId(u32),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(i64),
    FromTimestamp(i64),
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
                "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {current}. Limit: {}. Number of additional shards that would have resulted from this request: {more}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
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

    /// Stores records, routed by hash key, and returns once they are durable.
    pub async fn put(&self, name: &str, entries: &[PutEntry]) -> Result<Put> {
        let stream = self.get_for_data(name)?;
        let (epoch, limited, encrypted) = {
            let meta = stream.meta.lock().expect("meta lock");
            (
                meta.created_ms as u64,
                self.config.enforce_limits && meta.mode == StreamMode::Provisioned,
                meta.encryption.is_some(),
            )
        };
        let mut outcomes: Vec<Option<PutOutcome>> = vec![None; entries.len()];
        let mut commits: Vec<(Arc<ShardLog>, u64)> = Vec::new();
        let now = now_ms();
        // A shard can close between routing and appending (resharding):
        // route what is left again.
        for _attempt in 0..3 {
            let routes = stream.routes.read().expect("routes lock").clone();
            let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, entry) in entries.iter().enumerate() {
                if outcomes[i].is_some() {
                    continue;
                }
                let hash = entry
                    .explicit_hash_key
                    .unwrap_or_else(|| hash_key(&entry.partition_key));
                let r = routes
                    .partition_point(|route| route.start <= hash)
                    .saturating_sub(1);
                groups.entry(r).or_default().push(i);
            }
            if groups.is_empty() {
                break;
            }
            for (r, mut members) in groups {
                let Route { shard, log, .. } = &routes[r];
                if limited {
                    let sizes = members
                        .iter()
                        .map(|&i| entries[i].data.len() + entries[i].partition_key.len());
                    let admitted =
                        stream.throttle(*shard, |t| t.admit_writes(sizes, Instant::now()));
                    for &i in &members[admitted..] {
                        outcomes[i] = Some(PutOutcome::Failed {
                            reason: PutFailure::Throughput,
                            message: format!(
                                "Rate exceeded for shard {} in stream {name} under account {}.",
                                shard_id(*shard),
                                self.config.account
                            ),
                        });
                    }
                    members.truncate(admitted);
                    if members.is_empty() {
                        continue;
                    }
                }
                let batch: Vec<Entry<'_>> = members
                    .iter()
                    .map(|&i| Entry {
                        partition_key: &entries[i].partition_key,
                        data: &entries[i].data,
                    })
                    .collect();
                match log.append(&batch, now) {
                    Ok((first, _)) => {
                        let id = shard_id(*shard);
                        for (k, &i) in members.iter().enumerate() {
                            outcomes[i] = Some(PutOutcome::Stored {
                                shard_id: id.clone(),
                                sequence_number: SequenceNumber::of_record(
                                    epoch,
                                    *shard,
                                    first + k as u64,
                                )
                                .to_string(),
                            });
                        }
                        commits.push((log.clone(), first + members.len() as u64));
                    }
                    Err(StreamError::ShardClosed) => {}
                    Err(e) => {
                        tracing::error!("stream {name}: {e}");
                        for &i in &members {
                            outcomes[i] = Some(PutOutcome::Failed {
                                reason: PutFailure::Internal,
                                message: "Internal service failure.".into(),
                            });
                        }
                    }
                }
            }
        }
        let synced =
            futures::future::join_all(commits.iter().map(|(log, upto)| async move {
                (log.dir().to_path_buf(), log.commit(*upto).await)
            }))
            .await;
        for (dir, result) in synced {
            if let Err(e) = result {
                // Nothing in the batch can be promised durable.
                tracing::error!("{}: {e}", dir.display());
                return Err(e);
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(PutOutcome::Failed {
                    reason: PutFailure::Internal,
                    message: "Internal service failure.".into(),
                })
            })
            .collect();
        Ok(Put {
            outcomes,
            encrypted,
        })
    }

    fn parse_sequence(
        &self,
        stream: &str,
        meta: &StreamMeta,
        shard: u32,
        text: &str,
    ) -> Result<SequenceNumber> {
        let invalid = || {
            StreamError::InvalidArgument(format!(
                "StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {stream} under account {} is invalid.",
                shard_id(shard),
                self.config.account
            ))
        };
        let seq = SequenceNumber::parse(text).ok_or_else(invalid)?;
        if seq.shard != shard {
            return Err(StreamError::InvalidArgument(format!(
                "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                shard_id(seq.shard),
                shard_id(shard)
            )));
        }
        if seq.stream_epoch_ms != meta.created_ms as u64 {
            return Err(StreamError::InvalidArgument(format!(
                "StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {stream} under account {} is invalid because it did not come from this stream.",
                shard_id(shard),
                self.config.account
            )));
        }
        Ok(seq)
    }

    pub fn shard_iterator(&self, name: &str, shard_text: &str, start: Start) -> Result<String> {
        let stream = self.get_for_data(name)?;
        let meta = stream.meta();
        let shard = crate::meta::parse_shard_id(shard_text)
            .filter(|i| meta.shard(*i).is_some())
            .ok_or_else(|| self.shard_not_found(name, shard_text))?;
        let log = stream
            .log(shard)
            .ok_or_else(|| self.shard_not_found(name, shard_text))?;
        let now = now_ms();
        let position = match start {
            Start::TrimHorizon => Position::at(log.trim_horizon()),
            Start::Latest => Position::at(log.end()),
            Start::AtSequence(text) => Position::at(
                self.parse_sequence(name, &meta, shard, &text)?
                    .at_position(),
            ),
            Start::AfterSequence(text) => Position::at(
                self.parse_sequence(name, &meta, shard, &text)?
                    .after_position(),
            ),
            Start::AtTimestamp(ms) => {
                if ms > now {
                    return Err(StreamError::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {ms}, currentTimestampInMillis: {now}"
                    )));
                }
                log.position_at_time(ms)?
            }
        };
        Ok(Iterator {
            issued_ms: now,
            stream: name.to_string(),
            stream_epoch_ms: meta.created_ms as u64,
            shard,
            position,
        }
        .encode())
    }

    /// GetRecords: counts against the shard's read limits when they are
    /// enforced.
    pub fn get_records(&self, iterator: &str, limit: usize) -> Result<RecordsOut> {
        self.read_records(iterator, limit, true)
    }

    /// A read for a SubscribeToShard subscription, which has its own
    /// throughput on AWS and does not count against GetRecords' limits.
    pub fn read_subscribed(&self, iterator: &str, limit: usize) -> Result<RecordsOut> {
        self.read_records(iterator, limit, false)
    }

    fn read_records(&self, iterator: &str, limit: usize, counted: bool) -> Result<RecordsOut> {
        let it = Iterator::decode(iterator)
            .ok_or_else(|| StreamError::InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = now_ms();
        if it.issued_ms > now + 60_000 {
            return Err(StreamError::InvalidArgument(
                "Invalid ShardIterator.".into(),
            ));
        }
        if now - it.issued_ms > ITERATOR_TTL_MS {
            return Err(StreamError::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
                amz_time(it.issued_ms),
                amz_time(now)
            )));
        }
        let stream = self.get_for_data(&it.stream)?;
        let meta = stream.meta();
        let shard_text = shard_id(it.shard);
        if meta.created_ms as u64 != it.stream_epoch_ms {
            return Err(self.shard_not_found(&it.stream, &shard_text));
        }
        let shard_meta = meta
            .shard(it.shard)
            .ok_or_else(|| self.shard_not_found(&it.stream, &shard_text))?;
        let log = stream
            .log(it.shard)
            .ok_or_else(|| self.shard_not_found(&it.stream, &shard_text))?;
        let limited = counted && self.config.enforce_limits && meta.mode == StreamMode::Provisioned;
        if limited && !stream.throttle(it.shard, |t| t.admit_read(Instant::now())) {
            return Err(StreamError::Throughput(format!(
                "Rate exceeded for Shard - {shard_text} in stream {} under account {}.",
                it.stream, self.config.account
            )));
        }
        let batch = log.read(it.position, limit, MAX_GET_BYTES)?;
        if limited {
            stream.throttle(it.shard, |t| t.charge_read(batch.bytes));
        }
        let end = log.end();
        let millis_behind = match batch.records.last() {
            Some(last) if batch.next.record < end => (now - last.arrival_ms).max(0),
            _ => 0,
        };
        let finished = shard_meta
            .end_record
            .is_some_and(|end_record| batch.next.record >= end_record);
        let (next_iterator, child_shards) = if finished {
            let children = meta
                .shards
                .iter()
                .filter(|s| s.parent == Some(it.shard) || s.adjacent_parent == Some(it.shard))
                .cloned()
                .collect();
            (None, children)
        } else {
            let next = Iterator {
                issued_ms: now,
                position: batch.next,
                ..it.clone()
            };
            (Some(next.encode()), Vec::new())
        };
        let records = batch
            .records
            .into_iter()
            .map(|r| {
                let seq = meta.sequence_number(it.shard, r.number);
                (r, seq)
            })
            .collect();
        Ok(RecordsOut {
            stream: it.stream,
            shard: it.shard,
            encrypted: meta.encryption.is_some(),
            records,
            continuation: next_iterator
                .is_some()
                .then(|| meta.sequence_before(it.shard, batch.next.record)),
            next_record: batch.next.record,
            next_iterator,
            millis_behind,
            child_shards,
        })
    }

    /// Resolves once the shard has a record at `position`, or changed in
    /// another way (closed); callers read again to see which.
    pub async fn readable(&self, name: &str, shard: u32, position: u64) -> Result<()> {
        let log = self
            .get(name)?
            .log(shard)
            .ok_or_else(|| self.shard_not_found(name, &shard_id(shard)))?;
        log.readable(position).await;
        Ok(())
    }

    /// Shards for ListShards, in shard id order.
    pub fn list_shards(&self, name: &str, filter: Option<ShardFilter>) -> Result<Vec<ShardMeta>> {
        let meta = self.describe(name)?;
        let keep = |s: &ShardMeta| -> bool {
            match &filter {
                None | Some(ShardFilter::FromTrimHorizon) => true,
                Some(ShardFilter::AfterShardId(after)) => s.index > *after,
                Some(ShardFilter::AtLatest) => s.is_open(),
                Some(ShardFilter::AtTrimHorizon) => {
                    // Shards whose parents are gone: where reading from the
                    // trim horizon starts.
                    let alive = |p: Option<u32>| p.is_some_and(|p| meta.shard(p).is_some());
                    !alive(s.parent) && !alive(s.adjacent_parent)
                }
                Some(ShardFilter::AtTimestamp(ms)) => {
                    s.created_ms <= *ms && s.closed_ms.is_none_or(|c| c > *ms)
                }
                Some(ShardFilter::FromTimestamp(ms)) => s.closed_ms.is_none_or(|c| c > *ms),
            }
        };
        Ok(meta.shards.iter().filter(|s| keep(s)).cloned().collect())
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

    fn require_active(&self, meta: &StreamMeta) -> Result<()> {
        match meta.status_at(now_ms()) {
            StreamStatus::Active => Ok(()),
            status => Err(self.not_active(&meta.name, status)),
        }
    }

    fn open_shard(&self, meta: &StreamMeta, text: &str) -> Result<ShardMeta> {
        crate::meta::parse_shard_id(text)
            .and_then(|i| meta.shard(i))
            .filter(|s| s.is_open())
            .cloned()
            .ok_or_else(|| {
                StreamError::NotFound(format!(
                    "Could not find shard {text} in stream {} under account {}.",
                    meta.name, self.config.account
                ))
            })
    }

    /// Closes `shard` and opens `children` (ranges with their parents).
    fn reshard(
        &self,
        stream: &Stream,
        meta: &mut StreamMeta,
        closing: &[u32],
        children: &[(u128, u128, u32, Option<u32>)],
    ) -> Result<Vec<u32>> {
        let now = now_ms();
        // The new shards' logs exist before the metadata names them.
        let mut created = Vec::new();
        for &(start_hash, end_hash, parent, adjacent_parent) in children {
            let index = meta.next_shard;
            meta.next_shard += 1;
            let log = ShardLog::open(&stream.dir.join(shard_id(index)), self.config.log)?;
            stream
                .logs
                .write()
                .expect("logs lock")
                .insert(index, Arc::new(log));
            meta.shards.push(ShardMeta {
                index,
                parent: Some(parent),
                adjacent_parent,
                start_hash,
                end_hash,
                created_ms: now,
                end_record: None,
                closed_ms: None,
            });
            created.push(index);
        }
        for &index in closing {
            let log = stream.log(index).expect("an open shard has a log");
            let end = log.close()?;
            let shard = meta
                .shards
                .iter_mut()
                .find(|s| s.index == index)
                .expect("shard in metadata");
            shard.end_record = Some(end);
            shard.closed_ms = Some(now);
        }
        if self.config.state_delay_ms > 0 {
            meta.status = StreamStatus::Updating;
            meta.ready_at_ms = now + self.config.state_delay_ms;
        }
        Ok(created)
    }

    pub fn split_shard(&self, name: &str, shard_text: &str, new_start: u128) -> Result<()> {
        self.check_shard_limit(1)?;
        self.change(name, |stream, meta| {
            self.require_active(meta)?;
            let shard = self.open_shard(meta, shard_text)?;
            if new_start <= shard.start_hash.saturating_add(1) || new_start >= shard.end_hash {
                return Err(StreamError::InvalidArgument(format!(
                    "NewStartingHashKey {new_start} used in SplitShard() on shard {} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                    shard.id(),
                    self.config.account,
                    shard.start_hash,
                    shard.end_hash
                )));
            }
            self.reshard(
                stream,
                meta,
                &[shard.index],
                &[
                    (shard.start_hash, new_start - 1, shard.index, None),
                    (new_start, shard.end_hash, shard.index, None),
                ],
            )?;
            Ok(())
        })
    }

    pub fn merge_shards(&self, name: &str, shard_text: &str, adjacent_text: &str) -> Result<()> {
        self.change(name, |stream, meta| {
            self.require_active(meta)?;
            let a = self.open_shard(meta, shard_text)?;
            let b = self.open_shard(meta, adjacent_text)?;
            let adjacent = a.end_hash.checked_add(1) == Some(b.start_hash)
                || b.end_hash.checked_add(1) == Some(a.start_hash);
            if !adjacent {
                return Err(StreamError::InvalidArgument(format!(
                    "Shards {} and {} in stream {name} under account {} are not an adjacent pair of shards eligible for merging",
                    a.id(),
                    b.id(),
                    self.config.account
                )));
            }
            self.reshard(
                stream,
                meta,
                &[a.index, b.index],
                &[(a.start_hash.min(b.start_hash), a.end_hash.max(b.end_hash), a.index, Some(b.index))],
            )?;
            Ok(())
        })
    }

    /// UNIFORM_SCALING to `target` open shards: every open shard is split at
    /// the new boundaries inside it, then the pieces of each new range are
    /// merged, so every shard keeps at most two parents (as AWS does, the
    /// intermediate shards show up as closed shards). Returns the open
    /// shard count before.
    pub fn update_shard_count(&self, name: &str, target: u32) -> Result<u32> {
        let current = self.describe(name)?.open_shards().count() as u32;
        if target > current * 2 {
            return Err(StreamError::LimitExceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {current} Target shard count: {target}"
            )));
        }
        if target < current.div_ceil(2) {
            return Err(StreamError::LimitExceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {current} Target shard count: {target}"
            )));
        }
        if target > current {
            self.check_shard_limit(target - current)?;
        }
        self.change(name, |stream, meta| {
            self.require_active(meta)?;
            let targets = uniform_ranges(target);
            let mut open: Vec<ShardMeta> = meta.open_shards().cloned().collect();
            open.sort_by_key(|s| s.start_hash);
            // 1. Split at every new boundary strictly inside an open shard.
            let mut pieces: Vec<ShardMeta> = Vec::new();
            for shard in open {
                let mut rest = shard;
                for &(boundary, _) in &targets {
                    if boundary > rest.start_hash && boundary <= rest.end_hash {
                        let created = self.reshard(
                            stream,
                            meta,
                            &[rest.index],
                            &[
                                (rest.start_hash, boundary - 1, rest.index, None),
                                (boundary, rest.end_hash, rest.index, None),
                            ],
                        )?;
                        pieces.push(meta.shard(created[0]).expect("new shard").clone());
                        rest = meta.shard(created[1]).expect("new shard").clone();
                    }
                }
                pieces.push(rest);
            }
            // 2. Merge the pieces that share a new range, left to right.
            for &(start, end) in &targets {
                let mut group = pieces
                    .iter()
                    .filter(|p| p.start_hash >= start && p.end_hash <= end)
                    .cloned();
                let Some(mut acc) = group.next() else {
                    continue;
                };
                for next in group {
                    let created = self.reshard(
                        stream,
                        meta,
                        &[acc.index, next.index],
                        &[(acc.start_hash, next.end_hash, acc.index, Some(next.index))],
                    )?;
                    acc = meta.shard(created[0]).expect("new shard").clone();
                }
            }
            Ok(current)
        })
    }

    pub fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        if hours < MIN_RETENTION_HOURS {
            return Err(StreamError::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(StreamError::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        self.change(name, |_, meta| {
            if increase && hours < meta.retention_hours {
                return Err(StreamError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({} hours). Use DecreaseRetentionPeriod API.",
                    meta.retention_hours
                )));
            }
            if !increase && hours > meta.retention_hours {
                return Err(StreamError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({} hours). Use IncreaseRetentionPeriod API.",
                    meta.retention_hours
                )));
            }
            meta.retention_hours = hours;
            Ok(())
        })
    }

    /// Drops what retention no longer keeps: whole old segments, and closed
    /// shards whose last record is past retention. Returns segments removed.
    pub fn enforce_retention(&self, now: i64) -> Result<usize> {
        let mut removed = 0;
        for name in self.names() {
            let Ok(stream) = self.get(&name) else {
                continue;
            };
            let meta = stream.meta();
            let cutoff = now - i64::from(meta.retention_hours) * 3_600_000;
            let mut expired = Vec::new();
            for shard in &meta.shards {
                let Some(log) = stream.log(shard.index) else {
                    continue;
                };
                removed += log.trim(cutoff)?;
                let last = log.last_arrival_ms().or(shard.closed_ms);
                if !shard.is_open() && last.is_some_and(|ms| ms < cutoff) {
                    expired.push(shard.index);
                }
            }
            if !expired.is_empty() {
                self.change(&name, |stream, meta| {
                    meta.shards.retain(|s| !expired.contains(&s.index));
                    let mut logs = stream.logs.write().expect("logs lock");
                    for index in &expired {
                        if let Some(log) = logs.remove(index) {
                            let _ = fs::remove_dir_all(log.dir());
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(removed)
    }

    pub fn add_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.change(name, |_, meta| {
            let mut next = meta.tags.clone();
            next.extend(tags);
            if next.len() > MAX_TAGS {
                return Err(StreamError::InvalidArgument(format!(
                    "Failed to add tags to stream {name} under account {} because a given stream cannot have more than {MAX_TAGS} tags associated with it.",
                    self.config.account
                )));
            }
            meta.tags = next;
            Ok(())
        })
    }

    pub fn remove_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        self.change(name, |_, meta| {
            for key in keys {
                meta.tags.remove(key);
            }
            Ok(())
        })
    }

    pub fn set_encryption(&self, name: &str, encryption: Option<Encryption>) -> Result<()> {
        self.change(name, |_, meta| {
            self.require_active(meta)?;
            meta.encryption = encryption;
            Ok(())
        })
    }

    /// Adds or removes shard-level metrics; returns (before, after).
    pub fn set_monitoring(
        &self,
        name: &str,
        metrics: &[String],
        enable: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        self.change(name, |_, meta| {
            let before: Vec<String> = meta.shard_level_metrics.iter().cloned().collect();
            let named: Vec<String> = if metrics.iter().any(|m| m == "ALL") {
                SHARD_LEVEL_METRICS.iter().map(|m| m.to_string()).collect()
            } else {
                metrics.to_vec()
            };
            for metric in named {
                if enable {
                    meta.shard_level_metrics.insert(metric);
                } else {
                    meta.shard_level_metrics.remove(&metric);
                }
            }
            Ok((before, meta.shard_level_metrics.iter().cloned().collect()))
        })
    }

    pub fn set_mode(&self, name: &str, mode: StreamMode) -> Result<()> {
        self.change(name, |_, meta| {
            self.require_active(meta)?;
            meta.mode = mode;
            Ok(())
        })
    }

    pub fn register_consumer(&self, name: &str, consumer: &str) -> Result<Consumer> {
        self.change(name, |_, meta| {
            if meta.consumers.iter().any(|c| c.name == consumer) {
                return Err(StreamError::InUse(format!(
                    "Consumer {consumer} under stream {name} already exists for account {}.",
                    self.config.account
                )));
            }
            if meta.consumers.len() >= MAX_CONSUMERS {
                return Err(StreamError::LimitExceeded(format!(
                    "Consumer limit of {MAX_CONSUMERS} exceeded for stream {name} under account {}.",
                    self.config.account
                )));
            }
            let created_ms = now_ms();
            let found = Consumer {
                name: consumer.to_string(),
                arn: format!("{}/consumer/{consumer}:{}", meta.arn, created_ms / 1000),
                created_ms,
            };
            meta.consumers.push(found.clone());
            Ok(found)
        })
    }

    pub fn deregister_consumer(&self, name: &str, consumer: &str) -> Result<()> {
        self.change(name, |_, meta| {
            let before = meta.consumers.len();
            meta.consumers.retain(|c| c.name != consumer);
            if meta.consumers.len() == before {
                return Err(StreamError::NotFound(format!(
                    "Consumer {consumer} under stream {name} not found for account {}.",
                    self.config.account
                )));
            }
            Ok(())
        })
    }

    /// A consumer by its ARN (which names the stream).
    pub fn consumer_by_arn(&self, arn: &str) -> Result<(String, Consumer)> {
        let name = Self::name_from_arn(arn)
            .ok_or_else(|| StreamError::InvalidArgument(format!("Invalid consumer ARN {arn}.")))?;
        let meta = self.describe(name)?;
        meta.consumers
            .iter()
            .find(|c| c.arn == arn)
            .map(|c| (name.to_string(), c.clone()))
            .ok_or_else(|| {
                StreamError::NotFound(format!(
                    "Consumer {arn} not found for account {}.",
                    self.config.account
                ))
            })
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
