//! Kinesis Data Streams (`Kinesis_20131202.*`): request shapes, AWS's input
//! validation, and translation to [`nuage_streams::Streams`] calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use nuage_streams::meta::{Encryption, ShardMeta, StreamMeta};
use nuage_streams::{PutEntry, PutOutcome, ShardFilter, Start, StreamError, StreamMode, Streams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::metrics::Metrics;
use crate::wire::{
    ApiError, ApiResult, Blob, Format, Timestamp, Validation, empty, parse, reply, reply_value,
};

/// Limits that are settings rather than AWS constants.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest record data (AWS: 1 MiB by default, up to 10 MiB).
    pub max_record_bytes: usize,
    /// Largest PutRecords request, data and keys together.
    pub max_put_records_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_record_bytes: 1024 * 1024,
            max_put_records_bytes: 10 * 1024 * 1024,
        }
    }
}

pub struct Kinesis {
    pub streams: Arc<Streams>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub subscriptions: Arc<crate::subscribe::Subscriptions>,
    /// Turns true when the server shuts down; subscriptions then end.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        let kind = match &e {
            StreamError::NotFound(_) => "ResourceNotFoundException",
            StreamError::InUse(_) => "ResourceInUseException",
            StreamError::InvalidArgument(_) => "InvalidArgumentException",
            StreamError::LimitExceeded(_) => "LimitExceededException",
            StreamError::ExpiredIterator(_) => "ExpiredIteratorException",
            StreamError::Throughput(_) => "ProvisionedThroughputExceededException",
            StreamError::Storage(_)
            | StreamError::ShardClosed
            | StreamError::SyncFailed
            | StreamError::Io { .. }
            | StreamError::Task(_) => {
                tracing::error!("{e}");
                return ApiError::internal(e.to_string());
            }
        };
        ApiError::client(kind, e.to_string())
    }
}

fn stream_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn digits_ok(s: &str) -> bool {
    s == "0"
        || (s.starts_with(|c: char| ('1'..='9').contains(&c))
            && s.bytes().all(|b| b.is_ascii_digit()))
}

fn arn_ok(s: &str) -> bool {
    Streams::name_from_arn(s).is_some()
}

const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
const ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";

/// The stream a request names, by StreamName or StreamARN.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Target {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

impl Target {
    fn validate(&self, v: &mut Validation) {
        v.length(self.stream_name.as_deref(), "streamName", 1, 128);
        v.pattern(
            self.stream_name.as_deref(),
            "streamName",
            stream_name_ok,
            NAME_PATTERN,
        );
        v.length(self.stream_arn.as_deref(), "streamARN", 1, 2048);
        v.pattern(self.stream_arn.as_deref(), "streamARN", arn_ok, ARN_PATTERN);
    }

    fn name(&self) -> Result<String, ApiError> {
        match (&self.stream_name, &self.stream_arn) {
            (Some(name), Some(arn)) => {
                if Streams::name_from_arn(arn) != Some(name) {
                    return Err(ApiError::client(
                        "InvalidArgumentException",
                        format!(
                            "StreamARN {arn} and StreamName {name} do not refer to the same stream."
                        ),
                    ));
                }
                Ok(name.clone())
            }
            (Some(name), None) => Ok(name.clone()),
            (None, Some(arn)) => Ok(Streams::name_from_arn(arn).unwrap_or_default().to_string()),
            (None, None) => Err(ApiError::client(
                "ValidationException",
                "Neither StreamName nor StreamARN was provided; name the stream with one of them.",
            )),
        }
    }
}

/// Validates the common stream target and returns the name.
fn target_name(t: &Target) -> Result<String, ApiError> {
    let mut v = Validation::default();
    t.validate(&mut v);
    v.finish()?;
    t.name()
}

fn shard_json(meta: &StreamMeta, s: &ShardMeta) -> Value {
    let mut range = json!({ "StartingSequenceNumber": meta.sequence_before(s.index, 0) });
    if let Some(end) = s.end_record {
        range["EndingSequenceNumber"] = json!(meta.sequence_before(s.index, end));
    }
    let mut out = json!({
        "ShardId": s.id(),
        "HashKeyRange": {
            "StartingHashKey": s.start_hash.to_string(),
            "EndingHashKey": s.end_hash.to_string(),
        },
        "SequenceNumberRange": range,
    });
    if let Some(p) = s.parent {
        out["ParentShardId"] = json!(nuage_streams::meta::shard_id(p));
    }
    if let Some(p) = s.adjacent_parent {
        out["AdjacentParentShardId"] = json!(nuage_streams::meta::shard_id(p));
    }
    out
}

fn mode_json(meta: &StreamMeta) -> Value {
    json!({ "StreamMode": meta.mode.as_str() })
}

fn monitoring_json(meta: &StreamMeta) -> Value {
    json!([{ "ShardLevelMetrics": meta.shard_level_metrics.iter().collect::<Vec<_>>() }])
}

fn encryption_type(meta: &StreamMeta) -> &'static str {
    encryption_name(meta.encryption.is_some())
}

fn encryption_name(encrypted: bool) -> &'static str {
    if encrypted { "KMS" } else { "NONE" }
}

fn add_encryption(out: &mut Value, meta: &StreamMeta) {
    out["EncryptionType"] = json!(encryption_type(meta));
    if let Some(e) = &meta.encryption {
        out["KeyId"] = json!(e.key_id);
    }
}

fn created(meta: &StreamMeta) -> Value {
    json!(meta.created_ms as f64 / 1000.0)
}

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

/// The ChildShards reported at a closed shard's end.
pub(crate) fn child_shards_json(children: &[ShardMeta]) -> Vec<Value> {
    children
        .iter()
        .map(|c| {
            let parents: Vec<String> = [c.parent, c.adjacent_parent]
                .into_iter()
                .flatten()
                .map(nuage_streams::meta::shard_id)
                .collect();
            json!({
                "ShardId": c.id(),
                "ParentShards": parents,
                "HashKeyRange": {
                    "StartingHashKey": c.start_hash.to_string(),
                    "EndingHashKey": c.end_hash.to_string(),
                },
            })
        })
        .collect()
}

impl Kinesis {
    pub async fn dispatch(&self, operation: &str, format: Format, body: Bytes) -> ApiResult {
        match operation {
            "CreateStream" => self.create_stream(format, &body),
            "DeleteStream" => self.delete_stream(format, &body),
            "DescribeStream" => self.describe_stream(format, &body),
            "DescribeStreamSummary" => self.describe_stream_summary(format, &body),
            "ListStreams" => self.list_streams(format, &body),
            "ListShards" => self.list_shards(format, &body),
            "PutRecord" => self.put_record(format, &body).await,
            "PutRecords" => self.put_records(format, &body).await,
            "GetShardIterator" => self.get_shard_iterator(format, &body),
            "GetRecords" => self.get_records(format, body).await,
            "SplitShard" => self.split_shard(format, &body),
            "MergeShards" => self.merge_shards(format, &body),
            "UpdateShardCount" => self.update_shard_count(format, &body),
            "IncreaseStreamRetentionPeriod" => self.retention(format, &body, true),
            "DecreaseStreamRetentionPeriod" => self.retention(format, &body, false),
            "AddTagsToStream" => self.add_tags(format, &body),
            "RemoveTagsFromStream" => self.remove_tags(format, &body),
            "ListTagsForStream" => self.list_tags(format, &body),
            "TagResource" => self.tag_resource(format, &body),
            "UntagResource" => self.untag_resource(format, &body),
            "ListTagsForResource" => self.list_tags_for_resource(format, &body),
            "StartStreamEncryption" => self.encryption(format, &body, true),
            "StopStreamEncryption" => self.encryption(format, &body, false),
            "EnableEnhancedMonitoring" => self.monitoring(format, &body, true),
            "DisableEnhancedMonitoring" => self.monitoring(format, &body, false),
            "UpdateStreamMode" => self.update_stream_mode(format, &body),
            "RegisterStreamConsumer" => self.register_consumer(format, &body),
            "DeregisterStreamConsumer" => self.deregister_consumer(format, &body),
            "DescribeStreamConsumer" => self.describe_consumer(format, &body),
            "ListStreamConsumers" => self.list_consumers(format, &body),
            "DescribeLimits" => self.describe_limits(format),
            "SubscribeToShard" => self.subscribe_to_shard(format, &body),
            _ => Err(ApiError::client("UnknownOperationException", "")),
        }
    }

    fn create_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            stream_name: Option<String>,
            shard_count: Option<i64>,
            stream_mode_details: Option<ModeDetails>,
            tags: Option<BTreeMap<String, String>>,
        }
        let r: Req = parse(format, body)?;
        let mode = parse_mode(r.stream_mode_details.as_ref())?;
        let mut v = Validation::default();
        v.required(&r.stream_name, "streamName");
        v.length(r.stream_name.as_deref(), "streamName", 1, 128);
        v.pattern(
            r.stream_name.as_deref(),
            "streamName",
            stream_name_ok,
            NAME_PATTERN,
        );
        v.range(r.shard_count, "shardCount", 1, 100_000);
        v.finish()?;
        let shards = match (mode, r.shard_count) {
            (StreamMode::OnDemand, Some(_)) => {
                return Err(ApiError::client(
                    "ValidationException",
                    "ShardCount must not be set for a stream in ON_DEMAND mode.",
                ));
            }
            (StreamMode::OnDemand, None) => 4,
            (StreamMode::Provisioned, Some(n)) => n as u32,
            (StreamMode::Provisioned, None) => {
                return Err(ApiError::client(
                    "ValidationException",
                    "1 validation error detected: Value null at 'shardCount' failed to satisfy constraint: Member must not be null (a PROVISIONED stream needs ShardCount)",
                ));
            }
        };
        self.streams.create(
            r.stream_name.as_deref().unwrap_or_default(),
            shards,
            mode,
            r.tags.unwrap_or_default(),
        )?;
        Ok(empty(format))
    }

    fn delete_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            enforce_consumer_deletion: Option<bool>,
        }
        let r: Req = parse(format, body)?;
        let name = target_name(&r.target)?;
        self.streams
            .delete(&name, r.enforce_consumer_deletion.unwrap_or(false))?;
        Ok(empty(format))
    }

    fn describe_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            limit: Option<i64>,
            exclusive_start_shard_id: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.range(r.limit, "limit", 1, 10_000);
        v.length(
            r.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
            1,
            128,
        );
        v.finish()?;
        let name = r.target.name()?;
        let meta = self.streams.describe(&name)?;
        let limit = r.limit.unwrap_or(100) as usize;
        let after = r
            .exclusive_start_shard_id
            .as_deref()
            .and_then(nuage_streams::meta::parse_shard_id);
        let shards: Vec<&ShardMeta> = meta
            .shards
            .iter()
            .filter(|s| after.is_none_or(|a| s.index > a))
            .collect();
        let has_more = shards.len() > limit;
        let mut description = json!({
            "StreamName": meta.name,
            "StreamARN": meta.arn,
            "StreamStatus": meta.status.as_str(),
            "StreamModeDetails": mode_json(&meta),
            "Shards": shards.iter().take(limit).map(|s| shard_json(&meta, s)).collect::<Vec<_>>(),
            "HasMoreShards": has_more,
            "RetentionPeriodHours": meta.retention_hours,
            "StreamCreationTimestamp": created(&meta),
            "EnhancedMonitoring": monitoring_json(&meta),
        });
        add_encryption(&mut description, &meta);
        Ok(reply_value(
            format,
            &json!({ "StreamDescription": description }),
        ))
    }

    fn describe_stream_summary(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: Target = parse(format, body)?;
        let name = target_name(&r)?;
        let meta = self.streams.describe(&name)?;
        let mut summary = json!({
            "StreamName": meta.name,
            "StreamARN": meta.arn,
            "StreamStatus": meta.status.as_str(),
            "StreamModeDetails": mode_json(&meta),
            "RetentionPeriodHours": meta.retention_hours,
            "StreamCreationTimestamp": created(&meta),
            "EnhancedMonitoring": monitoring_json(&meta),
            "OpenShardCount": meta.open_shards().count(),
            "ConsumerCount": meta.consumers.len(),
        });
        add_encryption(&mut summary, &meta);
        Ok(reply_value(
            format,
            &json!({ "StreamDescriptionSummary": summary }),
        ))
    }

    fn list_streams(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            limit: Option<i64>,
            exclusive_start_stream_name: Option<String>,
            next_token: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.range(r.limit, "limit", 1, 10_000);
        v.length(
            r.exclusive_start_stream_name.as_deref(),
            "exclusiveStartStreamName",
            1,
            128,
        );
        v.finish()?;
        let after = match &r.next_token {
            Some(token) => Some(decode_token(token, "stream")?),
            None => r.exclusive_start_stream_name.clone(),
        };
        let limit = r.limit.unwrap_or(100) as usize;
        let names: Vec<String> = self
            .streams
            .names()
            .into_iter()
            .filter(|n| after.as_ref().is_none_or(|a| n > a))
            .collect();
        let has_more = names.len() > limit;
        let page: Vec<&String> = names.iter().take(limit).collect();
        let summaries: Vec<Value> = page
            .iter()
            .filter_map(|n| self.streams.describe(n).ok())
            .map(|meta| {
                json!({
                    "StreamName": meta.name,
                    "StreamARN": meta.arn,
                    "StreamStatus": meta.status.as_str(),
                    "StreamModeDetails": mode_json(&meta),
                    "StreamCreationTimestamp": created(&meta),
                })
            })
            .collect();
        let mut out = json!({
            "StreamNames": page,
            "HasMoreStreams": has_more,
            "StreamSummaries": summaries,
        });
        if has_more && let Some(last) = page.last() {
            out["NextToken"] = json!(encode_token("stream", last));
        }
        Ok(reply_value(format, &out))
    }

    fn list_shards(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Filter {
            r#type: Option<String>,
            shard_id: Option<String>,
            timestamp: Option<Timestamp>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            next_token: Option<String>,
            exclusive_start_shard_id: Option<String>,
            max_results: Option<i64>,
            shard_filter: Option<Filter>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.range(r.max_results, "maxResults", 1, 10_000);
        v.length(
            r.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
            1,
            128,
        );
        if let Some(f) = &r.shard_filter {
            v.required(&f.r#type, "shardFilter.type");
            v.one_of(
                f.r#type.as_deref(),
                "shardFilter.type",
                &[
                    "AFTER_SHARD_ID",
                    "AT_TRIM_HORIZON",
                    "FROM_TRIM_HORIZON",
                    "AT_LATEST",
                    "AT_TIMESTAMP",
                    "FROM_TIMESTAMP",
                ],
            );
        }
        v.finish()?;
        let named = r.target.stream_name.is_some() || r.target.stream_arn.is_some();
        let (name, after) = match (&r.next_token, named) {
            (Some(_), true) => {
                return Err(ApiError::client(
                    "InvalidArgumentException",
                    "NextToken and StreamName cannot be provided together.",
                ));
            }
            (None, false) => {
                return Err(ApiError::client(
                    "InvalidArgumentException",
                    "Either NextToken or StreamName should be provided.",
                ));
            }
            (Some(token), false) => {
                let text = decode_token(token, "shards")?;
                let (name, after) = text.split_once('\n').ok_or_else(invalid_token)?;
                (name.to_string(), after.parse::<u32>().ok())
            }
            (None, true) => (
                r.target.name()?,
                r.exclusive_start_shard_id
                    .as_deref()
                    .and_then(nuage_streams::meta::parse_shard_id),
            ),
        };
        let filter = match &r.shard_filter {
            None => None,
            Some(f) => {
                let ms = f.timestamp.map(|t| t.0);
                let need_ts = || {
                    ms.ok_or_else(|| {
                        ApiError::client(
                            "InvalidArgumentException",
                            "Timestamp must be provided for a ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP.",
                        )
                    })
                };
                Some(match f.r#type.as_deref().unwrap_or_default() {
                    "AFTER_SHARD_ID" => ShardFilter::AfterShardId(
                        f.shard_id
                            .as_deref()
                            .and_then(nuage_streams::meta::parse_shard_id)
                            .ok_or_else(|| {
                                ApiError::client(
                                    "InvalidArgumentException",
                                    "ShardId must be provided for a ShardFilter of type AFTER_SHARD_ID.",
                                )
                            })?,
                    ),
                    "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
                    "FROM_TRIM_HORIZON" => ShardFilter::FromTrimHorizon,
                    "AT_LATEST" => ShardFilter::AtLatest,
                    "AT_TIMESTAMP" => ShardFilter::AtTimestamp(need_ts()?),
                    _ => ShardFilter::FromTimestamp(need_ts()?),
                })
            }
        };
        let meta = self.streams.describe(&name)?;
        let shards: Vec<ShardMeta> = self
            .streams
            .list_shards(&name, filter)?
            .into_iter()
            .filter(|s| after.is_none_or(|a| s.index > a))
            .collect();
        let limit = r.max_results.unwrap_or(1000) as usize;
        let page: Vec<Value> = shards
            .iter()
            .take(limit)
            .map(|s| shard_json(&meta, s))
            .collect();
        let mut out = json!({ "Shards": page });
        if shards.len() > limit {
            let last = shards[limit - 1].index;
            out["NextToken"] = json!(encode_token("shards", &format!("{name}\n{last}")));
        }
        Ok(reply_value(format, &out))
    }

    fn validate_entry(
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
        v.required(partition_key, &format!("{prefix}partitionKey"));
        v.length(
            partition_key.as_deref(),
            &format!("{prefix}partitionKey"),
            1,
            256,
        );
        v.required(data, &format!("{prefix}data"));
        if let Some(d) = data
            && d.0.len() > self.limits.max_record_bytes
        {
            v.fail(
                &"java.nio.HeapByteBuffer",
                &format!("{prefix}data"),
                &format!(
                    "Member must have length less than or equal to {}",
                    self.limits.max_record_bytes
                ),
            );
        }
        v.pattern(
            explicit_hash_key.as_deref(),
            &format!("{prefix}explicitHashKey"),
            digits_ok,
            "0|([1-9]\\d{0,38})",
        );
    }

    async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
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
        let mut v = Validation::default();
        r.target.validate(&mut v);
        self.validate_entry(
            &mut v,
            None,
            &r.partition_key,
            &r.data,
            &r.explicit_hash_key,
        );
        v.pattern(
            r.sequence_number_for_ordering.as_deref(),
            "sequenceNumberForOrdering",
            digits_ok,
            "0|([1-9]\\d{0,128})",
        );
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
            Some(PutOutcome::Failed { code, message }) if code != "InternalFailure" => {
                Err(ApiError::client(code, message))
            }
            Some(PutOutcome::Failed { message, .. }) => Err(ApiError::internal(message)),
            None => Err(ApiError::internal("no outcome for the record")),
        }
    }

    async fn put_records(&self, format: Format, body: &Bytes) -> ApiResult {
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
        let mut v = Validation::default();
        r.target.validate(&mut v);
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
            return Err(ApiError::client(
                "InvalidArgumentException",
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
                PutOutcome::Failed { code, message } => {
                    failed += 1;
                    Result {
                        shard_id: None,
                        sequence_number: None,
                        error_code: Some(code),
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

    fn get_shard_iterator(&self, format: Format, body: &Bytes) -> ApiResult {
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
        r.target.validate(&mut v);
        v.required(&r.shard_id, "shardId");
        v.length(r.shard_id.as_deref(), "shardId", 1, 128);
        v.pattern(
            r.shard_id.as_deref(),
            "shardId",
            stream_name_ok,
            NAME_PATTERN,
        );
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
                        ApiError::client(
                            "InvalidArgumentException",
                            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                        )
                    })?
                    .0,
            ),
            (kind, seq) => {
                return Err(ApiError::client(
                    "InvalidArgumentException",
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

    async fn get_records(&self, format: Format, body: Bytes) -> ApiResult {
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

    fn count_in(&self, stream: &str, shard: &str, records: u64, bytes: usize) {
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

    fn split_shard(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_to_split: Option<String>,
            new_starting_hash_key: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.shard_to_split, "shardToSplit");
        v.length(r.shard_to_split.as_deref(), "shardToSplit", 1, 128);
        v.required(&r.new_starting_hash_key, "newStartingHashKey");
        v.pattern(
            r.new_starting_hash_key.as_deref(),
            "newStartingHashKey",
            digits_ok,
            "0|([1-9]\\d{0,38})",
        );
        v.finish()?;
        let name = r.target.name()?;
        let key = explicit_hash(r.new_starting_hash_key.as_deref())?.unwrap_or_default();
        self.streams
            .split_shard(&name, r.shard_to_split.as_deref().unwrap_or_default(), key)?;
        Ok(empty(format))
    }

    fn merge_shards(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_to_merge: Option<String>,
            adjacent_shard_to_merge: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.shard_to_merge, "shardToMerge");
        v.required(&r.adjacent_shard_to_merge, "adjacentShardToMerge");
        v.length(r.shard_to_merge.as_deref(), "shardToMerge", 1, 128);
        v.length(
            r.adjacent_shard_to_merge.as_deref(),
            "adjacentShardToMerge",
            1,
            128,
        );
        v.finish()?;
        let name = r.target.name()?;
        self.streams.merge_shards(
            &name,
            r.shard_to_merge.as_deref().unwrap_or_default(),
            r.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )?;
        Ok(empty(format))
    }

    fn update_shard_count(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            target_shard_count: Option<i64>,
            scaling_type: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.target_shard_count, "targetShardCount");
        v.range(r.target_shard_count, "targetShardCount", 1, 100_000);
        v.required(&r.scaling_type, "scalingType");
        v.one_of(
            r.scaling_type.as_deref(),
            "scalingType",
            &["UNIFORM_SCALING"],
        );
        v.finish()?;
        let name = r.target.name()?;
        let target = r.target_shard_count.unwrap_or(1) as u32;
        let current = self.streams.update_shard_count(&name, target)?;
        let meta = self.streams.describe(&name)?;
        Ok(reply_value(
            format,
            &json!({
                "StreamName": name,
                "StreamARN": meta.arn,
                "CurrentShardCount": current,
                "TargetShardCount": target,
            }),
        ))
    }

    fn retention(&self, format: Format, body: &Bytes, increase: bool) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            retention_period_hours: Option<i64>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.retention_period_hours, "retentionPeriodHours");
        v.range(r.retention_period_hours, "retentionPeriodHours", 1, 8760);
        v.finish()?;
        let name = r.target.name()?;
        self.streams.set_retention(
            &name,
            r.retention_period_hours.unwrap_or(24) as u32,
            increase,
        )?;
        Ok(empty(format))
    }

    fn add_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            tags: Option<BTreeMap<String, String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.tags, "tags");
        v.finish()?;
        let name = r.target.name()?;
        let tags = r.tags.unwrap_or_default();
        validate_tags(&tags)?;
        self.streams.add_tags(&name, tags)?;
        Ok(empty(format))
    }

    fn remove_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            tag_keys: Option<Vec<String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.tag_keys, "tagKeys");
        v.finish()?;
        let name = r.target.name()?;
        self.streams
            .remove_tags(&name, &r.tag_keys.unwrap_or_default())?;
        Ok(empty(format))
    }

    fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            exclusive_start_tag_key: Option<String>,
            limit: Option<i64>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.range(r.limit, "limit", 1, 50);
        v.finish()?;
        let name = r.target.name()?;
        let meta = self.streams.describe(&name)?;
        let limit = r.limit.unwrap_or(50) as usize;
        let tags: Vec<(&String, &String)> = meta
            .tags
            .iter()
            .filter(|(k, _)| r.exclusive_start_tag_key.as_ref().is_none_or(|s| *k > s))
            .collect();
        Ok(reply_value(
            format,
            &json!({
                "Tags": tags.iter().take(limit).map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
                "HasMoreTags": tags.len() > limit,
            }),
        ))
    }

    fn resource_stream(&self, arn: Option<&str>) -> Result<String, ApiError> {
        let arn = arn.ok_or_else(|| {
            ApiError::client(
                "ValidationException",
                "1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null",
            )
        })?;
        Streams::name_from_arn(arn)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::client(
                    "InvalidArgumentException",
                    format!("{arn} is not the ARN of a Kinesis stream."),
                )
            })
    }

    fn tag_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "ResourceARN")]
            resource_arn: Option<String>,
            tags: Option<BTreeMap<String, String>>,
        }
        let r: Req = parse(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        let tags = r.tags.unwrap_or_default();
        validate_tags(&tags)?;
        self.streams.add_tags(&name, tags)?;
        Ok(empty(format))
    }

    fn untag_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "ResourceARN")]
            resource_arn: Option<String>,
            tag_keys: Option<Vec<String>>,
        }
        let r: Req = parse(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        self.streams
            .remove_tags(&name, &r.tag_keys.unwrap_or_default())?;
        Ok(empty(format))
    }

    fn list_tags_for_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "ResourceARN")]
            resource_arn: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        let meta = self.streams.describe(&name)?;
        Ok(reply_value(
            format,
            &json!({
                "Tags": meta.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
            }),
        ))
    }

    fn encryption(&self, format: Format, body: &Bytes, start: bool) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            encryption_type: Option<String>,
            key_id: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.encryption_type, "encryptionType");
        v.one_of(
            r.encryption_type.as_deref(),
            "encryptionType",
            &["NONE", "KMS"],
        );
        v.required(&r.key_id, "keyId");
        v.length(r.key_id.as_deref(), "keyId", 1, 2048);
        v.finish()?;
        let name = r.target.name()?;
        let encryption = start.then(|| Encryption {
            kind: r.encryption_type.unwrap_or_default(),
            key_id: r.key_id.unwrap_or_default(),
        });
        self.streams.set_encryption(&name, encryption)?;
        Ok(empty(format))
    }

    fn monitoring(&self, format: Format, body: &Bytes, enable: bool) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_level_metrics: Option<Vec<String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        r.target.validate(&mut v);
        v.required(&r.shard_level_metrics, "shardLevelMetrics");
        let mut allowed = nuage_streams::streams::SHARD_LEVEL_METRICS.to_vec();
        allowed.push("ALL");
        for (i, m) in r.shard_level_metrics.iter().flatten().enumerate() {
            v.one_of(
                Some(m),
                &format!("shardLevelMetrics.{}.member", i + 1),
                &allowed,
            );
        }
        v.finish()?;
        let name = r.target.name()?;
        let (before, after) = self.streams.set_monitoring(
            &name,
            &r.shard_level_metrics.unwrap_or_default(),
            enable,
        )?;
        let meta = self.streams.describe(&name)?;
        Ok(reply_value(
            format,
            &json!({
                "StreamName": name,
                "StreamARN": meta.arn,
                "CurrentShardLevelMetrics": before,
                "DesiredShardLevelMetrics": after,
            }),
        ))
    }

    fn update_stream_mode(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "StreamARN")]
            stream_arn: Option<String>,
            stream_mode_details: Option<ModeDetails>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.required(&r.stream_arn, "streamARN");
        v.required(&r.stream_mode_details, "streamModeDetails");
        v.finish()?;
        let name = self.resource_stream(r.stream_arn.as_deref())?;
        self.streams
            .set_mode(&name, parse_mode(r.stream_mode_details.as_ref())?)?;
        Ok(empty(format))
    }

    fn consumer_json(&self, stream_arn: &str, c: &nuage_streams::meta::Consumer) -> Value {
        json!({
            "ConsumerName": c.name,
            "ConsumerARN": c.arn,
            "ConsumerStatus": "ACTIVE",
            "ConsumerCreationTimestamp": c.created_ms as f64 / 1000.0,
            "StreamARN": stream_arn,
        })
    }

    fn register_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "StreamARN")]
            stream_arn: Option<String>,
            consumer_name: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.required(&r.stream_arn, "streamARN");
        v.required(&r.consumer_name, "consumerName");
        v.length(r.consumer_name.as_deref(), "consumerName", 1, 128);
        v.pattern(
            r.consumer_name.as_deref(),
            "consumerName",
            stream_name_ok,
            NAME_PATTERN,
        );
        v.finish()?;
        let arn = r.stream_arn.unwrap_or_default();
        let name = self.resource_stream(Some(&arn))?;
        let consumer = self
            .streams
            .register_consumer(&name, r.consumer_name.as_deref().unwrap_or_default())?;
        let mut out = self.consumer_json(&arn, &consumer);
        out.as_object_mut().map(|o| o.remove("StreamARN"));
        Ok(reply_value(format, &json!({ "Consumer": out })))
    }

    fn find_consumer(
        &self,
        body: &Bytes,
        format: Format,
    ) -> Result<(String, nuage_streams::meta::Consumer), ApiError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "StreamARN")]
            stream_arn: Option<String>,
            consumer_name: Option<String>,
            #[serde(rename = "ConsumerARN")]
            consumer_arn: Option<String>,
        }
        let r: Req = parse(format, body)?;
        if let Some(arn) = &r.consumer_arn {
            let (stream, consumer) = self.streams.consumer_by_arn(arn)?;
            return Ok((self.streams.arn(&stream), consumer));
        }
        let (Some(stream_arn), Some(name)) = (&r.stream_arn, &r.consumer_name) else {
            return Err(ApiError::client(
                "InvalidArgumentException",
                "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
            ));
        };
        let stream = self.resource_stream(Some(stream_arn))?;
        let meta = self.streams.describe(&stream)?;
        let consumer = meta
            .consumers
            .iter()
            .find(|c| &c.name == name)
            .cloned()
            .ok_or_else(|| {
                ApiError::client(
                    "ResourceNotFoundException",
                    format!("Consumer {name} under stream {stream} not found."),
                )
            })?;
        Ok((meta.arn, consumer))
    }

    fn deregister_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        let (stream_arn, consumer) = self.find_consumer(body, format)?;
        let stream = self.resource_stream(Some(&stream_arn))?;
        self.streams.deregister_consumer(&stream, &consumer.name)?;
        Ok(empty(format))
    }

    fn describe_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        let (stream_arn, consumer) = self.find_consumer(body, format)?;
        Ok(reply_value(
            format,
            &json!({ "ConsumerDescription": self.consumer_json(&stream_arn, &consumer) }),
        ))
    }

    fn list_consumers(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "StreamARN")]
            stream_arn: Option<String>,
            next_token: Option<String>,
            max_results: Option<i64>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.required(&r.stream_arn, "streamARN");
        v.range(r.max_results, "maxResults", 1, 10_000);
        v.finish()?;
        let arn = r.stream_arn.unwrap_or_default();
        let stream = self.resource_stream(Some(&arn))?;
        let meta = self.streams.describe(&stream)?;
        let skip = match &r.next_token {
            Some(t) => decode_token(t, "consumers")?
                .parse()
                .map_err(|_| invalid_token())?,
            None => 0usize,
        };
        let limit = r.max_results.unwrap_or(100) as usize;
        let page: Vec<Value> = meta
            .consumers
            .iter()
            .skip(skip)
            .take(limit)
            .map(|c| {
                let mut j = self.consumer_json(&arn, c);
                j.as_object_mut().map(|o| o.remove("StreamARN"));
                j
            })
            .collect();
        let mut out = json!({ "Consumers": page });
        if skip + limit < meta.consumers.len() {
            out["NextToken"] = json!(encode_token("consumers", &(skip + limit).to_string()));
        }
        Ok(reply_value(format, &out))
    }

    fn describe_limits(&self, format: Format) -> ApiResult {
        let metas: Vec<StreamMeta> = self
            .streams
            .names()
            .iter()
            .filter_map(|n| self.streams.describe(n).ok())
            .collect();
        let open: usize = metas.iter().map(|m| m.open_shards().count()).sum();
        let on_demand = metas
            .iter()
            .filter(|m| m.mode == StreamMode::OnDemand)
            .count();
        Ok(reply_value(
            format,
            &json!({
                "ShardLimit": self.streams.config().shard_limit,
                "OpenShardCount": open,
                "OnDemandStreamCount": on_demand,
                "OnDemandStreamCountLimit": 50,
            }),
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ModeDetails {
    stream_mode: Option<String>,
}

fn parse_mode(details: Option<&ModeDetails>) -> Result<StreamMode, ApiError> {
    match details.and_then(|d| d.stream_mode.as_deref()) {
        None | Some("PROVISIONED") => Ok(StreamMode::Provisioned),
        Some("ON_DEMAND") => Ok(StreamMode::OnDemand),
        Some(other) => Err(ApiError::client(
            "ValidationException",
            format!(
                "1 validation error detected: Value '{other}' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]"
            ),
        )),
    }
}

fn explicit_hash(text: Option<&str>) -> Result<Option<u128>, ApiError> {
    match text {
        None => Ok(None),
        Some(t) => t.parse::<u128>().map(Some).map_err(|_| {
            ApiError::client(
                "InvalidArgumentException",
                format!("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {t}"),
            )
        }),
    }
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let ok = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 || !ok(k) || !ok(v) {
            return Err(ApiError::client(
                "InvalidArgumentException",
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.",
            ));
        }
    }
    Ok(())
}

fn encode_token(kind: &str, text: &str) -> String {
    STANDARD.encode(format!("{kind}\n{text}"))
}

fn invalid_token() -> ApiError {
    ApiError::client(
        "InvalidArgumentException",
        "Invalid NextToken: pass the NextToken of the previous response unchanged.",
    )
}

fn decode_token(token: &str, kind: &str) -> Result<String, ApiError> {
    let bytes = STANDARD.decode(token).map_err(|_| invalid_token())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_token())?;
    text.strip_prefix(&format!("{kind}\n"))
        .map(str::to_string)
        .ok_or_else(invalid_token)
}
