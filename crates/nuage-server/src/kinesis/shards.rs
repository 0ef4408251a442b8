//! Shard operations: ListShards and resharding (split, merge, UpdateShardCount).

use super::*;

impl Kinesis {
    pub(super) fn list_shards(&self, format: Format, body: &Bytes) -> ApiResult {
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
        // AWS's order: ExclusiveStartShardId, MaxResults, NextToken, ...,
        // the stream last.
        let mut v = Validation::default();
        v.pattern(
            r.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
            stream_name_ok,
            NAME_PATTERN,
        );
        v.length(
            r.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
            1,
            128,
        );
        v.range(r.max_results, "maxResults", 1, 10_000);
        v.length(r.next_token.as_deref(), "nextToken", 1, 1_048_576);
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
        r.target.validate(&mut v);
        v.finish()?;
        let named = r.target.stream_name.is_some() || r.target.stream_arn.is_some();
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
                        ApiError::new(
                            ErrorCode::InvalidArgument,
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

    pub(super) fn split_shard(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_to_split: Option<String>,
            new_starting_hash_key: Option<String>,
        }
        let r: Req = parse(format, body)?;
        // AWS's order: NewStartingHashKey, the stream, ShardToSplit.
        let mut v = Validation::default();
        v.required(&r.new_starting_hash_key, "newStartingHashKey");
        v.pattern(
            r.new_starting_hash_key.as_deref(),
            "newStartingHashKey",
            digits_ok,
            "0|([1-9]\\d{0,38})",
        );
        r.target.validate(&mut v);
        shard_id_member(&mut v, &r.shard_to_split, "shardToSplit");
        v.finish()?;
        let name = r.target.name()?;
        let key = explicit_hash(r.new_starting_hash_key.as_deref())?.unwrap_or_default();
        self.streams
            .split_shard(&name, r.shard_to_split.as_deref().unwrap_or_default(), key)?;
        Ok(empty(format))
    }

    pub(super) fn merge_shards(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            shard_to_merge: Option<String>,
            adjacent_shard_to_merge: Option<String>,
        }
        let r: Req = parse(format, body)?;
        // AWS's order: ShardToMerge, AdjacentShardToMerge, the stream.
        let mut v = Validation::default();
        shard_id_member(&mut v, &r.shard_to_merge, "shardToMerge");
        shard_id_member(&mut v, &r.adjacent_shard_to_merge, "adjacentShardToMerge");
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        self.streams.merge_shards(
            &name,
            r.shard_to_merge.as_deref().unwrap_or_default(),
            r.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )?;
        Ok(empty(format))
    }

    pub(super) fn update_shard_count(&self, format: Format, body: &Bytes) -> ApiResult {
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
        v.required(&r.target_shard_count, "targetShardCount");
        v.range(r.target_shard_count, "targetShardCount", 1, 100_000);
        v.required(&r.scaling_type, "scalingType");
        v.one_of(
            r.scaling_type.as_deref(),
            "scalingType",
            &["UNIFORM_SCALING"],
        );
        r.target.validate(&mut v);
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
}

/// A required shard id member: present, then its pattern, then its length.
fn shard_id_member(v: &mut Validation, value: &Option<String>, field: &str) {
    v.required(value, field);
    v.pattern(value.as_deref(), field, stream_name_ok, NAME_PATTERN);
    v.length(value.as_deref(), field, 1, 128);
}
