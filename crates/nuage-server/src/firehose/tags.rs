//! Tags on delivery streams.

use super::*;

impl Firehose {
    pub(super) fn tag(&self, format: Format, body: &Bytes) -> ApiResult {
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
        Ok(empty_object(format))
    }

    pub(super) fn untag(&self, format: Format, body: &Bytes) -> ApiResult {
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
        Ok(empty_object(format))
    }

    pub(super) fn list_tags(&self, format: Format, body: &Bytes) -> ApiResult {
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
}
