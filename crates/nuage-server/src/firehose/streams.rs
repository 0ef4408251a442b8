//! Delivery streams: create, delete, describe, list, UpdateDestination and
//! server-side encryption; the S3 destination as AWS validates it.

use super::*;

pub(super) const DESTINATION_ID: &str = "destinationId-000000000001";

/// The encryption a request asks for (its members were checked by the
/// shape), with the combinations AWS refuses.
pub(super) fn encryption(
    input: Option<shapes::EncryptionInput>,
) -> Result<Option<Encryption>, ApiError> {
    let Some(input) = input else {
        return Ok(None);
    };
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
        let r: shapes::CreateDeliveryStream = request(format, body)?;
        let invalid = |m: String| ApiError::new(ErrorCode::InvalidArgument, m);
        if let Some(other) = r.other_destination() {
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
            (Some(d), None) | (None, Some(d)) => d.0,
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
        let r: shapes::DeleteDeliveryStream = request(format, body)?;
        self.deliveries
            .delete(r.delivery_stream_name.as_deref().unwrap_or_default())
            .await?;
        Ok(empty_object(format))
    }

    pub(super) fn describe(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::DescribeDeliveryStream = request(format, body)?;
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
        let r: shapes::ListDeliveryStreams = request(format, body)?;
        let limit = r.limit.map_or(10, |l| l.0) as usize;
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
        let r: shapes::UpdateDestination = request(format, body)?;
        let invalid = |m: String| ApiError::new(ErrorCode::InvalidArgument, m);
        let delivery = self.delivery(&r.delivery_stream_name)?;
        if r.destination_id.as_deref() != Some(DESTINATION_ID) {
            return Err(invalid(format!(
                "Destination {} not found; this delivery stream's destination is {DESTINATION_ID}.",
                r.destination_id.unwrap_or_default()
            )));
        }
        if let Some(other) = r.other_destination() {
            return Err(invalid(format!(
                "nuage delivers to S3 destinations only; {other} is not supported"
            )));
        }
        let update = match (r.s3_destination_update, r.extended_s3_destination_update) {
            (Some(d), None) | (None, Some(d)) => d.0,
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
        let r: shapes::SetEncryption = request(format, body)?;
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
