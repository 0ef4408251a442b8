//! Stream operations: create, delete, describe, list, retention, encryption,
//! enhanced monitoring, capacity mode and account limits.

use super::*;

pub(super) fn mode_json(meta: &StreamMeta) -> Value {
    json!({ "StreamMode": meta.mode.as_str() })
}

pub(super) fn monitoring_json(meta: &StreamMeta) -> Value {
    json!([{ "ShardLevelMetrics": meta.shard_level_metrics.iter().collect::<Vec<_>>() }])
}

pub(super) fn encryption_type(meta: &StreamMeta) -> &'static str {
    encryption_name(meta.encryption.is_some())
}

pub(super) fn add_encryption(out: &mut Value, meta: &StreamMeta) {
    out["EncryptionType"] = json!(encryption_type(meta));
    if let Some(e) = &meta.encryption {
        out["KeyId"] = json!(e.key_id);
    }
}

pub(super) fn created(meta: &StreamMeta) -> Value {
    json!(meta.created_ms as f64 / 1000.0)
}

pub(super) fn parse_mode(details: Option<&shapes::ModeDetails>) -> StreamMode {
    match details.and_then(|d| d.stream_mode.as_deref()) {
        Some("ON_DEMAND") => StreamMode::OnDemand,
        _ => StreamMode::Provisioned,
    }
}

impl Kinesis {
    pub(super) fn create_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::CreateStream = self.request(format, body)?;
        let mode = parse_mode(r.stream_mode_details.as_ref());
        let shards = match (mode, r.shard_count) {
            (StreamMode::OnDemand, Some(_)) => {
                return Err(ApiError::new(
                    ErrorCode::Validation,
                    "ShardCount must not be set for a stream in ON_DEMAND mode.",
                ));
            }
            (StreamMode::OnDemand, None) => 4,
            (StreamMode::Provisioned, Some(n)) => n.0 as u32,
            (StreamMode::Provisioned, None) => {
                return Err(ApiError::new(
                    ErrorCode::Validation,
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

    pub(super) fn delete_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::DeleteStream = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams
            .delete(&name, r.enforce_consumer_deletion.unwrap_or(false))?;
        Ok(empty(format))
    }

    pub(super) fn describe_stream(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::DescribeStream = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let meta = self.streams.describe(&name)?;
        let limit = r.limit.map_or(100, |n| n.0) as usize;
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

    pub(super) fn describe_stream_summary(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::StreamOnly = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
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

    pub(super) fn list_streams(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListStreams = self.request(format, body)?;
        let after = match &r.next_token {
            Some(token) => Some(decode_token(token, "stream")?),
            None => r.exclusive_start_stream_name.clone(),
        };
        let limit = r.limit.map_or(100, |n| n.0) as usize;
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

    pub(super) fn retention(&self, format: Format, body: &Bytes, increase: bool) -> ApiResult {
        let r: shapes::Retention = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams.set_retention(
            &name,
            r.retention_period_hours.map_or(24, |n| n.0) as u32,
            increase,
        )?;
        Ok(empty(format))
    }

    pub(super) fn encryption(&self, format: Format, body: &Bytes, start: bool) -> ApiResult {
        let r: shapes::Encryption = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let encryption = start.then(|| Encryption {
            kind: r.encryption_type.unwrap_or_default(),
            key_id: r.key_id.unwrap_or_default(),
        });
        self.streams.set_encryption(&name, encryption)?;
        Ok(empty(format))
    }

    pub(super) fn monitoring(&self, format: Format, body: &Bytes, enable: bool) -> ApiResult {
        let r: shapes::Monitoring = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
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

    pub(super) fn update_stream_mode(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::UpdateStreamMode = self.request(format, body)?;
        let name = self.resource_stream(r.stream_arn.as_deref())?;
        self.streams
            .set_mode(&name, parse_mode(r.stream_mode_details.as_ref()))?;
        Ok(empty(format))
    }

    pub(super) fn describe_limits(&self, format: Format) -> ApiResult {
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
