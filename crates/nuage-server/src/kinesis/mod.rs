//! Kinesis Data Streams (`Kinesis_20131202.*`): request shapes, AWS's input
//! validation, and translation to [`nuage_streams::Streams`] calls.

mod consumers;
mod json;
mod records;
mod shapes;
mod shards;
mod streams;
mod subscribe;
mod tags;

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use nuage_streams::meta::{Encryption, ShardMeta, StreamMeta};
use nuage_streams::{PutEntry, PutOutcome, ShardFilter, Start, StreamMode, Streams};
use serde::Serialize;
use serde_json::{Value, json};

use crate::metrics::Metrics;
use crate::shape;
use crate::wire::{
    ApiError, ApiResult, Blob, ErrorCode, Format, Timestamp, empty, encode, reply, reply_encoded,
    reply_value,
};

pub(crate) use records::{WireRecord, wire_records};

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
    pub subscriptions: Arc<subscribe::Subscriptions>,
    /// Turns true when the server shuts down; subscriptions then end.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

/// The stream a request names, by StreamName or StreamARN (the shape has
/// already refused a request with neither).
fn stream_named(name: &Option<String>, arn: &Option<String>) -> Result<String, ApiError> {
    match (name, arn) {
        (Some(name), Some(arn)) => {
            if Streams::name_from_arn(arn) != Some(name) {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "StreamARN {arn} and StreamName {name} do not refer to the same stream."
                    ),
                ));
            }
            Ok(name.clone())
        }
        (Some(name), None) => Ok(name.clone()),
        (None, Some(arn)) => Ok(Streams::name_from_arn(arn).unwrap_or_default().to_string()),
        (None, None) => Err(ApiError::new(
            ErrorCode::Validation,
            "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null",
        )),
    }
}

impl Kinesis {
    /// Parses a request of shape `T` and checks it as AWS does.
    fn request<T>(&self, format: Format, body: &Bytes) -> Result<T, ApiError>
    where
        T: shape::Shape + serde::de::DeserializeOwned,
    {
        let cx = shape::Context {
            max_record_bytes: self.limits.max_record_bytes,
        };
        shape::parse_checked(format, body, &cx)
    }
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

fn encryption_name(encrypted: bool) -> &'static str {
    if encrypted { "KMS" } else { "NONE" }
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

fn encode_token(kind: &str, text: &str) -> String {
    STANDARD.encode(format!("{kind}\n{text}"))
}

fn invalid_token() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidArgument,
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

fn explicit_hash(text: Option<&str>) -> Result<Option<u128>, ApiError> {
    match text {
        None => Ok(None),
        Some(t) => t.parse::<u128>().map(Some).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidArgument,
                format!("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {t}"),
            )
        }),
    }
}

/// The operations [`Kinesis::dispatch`] serves, for the edge's checks.
pub const OPERATIONS: &[&str] = &[
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "ListTagsForStream",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "StartStreamEncryption",
    "StopStreamEncryption",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
    "UpdateStreamMode",
    "RegisterStreamConsumer",
    "DeregisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "DescribeLimits",
    "SubscribeToShard",
];

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
            _ => Err(ApiError::new(ErrorCode::UnknownOperation, "")),
        }
    }
}
