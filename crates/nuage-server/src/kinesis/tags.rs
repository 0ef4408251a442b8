//! Tags on streams, by name (AddTagsToStream, ...) and by ARN (TagResource, ...).

use super::*;

impl Kinesis {
    pub(super) fn add_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::AddTagsToStream = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams.add_tags(&name, r.tags.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn remove_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::RemoveTagsFromStream = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        self.streams
            .remove_tags(&name, &r.tag_keys.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListTagsForStream = self.request(format, body)?;
        let name = stream_named(&r.stream_name, &r.stream_arn)?;
        let meta = self.streams.describe(&name)?;
        let limit = r.limit.map_or(50, |n| n.0) as usize;
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
        let arn = arn.unwrap_or_default();
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
        let r: shapes::TagResource = self.request(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        self.streams.add_tags(&name, r.tags.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn untag_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::UntagResource = self.request(format, body)?;
        let name = self.resource_stream(r.resource_arn.as_deref())?;
        self.streams
            .remove_tags(&name, &r.tag_keys.unwrap_or_default())?;
        Ok(empty(format))
    }

    pub(super) fn list_tags_for_resource(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListTagsForResource = self.request(format, body)?;
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
