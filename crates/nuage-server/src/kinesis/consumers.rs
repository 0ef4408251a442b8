//! Enhanced fan-out consumers: register, deregister, describe and list.

use super::*;

impl Kinesis {
    pub(super) fn consumer_json(
        &self,
        stream_arn: &str,
        c: &nuage_streams::meta::Consumer,
    ) -> Value {
        json!({
            "ConsumerName": c.name,
            "ConsumerARN": c.arn,
            "ConsumerStatus": "ACTIVE",
            "ConsumerCreationTimestamp": c.created_ms as f64 / 1000.0,
            "StreamARN": stream_arn,
        })
    }

    pub(super) fn register_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::RegisterConsumer = self.request(format, body)?;
        let arn = r.stream_arn.unwrap_or_default();
        let name = self.resource_stream(Some(&arn))?;
        let consumer = self
            .streams
            .register_consumer(&name, r.consumer_name.as_deref().unwrap_or_default())?;
        let mut out = self.consumer_json(&arn, &consumer);
        out.as_object_mut().map(|o| o.remove("StreamARN"));
        Ok(reply_value(format, &json!({ "Consumer": out })))
    }

    pub(super) fn find_consumer(
        &self,
        body: &Bytes,
        format: Format,
    ) -> Result<(String, nuage_streams::meta::Consumer), ApiError> {
        let r: shapes::FindConsumer = self.request(format, body)?;
        if let Some(arn) = &r.consumer_arn {
            let (stream, consumer) = self.streams.consumer_by_arn(arn)?;
            return Ok((self.streams.arn(&stream), consumer));
        }
        let (Some(stream_arn), Some(name)) = (&r.stream_arn, &r.consumer_name) else {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
            ));
        };
        let stream = self.resource_stream(Some(stream_arn))?;
        let meta = self.streams.describe(&stream)?;
        let consumer = meta
            .consumers
            .iter()
            .find(|c| &c.name == name)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ResourceNotFound,
                    format!("Consumer {name} under stream {stream} not found."),
                )
            })?;
        Ok((meta.arn, consumer))
    }

    pub(super) fn deregister_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        let (stream_arn, consumer) = self.find_consumer(body, format)?;
        let stream = self.resource_stream(Some(&stream_arn))?;
        self.streams.deregister_consumer(&stream, &consumer.name)?;
        Ok(empty(format))
    }

    pub(super) fn describe_consumer(&self, format: Format, body: &Bytes) -> ApiResult {
        let (stream_arn, consumer) = self.find_consumer(body, format)?;
        Ok(reply_value(
            format,
            &json!({ "ConsumerDescription": self.consumer_json(&stream_arn, &consumer) }),
        ))
    }

    pub(super) fn list_consumers(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::ListStreamConsumers = self.request(format, body)?;
        let arn = r.stream_arn.unwrap_or_default();
        let stream = self.resource_stream(Some(&arn))?;
        let meta = self.streams.describe(&stream)?;
        let skip = match &r.next_token {
            Some(t) => decode_token(t, "consumers")?
                .parse()
                .map_err(|_| invalid_token())?,
            None => 0usize,
        };
        let limit = r.max_results.map_or(100, |n| n.0) as usize;
        let page: Vec<Value> = meta
            .consumers
            .iter()
            .skip(skip)
            .take(limit)
            .map(|c| {
                let mut j = self.consumer_json(&arn, c);
                j.as_object_mut().map(|o| o.remove("StreamARN"));
                j
            })
            .collect();
        let mut out = json!({ "Consumers": page });
        if skip + limit < meta.consumers.len() {
            out["NextToken"] = json!(encode_token("consumers", &(skip + limit).to_string()));
        }
        Ok(reply_value(format, &out))
    }
}
