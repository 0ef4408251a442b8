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
    /// SequenceNumberForOrdering must be a sequence number AWS could have
    /// given out: a known layout, not from the future. (Every record of a
    /// shard gets a higher number than the one before it in nuage, so
    /// the ordering it asks for always holds.)
    fn check_ordering(&self, stream: &str, seq: &str) -> Result<(), ApiError> {
        let valid = nuage_streams::sequence::Parsed::read(seq).is_some_and(|p| {
            p.time_secs.saturating_mul(1000) <= nuage_streams::streams::now_ms() as u64
        });
        if valid {
            return Ok(());
        }
        // A missing stream is named first, as AWS names it.
        self.streams.describe(stream)?;
        Err(ApiError::new(
            ErrorCode::InvalidArgument,
            format!(
                "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {stream} under account {} is invalid.",
                self.streams.config().account
            ),
        ))
    }

    pub(super) async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::PutRecord = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let entry = PutEntry {
            partition_key: r.partition_key.unwrap_or_default(),
            data: r.data.unwrap_or_default().0,
            explicit_hash_key: explicit_hash(r.explicit_hash_key.as_deref())?,
        };
        if let Some(seq) = &r.sequence_number_for_ordering {
            self.check_ordering(&name, seq)?;
        }
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
        let r: shapes::PutRecords = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let records = r.records.unwrap_or_default();
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
        if format == Format::Json {
            return Ok(reply_encoded(
                format,
                json::put_records(&outcomes, encryption),
            ));
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
        let r: shapes::GetShardIterator = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
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
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Resp {
            #[serde(skip_serializing_if = "Option::is_none")]
            records: Option<Vec<WireRecord>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_shard_iterator: Option<String>,
            millis_behind_latest: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            child_shards: Option<Vec<Value>>,
        }
        let r: shapes::GetRecords = self.request(format, &body)?;
        let streams = self.streams.clone();
        let iterator = r.shard_iterator.unwrap_or_default();
        let limit = r.limit.map_or(10_000, |n| n.0) as usize;
        let out = tokio::task::spawn_blocking(move || streams.get_records(&iterator, limit))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        self.metrics.count_out(&out);
        let child_shards = out
            .next_iterator
            .is_none()
            .then(|| child_shards_json(&out.child_shards));
        let mut resp = Resp {
            millis_behind_latest: out.millis_behind,
            child_shards,
            records: None,
            next_shard_iterator: out.next_iterator,
        };
        if format == Format::Cbor {
            resp.records = Some(wire_records(out.records, out.encrypted));
            return Ok(reply(format, &resp));
        }
        // {"Records":[...] by hand, then the rest of the members by serde.
        let rest = encode(format, &resp).map_err(ApiError::internal)?;
        let mut body = Vec::with_capacity(rest.len() + 16 + out.records.len() * 320);
        body.extend_from_slice(b"{\"Records\":");
        json::records(&mut body, &out.records, out.encrypted);
        body.push(b',');
        body.extend_from_slice(&rest[1..]);
        Ok(reply_encoded(format, body))
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
