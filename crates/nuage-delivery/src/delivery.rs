//! One delivery stream: its metadata, its durable log of accepted records,
//! and the flusher task that buffers them and writes objects to the lake.
//!
//! ```text
//! PutRecordBatch -> log (fsynced, then acknowledged)
//!                     |  flusher: buffer until SizeInMBs or IntervalInSeconds
//!                     v
//!   checkpoint.json {pending: from..to}  ->  objects in the lake  ->  {delivered: to}
//! ```
//!
//! Exactly once: before writing the objects of a flush, the flusher records
//! the flush (its record range and the destination it used) in the
//! checkpoint; after a crash it redoes that flush, whose objects have the
//! same names, before going on. Delivered records are trimmed from the log.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use nuage_lake::{Lake, Location};
use nuage_streams::{Entry, LogOptions, Position, Record, ShardLog};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use nuage_catalog::Metastore;

use crate::checkpoint::{Checkpoint, Pending, advance, read_json, write_json};
use crate::config::{Plan, S3Destination};
use crate::error::{DeliveryError, Result};
use crate::object::{self, Encoding, Flush, Naming};

/// Where a delivery stream's records come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Source {
    /// PutRecord and PutRecordBatch.
    DirectPut,
    /// A nuage Kinesis stream, read from TRIM_HORIZON (see [`crate::source`]).
    KinesisStream {
        stream_arn: String,
        role_arn: Option<String>,
        /// When delivery started (DeliveryStartTimestamp).
        start_ms: i64,
    },
}

impl Source {
    /// DeliveryStreamType.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::DirectPut => "DirectPut",
            Source::KinesisStream { .. } => "KinesisStreamAsSource",
        }
    }
}

/// Server-side encryption as configured (stored and reported; the lake
/// files are not encrypted by nuage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encryption {
    pub key_type: String,
    pub key_arn: Option<String>,
}

/// `delivery.json`: what a delivery stream is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMeta {
    pub name: String,
    pub arn: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// VersionId: 1 at creation, +1 at every change of the destination.
    pub version: u64,
    pub source: Source,
    pub destination: S3Destination,
    pub tags: BTreeMap<String, String>,
    pub encryption: Option<Encryption>,
}

impl DeliveryMeta {
    fn save(&self, dir: &Path) -> Result<()> {
        write_json(dir, "delivery.json", self)
    }
}

/// What every delivery stream writes to or calls.
pub struct Services {
    pub lake: Arc<Lake>,
    /// The catalog whose tables Parquet conversion reads and registers
    /// partitions in.
    pub catalog: Arc<dyn Metastore>,
    /// `<data-dir>/functions`: where an older convention kept executables
    /// that Lambda ARNs name.
    pub functions: PathBuf,
    /// The Lambda service that runs transform functions.
    pub invoker: Option<Arc<dyn crate::transform::Invoker>>,
}

/// Counters of what a delivery stream has done since nuage started.
#[derive(Debug, Default)]
pub struct Stats {
    pub records_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub records_delivered: AtomicU64,
    pub bytes_delivered: AtomicU64,
    pub objects: AtomicU64,
    pub records_failed: AtomicU64,
}

pub struct Delivery {
    dir: PathBuf,
    meta: Mutex<DeliveryMeta>,
    plan: Mutex<Arc<Plan>>,
    pub(crate) log: ShardLog,
    services: Arc<Services>,
    /// Wakes the flusher when the destination changes.
    changed: Notify,
    /// True once the flusher should deliver what it has and stop.
    pub(crate) stop: watch::Sender<bool>,
    /// The flusher, and the source reader of a KinesisStreamAsSource.
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    pub stats: Stats,
}

impl Delivery {
    /// Creates the files of a new delivery stream.
    pub(crate) fn create(
        dir: &Path,
        meta: DeliveryMeta,
        log: LogOptions,
        services: Arc<Services>,
    ) -> Result<Arc<Self>> {
        let plan = meta.destination.plan()?;
        // Hidden (skipped at open) until complete; names may hold dots.
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let staging = dir.with_file_name(format!(".creating-{name}"));
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(DeliveryError::io(staging.display().to_string()))?;
        meta.save(&staging)?;
        write_json(&staging, "checkpoint.json", &Checkpoint::default())?;
        fs::rename(&staging, dir).map_err(DeliveryError::io(dir.display().to_string()))?;
        Self::new(dir, meta, plan, log, services)
    }

    /// Opens a delivery stream that exists on disk.
    pub(crate) fn open(dir: &Path, log: LogOptions, services: Arc<Services>) -> Result<Arc<Self>> {
        let meta: DeliveryMeta = read_json(dir, "delivery.json")?.ok_or_else(|| {
            DeliveryError::Damaged(format!("{}: delivery.json is missing", dir.display()))
        })?;
        let plan = meta.destination.plan()?;
        Self::new(dir, meta, plan, log, services)
    }

    fn new(
        dir: &Path,
        meta: DeliveryMeta,
        plan: Plan,
        log: LogOptions,
        services: Arc<Services>,
    ) -> Result<Arc<Self>> {
        let log = ShardLog::open(&dir.join("log"), log)?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            meta: Mutex::new(meta),
            plan: Mutex::new(Arc::new(plan)),
            log,
            services,
            changed: Notify::new(),
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            stats: Stats::default(),
        }))
    }

    pub fn meta(&self) -> DeliveryMeta {
        self.meta.lock().expect("meta lock").clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn plan(&self) -> Arc<Plan> {
        self.plan.lock().expect("plan lock").clone()
    }

    /// Changes the metadata with `f` and saves it; `f` may refuse.
    pub fn update(&self, f: impl FnOnce(&mut DeliveryMeta) -> Result<()>) -> Result<()> {
        let mut meta = self.meta.lock().expect("meta lock");
        let mut next = meta.clone();
        f(&mut next)?;
        let plan = (next.destination != meta.destination)
            .then(|| next.destination.plan())
            .transpose()?;
        next.save(&self.dir)?;
        *meta = next;
        if let Some(plan) = plan {
            *self.plan.lock().expect("plan lock") = Arc::new(plan);
            self.changed.notify_one();
        }
        Ok(())
    }

    /// Appends records to the log; returns their numbers once durable.
    pub async fn put(&self, records: &[Bytes]) -> Result<std::ops::Range<u64>> {
        let entries: Vec<Entry<'_>> = records
            .iter()
            .map(|data| Entry {
                partition_key: "",
                data,
            })
            .collect();
        self.append(&entries).await
    }

    pub(crate) async fn append(&self, entries: &[Entry<'_>]) -> Result<std::ops::Range<u64>> {
        let (first, _) = self.log.append(entries, nuage_streams::streams::now_ms())?;
        let end = first + entries.len() as u64;
        self.log.commit(end).await?;
        self.stats
            .records_in
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        self.stats.bytes_in.fetch_add(
            entries.iter().map(|e| e.data.len() as u64).sum(),
            Ordering::Relaxed,
        );
        Ok(first..end)
    }

    /// Starts the flusher.
    pub(crate) fn start(self: &Arc<Self>) {
        let delivery = self.clone();
        self.adopt(tokio::spawn(async move {
            if let Err(e) = delivery.run().await {
                tracing::error!("delivery stream {}: {e}", delivery.meta().name);
            }
        }));
    }

    /// Makes `task` one that [`Delivery::stop`] waits for.
    pub(crate) fn adopt(&self, task: tokio::task::JoinHandle<()>) {
        self.tasks.lock().expect("tasks lock").push(task);
    }

    /// Delivers everything accepted so far and stops the flusher.
    pub async fn stop(&self) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().expect("tasks lock"));
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!("delivery stream {}: a task failed: {e}", self.meta().name);
            }
        }
    }

    async fn run(&self) -> Result<()> {
        let mut checkpoint: Checkpoint =
            read_json(&self.dir, "checkpoint.json")?.unwrap_or_default();
        if let Some(pending) = checkpoint.pending.clone() {
            // A crash interrupted this flush: redo it, same names.
            let records = self.read_range(pending.from, pending.to)?;
            let plan = Arc::new(pending.destination.plan()?);
            self.deliver(
                &mut checkpoint,
                &records,
                &plan,
                pending.version,
                &pending.destination,
            )
            .await?;
        }
        let mut next = Position::at(checkpoint.delivered);
        let mut buffer: Vec<Record> = Vec::new();
        let mut buffered = 0u64;
        let mut stop = self.stop.subscribe();
        loop {
            let plan = self.plan();
            // Take in what the log has, up to the buffer size. An object
            // holds at most SizeInMBs (unless one record is larger): a record
            // that would go beyond waits for the next flush.
            let mut full = buffered >= plan.size_bytes;
            while !full {
                let batch = self
                    .log
                    .read(next, 10_000, (plan.size_bytes - buffered) as usize)?;
                if batch.records.is_empty() {
                    break;
                }
                buffered += batch.bytes as u64;
                buffer.extend(batch.records);
                next = batch.next;
                while buffered > plan.size_bytes && buffer.len() > 1 {
                    let over = buffer.pop().expect("more than one record");
                    buffered -= over.data.len() as u64;
                    next = Position::at(over.number);
                    full = true;
                }
                full |= buffered >= plan.size_bytes;
            }
            let stopping = *stop.borrow_and_update();
            let deadline = buffer
                .first()
                .map(|r| r.arrival_ms + plan.interval.as_millis() as i64);
            let now = nuage_streams::streams::now_ms();
            if !buffer.is_empty() && (full || stopping || deadline.is_some_and(|d| d <= now)) {
                let (version, destination) = {
                    let meta = self.meta.lock().expect("meta lock");
                    (meta.version, meta.destination.clone())
                };
                self.deliver(&mut checkpoint, &buffer, &plan, version, &destination)
                    .await?;
                buffer.clear();
                buffered = 0;
                continue;
            }
            if stopping {
                return Ok(());
            }
            let wait = deadline.map_or(Duration::from_secs(3600), |d| {
                Duration::from_millis((d - now).max(0) as u64)
            });
            tokio::select! {
                _ = self.log.readable(next.record) => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.changed.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Records `from..to` of the log (a flush being redone).
    fn read_range(&self, from: u64, to: u64) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        let mut at = Position::at(from);
        while at.record < to {
            let batch = self.log.read(at, (to - at.record) as usize, usize::MAX)?;
            if batch.records.is_empty() {
                return Err(DeliveryError::Damaged(format!(
                    "{}: records {}..{to} of an unfinished flush are missing from the log",
                    self.dir.display(),
                    at.record
                )));
            }
            at = batch.next;
            records.extend(batch.records.into_iter().filter(|r| r.number < to));
        }
        Ok(records)
    }

    /// One flush: note it, write its objects (retrying until the lake takes
    /// them), note it done, trim the log.
    async fn deliver(
        &self,
        checkpoint: &mut Checkpoint,
        records: &[Record],
        plan: &Arc<Plan>,
        version: u64,
        destination: &S3Destination,
    ) -> Result<()> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let to = last.number + 1;
        if checkpoint
            .pending
            .as_ref()
            .is_none_or(|p| p.from != first.number)
        {
            checkpoint.pending = Some(Pending {
                from: first.number,
                to,
                version,
                destination: destination.clone(),
            });
            write_json(&self.dir, "checkpoint.json", &*checkpoint)?;
        }
        let (name, created_ms, arn) = {
            let meta = self.meta.lock().expect("meta lock");
            (meta.name.clone(), meta.created_ms, meta.arn.clone())
        };
        // The Lambda processor runs first, on the whole flush.
        let (kept, transform_failed) = match &plan.transform {
            Some(transform) => transform.apply(&self.services, &arn, records).await,
            None => (records.to_vec(), Vec::new()),
        };
        let objects = {
            // Compressing and converting is CPU work: off the async workers.
            let converter = plan
                .conversion
                .as_ref()
                .map(|c| c.resolve(&*self.services.catalog));
            let (plan, name, first) = (plan.clone(), name.clone(), first.number);
            tokio::task::spawn_blocking(move || {
                let encoding = match &converter {
                    Some(resolved) => Encoding::Parquet(resolved),
                    None => Encoding::Raw,
                };
                let naming = Naming {
                    stream: &name,
                    created_ms,
                    version,
                };
                let flush = Flush {
                    first,
                    records: &kept,
                    transform_failed,
                };
                let objects =
                    object::build(&plan, encoding, naming, &flush, nuage_streams::streams::now_ms());
                if let (Some(Ok(converter)), Ok(objects)) = (&converter, &objects)
                    && let Some(outside) = objects
                        .iter()
                        .find(|o| !o.failed && !converter.covers(&plan.bucket, &o.key))
                {
                    tracing::warn!(
                        "delivery stream {name}: s3://{}/{} is not where SQL over {} looks ({}{}); align the Prefix with the table's LOCATION",
                        plan.bucket,
                        outside.key,
                        converter.table().qualified_name(),
                        converter.table().location,
                        if converter.table().is_partitioned() {
                            " plus one folder per partition column, col=value/"
                        } else {
                            ""
                        }
                    );
                }
                objects
            })
            .await??
        };
        let mut backoff = Duration::from_millis(200);
        for object in &objects {
            let location = Location::Object {
                bucket: plan.bucket.clone(),
                key: object.key.clone(),
            };
            loop {
                let attempt = async {
                    self.services.lake.make_bucket(&plan.bucket).await?;
                    self.services
                        .lake
                        .put_bytes(&location, object.body.clone())
                        .await
                };
                match attempt.await {
                    // The lake journals the object for its bucket's
                    // notifications (nuage_lake::events).
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(
                            "delivery stream {name}: writing {location} failed ({e}); retrying in {backoff:?}"
                        );
                        if *self.stop.borrow() {
                            // The flush stays pending; the next start redoes it.
                            return Err(DeliveryError::Stopped {
                                location: location.to_string(),
                                source: e,
                            });
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            if let (Some(partition), Some(conversion)) = (&object.partition, &plan.conversion)
                && let Err(e) = self.services.catalog.add_partitions(
                    &conversion.database,
                    &conversion.table,
                    std::slice::from_ref(partition),
                    true,
                )
            {
                tracing::warn!(
                    "delivery stream {name}: registering partition {} of {}.{} failed: {e}",
                    partition.location,
                    conversion.database,
                    conversion.table
                );
            }
            let counter = if object.failed {
                &self.stats.records_failed
            } else {
                &self.stats.records_delivered
            };
            counter.fetch_add(object.records as u64, Ordering::Relaxed);
            self.stats.objects.fetch_add(1, Ordering::Relaxed);
            self.stats
                .bytes_delivered
                .fetch_add(object.body.len() as u64, Ordering::Relaxed);
        }
        checkpoint.delivered = to;
        checkpoint.pending = None;
        advance(&mut checkpoint.sources, records);
        write_json(&self.dir, "checkpoint.json", &*checkpoint)?;
        self.log.trim_below(to)?;
        tracing::debug!(
            "delivery stream {name}: records {}..{to} in {} object(s)",
            first.number,
            objects.len()
        );
        Ok(())
    }
}
