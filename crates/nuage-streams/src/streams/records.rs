//! Records in and out: PutRecord(s), shard iterators, GetRecords and the
//! reads behind SubscribeToShard.

use super::*;

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

impl Streams {
    /// Stores records, routed by hash key, and returns once they are durable.
    pub async fn put(&self, name: &str, entries: &[PutEntry]) -> Result<Put> {
        let stream = self.get_for_data(name)?;
        let (limited, encrypted) = {
            let meta = stream.meta.lock().expect("meta lock");
            (
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
                let Route {
                    shard,
                    log,
                    created_ms,
                    ..
                } = &routes[r];
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
                        let prefix = Prefix::for_records(*created_ms, *shard, now);
                        for (k, &i) in members.iter().enumerate() {
                            outcomes[i] = Some(PutOutcome::Stored {
                                shard_id: id.clone(),
                                sequence_number: prefix.record_text(first + k as u64),
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

    /// Reads a StartingSequenceNumber for a shard of this stream, refusing
    /// it as AWS does; the ordinal it names.
    pub(super) fn parse_sequence(
        &self,
        stream: &str,
        meta: &StreamMeta,
        shard: u32,
        text: &str,
    ) -> Result<u64> {
        let used = || {
            format!(
                "StartingSequenceNumber {text} used in GetShardIterator on shard {} in stream {stream} under account {} is invalid",
                shard_id(shard),
                self.config.account
            )
        };
        let seq = Parsed::read(text)
            .ok_or_else(|| StreamError::InvalidArgument(format!("{}.", used())))?;
        if seq.shard != i64::from(shard) {
            return Err(StreamError::InvalidArgument(format!(
                "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                seq.shard_id(),
                shard_id(shard)
            )));
        }
        if seq.version != 2 || seq.shard_created_secs != secs(meta.shard_created_ms(shard)) {
            if seq.version == 0 {
                return Err(StreamError::OldSequenceNumber);
            }
            return Err(StreamError::InvalidArgument(format!(
                "{} because it did not come from this stream.",
                used()
            )));
        }
        Ok(seq.ordinal)
    }

    pub fn shard_iterator(&self, name: &str, shard_text: &str, start: Start) -> Result<String> {
        let shard = self.shard_index(name, shard_text)?;
        let missing = || self.shard_not_found(name, &shard_id(shard));
        let stream = match self.get_for_data(name) {
            Err(StreamError::NotFound(_)) => return Err(missing()),
            other => other?,
        };
        let meta = stream.meta();
        if meta.shard(shard).is_none() {
            return Err(missing());
        }
        let log = stream.log(shard).ok_or_else(missing)?;
        let now = now_ms();
        let position = match start {
            Start::TrimHorizon => Position::at(log.trim_horizon()),
            Start::Latest => Position::at(log.end()),
            Start::AtSequence(text) => Position::at(SequenceNumber::at_position(
                self.parse_sequence(name, &meta, shard, &text)?,
            )),
            Start::AfterSequence(text) => {
                Position::at(self.parse_sequence(name, &meta, shard, &text)?)
            }
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

    pub(super) fn read_records(
        &self,
        iterator: &str,
        limit: usize,
        counted: bool,
    ) -> Result<RecordsOut> {
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
        let shard_text = shard_id(it.shard);
        // An iterator into a deleted stream names its shard, as AWS does.
        let stream = match self.get_for_data(&it.stream) {
            Err(StreamError::NotFound(_)) => {
                return Err(self.shard_not_found(&it.stream, &shard_text));
            }
            other => other?,
        };
        let meta = stream.meta();
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
        // Records that arrived in the same second share a prefix.
        let created_ms = meta.shard_created_ms(it.shard);
        let mut prefix: Option<Prefix> = None;
        let records = batch
            .records
            .into_iter()
            .map(|r| {
                let p = match prefix {
                    Some(p) if p.time_secs() == secs(r.arrival_ms) => p,
                    _ => Prefix::for_records(created_ms, it.shard, r.arrival_ms),
                };
                prefix = Some(p);
                let seq = p.record_text(r.number);
                (r, seq)
            })
            .collect::<Vec<(Record, String)>>();
        // SubscribeToShard resumes after the last record handed over (its
        // own number, as AWS gives it), or where this read started.
        let continuation = next_iterator.is_some().then(|| match records.last() {
            Some((last, seq)) if last.number + 1 == batch.next.record => seq.clone(),
            _ => meta.sequence_before(it.shard, batch.next.record),
        });
        Ok(RecordsOut {
            stream: it.stream,
            shard: it.shard,
            encrypted: meta.encryption.is_some(),
            records,
            continuation,
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
}
