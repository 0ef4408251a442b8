//! Amazon Data Firehose (`Firehose_20150804.*`): request shapes, AWS's
//! input validation, and translation to [`nuage_delivery::Deliveries`].

mod records;
mod shapes;
mod streams;
mod tags;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use nuage_delivery::{
    Deliveries, Delivery, DeliveryError, DeliveryMeta, Encryption, NewDelivery, S3Destination,
    Source,
};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::shape;
use crate::wire::{ApiError, ApiResult, ErrorCode, Format, empty_object, reply, reply_value};

pub struct Firehose {
    pub deliveries: Arc<Deliveries>,
    /// The Kinesis streams a KinesisStreamAsSource delivery stream reads.
    pub streams: Arc<nuage_streams::Streams>,
}

/// Parses a Firehose request of shape `T` and checks it as AWS does.
fn request<T>(format: Format, body: &Bytes) -> Result<T, ApiError>
where
    T: shape::Shape + serde::de::DeserializeOwned,
{
    let cx = shape::Context {
        max_record_bytes: shapes::MAX_RECORD_BYTES,
    };
    shape::parse_checked(format, body, &cx)
}

fn tag_map(tags: Vec<shapes::Tag>) -> BTreeMap<String, String> {
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
    /// The delivery stream a request names (the shape requires the name).
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
