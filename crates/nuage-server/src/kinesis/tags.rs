//! Tags on streams, by name (AddTagsToStream, ...) and by ARN (TagResource, ...).

use super::*;

/// The Tags map's own constraints: 1 to `max` entries (AddTagsToStream 10,
/// TagResource 50), keys of 1 to 128 characters, values of at most 256.
fn validate_tags_member(v: &mut Validation, tags: &Option<BTreeMap<String, String>>, max: usize) {
    v.required(tags, "tags");
    let Some(tags) = tags else {
        return;
    };
    let shown = format!(
        "{{{}}}",
        tags.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if tags.is_empty() {
        v.fail(
            &shown,
            "tags",
            "Member must have length greater than or equal to 1",
        );
    } else if tags.len() > max {
        v.fail(
            &shown,
            "tags",
            &format!("Member must have length less than or equal to {max}"),
        );
    }
    if tags.keys().any(|k| k.is_empty() || k.chars().count() > 128) {
        v.fail(
            &shown,
            "tags",
            "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
        );
    }
    if tags.values().any(|v| v.chars().count() > 256) {
        v.fail(
            &shown,
            "tags",
            "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]",
        );
    }
}

impl Kinesis {
    pub(super) fn add_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            tags: Option<BTreeMap<String, String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        // AWS's order: Tags, then the stream.
        validate_tags_member(&mut v, &r.tags, 10);
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        let tags = r.tags.unwrap_or_default();
        self.streams.add_tags(&name, tags)?;
        Ok(empty(format))
    }

    pub(super) fn remove_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(flatten)]
            target: Target,
            tag_keys: Option<Vec<String>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        v.required(&r.tag_keys, "tagKeys");
        r.target.validate(&mut v);
        v.finish()?;
        let name = r.target.name()?;
        self.streams
            .remove_tags(&name, &r.tag_keys.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
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
        v.range(r.limit, "limit", 1, 50);
        r.target.validate(&mut v);
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

    pub(super) fn resource_stream(&self, arn: Option<&str>) -> Result<String, ApiError> {
        let arn = arn.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Validation,
                "1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null",
            )
        })?;
        Streams::name_from_arn(arn)
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("{arn} is not the ARN of a Kinesis stream."),
                )
            })
    }

    pub(super) fn tag_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            #[serde(rename = "ResourceARN")]
            resource_arn: Option<String>,
            tags: Option<BTreeMap<String, String>>,
        }
        let r: Req = parse(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        let mut v = Validation::default();
        validate_tags_member(&mut v, &r.tags, nuage_streams::streams::MAX_TAGS);
        v.finish()?;
        self.streams.add_tags(&name, r.tags.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn untag_resource(&self, format: Format, body: &Bytes) -> ApiResult {
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

    pub(super) fn list_tags_for_resource(&self, format: Format, body: &Bytes) -> ApiResult {
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
}
