//! A mapping's poller: one reader per shard (children once their parents
//! are read to the end), batches handed to the function in shard order,
//! the shard's position checkpointed durably after each batch the function
//! finished (or that was given up on and sent to OnFailure).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nuage_streams::sequence::Prefix;
use nuage_streams::streams::Stream;
use nuage_streams::{Position, ShardLog, StreamMeta};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use super::event::{self, Item, Source};
use super::{Mapping, filter};
use crate::destinations::Destination;
use crate::error::FunctionError;
use crate::{Functions, InvokeOutcome, InvokeRequest};

/// A batch's records stay below this many bytes of data, so the event
/// (base64 data) stays within Lambda's 6 MB payload.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// The per-shard positions, as saved.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Positions {
    /// The next record to hand over, per shard.
    next: BTreeMap<u32, u64>,
    /// Shards read to their end.
    finished: BTreeSet<u32>,
}

struct Checkpoint {
    path: PathBuf,
    positions: Mutex<Positions>,
}

impl Checkpoint {
    fn lock(&self) -> std::sync::MutexGuard<'_, Positions> {
        crate::lock(&self.positions)
    }

    fn save(&self, positions: &Positions) {
        let bytes = serde_json::to_vec(positions).expect("positions serialize");
        if let Err(e) = nuage_common::durable::write_file(&self.path, &bytes) {
            tracing::error!(
                "{}: cannot save the mapping's positions: {e}",
                self.path.display()
            );
        }
    }

    fn next(&self, shard: u32) -> Option<u64> {
        self.lock().next.get(&shard).copied()
    }

    fn advance(&self, shard: u32, next: u64) {
        let mut positions = self.lock();
        positions.next.insert(shard, next);
        self.save(&positions);
    }

    fn finish(&self, shard: u32) {
        let mut positions = self.lock();
        positions.finished.insert(shard);
        self.save(&positions);
    }

    fn finished(&self, shard: u32) -> bool {
        self.lock().finished.contains(&shard)
    }
}

/// What the readers of one mapping share.
struct Context {
    functions: Arc<Functions>,
    mapping: Mapping,
    filters: Vec<Value>,
    checkpoint: Checkpoint,
    status: Arc<Mutex<String>>,
    role: String,
}

impl Context {
    fn set_status(&self, text: &str) {
        *crate::lock(&self.status) = text.to_string();
    }
}

pub(super) async fn run(
    functions: Arc<Functions>,
    mapping: Mapping,
    checkpoint: PathBuf,
    mut stop: watch::Receiver<bool>,
    status: Arc<Mutex<String>>,
) {
    let Some(streams) = functions.streams.clone() else {
        return;
    };
    let stream_name = nuage_streams::Streams::name_from_arn(&mapping.event_source_arn)
        .unwrap_or_default()
        .to_string();
    let saved = std::fs::read(&checkpoint)
        .ok()
        .and_then(|b| serde_json::from_slice::<Positions>(&b).ok());
    let fresh = saved.is_none();
    let role = functions
        .get(&mapping.function_name, None)
        .map(|(_, c)| c.role)
        .unwrap_or_default();
    let context = Arc::new(Context {
        filters: mapping
            .filters
            .iter()
            .filter_map(|f| filter::parse(f).ok())
            .collect(),
        checkpoint: Checkpoint {
            path: checkpoint,
            positions: Mutex::new(saved.unwrap_or_default()),
        },
        functions,
        mapping,
        status,
        role,
    });
    let mut started = !fresh;
    let mut readers: HashMap<u32, tokio::task::JoinHandle<()>> = HashMap::new();
    while !*stop.borrow_and_update() {
        let Ok(stream) = streams.get(&stream_name) else {
            context.set_status("PROBLEM: Stream not found");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        if !started {
            start_positions(&context, &stream);
            started = true;
        }
        let meta = stream.meta();
        readers.retain(|_, reader| !reader.is_finished());
        for shard in &meta.shards {
            if readers.contains_key(&shard.index)
                || context.checkpoint.finished(shard.index)
                || !parents_done(&context, &meta, shard.index)
            {
                continue;
            }
            let Some(log) = stream.log(shard.index) else {
                continue;
            };
            let reader = read_shard(
                context.clone(),
                stream.clone(),
                shard.index,
                log,
                stop.clone(),
            );
            readers.insert(shard.index, tokio::spawn(reader));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
    for reader in readers.into_values() {
        let _ = reader.await;
    }
}

/// Where a new mapping begins on each shard (TRIM_HORIZON: where each
/// shard begins, so nothing is noted).
fn start_positions(context: &Context, stream: &Stream) {
    let meta = stream.meta();
    let mut positions = context.checkpoint.lock();
    for shard in &meta.shards {
        let Some(log) = stream.log(shard.index) else {
            continue;
        };
        match context.mapping.starting_position.as_str() {
            "LATEST" => {
                if shard.end_record.is_some() {
                    positions.finished.insert(shard.index);
                } else {
                    positions.next.insert(shard.index, log.end());
                }
            }
            "AT_TIMESTAMP" => {
                let ms =
                    (context.mapping.starting_position_timestamp.unwrap_or(0.0) * 1000.0) as i64;
                if let Ok(at) = log.position_at_time(ms) {
                    positions.next.insert(shard.index, at.record);
                }
            }
            _ => {}
        }
    }
    context.checkpoint.save(&positions);
}

/// A shard is read once the shards it was split or merged from are read to
/// their end (or have expired).
fn parents_done(context: &Context, meta: &StreamMeta, shard: u32) -> bool {
    let Some(s) = meta.shards.iter().find(|s| s.index == shard) else {
        return false;
    };
    [s.parent, s.adjacent_parent]
        .into_iter()
        .flatten()
        .all(|p| meta.shards.iter().all(|s| s.index != p) || context.checkpoint.finished(p))
}

async fn read_shard(
    context: Arc<Context>,
    stream: Arc<Stream>,
    shard: u32,
    log: Arc<ShardLog>,
    mut stop: watch::Receiver<bool>,
) {
    let mapping = &context.mapping;
    let shard_id = nuage_streams::meta::shard_id(shard);
    let region = context.functions.config.region.clone();
    let source = Source {
        shard_id: &shard_id,
        stream_arn: &mapping.event_source_arn,
        region: &region,
        role: &context.role,
    };
    let window = Duration::from_secs(mapping.maximum_batching_window_seconds.into());
    let batch_size = mapping.batch_size as u64;
    while !*stop.borrow_and_update() {
        let at = context
            .checkpoint
            .next(shard)
            .unwrap_or(0)
            .max(log.trim_horizon());
        let meta = stream.meta();
        let end_record = meta
            .shards
            .iter()
            .find(|s| s.index == shard)
            .and_then(|s| s.end_record);
        if end_record.is_some_and(|end| at >= end) {
            context.checkpoint.finish(shard);
            return;
        }
        if log.end() <= at {
            tokio::select! {
                _ = log.readable(at) => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        // MaximumBatchingWindowInSeconds: gather up to BatchSize records.
        if !window.is_zero() && log.end() - at < batch_size && end_record.is_none() {
            let deadline = tokio::time::Instant::now() + window;
            tokio::select! {
                _ = log.readable(at + batch_size - 1) => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = stop.changed() => {}
            }
        }
        let batch = match log.read(
            Position::at(at),
            mapping.batch_size as usize,
            MAX_BATCH_BYTES,
        ) {
            Ok(batch) => batch,
            Err(e) => {
                context.set_status(&format!("PROBLEM: cannot read {shard_id}: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(last) = batch.records.last() else {
            continue;
        };
        let next = last.number + 1;
        let created_ms = meta.shard_created_ms(shard);
        let items: Vec<Item> = batch
            .records
            .into_iter()
            .map(|r| Item {
                sequence: Prefix::for_records(created_ms, shard, r.arrival_ms)
                    .record_text(r.number),
                partition_key: r.partition_key,
                data: r.data,
                arrival_ms: r.arrival_ms,
            })
            .collect();
        if !handle(&context, &source, items, &mut stop).await {
            return;
        }
        context.checkpoint.advance(shard, next);
    }
}

/// Hands a shard batch to the function: expired records to OnFailure,
/// filtered ones dropped, the rest split by ParallelizationFactor (by
/// partition key, so each key keeps its order). False when stopped first.
async fn handle(
    context: &Arc<Context>,
    source: &Source<'_>,
    items: Vec<Item>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let mapping = &context.mapping;
    let mut items = items;
    if mapping.maximum_record_age_seconds >= 0 {
        let oldest =
            chrono::Utc::now().timestamp_millis() - mapping.maximum_record_age_seconds * 1000;
        let expired = items.iter().take_while(|i| i.arrival_ms < oldest).count();
        if expired > 0 {
            let old: Vec<Item> = items.drain(..expired).collect();
            give_up(context, source, &old, "RecordAgeExceeded", 0, None).await;
        }
    }
    if !context.filters.is_empty() {
        items.retain(|item| filter::passes(&context.filters, &event::filter_view(item)));
    }
    if items.is_empty() {
        return true;
    }
    let factor = mapping.parallelization_factor.max(1) as u128;
    if factor == 1 {
        return deliver(context.clone(), source, items, stop.clone()).await;
    }
    let mut groups: Vec<Vec<Item>> = (0..factor).map(|_| Vec::new()).collect();
    for item in items {
        let group = nuage_streams::streams::hash_key(&item.partition_key) % factor;
        groups[group as usize].push(item);
    }
    let runs = groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(|group| deliver(context.clone(), source, group, stop.clone()));
    futures::future::join_all(runs)
        .await
        .into_iter()
        .all(|done| done)
}

/// Invokes the function with `items` until it succeeds, retrying (and
/// bisecting) failures as the mapping says; a batch given up on goes to
/// OnFailure. False when stopped before finishing.
fn deliver<'a>(
    context: Arc<Context>,
    source: &'a Source<'a>,
    items: Vec<Item>,
    mut stop: watch::Receiver<bool>,
) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
    Box::pin(async move {
        let mapping = &context.mapping;
        let mut pending = items;
        let mut attempts: u32 = 0;
        let mut last: Option<InvokeOutcome> = None;
        loop {
            let request = InvokeRequest {
                name: mapping.function_name.clone(),
                qualifier: mapping.qualifier.clone(),
                payload: Bytes::from(event::event(source, &pending)),
                client_context: None,
            };
            let failed_from = match context.functions.invoke(request).await {
                Ok(outcome) if !outcome.function_error => {
                    let failed = if mapping.report_batch_item_failures {
                        first_failure(&outcome.payload, &pending)
                    } else {
                        None
                    };
                    last = Some(outcome);
                    failed
                }
                Ok(outcome) => {
                    last = Some(outcome);
                    Some(0)
                }
                Err(FunctionError::Throttled { .. }) => {
                    if pause(Duration::from_millis(200), &mut stop).await {
                        return false;
                    }
                    continue;
                }
                Err(e) => {
                    context.set_status(&format!("PROBLEM: {e}"));
                    Some(0)
                }
            };
            let Some(from) = failed_from else {
                context.set_status("OK");
                return true;
            };
            context.set_status("PROBLEM: Function call failed");
            pending.drain(..from);
            attempts += 1;
            if mapping.maximum_retry_attempts >= 0
                && i64::from(attempts) > mapping.maximum_retry_attempts
            {
                give_up(
                    &context,
                    source,
                    &pending,
                    "RetryAttemptsExhausted",
                    attempts,
                    last.as_ref(),
                )
                .await;
                return true;
            }
            if mapping.bisect_batch_on_function_error && pending.len() > 1 {
                let second = pending.split_off(pending.len() / 2);
                if !deliver(context.clone(), source, pending, stop.clone()).await {
                    return false;
                }
                return deliver(context.clone(), source, second, stop).await;
            }
            let backoff = Duration::from_millis(100 * (1u64 << attempts.min(6)));
            if pause(backoff.min(Duration::from_secs(5)), &mut stop).await {
                return false;
            }
        }
    })
}

/// Sleeps; true if the mapping was stopped meanwhile.
async fn pause(delay: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let until = Instant::now() + delay;
    tokio::select! {
        _ = tokio::time::sleep_until(until.into()) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

/// ReportBatchItemFailures: the first record the function reported as
/// failed (every record from it on is retried); a response that is not
/// a valid report fails the whole batch, as Lambda does.
fn first_failure(payload: &[u8], items: &[Item]) -> Option<usize> {
    let Ok(response) = serde_json::from_slice::<Value>(payload) else {
        return None;
    };
    let failures = response.get("batchItemFailures")?;
    let Some(failures) = failures.as_array() else {
        return Some(0);
    };
    let mut first: Option<usize> = None;
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str);
        match id.and_then(|id| items.iter().position(|i| i.sequence == id)) {
            Some(at) => first = Some(first.map_or(at, |f| f.min(at))),
            None => return Some(0),
        }
    }
    first
}

/// A batch left behind: to OnFailure when there is one, else only logged.
async fn give_up(
    context: &Arc<Context>,
    source: &Source<'_>,
    items: &[Item],
    condition: &str,
    attempts: u32,
    last: Option<&InvokeOutcome>,
) {
    let mapping = &context.mapping;
    let function_arn = context
        .functions
        .arn(&mapping.function_name, mapping.qualifier.as_deref());
    match mapping.on_failure.as_deref().map(Destination::parse) {
        Some(Ok(destination)) => {
            let record =
                event::failure_record(source, items, condition, attempts, &function_arn, last);
            context.functions.deliver(&destination, &record).await;
        }
        Some(Err(e)) => tracing::warn!("mapping {}: {e}", mapping.uuid),
        None => tracing::warn!(
            "mapping {}: {} records of {} skipped ({condition}); give the mapping an OnFailure \
             destination to keep them",
            mapping.uuid,
            items.len(),
            source.shard_id
        ),
    }
}
