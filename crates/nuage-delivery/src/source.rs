//! KinesisStreamAsSource: a task that reads a nuage Kinesis stream from
//! TRIM_HORIZON into the delivery stream's log, following resharding
//! (children after their parents are read to the end).
//!
//! Exactly once without a second checkpoint file: every record copied into
//! the log carries `"<shard>:<record number>"` as its key. The checkpoint
//! keeps, per source shard, the next record as of the delivered mark; at
//! start the reader moves those positions past the records already in the
//! log beyond that mark, so a crash between copying and checkpointing
//! neither skips nor repeats a record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use nuage_streams::{Entry, Position, ShardLog, StreamMeta, Streams};

use crate::checkpoint::{Checkpoint, advance, read_json};
use crate::delivery::{Delivery, Source};
use crate::error::Result;

/// Records copied per read of one source shard.
const BATCH_RECORDS: usize = 10_000;
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Where to go on reading each source shard: the checkpoint's positions,
/// moved past what the log already holds beyond the delivered mark.
fn positions(delivery: &Delivery) -> Result<BTreeMap<u32, u64>> {
    let checkpoint: Checkpoint = read_json(delivery.dir(), "checkpoint.json")?.unwrap_or_default();
    let mut positions = checkpoint.sources.clone();
    let mut at = Position::at(checkpoint.delivered);
    loop {
        let batch = delivery.log.read(at, BATCH_RECORDS, BATCH_BYTES)?;
        if batch.records.is_empty() {
            return Ok(positions);
        }
        advance(&mut positions, &batch.records);
        at = batch.next;
    }
}

/// Whether a shard's parents are read to their end (or gone).
fn parents_done(meta: &StreamMeta, shard: u32, positions: &BTreeMap<u32, u64>) -> bool {
    let Some(s) = meta.shards.iter().find(|s| s.index == shard) else {
        return false;
    };
    [s.parent, s.adjacent_parent]
        .into_iter()
        .flatten()
        .all(|p| match meta.shards.iter().find(|s| s.index == p) {
            None => true,
            Some(parent) => parent
                .end_record
                .is_some_and(|end| positions.get(&p).copied().unwrap_or(0) >= end),
        })
}

/// Starts copying from the delivery stream's source stream, if it has one
/// (KinesisStreamAsSource); [`Delivery::stop`] stops it.
pub(crate) fn start(delivery: &Arc<Delivery>, streams: &Arc<Streams>) {
    let Source::KinesisStream { stream_arn, .. } = delivery.meta().source else {
        return;
    };
    let stream = Streams::name_from_arn(&stream_arn)
        .unwrap_or(&stream_arn)
        .to_string();
    let (copier, streams) = (delivery.clone(), streams.clone());
    delivery.adopt(tokio::spawn(async move {
        if let Err(e) = pump(&copier, &streams, &stream).await {
            tracing::error!(
                "delivery stream {}: reading stream {stream} stopped: {e}",
                copier.meta().name
            );
        }
    }));
}

/// Copies records from `stream` into the delivery stream's log until the
/// delivery stream stops.
async fn pump(delivery: &Arc<Delivery>, streams: &Streams, stream: &str) -> Result<()> {
    let name = delivery.meta().name;
    let mut positions = positions(delivery)?;
    let mut stop = delivery.stop.subscribe();
    let mut missing_reported = false;
    let mut keys: Vec<String> = Vec::new();
    while !*stop.borrow_and_update() {
        let source = match streams.get(stream) {
            Ok(source) => {
                missing_reported = false;
                source
            }
            Err(e) => {
                if !missing_reported {
                    tracing::warn!(
                        "delivery stream {name}: source stream {stream}: {e}; waiting for it"
                    );
                    missing_reported = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let meta = source.meta();
        let mut copied = false;
        let mut idle: Vec<(Arc<ShardLog>, u64)> = Vec::new();
        for shard in &meta.shards {
            if !parents_done(&meta, shard.index, &positions) {
                continue;
            }
            let Some(log) = source.log(shard.index) else {
                continue;
            };
            let at = positions
                .get(&shard.index)
                .copied()
                .unwrap_or(0)
                .max(log.trim_horizon());
            if shard.end_record.is_some_and(|end| at >= end) {
                positions.insert(shard.index, at);
                continue;
            }
            let batch = log.read(Position::at(at), BATCH_RECORDS, BATCH_BYTES)?;
            let Some(last) = batch.records.last() else {
                idle.push((log, at));
                continue;
            };
            let next = last.number + 1;
            keys.clear();
            keys.extend(
                batch
                    .records
                    .iter()
                    .map(|r| format!("{}:{}", shard.index, r.number)),
            );
            let entries: Vec<Entry<'_>> = batch
                .records
                .iter()
                .zip(&keys)
                .map(|(r, key)| Entry {
                    partition_key: key,
                    data: &r.data,
                })
                .collect();
            delivery.append(&entries).await?;
            positions.insert(shard.index, next);
            copied = true;
        }
        if copied {
            continue;
        }
        // Nothing new: wait for a record on any open shard, a reshard
        // (checked every second) or the stop.
        let readable = futures::future::select_all(
            idle.iter()
                .map(|(log, at)| log.readable(*at).boxed())
                .chain(std::iter::once(std::future::pending().boxed())),
        );
        tokio::select! {
            _ = readable => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
    Ok(())
}
