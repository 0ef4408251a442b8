//! Records: PutRecord and PutRecordBatch into DirectPut delivery streams.

use super::*;

/// The largest record Firehose accepts: 1,000 KiB.
pub(super) const MAX_RECORD_BYTES: usize = 1_024_000;

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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordIn {
    data: Option<Blob>,
}

pub(super) fn validate_record(v: &mut Validation, record: &RecordIn, field: &str) {
    match &record.data {
        None => v.required(&record.data, field),
        Some(data) if data.0.len() > MAX_RECORD_BYTES => v.fail(
            &format!(
                "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
                data.0.len(),
                data.0.len()
            ),
            field,
            &format!("Member must have length less than or equal to {MAX_RECORD_BYTES}"),
        ),
        Some(_) => {}
    }
}

impl Firehose {
    pub(super) async fn put_record(&self, format: Format, body: &Bytes) -> ApiResult {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            record: Option<RecordIn>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.record, "record");
        if let Some(record) = &r.record {
            validate_record(&mut v, record, "record.data");
        }
        v.finish()?;
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
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req {
            delivery_stream_name: Option<String>,
            records: Option<Vec<RecordIn>>,
        }
        let r: Req = parse(format, body)?;
        let mut v = Validation::default();
        validate_name(&mut v, &r.delivery_stream_name);
        v.required(&r.records, "records");
        let records = r.records.unwrap_or_default();
        if records.is_empty() && body.windows(9).any(|w| w == b"\"Records\"") {
            v.fail(
                &"[]",
                "records",
                "Member must have length greater than or equal to 1",
            );
        }
        if records.len() > 500 {
            v.fail(
                &format!("[{} records]", records.len()),
                "records",
                "Member must have length less than or equal to 500",
            );
        }
        for (i, record) in records.iter().enumerate() {
            validate_record(&mut v, record, &format!("records.{}.member.data", i + 1));
        }
        v.finish()?;
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
