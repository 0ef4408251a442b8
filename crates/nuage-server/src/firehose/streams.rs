//! Delivery streams: create, delete, describe, list, UpdateDestination and
//! server-side encryption; the S3 destination as AWS validates it.

use super::*;

pub(super) const DESTINATION_ID: &str = "destinationId-000000000001";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct EncryptionInput {
    #[serde(rename = "KeyARN")]
    key_arn: Option<String>,
    key_type: Option<String>,
}

pub(super) fn encryption(input: Option<EncryptionInput>) -> Result<Option<Encryption>, ApiError> {
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
        ("CUSTOMER_MANAGED_CMK", None) => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.",
        )),
        ("AWS_OWNED_CMK", Some(_)) => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "KeyARN must not be specified when KeyType is AWS_OWNED_CMK.",
        )),
        _ => Ok(Some(Encryption {
            key_type,
            key_arn: input.key_arn,
        })),
    }
}

pub(super) fn arn_pattern(s: &str, service: &str) -> bool {
    let mut parts = s.splitn(6, ':');
    parts.next() == Some("arn")
        && parts.next().is_some_and(|p| p.starts_with("aws"))
        && parts.next() == Some(service)
        && parts.next().is_some()
        && parts.next().is_some()
        && parts.next().is_some_and(|rest| !rest.is_empty())
}

/// AWS's member constraints on an S3 destination (create or update).
pub(super) fn validate_destination(
    v: &mut Validation,
    d: &S3Destination,
    field: &str,
    create: bool,
) {
    let f = |name: &str| format!("{field}.{name}");
    if create {
        v.required(&d.role_arn, &f("roleARN"));
        v.required(&d.bucket_arn, &f("bucketARN"));
    }
    v.pattern(
        d.role_arn.as_deref(),
        &f("roleARN"),
        |s| arn_pattern(s, "iam"),
        "arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+",
    );
    v.length(d.role_arn.as_deref(), &f("roleARN"), 1, 512);
    v.pattern(
        d.bucket_arn.as_deref(),
        &f("bucketARN"),
        |s| arn_pattern(s, "s3"),
        "arn:.*:s3:::[\\w\\.\\-]{1,255}",
    );
    v.length(d.bucket_arn.as_deref(), &f("bucketARN"), 1, 2048);
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
pub(super) const SOURCE_TYPES: &[&str] = &[
    "DirectPut",
    "KinesisStreamAsSource",
    "MSKAsSource",
    "DatabaseAsSource",
];

pub(super) const OTHER_DESTINATIONS: &[&str] = &[
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
pub(super) struct KinesisSourceIn {
    #[serde(rename = "KinesisStreamARN")]
    kinesis_stream_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
}

pub(super) fn description(meta: &DeliveryMeta) -> Result<Value, ApiError> {
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

impl Firehose {
    pub(super) fn create(&self, format: Format, body: &Bytes) -> ApiResult {
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
        let invalid = |m: String| ApiError::new(ErrorCode::InvalidArgument, m);
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

    pub(super) async fn delete(&self, format: Format, body: &Bytes) -> ApiResult {
        let name = named(format, body)?;
        self.deliveries.delete(&name).await?;
        Ok(empty_object(format))
    }

    pub(super) fn describe(&self, format: Format, body: &Bytes) -> ApiResult {
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

    pub(super) fn list(&self, format: Format, body: &Bytes) -> ApiResult {
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

    pub(super) fn update_destination(&self, format: Format, body: &Bytes) -> ApiResult {
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
        v.pattern(
            r.current_delivery_stream_version_id.as_deref(),
            "currentDeliveryStreamVersionId",
            |s| s.bytes().all(|b| b.is_ascii_digit()),
            "[0-9]+",
        );
        v.length(
            r.current_delivery_stream_version_id.as_deref(),
            "currentDeliveryStreamVersionId",
            1,
            50,
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
        let invalid = |m: String| ApiError::new(ErrorCode::InvalidArgument, m);
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
        Ok(empty_object(format))
    }

    pub(super) fn set_encryption(&self, format: Format, body: &Bytes, start: bool) -> ApiResult {
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
        Ok(empty_object(format))
    }
}
