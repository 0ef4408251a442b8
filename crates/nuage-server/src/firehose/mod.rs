//! Amazon Data Firehose (`Firehose_20150804.*`): request shapes, AWS's
//! input validation, and translation to [`nuage_delivery::Deliveries`].

mod records;
mod streams;
mod tags;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nuage_delivery::{
    Deliveries, Delivery, DeliveryError, DeliveryMeta, Encryption, NewDelivery, S3Destination,
    Source,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::wire::{
    ApiError, ApiResult, Blob, ErrorCode, Format, Validation, empty_object, parse, reply,
    reply_value,
};

pub struct Firehose {
    pub deliveries: Arc<Deliveries>,
    /// The Kinesis streams a KinesisStreamAsSource delivery stream reads.
    pub streams: Arc<nuage_streams::Streams>,
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";

fn validate_name(v: &mut Validation, name: &Option<String>) {
    v.required(name, "deliveryStreamName");
    v.pattern(name.as_deref(), "deliveryStreamName", name_ok, NAME_PATTERN);
    v.length(name.as_deref(), "deliveryStreamName", 1, 64);
}

/// Just the stream's name.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Named {
    delivery_stream_name: Option<String>,
}

fn named(format: Format, body: &Bytes) -> Result<String, ApiError> {
    let r: Named = parse(format, body)?;
    let mut v = Validation::default();
    validate_name(&mut v, &r.delivery_stream_name);
    v.finish()?;
    Ok(r.delivery_stream_name.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Tag {
    key: Option<String>,
    value: Option<String>,
}

fn validate_tags(v: &mut Validation, tags: &[Tag], field: &str) {
    for (i, tag) in tags.iter().enumerate() {
        v.required(&tag.key, &format!("{field}.{}.member.key", i + 1));
        v.length(
            tag.key.as_deref(),
            &format!("{field}.{}.member.key", i + 1),
            1,
            128,
        );
        v.length(
            tag.value.as_deref(),
            &format!("{field}.{}.member.value", i + 1),
            0,
            256,
        );
    }
}

fn tag_map(tags: Vec<Tag>) -> BTreeMap<String, String> {
    tags.into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

/// The operations [`Firehose::dispatch`] serves, for the edge's checks.
pub const OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DeleteDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "PutRecord",
    "PutRecordBatch",
    "UpdateDestination",
    "TagDeliveryStream",
    "UntagDeliveryStream",
    "ListTagsForDeliveryStream",
    "StartDeliveryStreamEncryption",
    "StopDeliveryStreamEncryption",
];

impl Firehose {
    /// The delivery stream a request names (its name was validated).
    fn delivery(&self, name: &Option<String>) -> Result<Arc<Delivery>, ApiError> {
        Ok(self.deliveries.get(name.as_deref().unwrap_or_default())?)
    }

    pub async fn dispatch(&self, operation: &str, format: Format, body: Bytes) -> ApiResult {
        match operation {
            "CreateDeliveryStream" => self.create(format, &body),
            "DeleteDeliveryStream" => self.delete(format, &body).await,
            "DescribeDeliveryStream" => self.describe(format, &body),
            "ListDeliveryStreams" => self.list(format, &body),
            "PutRecord" => self.put_record(format, &body).await,
            "PutRecordBatch" => self.put_record_batch(format, &body).await,
            "UpdateDestination" => self.update_destination(format, &body),
            "TagDeliveryStream" => self.tag(format, &body),
            "UntagDeliveryStream" => self.untag(format, &body),
            "ListTagsForDeliveryStream" => self.list_tags(format, &body),
            "StartDeliveryStreamEncryption" => self.set_encryption(format, &body, true),
            "StopDeliveryStreamEncryption" => self.set_encryption(format, &body, false),
            _ => Err(ApiError::new(
                ErrorCode::UnknownOperation,
                format!("nuage does not serve Firehose {operation}."),
            )),
        }
    }
}
