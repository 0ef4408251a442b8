//! Amazon Data Firehose (`Firehose_20150804.*`): request shapes, AWS's
//! input validation, and translation to [`nuage_delivery::Deliveries`].

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
    ApiError, ApiResult, Blob, Format, Validation, empty, parse, reply, reply_value,
};

/// The largest record Firehose accepts: 1,000 KiB.
const MAX_RECORD_BYTES: usize = 1_024_000;
/// The largest PutRecordBatch: 4 MiB of data.
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
const DESTINATION_ID: &str = "destinationId-000000000001";

pub struct Firehose {
    pub deliveries: Arc<Deliveries>,
    /// The Kinesis streams a KinesisStreamAsSource delivery stream reads.
    pub streams: Arc<nuage_streams::Streams>,
}

impl From<DeliveryError> for ApiError {
    fn from(e: DeliveryError) -> Self {
        let kind = match &e {
            DeliveryError::NotFound(_) => "ResourceNotFoundException",
            DeliveryError::InUse(_) => "ResourceInUseException",
            DeliveryError::InvalidArgument(_) => "InvalidArgumentException",
            DeliveryError::LimitExceeded(_) => "LimitExceededException",
            DeliveryError::ConcurrentModification(_) => "ConcurrentModificationException",
            DeliveryError::Log(_) | DeliveryError::Internal(_) => {
                tracing::error!("{e}");
                return ApiError {
                    kind: "ServiceUnavailableException",
                    ..ApiError::internal(e.to_string())
                };
            }
        };
        ApiError::client(kind, e.to_string())
    }
}

fn name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";

fn validate_name(v: &mut Validation, name: &Option<String>) {
    v.required(name, "deliveryStreamName");
    v.length(name.as_deref(), "deliveryStreamName", 1, 64);
    v.pattern(name.as_deref(), "deliveryStreamName", name_ok, NAME_PATTERN);
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptionInput {
    #[serde(rename = "KeyARN")]
    key_arn: Option<String>,
    key_type: Option<String>,
}

fn encryption(input: Option<EncryptionInput>) -> Result<Option<Encryption>, ApiError> {
    let Some(input) = input else {
        return Ok(None);
    };
    let mut v = Validation::default();
    v.required(
        &input.key_type,
        "deliveryStreamEncryptionConfigurationInput.keyType",
    );
    v.one_of(
        input.key_type.as_deref(),
        "deliveryStreamEncryptionConfigurationInput.keyType",
        &["AWS_OWNED_CMK", "CUSTOMER_MANAGED_CMK"],
    );
    v.length(
        input.key_arn.as_deref(),
        "deliveryStreamEncryptionConfigurationInput.keyARN",
        1,
        512,
    );
    v.finish()?;
    let key_type = input.key_type.unwrap_or_default();
    match (key_type.as_str(), &input.key_arn) {
        ("CUSTOMER_MANAGED_CMK", None) => Err(ApiError::client(
            "InvalidArgumentException",
            "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.",
        )),
        ("AWS_OWNED_CMK", Some(_)) => Err(ApiError::client(
            "InvalidArgumentException",
            "KeyARN must not be specified when KeyType is AWS_OWNED_CMK.",
        )),
        _ => Ok(Some(Encryption {
            key_type,
            key_arn: input.key_arn,
        })),
    }
}

fn arn_pattern(s: &str, service: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some(service)
        && parts.next().is_some()
        && parts.next().is_some()
        && parts.next().is_some_and(|rest| !rest.is_empty())
}

/// AWS's member constraints on an S3 destination (create or update).
fn validate_destination(v: &mut Validation, d: &S3Destination, field: &str, create: bool) {
    let f = |name: &str| format!("{field}.{name}");
    if create {
        v.required(&d.role_arn, &f("roleARN"));
        v.required(&d.bucket_arn, &f("bucketARN"));
    }
    v.length(d.role_arn.as_deref(), &f("roleARN"), 1, 512);
    v.pattern(
        d.role_arn.as_deref(),
        &f("roleARN"),
        |s| arn_pattern(s, "iam"),
        "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
    );
    v.length(d.bucket_arn.as_deref(), &f("bucketARN"), 1, 2048);
    v.pattern(
        d.bucket_arn.as_deref(),
        &f("bucketARN"),
        |s| arn_pattern(s, "s3"),
        "arn:.*:s3:::[\\w\\.\\-]{1,255}",
    );
    v.length(d.prefix.as_deref(), &f("prefix"), 0, 1024);
    v.length(
        d.error_output_prefix.as_deref(),
        &f("errorOutputPrefix"),
        0,
        1024,
    );
    if let Some(h) = &d.buffering_hints {
        v.range(h.size_in_mbs, &f("bufferingHints.sizeInMBs"), 1, 128);
        v.range(
            h.interval_in_seconds,
            &f("bufferingHints.intervalInSeconds"),
            0,
            900,
        );
    }
    v.one_of(
        d.compression_format.as_deref(),
        &f("compressionFormat"),
        &["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY"],
    );
    v.length(d.file_extension.as_deref(), &f("fileExtension"), 0, 128);
}

/// Destinations other than S3 that CreateDeliveryStream knows.
/// DeliveryStreamType values AWS knows.
const SOURCE_TYPES: &[&str] = &[
    "DirectPut",
    "KinesisStreamAsSource",
    "MSKAsSource",
    "DatabaseAsSource",
];

const OTHER_DESTINATIONS: &[&str] = &[
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
];

/// KinesisStreamSourceConfiguration.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KinesisSourceIn {
    #[serde(rename = "KinesisStreamARN")]
    kinesis_stream_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

fn description(meta: &DeliveryMeta) -> Result<Value, ApiError> {
    let extended = meta.destination.described()?;
    let mut plain = Map::new();
    for key in [
        "RoleARN",
        "BucketARN",
        "Prefix",
        "ErrorOutputPrefix",
        "BufferingHints",
        "CompressionFormat",
        "EncryptionConfiguration",
        "CloudWatchLoggingOptions",
    ] {
        if let Some(value) = extended.get(key) {
            plain.insert(key.to_string(), value.clone());
        }
    }
    let encryption = match &meta.encryption {
        Some(e) => {
            let mut out = json!({ "KeyType": e.key_type, "Status": "ENABLED" });
            if let Some(arn) = &e.key_arn {
                out["KeyARN"] = json!(arn);
            }
            out
        }
        None => json!({ "Status": "DISABLED" }),
    };
    let mut out = json!({
        "DeliveryStreamName": meta.name,
        "DeliveryStreamARN": meta.arn,
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamEncryptionConfiguration": encryption,
        "DeliveryStreamType": meta.source.kind(),
        "VersionId": meta.version.to_string(),
        "CreateTimestamp": meta.created_ms as f64 / 1000.0,
        "LastUpdateTimestamp": meta.updated_ms as f64 / 1000.0,
        "Destinations": [{
            "DestinationId": DESTINATION_ID,
            "S3DestinationDescription": plain,
            "ExtendedS3DestinationDescription": extended,
        }],
        "HasMoreDestinations": false,
    });
    if let Source::KinesisStream {
        stream_arn,
        role_arn,
        start_ms,
    } = &meta.source
    {
        out["Source"] = json!({ "KinesisStreamSourceDescription": {
            "KinesisStreamARN": stream_arn,
            "RoleARN": role_arn,
            "DeliveryStartTimestamp": *start_ms as f64 / 1000.0,
        }});
    }
    Ok(out)
}

/// AWS refuses puts into a delivery stream that reads a Kinesis stream.
fn direct_put(delivery: &Delivery) -> Result<(), ApiError> {
    match delivery.meta().source {
        Source::DirectPut => Ok(()),
        Source::KinesisStream { .. } => Err(ApiError::client(
            "InvalidArgumentException",
            "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
        )),
    }
}

/// The id Firehose answers for a record: opaque, unique in the stream.
fn record_id(meta: &DeliveryMeta, number: u64) -> String {
    hex_id(meta.created_ms as u64, number, meta.version)
}

/// `format!("{:016x}{:016x}{:032x}", ...)` written by hand: PutRecordBatch
/// makes 500 of these per request.
fn hex_id(created_ms: u64, number: u64, version: u64) -> String {
    let mut id = String::with_capacity(64);
    for (value, digits) in [(created_ms, 16), (number, 16), (version, 32)] {
        for i in (0..digits).rev() {
            let digit = ((u128::from(value) >> (4 * i)) & 0xf) as u32;
            id.push(char::from_digit(digit, 16).expect("a hex digit"));
        }
    }
    id
}

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
            _ => Err(ApiError::client(
                "UnknownOperationException",
                format!("nuage does not serve Firehose {operation}."),
            )),
        }
    }

    fn create(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            delivery_stream_type: Option<String>,
            delivery_stream_encryption_configuration_input: Option<EncryptionInput>,
            s3_destination_configuration: Option<S3Destination>,
            extended_s3_destination_configuration: Option<S3Destination>,
            kinesis_stream_source_configuration: Option<KinesisSourceIn>,
            tags: Option<Vec<Tag>>,
            #[serde(flatten)]
            other: Map<String, Value>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.one_of(
            r.delivery_stream_type.as_deref(),
            "deliveryStreamType",
            SOURCE_TYPES,
        );
        if let Some(tags) = &r.tags {
            if tags.len() > 50 {
                v.fail(
                    &format!("[{} tags]", tags.len()),
                    "tags",
                    "Member must have length less than or equal to 50",
                );
            }
            validate_tags(&mut v, tags, "tags");
        }
        if let Some(d) = &r.s3_destination_configuration {
            validate_destination(&mut v, d, "s3DestinationConfiguration", true);
        }
        if let Some(d) = &r.extended_s3_destination_configuration {
            validate_destination(&mut v, d, "extendedS3DestinationConfiguration", true);
        }
        v.finish()?;
        let invalid = |m: String| ApiError::client("InvalidArgumentException", m);
        if let Some(other) = OTHER_DESTINATIONS
            .iter()
            .find(|k| r.other.contains_key(**k))
        {
            return Err(invalid(format!(
                "nuage delivers to S3 destinations only (ExtendedS3DestinationConfiguration); {other} is not supported"
            )));
        }
        let source = match r.delivery_stream_type.as_deref().unwrap_or("DirectPut") {
            "DirectPut" if r.kinesis_stream_source_configuration.is_some() => {
                return Err(invalid(
                    "KinesisStreamSourceConfiguration is only allowed with DeliveryStreamType KinesisStreamAsSource".into(),
                ));
            }
            "DirectPut" => Source::DirectPut,
            "KinesisStreamAsSource" => {
                let Some(source) = r.kinesis_stream_source_configuration else {
                    return Err(invalid(
                        "KinesisStreamSourceConfiguration is required when DeliveryStreamType is KinesisStreamAsSource".into(),
                    ));
                };
                let arn = source.kinesis_stream_arn.unwrap_or_default();
                let stream = nuage_streams::Streams::name_from_arn(&arn).ok_or_else(|| {
                    invalid(format!(
                        "KinesisStreamARN {arn} is not a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)"
                    ))
                })?;
                self.streams
                    .describe(stream)
                    .map_err(|e| invalid(e.to_string()))?;
                Source::KinesisStream {
                    stream_arn: arn,
                    role_arn: source.role_arn,
                    start_ms: nuage_streams::streams::now_ms(),
                }
            }
            other => {
                return Err(invalid(format!(
                    "DeliveryStreamType {other} is not supported by nuage yet; use DirectPut or KinesisStreamAsSource"
                )));
            }
        };
        let destination = match (
            r.s3_destination_configuration,
            r.extended_s3_destination_configuration,
        ) {
            (Some(d), None) | (None, Some(d)) => d,
            (None, None) => {
                return Err(invalid(
                    "No destination configuration was provided; give ExtendedS3DestinationConfiguration (or S3DestinationConfiguration).".into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Only one destination configuration may be provided: S3DestinationConfiguration or ExtendedS3DestinationConfiguration.".into(),
                ));
            }
        };
        let delivery = self.deliveries.create(NewDelivery {
            name: r.delivery_stream_name.unwrap_or_default(),
            source,
            destination,
            tags: tag_map(r.tags.unwrap_or_default()),
            encryption: encryption(r.delivery_stream_encryption_configuration_input)?,
        })?;
        Ok(reply_value(
            format,
            &json!({ "DeliveryStreamARN": delivery.meta().arn }),
        ))
    }

    async fn delete(&self, format: Format, body: &Bytes) -> ApiResult {
        let name = named(format, body)?;
        self.deliveries.delete(&name).await?;
        Ok(empty(format))
    }

    fn describe(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            limit: Option<i64>,
            exclusive_start_destination_id: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.range(r.limit, "limit", 1, 10_000);
        v.length(
            r.exclusive_start_destination_id.as_deref(),
            "exclusiveStartDestinationId",
            1,
            100,
        );
        v.finish()?;
        let meta = self.delivery(&r.delivery_stream_name)?.meta();
        let mut out = description(&meta)?;
        if r.exclusive_start_destination_id.is_some() {
            // The one destination comes before any start id.
            out["Destinations"] = json!([]);
        }
        Ok(reply_value(
            format,
            &json!({ "DeliveryStreamDescription": out }),
        ))
    }

    fn list(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            limit: Option<i64>,
            delivery_stream_type: Option<String>,
            exclusive_start_delivery_stream_name: Option<String>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.range(r.limit, "limit", 1, 10_000);
        v.one_of(
            r.delivery_stream_type.as_deref(),
            "deliveryStreamType",
            SOURCE_TYPES,
        );
        v.length(
            r.exclusive_start_delivery_stream_name.as_deref(),
            "exclusiveStartDeliveryStreamName",
            1,
            64,
        );
        v.finish()?;
        let limit = r.limit.unwrap_or(10) as usize;
        let names: Vec<String> = self
            .deliveries
            .list()
            .into_iter()
            .map(|d| d.meta())
            .filter(|m| {
                r.delivery_stream_type
                    .as_deref()
                    .is_none_or(|t| t == m.source.kind())
            })
            .map(|m| m.name)
            .filter(|n| {
                r.exclusive_start_delivery_stream_name
                    .as_ref()
                    .is_none_or(|start| n > start)
            })
            .collect();
        Ok(reply_value(
            format,
            &json!({
                "DeliveryStreamNames": names.iter().take(limit).collect::<Vec<_>>(),
                "HasMoreDeliveryStreams": names.len() > limit,
            }),
        ))
    }

    async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            record: Option<RecordIn>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.record, "record");
        if let Some(record) = &r.record {
            validate_record(&mut v, record, "record.data");
        }
        v.finish()?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        direct_put(&delivery)?;
        let data = r.record.and_then(|r| r.data).unwrap_or_default().0;
        let numbers = delivery.put(&[data]).await?;
        let meta = delivery.meta();
        Ok(reply_value(
            format,
            &json!({
                "RecordId": record_id(&meta, numbers.start),
                "Encrypted": meta.encryption.is_some(),
            }),
        ))
    }

    async fn put_record_batch(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            records: Option<Vec<RecordIn>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.records, "records");
        let records = r.records.unwrap_or_default();
        if records.is_empty() && body.windows(9).any(|w| w == b"\"Records\"") {
            v.fail(
                &"[]",
                "records",
                "Member must have length greater than or equal to 1",
            );
        }
        if records.len() > 500 {
            v.fail(
                &format!("[{} records]", records.len()),
                "records",
                "Member must have length less than or equal to 500",
            );
        }
        for (i, record) in records.iter().enumerate() {
            validate_record(&mut v, record, &format!("records.{}.member.data", i + 1));
        }
        v.finish()?;
        let total: usize = records
            .iter()
            .map(|r| r.data.as_ref().map_or(0, |d| d.0.len()))
            .sum();
        if total > MAX_BATCH_BYTES {
            return Err(ApiError::client(
                "InvalidArgumentException",
                format!(
                    "The PutRecordBatch request holds {total} bytes of data, over the limit of {MAX_BATCH_BYTES} bytes (4 MiB); send the records in smaller batches."
                ),
            ));
        }
        let delivery = self.delivery(&r.delivery_stream_name)?;
        direct_put(&delivery)?;
        let data: Vec<Bytes> = records
            .into_iter()
            .map(|r| r.data.unwrap_or_default().0)
            .collect();
        let numbers = delivery.put(&data).await?;
        let meta = delivery.meta();
        // Typed, not a Value tree: 500 of these per request.
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            failed_put_count: u32,
            encrypted: bool,
            request_responses: Vec<Response>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Response {
            record_id: String,
        }
        let request_responses = numbers
            .map(|n| Response {
                record_id: record_id(&meta, n),
            })
            .collect();
        Ok(reply(
            format,
            &Reply {
                failed_put_count: 0,
                encrypted: meta.encryption.is_some(),
                request_responses,
            },
        ))
    }

    fn update_destination(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            current_delivery_stream_version_id: Option<String>,
            destination_id: Option<String>,
            s3_destination_update: Option<S3Destination>,
            extended_s3_destination_update: Option<S3Destination>,
            #[serde(flatten)]
            other: Map<String, Value>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(
            &r.current_delivery_stream_version_id,
            "currentDeliveryStreamVersionId",
        );
        v.length(
            r.current_delivery_stream_version_id.as_deref(),
            "currentDeliveryStreamVersionId",
            1,
            50,
        );
        v.pattern(
            r.current_delivery_stream_version_id.as_deref(),
            "currentDeliveryStreamVersionId",
            |s| s.bytes().all(|b| b.is_ascii_digit()),
            "[0-9]+",
        );
        v.required(&r.destination_id, "destinationId");
        v.length(r.destination_id.as_deref(), "destinationId", 1, 100);
        if let Some(d) = &r.s3_destination_update {
            validate_destination(&mut v, d, "s3DestinationUpdate", false);
        }
        if let Some(d) = &r.extended_s3_destination_update {
            validate_destination(&mut v, d, "extendedS3DestinationUpdate", false);
        }
        v.finish()?;
        let invalid = |m: String| ApiError::client("InvalidArgumentException", m);
        let delivery = self.delivery(&r.delivery_stream_name)?;
        if r.destination_id.as_deref() != Some(DESTINATION_ID) {
            return Err(invalid(format!(
                "Destination {} not found; this delivery stream's destination is {DESTINATION_ID}.",
                r.destination_id.unwrap_or_default()
            )));
        }
        if let Some(other) = r.other.keys().find(|k| k.ends_with("DestinationUpdate")) {
            return Err(invalid(format!(
                "nuage delivers to S3 destinations only; {other} is not supported"
            )));
        }
        let update = match (r.s3_destination_update, r.extended_s3_destination_update) {
            (Some(d), None) | (None, Some(d)) => d,
            (None, None) => S3Destination::default(),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "Only one destination update may be provided: S3DestinationUpdate or ExtendedS3DestinationUpdate.".into(),
                ));
            }
        };
        let expected = r.current_delivery_stream_version_id.unwrap_or_default();
        delivery.update(|meta| {
            if meta.version.to_string() != expected {
                return Err(DeliveryError::ConcurrentModification(format!(
                    "Cannot update firehose: {} since the current version id: {} and specified version id: {expected} do not match",
                    meta.name, meta.version
                )));
            }
            meta.destination = meta.destination.merged(&update)?;
            meta.version += 1;
            meta.updated_ms = nuage_streams::streams::now_ms();
            Ok(())
        })?;
        Ok(empty(format))
    }

    fn tag(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            tags: Option<Vec<Tag>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.tags, "tags");
        let tags = r.tags.unwrap_or_default();
        validate_tags(&mut v, &tags, "tags");
        v.finish()?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        delivery.update(|meta| {
            let mut next = meta.tags.clone();
            next.extend(tag_map(tags));
            if next.len() > 50 {
                return Err(DeliveryError::LimitExceeded(format!(
                    "A delivery stream can have at most 50 tags; this request would give {} {} tags.",
                    meta.name,
                    next.len()
                )));
            }
            meta.tags = next;
            Ok(())
        })?;
        Ok(empty(format))
    }

    fn untag(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            tag_keys: Option<Vec<String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.tag_keys, "tagKeys");
        v.finish()?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        let keys = r.tag_keys.unwrap_or_default();
        delivery.update(|meta| {
            for key in &keys {
                meta.tags.remove(key);
            }
            Ok(())
        })?;
        Ok(empty(format))
    }

    fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            exclusive_start_tag_key: Option<String>,
            limit: Option<i64>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.range(r.limit, "limit", 1, 50);
        v.length(
            r.exclusive_start_tag_key.as_deref(),
            "exclusiveStartTagKey",
            1,
            128,
        );
        v.finish()?;
        let meta = self.delivery(&r.delivery_stream_name)?.meta();
        let limit = r.limit.unwrap_or(50) as usize;
        let tags: Vec<Value> = meta
            .tags
            .iter()
            .filter(|(k, _)| r.exclusive_start_tag_key.as_ref().is_none_or(|s| *k > s))
            .map(|(k, v)| json!({ "Key": k, "Value": v }))
            .collect();
        Ok(reply_value(
            format,
            &json!({
                "Tags": tags.iter().take(limit).collect::<Vec<_>>(),
                "HasMoreTags": tags.len() > limit,
            }),
        ))
    }

    fn set_encryption(&self, format: Format, body: &Bytes, start: bool) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            delivery_stream_encryption_configuration_input: Option<EncryptionInput>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.finish()?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        let config = if start {
            Some(
                encryption(r.delivery_stream_encryption_configuration_input)?.unwrap_or(
                    Encryption {
                        key_type: "AWS_OWNED_CMK".into(),
                        key_arn: None,
                    },
                ),
            )
        } else {
            None
        };
        delivery.update(|meta| {
            meta.encryption = config;
            Ok(())
        })?;
        Ok(empty(format))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordIn {
    data: Option<Blob>,
}

fn validate_record(v: &mut Validation, record: &RecordIn, field: &str) {
    match &record.data {
        None => v.required(&record.data, field),
        Some(data) if data.0.len() > MAX_RECORD_BYTES => v.fail(
            &format!(
                "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
                data.0.len(),
                data.0.len()
            ),
            field,
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_ids_are_zero_padded_hex() {
        for (created, number, version) in [
            (0, 0, 1),
            (1_764_000_000_000, 12345, 7),
            (u64::MAX, 1, u64::MAX),
        ] {
            assert_eq!(
                super::hex_id(created, number, version),
                format!("{created:016x}{number:016x}{version:032x}")
            );
        }
    }
}
