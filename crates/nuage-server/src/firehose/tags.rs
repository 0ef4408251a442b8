//! Tags on delivery streams.

use super::*;

impl Firehose {
    pub(super) fn tag(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::TagDeliveryStream = request(format, body)?;
        let tags = r.tags.unwrap_or_default();
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
        Ok(empty_object(format))
    }

    pub(super) fn untag(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::UntagDeliveryStream = request(format, body)?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        let keys = r.tag_keys.unwrap_or_default();
        delivery.update(|meta| {
            for key in &keys {
                meta.tags.remove(key);
            }
            Ok(())
        })?;
        Ok(empty_object(format))
    }

    pub(super) fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListTagsForDeliveryStream = request(format, body)?;
        let meta = self.delivery(&r.delivery_stream_name)?.meta();
        let limit = r.limit.map_or(50, |l| l.0) as usize;
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
}
