//! One running job: read the source's shards (children once their parents
//! are read), decode, assign windows, keep rows per window end, and fire
//! the windows the watermark passed through the SQL engine into the sink.
//!
//! State without state files: rows of open windows are not saved. The
//! checkpoint keeps, per shard, the oldest record an open window still
//! needs (`replay_from`) and how far the job had read (`read_to`); after a
//! restart the job reads again from `replay_from`, drops the replayed rows
//! of windows it had fired, and rebuilds the open windows exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use datafusion::arrow::array::{Array, RecordBatch, TimestampNanosecondArray, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::datasource::MemTable;
use futures::StreamExt;
use nuage_catalog::Metastore;
use nuage_lake::Lake;
use nuage_sql::{Output, Session};
use nuage_streams::{Position, PutEntry, Streams};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{FlowError, Result};
use crate::plan::{JobPlan, Sink, WINDOW_INPUT};
use crate::source::{Decoded, Decoder, Record, StartPosition, parse_duration};

mod join;
mod updating;

const READ_RECORDS: usize = 10_000;
const READ_BYTES: usize = 8 * 1024 * 1024;
const OUTPUT_TABLE: &str = "__flow_output";
const NO_WATERMARK: i64 = i64::MIN;

/// What SHOW JOBS reports while a job runs.
#[derive(Debug, Default)]
pub struct Metrics {
    pub events_in: AtomicU64,
    pub events_out: AtomicU64,
    pub late: AtomicU64,
    /// Nanoseconds since the epoch; i64::MIN before the first.
    pub watermark: AtomicI64,
    /// Records in the stream not read yet.
    pub lag: AtomicU64,
}

/// What a job needs of the process.
#[derive(Clone)]
pub struct Env {
    pub metastore: Arc<dyn Metastore>,
    pub lake: Arc<Lake>,
    pub streams: Arc<Streams>,
    /// Firehose delivery streams, for 'connector' = 'firehose' sinks.
    pub deliveries: Option<Arc<nuage_delivery::Deliveries>>,
    /// Functions, for 'connector' = 'lambda' sinks (KDA's LambdaOutput).
    pub functions: Option<Arc<dyn nuage_delivery::transform::Invoker>>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct ShardState {
    /// The oldest record an open window needs.
    replay_from: u64,
    /// The next record to read.
    read_to: u64,
    /// The largest watermark seen on this shard (ns).
    watermark: Option<i64>,
    finished: bool,
}

/// A firing under way: the windows ending by `upto`, into files `stem`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intent {
    upto: i64,
    stem: String,
    /// A stream sink's shard ends before the firing: a redo finds there
    /// the records the cut firing had put, and does not put them again.
    #[serde(default)]
    sink_ends: Option<BTreeMap<u32, u64>>,
    /// Without a window, the shard whose read is being emitted.
    #[serde(default)]
    shard: Option<u32>,
    /// Fired windows emitted again in this firing (late rows within the
    /// allowed lateness came for them).
    #[serde(default)]
    updates: Vec<i64>,
    /// An interval join's round: where each side's shards had been read
    /// before it (a redo reads the round's records again as new).
    #[serde(default)]
    read_before: Option<[BTreeMap<u32, u64>; 2]>,
}

/// `NUAGE_FLOW_FAILPOINT=after-sink-put`: the process aborts right after
/// a firing's records are put into a stream sink and before the firing is
/// recorded, the worst moment for a crash (a test hook).
fn crash_after_sink_put() {
    static SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *SET
        .get_or_init(|| std::env::var("NUAGE_FLOW_FAILPOINT").is_ok_and(|v| v == "after-sink-put"))
    {
        tracing::error!("NUAGE_FLOW_FAILPOINT=after-sink-put: aborting");
        std::process::abort();
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// Firings done, which names the next one's files.
    #[serde(default)]
    fires: u64,
    /// Set while a firing runs.
    #[serde(default)]
    intent: Option<Intent>,
    shards: BTreeMap<u32, ShardState>,
    /// An interval join's second stream: its shards.
    #[serde(default)]
    joined: BTreeMap<u32, ShardState>,
    /// An interval join: each side's watermark after the last round. A
    /// new row behind its side's is late (the other side's rows it could
    /// match may be gone).
    #[serde(default)]
    join_watermarks: [Option<i64>; 2],
    /// Windows ending at or before this (+1 ms) have fired (ns).
    fired: Option<i64>,
    /// SESSION and STAGGER: per key, the end of its last fired window (a
    /// replayed row before it belonged to a fired window).
    #[serde(default)]
    keyed_fired: BTreeMap<String, i64>,
    events_in: u64,
    events_out: u64,
    late: u64,
}

/// Rows of one window end, and the oldest record each shard gave it.
#[derive(Default)]
struct Bucket {
    batches: Vec<RecordBatch>,
    oldest: BTreeMap<u32, u64>,
}

pub(crate) struct Job {
    pub id: String,
    pub plan: JobPlan,
    pub env: Env,
    pub dir: PathBuf,
    pub metrics: Arc<Metrics>,
}

/// One stream a job reads (an interval join reads two): its table, and
/// where its shards' reading stands.
struct Side {
    table: crate::table::StreamTable,
    decoder: Decoder,
    /// When each shard last gave a record.
    active: BTreeMap<u32, Instant>,
    /// The next record to read per shard (from `replay_from` after a start).
    cursor: BTreeMap<u32, u64>,
    idle_timeout: Option<Duration>,
}

impl Side {
    fn new(table: &crate::table::StreamTable) -> Result<Side> {
        let idle_timeout = match table.option("scan.watermark.idle-timeout") {
            Some(text) => Some(parse_duration(text).ok_or_else(|| {
                FlowError::Invalid(format!(
                    "'scan.watermark.idle-timeout' = '{text}' is not a duration (e.g. '5 s', '1 min')"
                ))
            })?),
            None => None,
        };
        Ok(Side {
            table: table.clone(),
            decoder: Decoder::new(table)?,
            active: BTreeMap::new(),
            cursor: BTreeMap::new(),
            idle_timeout,
        })
    }
}

struct Runner {
    job: Job,
    /// The source, and an interval join's second stream.
    sides: Vec<Side>,
    session: Session,
    checkpoint: Checkpoint,
    /// Open windows' rows by window end (ns).
    buckets: BTreeMap<i64, Bucket>,
    /// With an allowed lateness: fired windows' rows, kept until the
    /// watermark passes their end plus the lateness.
    retained: BTreeMap<i64, Bucket>,
    /// Fired windows that late rows came for: emitted again at the next
    /// firing.
    updates: BTreeSet<i64>,
    /// The allowed lateness (ns; 0: none).
    lateness: i64,
    /// OVER aggregations: rows waiting for the watermark, and the earlier
    /// rows their frames can reach.
    pending: Vec<RecordBatch>,
    context: Option<RecordBatch>,
    /// An interval join's rows (both sides).
    join: join::State,
    /// An updating result: the last one, and whether new rows came.
    update: updating::State,
    started: Instant,
    insert_columns: String,
    /// Set while a cut firing is redone: the stream sink's ends before it.
    redo: Option<BTreeMap<u32, u64>>,
}

impl Job {
    /// Runs until `stop` says so (Ok) or the job fails (Err, its message
    /// for SHOW JOBS).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<()> {
        let mut sides = vec![Side::new(&self.plan.source)?];
        if let Some(join) = &self.plan.join {
            sides.push(Side::new(&join.other)?);
        }
        let shared = Session::shared_state(self.env.metastore.clone(), self.env.lake.clone());
        let mut session = Session::with_shared(shared, &self.plan.database)?;
        // Flink SQL's and Kinesis Analytics' rules, not Hive's: `int / int`
        // is an integer, arrays count from 1.
        session
            .vars
            .hiveconf
            .insert(nuage_sql::session::SEMANTICS.into(), "standard".into());
        let lateness = match self
            .plan
            .source
            .option("allowed-lateness")
            .or(self.plan.source.option("table.exec.emit.allow-lateness"))
        {
            Some(text) => parse_duration(text)
                .ok_or_else(|| {
                    FlowError::Invalid(format!(
                        "'allowed-lateness' = '{text}' is not a duration (e.g. '1 min')"
                    ))
                })?
                .as_nanos() as i64,
            None => 0,
        };
        let checkpoint: Checkpoint = std::fs::read(self.dir.join("checkpoint.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        self.metrics
            .events_in
            .store(checkpoint.events_in, Ordering::Relaxed);
        self.metrics
            .events_out
            .store(checkpoint.events_out, Ordering::Relaxed);
        self.metrics.late.store(checkpoint.late, Ordering::Relaxed);
        let insert_columns = insert_columns(&self.plan.insert_text);
        std::fs::create_dir_all(&self.dir)?;
        let mut runner = Runner {
            job: self,
            sides,
            session,
            checkpoint,
            buckets: BTreeMap::new(),
            retained: BTreeMap::new(),
            updates: BTreeSet::new(),
            lateness,
            pending: Vec::new(),
            context: None,
            join: join::State::default(),
            update: updating::State::default(),
            started: Instant::now(),
            insert_columns,
            redo: None,
        };
        for (name, batch) in runner.job.plan.bound.clone() {
            let database = runner.job.plan.database.clone();
            runner.bind(&database, &name.to_lowercase(), batch)?;
        }
        runner.run(&mut stop).await
    }
}

/// `(a, b)` of `INSERT INTO t (a, b) SELECT ...`, or nothing.
fn insert_columns(text: &str) -> String {
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    match datafusion::sql::sqlparser::parser::Parser::parse_sql(&GenericDialect {}, text)
        .ok()
        .and_then(|mut s| s.pop())
    {
        Some(Statement::Insert(insert)) if !insert.columns.is_empty() => format!(
            " ({})",
            insert
                .columns
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    }
}

impl Runner {
    /// The shards of side `side` (0: the source; 1: a join's other stream).
    fn shards(&mut self, side: usize) -> &mut BTreeMap<u32, ShardState> {
        if side == 0 {
            &mut self.checkpoint.shards
        } else {
            &mut self.checkpoint.joined
        }
    }

    fn shards_of(&self, side: usize) -> &BTreeMap<u32, ShardState> {
        if side == 0 {
            &self.checkpoint.shards
        } else {
            &self.checkpoint.joined
        }
    }

    /// After a start (interval joins and updating results): reads every
    /// stream to where it had been read, so the kept rows are back before
    /// anything new is handled. A round a crash cut is then done again
    /// without what it had put.
    async fn replay(
        &mut self,
        streams: &[std::sync::Arc<nuage_streams::streams::Stream>],
    ) -> Result<()> {
        // The cut round's records were read, not joined: read them as new.
        let cut = self
            .checkpoint
            .intent
            .as_ref()
            .and_then(|i| i.read_before.clone());
        if let Some(read_before) = cut {
            for (side, before) in read_before.into_iter().enumerate() {
                for (shard, state) in self.shards(side).iter_mut() {
                    if let Some(at) = before.get(shard) {
                        state.read_to = state.read_to.min(*at);
                    }
                }
            }
        }
        loop {
            let mut any = false;
            for (side, stream) in streams.iter().enumerate() {
                any |= self.read_round(side, stream, true).await?.0;
            }
            if !any {
                break;
            }
        }
        if let Some(intent) = &self.checkpoint.intent {
            self.redo = intent.sink_ends.clone();
        }
        Ok(())
    }

    /// Starts a round of an interval join or an updating result (read
    /// from `read_before`): the intent first, so a crash before the round
    /// is recorded redoes it into the same files without the records it
    /// had put (a redo keeps the cut round's intent). Returns the files'
    /// stem.
    fn begin_round(&mut self, kind: &str, read_before: [BTreeMap<u32, u64>; 2]) -> Result<String> {
        if let Some(intent) = &self.checkpoint.intent {
            return Ok(intent.stem.clone());
        }
        let stem = format!("flow-{}-{kind}{}", self.job.id, self.checkpoint.fires);
        self.checkpoint.intent = Some(Intent {
            upto: NO_WATERMARK,
            stem: stem.clone(),
            sink_ends: self.sink_ends(),
            shard: None,
            updates: Vec::new(),
            read_before: Some(read_before),
        });
        self.save()?;
        Ok(stem)
    }

    /// Where side `side`'s shards have been read to.
    fn read_to(&self, side: usize) -> BTreeMap<u32, u64> {
        self.shards_of(side)
            .iter()
            .map(|(shard, state)| (*shard, state.read_to))
            .collect()
    }

    async fn run(&mut self, stop: &mut watch::Receiver<bool>) -> Result<()> {
        let names: Vec<String> = self
            .sides
            .iter()
            .map(|s| s.table.stream_name())
            .collect::<Result<_>>()?;
        let mut started = !self.checkpoint.shards.is_empty();
        let mut replayed = false;
        while !*stop.borrow_and_update() {
            let streams = names
                .iter()
                .map(|name| {
                    self.job.env.streams.get(name).map_err(|_| {
                        FlowError::Source(format!(
                            "source stream {name} does not exist (deleted?): create it, then start the job again"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if !started {
                for (side, stream) in streams.iter().enumerate() {
                    self.start_positions(side, stream)?;
                }
                started = true;
            }
            let mut read_any = false;
            let mut lag = 0;
            if self.job.plan.join.is_some() || self.job.plan.updating.is_some() {
                if !replayed {
                    self.replay(&streams).await?;
                    if self.job.plan.updating.is_some() {
                        self.update.result = self.updated_result().await?;
                    }
                    replayed = true;
                }
                let before = [self.read_to(0), self.read_to(1)];
                for (side, stream) in streams.iter().enumerate() {
                    let (read, behind) = self.read_round(side, stream, false).await?;
                    read_any |= read;
                    lag += behind;
                }
                if self.job.plan.join.is_some() {
                    self.join_round(before).await?;
                } else {
                    self.update_round(before).await?;
                }
            } else {
                if let Some(intent) = &self.checkpoint.intent
                    && intent.shard.is_some()
                {
                    // A read cut while emitted: it is read again (its position
                    // was not saved) and emitted without what it had put.
                    self.redo = intent.sink_ends.clone();
                } else if self.checkpoint.intent.is_some() {
                    self.recover(&streams[0]).await?;
                }
                (read_any, lag) = self.read_round(0, &streams[0], false).await?;
                self.fire().await?;
            }
            self.job.metrics.lag.store(lag, Ordering::Relaxed);
            if !read_any {
                // Wake on the next record of any shard (or after 100 ms, to
                // notice idle shards and new ones).
                let mut waits = Vec::new();
                for (side, stream) in streams.iter().enumerate() {
                    for shard in &stream.meta().shards {
                        let (Some(log), Some(at)) = (
                            stream.log(shard.index),
                            self.sides[side].cursor.get(&shard.index).copied(),
                        ) else {
                            continue;
                        };
                        waits.push(Box::pin(async move { log.readable(at).await }));
                    }
                }
                let any_record = async {
                    if waits.is_empty() {
                        std::future::pending::<()>().await;
                    }
                    futures::future::select_all(waits).await;
                };
                tokio::select! {
                    _ = any_record => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        self.save()?;
        Ok(())
    }

    /// One read of every readable shard of side `side` (children once
    /// their parents are read); with `replay_only`, no further than what
    /// was read before the last start. Returns whether anything was read,
    /// and the lag.
    async fn read_round(
        &mut self,
        side: usize,
        stream: &nuage_streams::streams::Stream,
        replay_only: bool,
    ) -> Result<(bool, u64)> {
        let meta = stream.meta();
        let mut read_any = false;
        let mut lag = 0;
        // Each read's next record (a preprocessor may drop records).
        let mut nexts = Vec::new();
        let table = self.sides[side].table.clone();
        let follows_clock = table.option("watermark.follows-clock") == Some("true");
        let mut reads = Vec::new();
        let share = shard_share(&table);
        for shard in &meta.shards {
            if !in_share(share, shard.index) {
                continue;
            }
            let state = self.shards(side).entry(shard.index).or_default();
            if state.finished {
                continue;
            }
            // Parents first (those of another share are another job's).
            let shards = self.shards_of(side);
            let parents_done = [shard.parent, shard.adjacent_parent]
                .into_iter()
                .flatten()
                .all(|p| {
                    meta.shards.iter().all(|s| s.index != p)
                        || !in_share(share, p)
                        || shards.get(&p).is_some_and(|s| s.finished)
                });
            if !parents_done {
                continue;
            }
            let Some(log) = stream.log(shard.index) else {
                continue;
            };
            let state = self.shards(side).entry(shard.index).or_default();
            let (replay_from, read_to) = (state.replay_from, state.read_to);
            let at = (*self.sides[side]
                .cursor
                .entry(shard.index)
                .or_insert(replay_from))
            .max(log.trim_horizon());
            lag += log.end().saturating_sub(at);
            if follows_clock && log.end() <= at && !replay_only {
                // Caught up, and event time is arrival time: whatever comes
                // next arrives from now on (less a second for puts under way).
                let clock = (chrono::Utc::now().timestamp_millis() - 1000) * 1_000_000;
                let state = self.shards(side).entry(shard.index).or_default();
                state.watermark = Some(state.watermark.map_or(clock, |w| w.max(clock)));
            }
            if shard.end_record.is_some_and(|end| at >= end) {
                if !replay_only {
                    self.shards(side).entry(shard.index).or_default().finished = true;
                }
                continue;
            }
            let limit = if replay_only {
                read_to.saturating_sub(at).min(READ_RECORDS as u64) as usize
            } else {
                READ_RECORDS
            };
            if log.end() <= at || limit == 0 {
                continue;
            }
            let batch = log.read(Position::at(at), limit, READ_BYTES).map_err(|e| {
                FlowError::Source(format!("cannot read shard {}: {e}", shard.index))
            })?;
            if batch.records.is_empty() {
                continue;
            }
            read_any = true;
            self.sides[side].active.insert(shard.index, Instant::now());
            let next = batch.records.last().map_or(at, |r| r.number + 1);
            let created_ms = meta.shard_created_ms(shard.index);
            let records = if table.option("preprocessor").is_some() {
                self.preprocess(side, shard.index, created_ms, batch.records, read_to)
                    .await?
            } else {
                batch.records
            };
            nexts.push(next);
            reads.push((shard.index, created_ms, records));
        }
        let decoded = self.decode_all(side, &reads)?;
        for (((shard, _, records), decoded), next) in reads.iter().zip(decoded).zip(nexts) {
            self.ingest(side, *shard, records, next, decoded).await?;
        }
        Ok((read_any, lag))
    }

    /// Decodes the reads of several shards at once, one thread each (at
    /// most as many as there are cores): JSON parsing is most of a job's
    /// work, and shards are independent.
    fn decode_all(
        &self,
        side: usize,
        reads: &[(u32, i64, Vec<nuage_streams::Record>)],
    ) -> Result<Vec<Decoded>> {
        let decode = |(shard, created_ms, records): &(u32, i64, Vec<nuage_streams::Record>)| {
            let shard_id = nuage_streams::meta::shard_id(*shard);
            let views: Vec<Record> = records
                .iter()
                .map(|r| Record {
                    data: &r.data,
                    partition_key: &r.partition_key,
                    arrival_ms: r.arrival_ms,
                    number: r.number,
                    shard: *shard,
                    shard_created_ms: *created_ms,
                    shard_id: &shard_id,
                })
                .collect();
            self.sides[side].decoder.decode(&views)
        };
        let parallel = reads.len() > 1
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if !parallel {
            return reads.iter().map(decode).collect();
        }
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::task::block_in_place(|| {
            let mut out = Vec::with_capacity(reads.len());
            for group in reads.chunks(threads) {
                let results: Vec<Result<Decoded>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = group
                        .iter()
                        .map(|read| scope.spawn(move || decode(read)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a decoding thread"))
                        .collect()
                });
                for r in results {
                    out.push(r?);
                }
            }
            Ok(out)
        })
    }

    /// After a crash in the middle of a firing: rebuild the open windows
    /// from what had been read, then redo that firing over the same windows
    /// into the same files (which replaces whatever it had written).
    async fn recover(&mut self, stream: &nuage_streams::streams::Stream) -> Result<()> {
        while self.read_round(0, stream, true).await?.0 {}
        let intent = self.checkpoint.intent.clone().expect("a firing to redo");
        self.redo = intent.sink_ends.clone();
        self.updates.extend(intent.updates.iter().copied());
        let done = self.fire_upto(intent.upto, &intent.stem).await;
        self.redo = None;
        done
    }

    fn start_positions(
        &mut self,
        side: usize,
        stream: &nuage_streams::streams::Stream,
    ) -> Result<()> {
        let table = &self.sides[side].table;
        let position = StartPosition::of(table)?;
        let share = shard_share(table);
        let meta = stream.meta();
        for shard in meta.shards.iter().filter(|s| in_share(share, s.index)) {
            let Some(log) = stream.log(shard.index) else {
                continue;
            };
            let at = match position {
                StartPosition::TrimHorizon => log.trim_horizon(),
                StartPosition::Latest => log.end(),
                StartPosition::AtTimestamp(ms) => log
                    .position_at_time(ms)
                    .map(|p| p.record)
                    .unwrap_or_else(|_| log.end()),
            };
            let state = ShardState {
                replay_from: at,
                read_to: at,
                ..Default::default()
            };
            self.shards(side).insert(shard.index, state);
        }
        self.save()
    }

    /// Files the decoded rows of one read of a shard.
    async fn ingest(
        &mut self,
        side: usize,
        shard: u32,
        records: &[nuage_streams::Record],
        next: u64,
        decoded: Decoded,
    ) -> Result<()> {
        let Decoded {
            rows,
            kept,
            watermark,
            rejected,
        } = decoded;
        // Records below read_to were read before a restart: replayed to
        // rebuild open windows, neither counted again nor late.
        let first_new = self.shards(side).entry(shard).or_default().read_to;
        let rejected: Vec<(usize, String)> = rejected
            .into_iter()
            .filter(|(i, _)| records[*i].number >= first_new)
            .collect();
        if !rejected.is_empty() {
            self.rejected(side, records, &rejected).await?;
        }
        self.sides[side].cursor.insert(shard, next);
        let state = self.shards(side).entry(shard).or_default();
        state.read_to = state.read_to.max(next);
        if let Some(wm) = watermark {
            state.watermark = Some(state.watermark.map_or(wm, |w| w.max(wm)));
        }
        let numbers: Vec<u64> = kept.iter().map(|&i| records[i].number).collect();
        let fresh = numbers.iter().filter(|&&n| n >= first_new).count() as u64;
        self.job
            .metrics
            .events_in
            .fetch_add(fresh, Ordering::Relaxed);
        if self.job.plan.join.is_some() {
            let context = Fresh {
                shard,
                kept: &kept,
                numbers: &numbers,
                first_new,
            };
            return self.ingest_join(side, rows, context, records).await;
        }
        if self.job.plan.over.is_some() {
            return self
                .ingest_over(shard, rows, &kept, &numbers, first_new, records)
                .await;
        }
        if let Some(window) = self.job.plan.window.clone()
            && window.kind.is_keyed()
        {
            let context = Fresh {
                shard,
                kept: &kept,
                numbers: &numbers,
                first_new,
            };
            return self.ingest_keyed(rows, context, records, &window).await;
        }
        if self.job.plan.updating.is_some() {
            let context = Fresh {
                shard,
                kept: &kept,
                numbers: &numbers,
                first_new,
            };
            return self.ingest_updating(rows, context);
        }
        let Some(window) = self.job.plan.window.clone() else {
            // No window: every read is a firing of its own, its files
            // named by the shard and first record (a redo replaces them).
            let stem = format!("flow-{}-s{shard}-r{first_new}", self.job.id);
            // The read a crash cut (its intent names its shard) is emitted
            // without what it had put; while it is pending, reads of other
            // shards go out at least once.
            let pending = self.checkpoint.intent.as_ref().and_then(|i| i.shard);
            let redo = pending == Some(shard);
            let other_redo = if redo { None } else { self.redo.take() };
            if pending.is_none()
                && let Some(sink_ends) = self.sink_ends()
            {
                self.checkpoint.intent = Some(Intent {
                    upto: NO_WATERMARK,
                    stem: stem.clone(),
                    sink_ends: Some(sink_ends),
                    shard: Some(shard),
                    updates: Vec::new(),
                    read_before: None,
                });
                self.save()?;
            }
            self.emit(vec![rows], &stem).await?;
            if pending.is_none() || redo {
                self.checkpoint.intent = None;
            }
            self.redo = other_redo;
            let state = self.checkpoint.shards.entry(shard).or_default();
            state.replay_from = state.read_to;
            return self.save();
        };
        let time = time_array(&rows, &window.time_column)?;
        let (assigned, source_rows) = window.assign(&rows, &time)?;
        let Some(ends) = crate::window::window_ends(&assigned) else {
            return Ok(());
        };
        let fired = self.checkpoint.fired.unwrap_or(NO_WATERMARK);
        // Split by window end: late rows (window fired), rows for fired
        // windows within the allowed lateness, and buckets.
        let mut by_end: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        let mut fired_by_end: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        let mut late_records: BTreeSet<usize> = BTreeSet::new();
        for (i, end) in ends.values().iter().enumerate() {
            let row = source_rows[i] as usize;
            if end - 1_000_000 <= fired {
                if end - 1_000_000 + self.lateness > fired {
                    fired_by_end.entry(*end).or_default().push(i as u32);
                    if numbers[row] >= first_new {
                        self.updates.insert(*end);
                    }
                } else if numbers[row] >= first_new {
                    late_records.insert(kept[row]);
                }
                continue;
            }
            by_end.entry(*end).or_default().push(i as u32);
        }
        let single = by_end.len() == 1 && fired_by_end.is_empty();
        for (open, groups) in [(true, by_end), (false, fired_by_end)] {
            for (end, indices) in groups {
                let first_row = source_rows[indices[0] as usize] as usize;
                // Every row in one window (the usual case): no copy.
                let part = if single && indices.len() == assigned.num_rows() {
                    assigned.clone()
                } else {
                    take_record_batch(&assigned, &UInt32Array::from(indices))?
                };
                let target = if open {
                    &mut self.buckets
                } else {
                    &mut self.retained
                };
                let bucket = target.entry(end).or_default();
                bucket.batches.push(part);
                let oldest = bucket.oldest.entry(shard).or_insert(numbers[first_row]);
                *oldest = (*oldest).min(numbers[first_row]);
            }
        }
        if !late_records.is_empty() {
            self.late(0, records, &late_records).await?;
        }
        Ok(())
    }

    /// SESSION and STAGGER: rows wait until their key's window closes. A
    /// new row whose own window the watermark passed is late (as Flink
    /// has it); a replayed row before its key's last fired window's end
    /// belonged to that window and is dropped.
    async fn ingest_keyed(
        &mut self,
        rows: RecordBatch,
        fresh: Fresh<'_>,
        records: &[nuage_streams::Record],
        window: &crate::window::Window,
    ) -> Result<()> {
        let time = time_array(&rows, &window.time_column)?;
        let keys = key_strings(&rows, &window.partition_by)?;
        let fired = self.checkpoint.fired.unwrap_or(NO_WATERMARK);
        let mut waiting = Vec::new();
        let mut late_records = BTreeSet::new();
        for (row, key) in keys.iter().enumerate() {
            if time.is_null(row) {
                continue;
            }
            let ts = time.value(row);
            if fresh.numbers[row] < fresh.first_new {
                let in_fired = self
                    .checkpoint
                    .keyed_fired
                    .get(key)
                    .is_some_and(|end| ts < *end);
                if !in_fired {
                    waiting.push(row as u32);
                }
            } else if ts + window.size - 1_000_000 <= fired {
                late_records.insert(fresh.kept[row]);
            } else {
                waiting.push(row as u32);
            }
        }
        if !waiting.is_empty() {
            self.pending
                .push(with_origin(&rows, &waiting, fresh.shard, fresh.numbers)?);
        }
        if !late_records.is_empty() {
            self.late(0, records, &late_records).await?;
        }
        Ok(())
    }

    /// SESSION and STAGGER: the waiting rows of windows that closed by `wm`
    /// (with window_start, window_end, window_time), the rows still
    /// waiting, and each key's last closed window end.
    fn keyed_split(&self, wm: i64) -> Result<Option<KeyedSplit>> {
        let window = self.job.plan.window.as_ref().expect("a keyed window");
        if self.pending.is_empty() {
            return Ok(None);
        }
        let schema = self.pending[0].schema();
        let all = concat_batches(&schema, &self.pending)?;
        let time = time_array(&all, &window.time_column)?;
        let keys = key_strings(&all, &window.partition_by)?;
        let mut by_key: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (row, key) in keys.iter().enumerate() {
            by_key.entry(key.as_str()).or_default().push(row as u32);
        }
        let (mut closed, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        let mut waiting = Vec::new();
        let mut fired_ends = BTreeMap::new();
        for (key, mut rows) in by_key {
            rows.sort_by_key(|&r| time.value(r as usize));
            let times: Vec<i64> = rows.iter().map(|&r| time.value(r as usize)).collect();
            for (start, end, from, n) in
                crate::window::keyed_windows(window.kind, window.size, &times)
            {
                let part = &rows[from..from + n];
                if end - 1_000_000 <= wm {
                    closed.extend_from_slice(part);
                    starts.extend(std::iter::repeat_n(start, n));
                    ends.extend(std::iter::repeat_n(end, n));
                    fired_ends.insert(key.to_string(), end);
                } else {
                    waiting.extend_from_slice(part);
                }
            }
        }
        if closed.is_empty() {
            return Ok(None);
        }
        let rows = take_record_batch(&all, &UInt32Array::from(closed))?;
        let rows = without_hidden(&rows)?;
        let mut fields: Vec<datafusion::arrow::datatypes::Field> = rows
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(crate::window::window_fields());
        let mut columns = rows.columns().to_vec();
        let times: Vec<i64> = ends.iter().map(|e| e - 1_000_000).collect();
        columns.push(Arc::new(TimestampNanosecondArray::from(starts)));
        columns.push(Arc::new(TimestampNanosecondArray::from(ends)));
        columns.push(Arc::new(TimestampNanosecondArray::from(times)));
        let closed = RecordBatch::try_new(
            Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
            columns,
        )?;
        let waiting = take_record_batch(&all, &UInt32Array::from(waiting))?;
        Ok(Some(KeyedSplit {
            closed,
            waiting,
            fired_ends,
        }))
    }

    /// SESSION and STAGGER: fires the windows that closed by `wm` (`closed`
    /// when already cut).
    async fn fire_keyed(&mut self, wm: i64, stem: &str, closed: Option<KeyedSplit>) -> Result<()> {
        let closed = match closed {
            Some(split) => Some(split),
            None => self.keyed_split(wm)?,
        };
        if let Some(split) = closed {
            self.emit(vec![split.closed], stem).await?;
            self.checkpoint.keyed_fired.extend(split.fired_ends);
            self.pending = if split.waiting.num_rows() > 0 {
                vec![split.waiting]
            } else {
                Vec::new()
            };
        }
        self.fired(wm);
        let mut oldest: BTreeMap<u32, u64> = BTreeMap::new();
        for batch in &self.pending {
            note_oldest(batch, &mut oldest);
        }
        self.replay_from(&oldest)
    }

    /// OVER: rows of windows not yet passed wait; replayed rows the
    /// watermark had passed are context again; new ones it passed are late.
    async fn ingest_over(
        &mut self,
        shard: u32,
        rows: RecordBatch,
        kept: &[usize],
        numbers: &[u64],
        first_new: u64,
        records: &[nuage_streams::Record],
    ) -> Result<()> {
        let over = self.job.plan.over.clone().expect("an OVER job");
        let time = time_array(&rows, &over.time_column)?;
        let fired = self.checkpoint.fired.unwrap_or(NO_WATERMARK);
        let (mut waiting, mut context) = (Vec::new(), Vec::new());
        let mut late_records = BTreeSet::new();
        for row in 0..rows.num_rows() {
            if time.is_null(row) {
                continue;
            }
            if time.value(row) > fired {
                waiting.push(row as u32);
            } else if numbers[row] < first_new {
                context.push(row as u32);
            } else {
                late_records.insert(kept[row]);
            }
        }
        for (rows_of, into_context) in [(waiting, false), (context, true)] {
            if rows_of.is_empty() {
                continue;
            }
            let part = with_origin(&rows, &rows_of, shard, numbers)?;
            if into_context {
                let all = match self.context.take() {
                    Some(c) => concat_batches(&c.schema(), &[c, part])?,
                    None => part,
                };
                self.context = Some(all);
            } else {
                self.pending.push(part);
            }
        }
        if !late_records.is_empty() {
            self.late(0, records, &late_records).await?;
        }
        Ok(())
    }

    /// Whether some waiting row is at or before `wm`.
    fn over_ready(&self, wm: i64) -> Result<bool> {
        let over = self.job.plan.over.as_ref().expect("an OVER job");
        for batch in &self.pending {
            let time = time_array(batch, &over.time_column)?;
            if time.iter().flatten().any(|t| t <= wm) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// OVER: runs the SELECT over the context and the rows the watermark
    /// passed (in time order, numbered), keeps the new rows' results, and
    /// trims the context to what later frames can reach.
    async fn fire_over(&mut self, wm: i64, stem: &str) -> Result<()> {
        let over = self.job.plan.over.clone().expect("an OVER job");
        // The context without its old numbers: numbered() numbers all again.
        let mut parts: Vec<RecordBatch> = match self.context.take() {
            Some(context) => {
                let keep: Vec<usize> = (0..context.num_columns())
                    .filter(|&i| context.schema().field(i).name() != crate::over::SEQ)
                    .collect();
                vec![context.project(&keep)?]
            }
            None => Vec::new(),
        };
        let base: usize = parts.iter().map(|b| b.num_rows()).sum();
        let mut still = Vec::new();
        for batch in std::mem::take(&mut self.pending) {
            let ready = time_mask(&time_array(&batch, &over.time_column)?, |t| t <= wm);
            let waiting = datafusion::arrow::compute::not(&ready)?;
            parts.push(datafusion::arrow::compute::filter_record_batch(
                &batch, &ready,
            )?);
            still.push(datafusion::arrow::compute::filter_record_batch(
                &batch, &waiting,
            )?);
        }
        self.pending = still.into_iter().filter(|b| b.num_rows() > 0).collect();
        let schema = parts[0].schema();
        let input = numbered(&concat_batches(&schema, &parts)?, &over.time_column)?;
        let plan = self.job.plan.clone();
        self.bind(&plan.source.database, &plan.source.name, input.clone())?;
        let output = self.session.execute_unrecorded(&plan.select_text).await?;
        let mut rows = Vec::new();
        for batch in collect(output).await? {
            let seq = batch
                .column_by_name(crate::over::SEQ)
                .and_then(|c| {
                    c.as_any()
                        .downcast_ref::<datafusion::arrow::array::Int64Array>()
                })
                .ok_or_else(|| FlowError::Invalid("the OVER query lost its row numbers".into()))?;
            let new = datafusion::arrow::array::BooleanArray::from_iter(
                seq.iter()
                    .map(|s| Some(s.is_some_and(|s| s >= base as i64))),
            );
            rows.push(datafusion::arrow::compute::filter_record_batch(
                &batch, &new,
            )?);
        }
        self.write(rows, stem).await?;
        self.context = Some(self.trim(input, &over, wm).await?);
        self.fired(wm);
        let mut oldest: BTreeMap<u32, u64> = BTreeMap::new();
        for batch in self.context.iter().chain(self.pending.iter()) {
            note_oldest(batch, &mut oldest);
        }
        self.replay_from(&oldest)
    }

    /// The rows later frames can still reach.
    async fn trim(
        &mut self,
        input: RecordBatch,
        over: &crate::over::Over,
        wm: i64,
    ) -> Result<RecordBatch> {
        use crate::over::Retain;
        match &over.retain {
            Retain::All => Ok(input),
            Retain::Range(range) => {
                let time = time_array(&input, &over.time_column)?;
                let keep = time_mask(&time, |t| t > wm - range);
                Ok(datafusion::arrow::compute::filter_record_batch(
                    &input, &keep,
                )?)
            }
            Retain::Rows { n, partition_by } => {
                const CONTEXT: &str = "__flow_context";
                let schema = input.schema();
                let database = self.job.plan.database.clone();
                self.bind(&database, CONTEXT, input)?;
                let partition = if partition_by.is_empty() {
                    String::new()
                } else {
                    format!("PARTITION BY {}", partition_by.join(", "))
                };
                let sql = format!(
                    "SELECT * FROM (SELECT *, ROW_NUMBER() OVER ({partition} ORDER BY {} DESC) AS __flow_rn \
                     FROM {CONTEXT}) t WHERE __flow_rn <= {}",
                    crate::over::SEQ,
                    (*n).max(1)
                );
                let kept = collect(self.session.execute_unrecorded(&sql).await?).await?;
                let keep: Vec<usize> = (0..schema.fields().len()).collect();
                let kept: Vec<RecordBatch> = kept
                    .iter()
                    .map(|b| b.project(&keep))
                    .collect::<std::result::Result<_, _>>()?;
                Ok(concat_batches(&schema, &kept)?)
            }
        }
    }

    /// Kinesis Analytics' input preprocessing: the source's records handed
    /// to its function (`'preprocessor'`, a function ARN) in KDA's event,
    /// up to 500 at a time; each answered `Ok` (with new data), `Dropped`
    /// or `ProcessingFailed` (to the error stream, when new).
    async fn preprocess(
        &mut self,
        side: usize,
        shard: u32,
        created_ms: i64,
        records: Vec<nuage_streams::Record>,
        read_to: u64,
    ) -> Result<Vec<nuage_streams::Record>> {
        use base64::Engine;
        let source = &self.sides[side].table;
        let function = source
            .option("preprocessor")
            .unwrap_or_default()
            .to_string();
        let invoker = self
            .job
            .env
            .functions
            .clone()
            .ok_or_else(|| FlowError::Source("no functions in this process".into()))?;
        let (name, qualifier) = function_of(&function);
        let shard_id = nuage_streams::meta::shard_id(shard);
        let mut kept = Vec::with_capacity(records.len());
        let mut failed: Vec<(nuage_streams::Record, String)> = Vec::new();
        for chunk in records.chunks(500) {
            let event = serde_json::json!({
                "invocationId": uuid::Uuid::new_v4().to_string(),
                "applicationArn": source.option("kda.application-arn").unwrap_or_default(),
                "streamArn": source.option("kda.stream-arn").unwrap_or_default(),
                "records": chunk.iter().map(|r| serde_json::json!({
                    "recordId": r.number.to_string(),
                    "kinesisStreamRecordMetadata": {
                        "sequenceNumber": nuage_streams::sequence::Prefix::for_records(
                            created_ms, shard, r.arrival_ms).record_text(r.number),
                        "partitionKey": r.partition_key,
                        "shardId": shard_id,
                        "approximateArrivalTimestamp": r.arrival_ms,
                    },
                    "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                })).collect::<Vec<_>>(),
            });
            let answer = invoker
                .invoke(&name, qualifier.as_deref(), Bytes::from(event.to_string()))
                .await
                .map_err(|e| FlowError::Source(format!("preprocessor {function}: {e}")))?;
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
            let results: std::collections::HashMap<&str, &serde_json::Value> = answer["records"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter_map(|r| Some((r["recordId"].as_str()?, r)))
                        .collect()
                })
                .unwrap_or_default();
            for record in chunk {
                let id = record.number.to_string();
                let result = results.get(id.as_str());
                match result.and_then(|r| r["result"].as_str()) {
                    Some("Ok") => {
                        let data = result
                            .and_then(|r| r["data"].as_str())
                            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok());
                        match data {
                            Some(data) => kept.push(nuage_streams::Record {
                                data: Bytes::from(data),
                                ..record.clone()
                            }),
                            None => failed.push((
                                record.clone(),
                                "the preprocessor answered Ok without base64 data".into(),
                            )),
                        }
                    }
                    Some("Dropped") => {}
                    other => failed.push((
                        record.clone(),
                        format!(
                            "the preprocessor answered {} for this record",
                            other.unwrap_or("nothing")
                        ),
                    )),
                }
            }
        }
        let failed: Vec<(nuage_streams::Record, String)> = failed
            .into_iter()
            .filter(|(r, _)| r.number >= read_to)
            .collect();
        if !failed.is_empty() {
            let (records, messages): (Vec<_>, Vec<_>) = failed.into_iter().unzip();
            let which: Vec<(usize, String)> = messages.into_iter().enumerate().collect();
            self.rejected(side, &records, &which).await?;
        }
        Ok(kept)
    }

    /// Records that give no row (not JSON, values that do not fit the
    /// column types): Kinesis Analytics' error_stream rows, written as JSON
    /// to the source's 'error-stream' when it names one, else logged.
    async fn rejected(
        &mut self,
        side: usize,
        records: &[nuage_streams::Record],
        which: &[(usize, String)],
    ) -> Result<()> {
        let Some(stream) = self.sides[side].table.option("error-stream") else {
            tracing::warn!(
                "job {}: {} records give no row (first: {})",
                self.job.id,
                which.len(),
                which[0].1
            );
            return Ok(());
        };
        let now = chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string();
        let entries: Vec<PutEntry> = which
            .iter()
            .map(|(i, message)| {
                let record = &records[*i];
                let rowtime = chrono::DateTime::from_timestamp_millis(record.arrival_ms)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string());
                let row = serde_json::json!({
                    "ERROR_TIME": now,
                    "ERROR_LEVEL": "ERROR",
                    "ERROR_NAME": "Type_Conversion_Error",
                    "MESSAGE": message,
                    "DATA_ROWTIME": rowtime,
                    "DATA_ROW": String::from_utf8_lossy(&record.data),
                    "PUMP_NAME": serde_json::Value::Null,
                });
                PutEntry {
                    partition_key: record.partition_key.clone(),
                    data: Bytes::from(row.to_string()),
                    explicit_hash_key: None,
                }
            })
            .collect();
        put_all(&self.job.env.streams, stream, &entries)
            .await
            .map_err(|e| FlowError::Sink(format!("error stream {stream}: {e}")))
    }

    /// Rows for windows that already fired: counted, and written to the
    /// source table's 'late-data.stream' when it names one.
    async fn late(
        &mut self,
        side: usize,
        records: &[nuage_streams::Record],
        which: &BTreeSet<usize>,
    ) -> Result<()> {
        let count = which.len() as u64;
        let Some(stream) = self.sides[side].table.option("late-data.stream") else {
            self.job.metrics.late.fetch_add(count, Ordering::Relaxed);
            tracing::warn!(
                "job {}: {} late rows (their windows had fired); name a 'late-data.stream' to keep them",
                self.job.id,
                which.len()
            );
            return Ok(());
        };
        let entries: Vec<PutEntry> = which
            .iter()
            .map(|&i| PutEntry {
                partition_key: records[i].partition_key.clone(),
                data: records[i].data.clone(),
                explicit_hash_key: None,
            })
            .collect();
        put_all(&self.job.env.streams, stream, &entries)
            .await
            .map_err(|e| FlowError::Sink(format!("late-data stream {stream}: {e}")))?;
        // Counted once they are in the late-data stream.
        self.job.metrics.late.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }

    /// The job's watermark: the smallest shard watermark among shards that
    /// are neither finished nor idle. When every shard is idle (nothing new
    /// for 'scan.watermark.idle-timeout'), the largest: all data there is
    /// has been read, so the last windows fire without waiting for more
    /// (Flink would hold them until some shard sends again).
    fn watermark(&self) -> Option<i64> {
        self.side_watermark(0)
    }

    /// [`Runner::watermark`] of one side.
    fn side_watermark(&self, side: usize) -> Option<i64> {
        let reading = &self.sides[side];
        let now = Instant::now();
        let mut min: Option<i64> = None;
        let mut idle_max: Option<i64> = None;
        let mut all_idle = true;
        for (shard, state) in self.shards_of(side) {
            if state.finished {
                continue;
            }
            let idle = match (reading.idle_timeout, reading.active.get(shard)) {
                (Some(timeout), Some(last)) => now.duration_since(*last) >= timeout,
                (Some(timeout), None) => now.duration_since(self.started) >= timeout,
                (None, _) => false,
            };
            if idle {
                if let Some(wm) = state.watermark {
                    idle_max = Some(idle_max.map_or(wm, |m| m.max(wm)));
                }
                continue;
            }
            all_idle = false;
            let wm = state.watermark?;
            min = Some(min.map_or(wm, |m| m.min(wm)));
        }
        if all_idle { idle_max } else { min }
    }

    /// Fires every window whose end the watermark passed.
    async fn fire(&mut self) -> Result<()> {
        if self.job.plan.window.is_none() && self.job.plan.over.is_none() {
            return Ok(());
        }
        let Some(wm) = self.watermark() else {
            return Ok(());
        };
        self.job.metrics.watermark.store(wm, Ordering::Relaxed);
        // Keyed windows are cut once, here, and fired as cut.
        let mut closed = None;
        let ready = if self.job.plan.over.is_some() {
            self.over_ready(wm)?
        } else if self.keyed() {
            closed = self.keyed_split(wm)?;
            closed.is_some()
        } else {
            !self.updates.is_empty()
                || self
                    .buckets
                    .range(..=wm.saturating_add(1_000_000))
                    .next()
                    .is_some()
        };
        if !ready {
            // Nothing to emit; rows for the windows passed are late from now on.
            self.checkpoint.fired = Some(self.checkpoint.fired.map_or(wm, |f| f.max(wm)));
            self.forget_retained(wm);
            return Ok(());
        }
        let stem = format!("flow-{}-f{}", self.job.id, self.checkpoint.fires);
        // The intent first: a crash before the firing is recorded as done
        // redoes this same firing (same windows, same file names).
        self.checkpoint.intent = Some(Intent {
            upto: wm,
            stem: stem.clone(),
            sink_ends: self.sink_ends(),
            shard: None,
            updates: self.updates.iter().copied().collect(),
            read_before: None,
        });
        self.save()?;
        if closed.is_some() {
            return self.fire_keyed(wm, &stem, closed).await;
        }
        self.fire_upto(wm, &stem).await
    }

    /// Whether the job's window is SESSION or STAGGER.
    fn keyed(&self) -> bool {
        self.job
            .plan
            .window
            .as_ref()
            .is_some_and(|w| w.kind.is_keyed())
    }

    /// Emits every window ending by `wm` in one statement whose files are
    /// named `stem`, then records the firing as done.
    async fn fire_upto(&mut self, wm: i64, stem: &str) -> Result<()> {
        if self.job.plan.over.is_some() {
            return self.fire_over(wm, stem).await;
        }
        if self.keyed() {
            return self.fire_keyed(wm, stem, None).await;
        }
        let ready: Vec<i64> = self
            .buckets
            .range(..=wm.saturating_add(1_000_000))
            .map(|(end, _)| *end)
            .collect();
        let mut batches = Vec::new();
        for end in &ready {
            let bucket = self.buckets.remove(end).expect("a ready bucket");
            if self.lateness > 0 {
                batches.extend(bucket.batches.iter().cloned());
                self.retained.insert(*end, bucket);
            } else {
                batches.extend(bucket.batches);
            }
        }
        // Fired windows late rows came for, emitted again whole: an update.
        for end in std::mem::take(&mut self.updates) {
            if let Some(bucket) = self.retained.get(&end) {
                batches.extend(bucket.batches.iter().cloned());
            }
        }
        self.emit(batches, stem).await?;
        self.fired(wm);
        self.forget_retained(wm);
        // What open windows (and fired ones kept for lateness) still need,
        // per shard.
        let mut oldest: BTreeMap<u32, u64> = BTreeMap::new();
        for bucket in self.buckets.values().chain(self.retained.values()) {
            for (shard, n) in &bucket.oldest {
                let o = oldest.entry(*shard).or_insert(*n);
                *o = (*o).min(*n);
            }
        }
        self.replay_from(&oldest)
    }

    /// Fired windows the watermark passed by more than the allowed lateness.
    fn forget_retained(&mut self, wm: i64) {
        let lateness = self.lateness;
        self.retained
            .retain(|end, _| end - 1_000_000 + lateness > wm);
    }

    fn fired(&mut self, wm: i64) {
        self.checkpoint.fired = Some(self.checkpoint.fired.map_or(wm, |f| f.max(wm)));
        self.checkpoint.intent = None;
        self.checkpoint.fires += 1;
    }

    /// Notes, per shard, the oldest record still needed, and saves.
    fn replay_from(&mut self, oldest: &BTreeMap<u32, u64>) -> Result<()> {
        for (shard, state) in self.checkpoint.shards.iter_mut() {
            state.replay_from = oldest.get(shard).copied().unwrap_or(state.read_to);
        }
        self.save()
    }

    /// Runs the query over `batches` (bound to the window input, or to the
    /// source table's name) and writes its rows to the sink.
    async fn emit(&mut self, batches: Vec<RecordBatch>, stem: &str) -> Result<()> {
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        if batches.is_empty() {
            return Ok(());
        }
        let schema = batches[0].schema();
        let input = concat_batches(&schema, &batches)?;
        let plan = &self.job.plan;
        let bound = if plan.window.is_some() {
            WINDOW_INPUT.to_string()
        } else {
            plan.source.name.clone()
        };
        let database = if plan.window.is_some() {
            plan.database.clone()
        } else {
            plan.source.database.clone()
        };
        self.bind(&database, &bound, input)?;
        let output = self.session.execute_unrecorded(&plan.select_text).await?;
        let rows = collect(output).await?;
        self.write(rows, stem).await
    }

    /// Writes a firing's rows to the sink (files named `stem`).
    async fn write(&mut self, rows: Vec<RecordBatch>, stem: &str) -> Result<()> {
        let plan = &self.job.plan;
        // An updating result's changes carry their kind (+I, -U, +U, -D).
        let ops: Vec<String> = rows.iter().flat_map(updating::ops_of).collect();
        let rows: Vec<RecordBatch> = rows.iter().map(without_hidden).collect::<Result<_>>()?;
        let count: usize = rows.iter().map(|b| b.num_rows()).sum();
        if count > 0 {
            match &plan.sink {
                Sink::Lake { database, table } => {
                    let schema = rows[0].schema();
                    let all = unique_names(concat_batches(&schema, &rows)?)?;
                    self.bind(&plan.database, OUTPUT_TABLE, all)?;
                    self.session.vars.hiveconf.insert(
                        nuage_sql::session::INSERT_FILE_STEM.into(),
                        stem.to_string(),
                    );
                    let text = format!(
                        "INSERT INTO {database}.{table}{} SELECT * FROM {OUTPUT_TABLE}",
                        self.insert_columns
                    );
                    collect(self.session.execute_unrecorded(&text).await?)
                        .await
                        .map_err(|e| {
                            FlowError::Sink(format!("lake table {database}.{table}: {e}"))
                        })?;
                }
                Sink::Stream(table) if table.connector() == "firehose" => {
                    self.put_firehose(table, &rows, &ops).await?
                }
                Sink::Stream(table) if table.connector() == "lambda" => {
                    self.invoke_function(table, &rows, &ops).await?
                }
                Sink::Stream(table) => {
                    self.put_stream(table, &rows, &ops).await?;
                    crash_after_sink_put();
                }
            }
        }
        self.job
            .metrics
            .events_out
            .fetch_add(count as u64, Ordering::Relaxed);
        Ok(())
    }

    fn bind(&self, database: &str, name: &str, batch: RecordBatch) -> Result<()> {
        self.bind_all(database, name, vec![batch])
    }

    /// Binds batches (at least one, all of one schema) as one table.
    fn bind_all(&self, database: &str, name: &str, batches: Vec<RecordBatch>) -> Result<()> {
        let table = MemTable::try_new(batches[0].schema(), vec![batches])?;
        self.session
            .shared()
            .temporary
            .lock()
            .expect("temporary tables poisoned")
            .insert((database.to_string(), name.to_string()), Arc::new(table));
        Ok(())
    }

    /// Rows as JSON records into a Firehose delivery stream, one per row,
    /// each ending with a newline (so the objects it writes are JSON lines).
    async fn put_firehose(
        &self,
        table: &crate::table::StreamTable,
        rows: &[RecordBatch],
        ops: &[String],
    ) -> Result<()> {
        let name = table.stream_name()?;
        let delivery = self
            .job
            .env
            .deliveries
            .as_ref()
            .ok_or_else(|| FlowError::Sink("no delivery streams in this process".into()))?
            .get(&name)
            .map_err(|e| FlowError::Sink(format!("delivery stream {name}: {e}")))?;
        if !matches!(delivery.meta().source, nuage_delivery::Source::DirectPut) {
            return Err(FlowError::Sink(format!(
                "delivery stream {name} reads a Kinesis stream (KinesisStreamAsSource): a job \
                 can only write to a DirectPut delivery stream"
            )));
        }
        let records: Vec<Bytes> = sink_records(table, rows, ops)?
            .into_iter()
            .map(|(data, _)| {
                let mut line = data.to_vec();
                line.push(b'\n');
                Bytes::from(line)
            })
            .collect();
        for chunk in records.chunks(500) {
            delivery
                .put(chunk)
                .await
                .map_err(|e| FlowError::Sink(format!("delivery stream {name}: {e}")))?;
        }
        Ok(())
    }

    /// Rows handed to a function as Kinesis Analytics' Lambda output does:
    /// `{"invocationId", "applicationArn", "records": [{"recordId",
    /// "lambdaDeliveryRecordMetadata": {"retryHint"}, "data": base64}]}`,
    /// up to 500 records an invocation. The function answers each record
    /// `"Ok"` or `"DeliveryFailed"`; failed ones are handed over again
    /// (3 tries, as AWS's retry hint counts them), then the job fails.
    async fn invoke_function(
        &self,
        table: &crate::table::StreamTable,
        rows: &[RecordBatch],
        ops: &[String],
    ) -> Result<()> {
        use base64::Engine;
        let function = table.stream_name()?;
        let invoker = self
            .job
            .env
            .functions
            .as_ref()
            .ok_or_else(|| FlowError::Sink("no functions in this process".into()))?;
        let (name, qualifier) = function_of(&function);
        let records: Vec<(String, Bytes)> = sink_records(table, rows, ops)?
            .into_iter()
            .map(|(data, _)| (uuid::Uuid::new_v4().to_string(), data))
            .collect();
        let application = table.option("kda.application-arn").unwrap_or_default();
        for chunk in records.chunks(500) {
            let mut pending: Vec<&(String, Bytes)> = chunk.iter().collect();
            let mut retry = 0;
            while !pending.is_empty() {
                let event = serde_json::json!({
                    "invocationId": uuid::Uuid::new_v4().to_string(),
                    "applicationArn": application,
                    "records": pending.iter().map(|(id, data)| serde_json::json!({
                        "recordId": id,
                        "lambdaDeliveryRecordMetadata": {"retryHint": retry},
                        "data": base64::engine::general_purpose::STANDARD.encode(data),
                    })).collect::<Vec<_>>(),
                });
                let answer = invoker
                    .invoke(&name, qualifier.as_deref(), Bytes::from(event.to_string()))
                    .await
                    .map_err(|e| FlowError::Sink(format!("function {function}: {e}")))?;
                let answer: serde_json::Value = serde_json::from_slice(&answer).map_err(|_| {
                    FlowError::Sink(format!(
                        "function {function} answered {:?}: it must return \
                         {{\"records\": [{{\"recordId\": ..., \"result\": \"Ok\"}}]}}",
                        String::from_utf8_lossy(&answer)
                    ))
                })?;
                let failed: BTreeSet<&str> = answer["records"]
                    .as_array()
                    .map(|all| {
                        all.iter()
                            .filter(|r| r["result"] == "DeliveryFailed")
                            .filter_map(|r| r["recordId"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                pending.retain(|(id, _)| failed.contains(id.as_str()));
                retry += 1;
                if !pending.is_empty() && retry >= 3 {
                    return Err(FlowError::Sink(format!(
                        "function {function} answered DeliveryFailed for {} records 3 times",
                        pending.len()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Rows as JSON records into a stream, partitioned by the table's
    /// PARTITIONED BY columns (joined by '|'), else spread at random.
    async fn put_stream(
        &self,
        table: &crate::table::StreamTable,
        rows: &[RecordBatch],
        ops: &[String],
    ) -> Result<()> {
        let name = table.stream_name()?;
        let mut entries: Vec<PutEntry> = sink_records(table, rows, ops)?
            .into_iter()
            .map(|(data, key)| PutEntry {
                partition_key: key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                data,
                explicit_hash_key: None,
            })
            .collect();
        if let Some(ends) = &self.redo {
            entries = self.not_yet_put(&name, ends, entries)?;
        }
        for chunk in entries.chunks(500) {
            put_all(&self.job.env.streams, &name, chunk)
                .await
                .map_err(|e| FlowError::Sink(format!("stream {name}: {e}")))?;
        }
        Ok(())
    }

    /// A stream sink's shard ends (none for other sinks): where a firing's
    /// records will start.
    fn sink_ends(&self) -> Option<BTreeMap<u32, u64>> {
        let Sink::Stream(table) = &self.job.plan.sink else {
            return None;
        };
        if table.connector() != "kinesis" {
            return None;
        }
        let stream = self.job.env.streams.get(&table.stream_name().ok()?).ok()?;
        Some(
            stream
                .meta()
                .shards
                .iter()
                .filter_map(|s| Some((s.index, stream.log(s.index)?.end())))
                .collect(),
        )
    }

    /// A redone firing's records without those the cut one had put: the
    /// sink's records since `ends` are matched by their bytes (one for
    /// one), so the stream holds each output record once.
    fn not_yet_put(
        &self,
        name: &str,
        ends: &BTreeMap<u32, u64>,
        entries: Vec<PutEntry>,
    ) -> Result<Vec<PutEntry>> {
        let stream = self
            .job
            .env
            .streams
            .get(name)
            .map_err(|e| FlowError::Sink(format!("stream {name}: {e}")))?;
        let mut there: std::collections::HashMap<Bytes, usize> = std::collections::HashMap::new();
        for shard in &stream.meta().shards {
            let Some(log) = stream.log(shard.index) else {
                continue;
            };
            let mut at = ends
                .get(&shard.index)
                .copied()
                .unwrap_or(0)
                .max(log.trim_horizon());
            while at < log.end() {
                let batch = log
                    .read(Position::at(at), READ_RECORDS, READ_BYTES)
                    .map_err(|e| FlowError::Sink(format!("stream {name}: {e}")))?;
                let Some(last) = batch.records.last() else {
                    break;
                };
                at = last.number + 1;
                for record in batch.records {
                    *there.entry(record.data).or_default() += 1;
                }
            }
        }
        let before = entries.len();
        let entries: Vec<PutEntry> = entries
            .into_iter()
            .filter(|e| match there.get_mut(&e.data) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            })
            .collect();
        tracing::info!(
            "job {}: redone firing puts {} of its {before} records (the others were put before the crash)",
            self.job.id,
            entries.len()
        );
        Ok(entries)
    }

    /// Writes the checkpoint (with the metrics' counts) durably.
    fn save(&mut self) -> Result<()> {
        let metrics = &self.job.metrics;
        self.checkpoint.events_in = metrics.events_in.load(Ordering::Relaxed);
        self.checkpoint.events_out = metrics.events_out.load(Ordering::Relaxed);
        self.checkpoint.late = metrics.late.load(Ordering::Relaxed);
        let bytes = serde_json::to_vec(&self.checkpoint).expect("a checkpoint serializes");
        nuage_common::durable::write_file(&self.job.dir.join("checkpoint.json"), &bytes)?;
        Ok(())
    }
}

fn time_array(batch: &RecordBatch, column: &str) -> Result<TimestampNanosecondArray> {
    let index = batch
        .schema()
        .index_of(&column.to_lowercase())
        .map_err(|_| FlowError::Invalid(format!("no time column {column}")))?;
    let time = datafusion::arrow::compute::cast(
        batch.column(index),
        &datafusion::arrow::datatypes::DataType::Timestamp(
            datafusion::arrow::datatypes::TimeUnit::Nanosecond,
            None,
        ),
    )?;
    Ok(time
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
        .expect("cast to nanoseconds")
        .clone())
}

/// Rows whose (non-null) time satisfies `keep`.
fn time_mask(
    time: &TimestampNanosecondArray,
    keep: impl Fn(i64) -> bool,
) -> datafusion::arrow::array::BooleanArray {
    time.iter().map(|t| Some(t.is_some_and(&keep))).collect()
}

/// `'shard-share' = 'k/N'` (a KDA input with InputParallelism N): the
/// shards this job reads are those whose index is k modulo N.
fn shard_share(table: &crate::table::StreamTable) -> Option<(u32, u32)> {
    let (k, n) = table.option("shard-share")?.split_once('/')?;
    Some((k.parse().ok()?, n.parse().ok().filter(|n| *n > 0)?))
}

fn in_share(share: Option<(u32, u32)>, shard: u32) -> bool {
    share.is_none_or(|(k, n)| shard % n == k)
}

/// Which rows of a read are new, and where they come from.
struct Fresh<'a> {
    shard: u32,
    kept: &'a [usize],
    numbers: &'a [u64],
    first_new: u64,
}

/// Keyed windows that closed, the rows still waiting, and each key's last
/// closed window end.
struct KeyedSplit {
    closed: RecordBatch,
    waiting: RecordBatch,
    fired_ends: BTreeMap<String, i64>,
}

/// Each row's key: its PARTITION BY columns' values as text.
fn key_strings(batch: &RecordBatch, columns: &[String]) -> Result<Vec<String>> {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::DataType;
    let mut texts: Vec<StringArray> = Vec::new();
    for column in columns {
        let array = batch
            .column_by_name(&column.to_lowercase())
            .ok_or_else(|| FlowError::Invalid(format!("PARTITION BY {column}: no such column")))?;
        let text = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
        texts.push(
            text.as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to text")
                .clone(),
        );
    }
    Ok((0..batch.num_rows())
        .map(|row| {
            texts
                .iter()
                .map(|t| {
                    if t.is_null(row) {
                        "\u{0}"
                    } else {
                        t.value(row)
                    }
                })
                .collect::<Vec<_>>()
                .join("\u{1f}")
        })
        .collect())
}

const SHARD_COLUMN: &str = "__flow_shard";
const RECORD_COLUMN: &str = "__flow_record";

/// Rows `which` of `rows`, with the shard and record they come from.
fn with_origin(
    rows: &RecordBatch,
    which: &[u32],
    shard: u32,
    numbers: &[u64],
) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, UInt32Array as U32, UInt64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let part = take_record_batch(rows, &UInt32Array::from(which.to_vec()))?;
    let mut fields: Vec<Field> = part
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(SHARD_COLUMN, DataType::UInt32, false));
    fields.push(Field::new(RECORD_COLUMN, DataType::UInt64, false));
    let mut columns: Vec<ArrayRef> = part.columns().to_vec();
    columns.push(Arc::new(U32::from(vec![shard; which.len()])));
    columns.push(Arc::new(UInt64Array::from_iter_values(
        which.iter().map(|&r| numbers[r as usize]),
    )));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// Rows in time order (then shard, record: the same order after a
/// replay), numbered from 0 in the OVER sequence column.
fn numbered(batch: &RecordBatch, time_column: &str) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::compute::{SortColumn, lexsort_to_indices};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let time: ArrayRef = Arc::new(time_array(batch, time_column)?);
    let sort = [
        time,
        batch.column_by_name(SHARD_COLUMN).expect("origin").clone(),
        batch.column_by_name(RECORD_COLUMN).expect("origin").clone(),
    ]
    .into_iter()
    .map(|values| SortColumn {
        values,
        options: None,
    })
    .collect::<Vec<_>>();
    let order = lexsort_to_indices(&sort, None)?;
    let sorted = take_record_batch(batch, &order)?;
    let keep: Vec<usize> = (0..sorted.num_columns())
        .filter(|&i| sorted.schema().field(i).name() != crate::over::SEQ)
        .collect();
    let sorted = sorted.project(&keep)?;
    let mut fields: Vec<Field> = sorted
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(crate::over::SEQ, DataType::Int64, false));
    let mut columns: Vec<ArrayRef> = sorted.columns().to_vec();
    columns.push(Arc::new(Int64Array::from_iter_values(
        0..sorted.num_rows() as i64,
    )));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The oldest record of each shard among `batch`'s rows.
fn note_oldest(batch: &RecordBatch, oldest: &mut BTreeMap<u32, u64>) {
    use datafusion::arrow::array::UInt64Array;
    let (Some(shards), Some(records)) = (
        batch
            .column_by_name(SHARD_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>()),
        batch
            .column_by_name(RECORD_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>()),
    ) else {
        return;
    };
    for (shard, record) in shards.values().iter().zip(records.values().iter()) {
        let o = oldest.entry(*shard).or_insert(*record);
        *o = (*o).min(*record);
    }
}

/// A batch whose columns have distinct names: a second `ts` becomes
/// `ts0`, as Flink names them (`SELECT o.ts, s.ts` of a join); an INSERT
/// maps columns by position anyway.
fn unique_names(batch: RecordBatch) -> Result<RecordBatch> {
    use datafusion::arrow::datatypes::{Field, Schema};
    let mut seen = BTreeSet::new();
    let mut renamed = false;
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let mut name = f.name().clone();
            let mut n = 0;
            while !seen.insert(name.clone()) {
                name = format!("{}{n}", f.name());
                n += 1;
                renamed = true;
            }
            f.as_ref().clone().with_name(name)
        })
        .collect();
    if !renamed {
        return Ok(batch);
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        batch.columns().to_vec(),
    )?)
}

/// A batch without nuage's own `__flow_*` columns.
fn without_hidden(batch: &RecordBatch) -> Result<RecordBatch> {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| !batch.schema().field(i).name().starts_with("__flow_"))
        .collect();
    Ok(batch.project(&keep)?)
}

/// A function's name and qualifier from its name or ARN
/// (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
fn function_of(text: &str) -> (String, Option<String>) {
    match text.split_once(":function:") {
        Some((_, rest)) => match rest.split_once(':') {
            Some((name, qualifier)) => (name.to_string(), Some(qualifier.to_string())),
            None => (rest.to_string(), None),
        },
        None => (text.to_string(), None),
    }
}

/// Puts every entry: records a shard refused for its write limit
/// (`--enforce-limits`) are put again after a pause, as a producer
/// retries them; any other refusal fails the put.
async fn put_all(
    streams: &Streams,
    name: &str,
    entries: &[PutEntry],
) -> std::result::Result<(), String> {
    use nuage_streams::{PutFailure, PutOutcome};
    let mut pending = entries.to_vec();
    let mut pause = Duration::from_millis(50);
    while !pending.is_empty() {
        let put = streams
            .put(name, &pending)
            .await
            .map_err(|e| e.to_string())?;
        let mut again = Vec::new();
        for (entry, outcome) in pending.into_iter().zip(put.outcomes) {
            match outcome {
                PutOutcome::Stored { .. } => {}
                PutOutcome::Failed {
                    reason: PutFailure::Throughput,
                    ..
                } => again.push(entry),
                PutOutcome::Failed { message, .. } => return Err(message),
            }
        }
        pending = again;
        if !pending.is_empty() {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
    Ok(())
}

/// A batch as the sink's format, one line per row: JSON objects
/// (arrow-json's writer), or CSV without a header for `'format' = 'csv'`.
/// Timestamps as Flink's json format writes them by default and Kinesis
/// Analytics does (`2020-04-15 08:00:00.000`), or ISO-8601 with
/// `'json.timestamp-format.standard' = 'ISO-8601'`.
fn encode_lines(table: &crate::table::StreamTable, batch: &RecordBatch) -> Result<Vec<u8>> {
    let iso = table
        .option("json.timestamp-format.standard")
        .is_some_and(|s| s.eq_ignore_ascii_case("ISO-8601"));
    let timestamps = if iso {
        "%Y-%m-%dT%H:%M:%S%.3f"
    } else {
        "%Y-%m-%d %H:%M:%S%.3f"
    };
    if table.option("format") == Some("csv") {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(false)
            .with_timestamp_format(timestamps.to_string())
            .build(Vec::new());
        writer.write(batch)?;
        return Ok(writer.into_inner());
    }
    let mut writer = datafusion::arrow::json::WriterBuilder::new()
        .with_timestamp_format(timestamps.to_string())
        .build::<_, datafusion::arrow::json::writer::LineDelimited>(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner())
}

/// A firing's rows as the sink's records, one per row: named as its
/// columns, in its format ([`encode_lines`], without the newline), each
/// with the partition key its PARTITIONED BY columns give, if it has them.
fn sink_records(
    table: &crate::table::StreamTable,
    rows: &[RecordBatch],
    ops: &[String],
) -> Result<Vec<(Bytes, Option<String>)>> {
    let mut records = Vec::new();
    let mut ops = ops.iter();
    for batch in &sink_rows(table, rows)? {
        if crate::table::is_changelog(table) {
            for (line, key) in updating::encode(table, batch, &mut ops)? {
                records.push((line, key));
            }
            continue;
        }
        let text = encode_lines(table, batch)?;
        let keys = partition_keys(table, batch);
        for (i, line) in text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            records.push((
                Bytes::copy_from_slice(line),
                keys.as_ref().map(|k| k[i].clone()),
            ));
        }
    }
    Ok(records)
}

/// Rows named as the sink's columns: an INSERT maps the SELECT's columns
/// to the table's by position (as Flink and Kinesis Analytics do).
fn sink_rows(table: &crate::table::StreamTable, rows: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    use crate::table::ColumnKind;
    use datafusion::arrow::datatypes::{Field, Schema};
    let names: Vec<&str> = table
        .columns
        .iter()
        .filter(|(c, _)| c.kind == ColumnKind::Physical)
        .map(|(c, _)| c.name.as_str())
        .collect();
    rows.iter()
        .map(|batch| {
            if names.len() != batch.num_columns() {
                return Ok(batch.clone());
            }
            let fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .zip(&names)
                .map(|(f, name)| f.as_ref().clone().with_name(*name))
                .collect();
            Ok(RecordBatch::try_new(
                Arc::new(Schema::new(fields)),
                batch.columns().to_vec(),
            )?)
        })
        .collect()
}

fn partition_keys(table: &crate::table::StreamTable, batch: &RecordBatch) -> Option<Vec<String>> {
    if table.partitioned_by.is_empty() {
        return None;
    }
    let columns: Vec<_> = table
        .partitioned_by
        .iter()
        .filter_map(|c| batch.column_by_name(&c.to_lowercase()))
        .map(|c| datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let strings: Vec<&datafusion::arrow::array::StringArray> = columns
        .iter()
        .filter_map(|c| c.as_any().downcast_ref())
        .collect();
    Some(
        (0..batch.num_rows())
            .map(|i| {
                strings
                    .iter()
                    .map(|s| if s.is_null(i) { "null" } else { s.value(i) })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect(),
    )
}

async fn collect(output: Output) -> Result<Vec<RecordBatch>> {
    match output {
        Output::Rows(mut stream) => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch?);
            }
            Ok(batches)
        }
        Output::Done(_) => Ok(Vec::new()),
    }
}
