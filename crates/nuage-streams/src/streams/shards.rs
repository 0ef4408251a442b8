//! Shards: listing, and resharding (split, merge, UpdateShardCount) with
//! lineage.

use super::*;

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

impl Streams {
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

    pub(super) fn require_active(&self, meta: &StreamMeta) -> Result<()> {
        match meta.status_at(now_ms()) {
            StreamStatus::Active => Ok(()),
            status => Err(self.not_active(&meta.name, status)),
        }
    }

    /// The shard a request names, read before the stream is looked up: an
    /// id AWS cannot read is not found, named as the request gave it.
    pub(super) fn shard_index(&self, stream: &str, text: &str) -> Result<u32> {
        crate::meta::parse_shard_id(text).ok_or_else(|| self.no_such_shard(stream, text))
    }

    fn no_such_shard(&self, stream: &str, shard: &str) -> StreamError {
        StreamError::NotFound(format!(
            "Could not find shard {shard} in stream {stream} under account {}.",
            self.config.account
        ))
    }

    /// An open shard of the stream, by index (named in AWS's form if absent).
    pub(super) fn open_shard(&self, meta: &StreamMeta, index: u32) -> Result<ShardMeta> {
        meta.shard(index)
            .filter(|s| s.is_open())
            .cloned()
            .ok_or_else(|| self.no_such_shard(&meta.name, &shard_id(index)))
    }

    /// Closes `shard` and opens `children` (ranges with their parents).
    pub(super) fn reshard(
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

    /// Splits a shard at `new_start`, a hash key in decimal (one past
    /// 2^128-1 is outside every shard, and refused as such).
    pub fn split_shard(&self, name: &str, shard_text: &str, new_start: &str) -> Result<()> {
        let index = self.shard_index(name, shard_text)?;
        self.check_shard_limit(1)?;
        self.change(name, |stream, meta| {
            self.require_active(meta)?;
            let shard = self.open_shard(meta, index)?;
            let inside = new_start.parse::<u128>().ok().filter(|&key| {
                key > shard.start_hash.saturating_add(1) && key < shard.end_hash
            });
            let Some(new_start) = inside else {
                return Err(StreamError::InvalidArgument(format!(
                    "NewStartingHashKey {new_start} used in SplitShard() on shard {} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                    shard.id(),
                    self.config.account,
                    shard.start_hash,
                    shard.end_hash
                )));
            };
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
        let first = self.shard_index(name, shard_text)?;
        let second = self.shard_index(name, adjacent_text)?;
        self.change(name, |stream, meta| {
            self.require_active(meta)?;
            let a = self.open_shard(meta, first)?;
            let b = self.open_shard(meta, second)?;
            // AWS merges ShardToMerge with the shard just above it.
            let adjacent = a.end_hash.checked_add(1) == Some(b.start_hash);
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
}
