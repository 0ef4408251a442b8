//! Tags on streams, by name (AddTagsToStream, ...) and by ARN (TagResource, ...).

use super::*;

pub(super) fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let ok = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 || !ok(k) || !ok(v) {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.",
            ));
        }
    }
    Ok(())
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
        r.target.validate(&mut v);
        v.required(&r.tags, "tags");
        v.finish()?;
        let name = r.target.name()?;
        let tags = r.tags.unwrap_or_default();
        validate_tags(&tags)?;
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
        r.target.validate(&mut v);
        v.required(&r.tag_keys, "tagKeys");
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
        r.target.validate(&mut v);
        v.range(r.limit, "limit", 1, 50);
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
        let tags = r.tags.unwrap_or_default();
        validate_tags(&tags)?;
        self.streams.add_tags(&name, tags)?;
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
