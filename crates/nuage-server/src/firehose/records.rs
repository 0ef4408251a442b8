//! Records: PutRecord and PutRecordBatch into DirectPut delivery streams.

use super::*;

/// The largest PutRecordBatch: 4 MiB of data.
pub(super) const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// AWS refuses puts into a delivery stream that reads a Kinesis stream.
pub(super) fn direct_put(delivery: &Delivery) -> Result<(), ApiError> {
    match delivery.meta().source {
        Source::DirectPut => Ok(()),
        Source::KinesisStream { .. } => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
        )),
    }
}

/// The id Firehose answers for a record: opaque, unique in the stream.
pub(super) fn record_id(meta: &DeliveryMeta, number: u64) -> String {
    hex_id(meta.created_ms as u64, number, meta.version)
}

/// `format!("{:016x}{:016x}{:032x}", ...)` written by hand: PutRecordBatch
/// makes 500 of these per request.
pub(super) fn hex_id(created_ms: u64, number: u64, version: u64) -> String {
    let mut id = String::with_capacity(64);
    for (value, digits) in [(created_ms, 16), (number, 16), (version, 32)] {
        for i in (0..digits).rev() {
            let digit = ((u128::from(value) >> (4 * i)) & 0xf) as u32;
            id.push(char::from_digit(digit, 16).expect("a hex digit"));
        }
    }
    id
}

impl Firehose {
    pub(super) async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::PutRecord = request(format, body)?;
        let delivery = self.delivery(&r.delivery_stream_name)?;
        direct_put(&delivery)?;
        let data = r.record.and_then(|r| r.data).unwrap_or_default().0;
        let numbers = delivery.put(&[data]).await?;
        let meta = delivery.meta();
        Ok(reply_value(
            format,
            &json!({
                "RecordId": record_id(&meta, numbers.start),
                "Encrypted": meta.encryption.is_some(),
            }),
        ))
    }

    pub(super) async fn put_record_batch(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: shapes::PutRecordBatch = request(format, body)?;
        let records = r.records.unwrap_or_default();
        let total: usize = records
            .iter()
            .map(|r| r.data.as_ref().map_or(0, |d| d.0.len()))
            .sum();
        if total > MAX_BATCH_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "The PutRecordBatch request holds {total} bytes of data, over the limit of {MAX_BATCH_BYTES} bytes (4 MiB); send the records in smaller batches."
                ),
            ));
        }
        let delivery = self.delivery(&r.delivery_stream_name)?;
        direct_put(&delivery)?;
        let data: Vec<Bytes> = records
            .into_iter()
            .map(|r| r.data.unwrap_or_default().0)
            .collect();
        let numbers = delivery.put(&data).await?;
        let meta = delivery.meta();
        // Typed, not a Value tree: 500 of these per request.
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            failed_put_count: u32,
            encrypted: bool,
            request_responses: Vec<Response>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Response {
            record_id: String,
        }
        let request_responses = numbers
            .map(|n| Response {
                record_id: record_id(&meta, n),
            })
            .collect();
        Ok(reply(
            format,
            &Reply {
                failed_put_count: 0,
                encrypted: meta.encryption.is_some(),
                request_responses,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn record_ids_are_zero_padded_hex() {
        for (created, number, version) in [
            (0, 0, 1),
            (1_764_000_000_000, 12345, 7),
            (u64::MAX, 1, u64::MAX),
        ] {
            assert_eq!(
                super::hex_id(created, number, version),
                format!("{created:016x}{number:016x}{version:032x}")
            );
        }
    }
}
