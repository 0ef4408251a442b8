//! Records: PutRecord, PutRecords, GetShardIterator and GetRecords.

use super::*;

/// A record as GetRecords and SubscribeToShard events carry it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WireRecord {
    sequence_number: String,
    approximate_arrival_timestamp: Timestamp,
    data: Blob,
    partition_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

pub(crate) fn wire_records(
    records: Vec<(nuage_streams::Record, String)>,
    encrypted: bool,
) -> Vec<WireRecord> {
    let encryption = encrypted.then_some("KMS");
    records
        .into_iter()
        .map(|(record, seq)| WireRecord {
            sequence_number: seq,
            approximate_arrival_timestamp: Timestamp(record.arrival_ms),
            data: Blob(record.data),
            partition_key: record.partition_key,
            encryption_type: encryption,
        })
        .collect()
}

impl Kinesis {
    pub(super) fn validate_entry(
        &self,
        v: &mut Validation,
        member: Option<usize>,
        partition_key: &Option<String>,
        data: &Option<Blob>,
        explicit_hash_key: &Option<String>,
    ) {
        // The common case, without building field names.
        let key_ok = partition_key
            .as_deref()
            .is_some_and(|k| !k.is_empty() && k.len() <= 256);
        let data_ok = data
            .as_ref()
            .is_some_and(|d| d.0.len() <= self.limits.max_record_bytes);
        if key_ok && data_ok && explicit_hash_key.as_deref().is_none_or(digits_ok) {
            return;
        }
        let prefix = member.map_or(String::new(), |i| format!("records.{i}.member."));
        let explicit_hash_key_check = |v: &mut Validation| {
            v.pattern(
                explicit_hash_key.as_deref(),
                &format!("{prefix}explicitHashKey"),
                digits_ok,
                "0|([1-9]\\d{0,38})",
            )
        };
        v.required(partition_key, &format!("{prefix}partitionKey"));
        v.length(
            partition_key.as_deref(),
            &format!("{prefix}partitionKey"),
            1,
            256,
        );
        // AWS's order: PutRecord checks the hash key before the data,
        // PutRecords' entries after it.
        if member.is_none() {
            explicit_hash_key_check(v);
        }
        v.required(data, &format!("{prefix}data"));
        if let Some(d) = data
            && d.0.len() > self.limits.max_record_bytes
        {
            let n = d.0.len();
            v.fail(
                &format!("java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]"),
                &format!("{prefix}data"),
                &format!(
                    "Member must have length less than or equal to {}",
                    self.limits.max_record_bytes
                ),
            );
        }
        if member.is_some() {
            explicit_hash_key_check(v);
        }
    }

    pub(super) async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            partition_key: Option<String>,
            data: Option<Blob>,
            explicit_hash_key: Option<String>,
            sequence_number_for_ordering: Option<String>,
        }
        let r: Req = parse(format, body)?;
        // AWS's order: SequenceNumberForOrdering, PartitionKey,
        // ExplicitHashKey, Data, then the stream.
        let mut v = Validation::default();
        v.pattern(
            r.sequence_number_for_ordering.as_deref(),
            "sequenceNumberForOrdering",
            digits_ok,
            "0|([1-9]\\d{0,128})",
        );
        self.validate_entry(
            &mut v,
            None,
            &r.partition_key,
            &r.data,
            &r.explicit_hash_key,
        );
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        let entry = PutEntry {
            partition_key: r.partition_key.unwrap_or_default(),
            data: r.data.unwrap_or_default().0,
            explicit_hash_key: explicit_hash(r.explicit_hash_key.as_deref())?,
        };
        let put = self
            .streams
            .put(&name, std::slice::from_ref(&entry))
            .await?;
        match put.outcomes.into_iter().next() {
            Some(PutOutcome::Stored {
                shard_id,
                sequence_number,
            }) => {
                self.count_in(&name, &shard_id, 1, entry.data.len());
                Ok(reply_value(
                    format,
                    &json!({
                        "ShardId": shard_id,
                        "SequenceNumber": sequence_number,
                        "EncryptionType": encryption_name(put.encrypted),
                    }),
                ))
            }
            Some(PutOutcome::Failed { reason, message }) => {
                Err(ApiError::new(ErrorCode::from(reason), message))
            }
            None => Err(ApiError::internal("no outcome for the record")),
        }
    }

    pub(super) async fn put_records(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            partition_key: Option<String>,
            data: Option<Blob>,
            explicit_hash_key: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            records: Option<Vec<Entry>>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Result {
            #[serde(skip_serializing_if = "Option::is_none")]
            shard_id: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sequence_number: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_code: Option<&'static str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_message: Option<String>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Resp {
            failed_record_count: usize,
            records: Vec<Result>,
            encryption_type: &'static str,
        }
        let r: Req = parse(format, body)?;
        // AWS's order: Records (and each entry), then the stream.
        let mut v = Validation::default();
        v.required(&r.records, "records");
        let records = r.records.unwrap_or_default();
        if r.target.stream_name.is_some() || r.target.stream_arn.is_some() {
            if records.is_empty() {
                v.fail(
                    &"[]",
                    "records",
                    "Member must have length greater than or equal to 1",
                );
            } else if records.len() > 500 {
                v.fail(
                    &"[...]",
                    "records",
                    "Member must have length less than or equal to 500",
                );
            }
        }
        for (i, e) in records.iter().enumerate() {
            self.validate_entry(
                &mut v,
                Some(i + 1),
                &e.partition_key,
                &e.data,
                &e.explicit_hash_key,
            );
        }
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        let total: usize = records
            .iter()
            .map(|e| {
                e.data.as_ref().map_or(0, |d| d.0.len())
                    + e.partition_key.as_ref().map_or(0, |k| k.len())
            })
            .sum();
        if total > self.limits.max_put_records_bytes {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "Records size exceeds {} MB limit: the request carries {total} bytes of data and partition keys; send fewer records per PutRecords call.",
                    self.limits.max_put_records_bytes / (1024 * 1024)
                ),
            ));
        }
        let mut entries = Vec::with_capacity(records.len());
        for e in records {
            entries.push(PutEntry {
                explicit_hash_key: explicit_hash(e.explicit_hash_key.as_deref())?,
                partition_key: e.partition_key.unwrap_or_default(),
                data: e.data.unwrap_or_default().0,
            });
        }
        let put = self.streams.put(&name, &entries).await?;
        let (outcomes, encryption) = (put.outcomes, encryption_name(put.encrypted));
        let mut per_shard: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
        for (o, e) in outcomes.iter().zip(&entries) {
            if let PutOutcome::Stored { shard_id, .. } = o {
                let n = per_shard.entry(shard_id).or_default();
                n.0 += 1;
                n.1 += e.data.len();
            }
        }
        for (shard, (records, bytes)) in per_shard {
            self.count_in(&name, shard, records, bytes);
        }
        let mut failed = 0;
        let results = outcomes
            .into_iter()
            .map(|o| match o {
                PutOutcome::Stored {
                    shard_id,
                    sequence_number,
                } => Result {
                    shard_id: Some(shard_id),
                    sequence_number: Some(sequence_number),
                    error_code: None,
                    error_message: None,
                },
                PutOutcome::Failed { reason, message } => {
                    failed += 1;
                    Result {
                        shard_id: None,
                        sequence_number: None,
                        error_code: Some(ErrorCode::from(reason).as_str()),
                        error_message: Some(message),
                    }
                }
            })
            .collect();
        Ok(reply(
            format,
            &Resp {
                failed_record_count: failed,
                records: results,
                encryption_type: encryption,
            },
        ))
    }

    pub(super) fn get_shard_iterator(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_id: Option<String>,
            shard_iterator_type: Option<String>,
            starting_sequence_number: Option<String>,
            timestamp: Option<Timestamp>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.required(&r.shard_id, "shardId");
        v.pattern(
            r.shard_id.as_deref(),
            "shardId",
            stream_name_ok,
            NAME_PATTERN,
        );
        v.length(r.shard_id.as_deref(), "shardId", 1, 128);
        v.required(&r.shard_iterator_type, "shardIteratorType");
        v.one_of(
            r.shard_iterator_type.as_deref(),
            "shardIteratorType",
            &[
                "AFTER_SEQUENCE_NUMBER",
                "AT_SEQUENCE_NUMBER",
                "AT_TIMESTAMP",
                "TRIM_HORIZON",
                "LATEST",
            ],
        );
        v.pattern(
            r.starting_sequence_number.as_deref(),
            "startingSequenceNumber",
            digits_ok,
            "0|([1-9]\\d{0,128})",
        );
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        let kind = r.shard_iterator_type.as_deref().unwrap_or_default();
        let start = match (kind, r.starting_sequence_number) {
            ("AT_SEQUENCE_NUMBER", Some(s)) => Start::AtSequence(s),
            ("AFTER_SEQUENCE_NUMBER", Some(s)) => Start::AfterSequence(s),
            ("TRIM_HORIZON", None) => Start::TrimHorizon,
            ("LATEST", None) => Start::Latest,
            ("AT_TIMESTAMP", _) => Start::AtTimestamp(
                r.timestamp
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidArgument,
                            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                        )
                    })?
                    .0,
            ),
            (kind, seq) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and {} StartingSequenceNumber.",
                        if seq.is_some() { "also a" } else { "no" }
                    ),
                ));
            }
        };
        let iterator =
            self.streams
                .shard_iterator(&name, r.shard_id.as_deref().unwrap_or_default(), start)?;
        Ok(reply_value(format, &json!({ "ShardIterator": iterator })))
    }

    pub(super) async fn get_records(&self, format: Format, body: Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            shard_iterator: Option<String>,
            limit: Option<i64>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Resp {
            records: Vec<WireRecord>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_shard_iterator: Option<String>,
            millis_behind_latest: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            child_shards: Option<Vec<Value>>,
        }
        let r: Req = parse(format, &body)?;
        let mut v = Validation::default();
        v.required(&r.shard_iterator, "shardIterator");
        v.length(r.shard_iterator.as_deref(), "shardIterator", 1, 512);
        v.range(r.limit, "limit", 1, 10_000);
        v.finish()?;
        let streams = self.streams.clone();
        let iterator = r.shard_iterator.unwrap_or_default();
        let limit = r.limit.unwrap_or(10_000) as usize;
        let out = tokio::task::spawn_blocking(move || streams.get_records(&iterator, limit))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        self.metrics.count_out(&out);
        let child_shards = out
            .next_iterator
            .is_none()
            .then(|| child_shards_json(&out.child_shards));
        let resp = Resp {
            millis_behind_latest: out.millis_behind,
            child_shards,
            records: wire_records(out.records, out.encrypted),
            next_shard_iterator: out.next_iterator,
        };
        Ok(reply(format, &resp))
    }

    pub(super) fn count_in(&self, stream: &str, shard: &str, records: u64, bytes: usize) {
        let labels = [stream, shard];
        self.metrics
            .records_in
            .with_label_values(&labels)
            .inc_by(records);
        self.metrics
            .bytes_in
            .with_label_values(&labels)
            .inc_by(bytes as u64);
    }
}
