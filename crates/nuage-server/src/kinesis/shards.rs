//! Shard operations: ListShards and resharding (split, merge, UpdateShardCount).

use super::*;

impl Kinesis {
    pub(super) fn list_shards(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListShards = self.request(format, body)?;
        let named = r.stream_name.is_some() || r.stream_arn.is_some();
        let (name, after) = match (&r.next_token, named) {
            (Some(_), true) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    "NextToken and StreamName cannot be provided together.",
                ));
            }
            (None, false) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    "Either NextToken or StreamName should be provided.",
                ));
            }
            (Some(token), false) => {
                let text = decode_token(token, "shards")?;
                let (name, after) = text.split_once('\n').ok_or_else(invalid_token)?;
                (name.to_string(), after.parse::<u32>().ok())
            }
            (None, true) => (
                stream_named(&r.stream_name, &r.stream_arn)?,
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
                        ApiError::new(
                            ErrorCode::InvalidArgument,
                            "Timestamp must be provided for a ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP.",
                        )
                    })
                };
                Some(match f.kind.as_deref().unwrap_or_default() {
                    "AFTER_SHARD_ID" => ShardFilter::AfterShardId(
                        f.shard_id
                            .as_deref()
                            .and_then(nuage_streams::meta::parse_shard_id)
                            .ok_or_else(|| {
                                ApiError::new(
                                    ErrorCode::InvalidArgument,
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
        let limit = r.max_results.map_or(1000, |n| n.0) as usize;
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

    pub(super) fn split_shard(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::SplitShard = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams.split_shard(
            &name,
            r.shard_to_split.as_deref().unwrap_or_default(),
            r.new_starting_hash_key.as_deref().unwrap_or_default(),
        )?;
        Ok(empty(format))
    }

    pub(super) fn merge_shards(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::MergeShards = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams.merge_shards(
            &name,
            r.shard_to_merge.as_deref().unwrap_or_default(),
            r.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )?;
        Ok(empty(format))
    }

    pub(super) fn update_shard_count(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::UpdateShardCount = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let target = r.target_shard_count.map_or(1, |n| n.0) as u32;
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
}
