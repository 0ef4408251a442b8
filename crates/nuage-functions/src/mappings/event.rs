//! The event a Kinesis mapping hands a function, in Lambda's exact shape,
//! and the record its OnFailure destination receives.

use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};

/// One stream record as the mapping read it.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub sequence: String,
    pub partition_key: String,
    pub data: bytes::Bytes,
    pub arrival_ms: i64,
}

/// What every record of a mapping's events shares.
pub(crate) struct Source<'a> {
    pub shard_id: &'a str,
    pub stream_arn: &'a str,
    pub region: &'a str,
    pub role: &'a str,
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "Records")]
    records: Vec<EventRecord<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord<'a> {
    kinesis: Kinesis<'a>,
    event_source: &'static str,
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: String,
    event_name: &'static str,
    invoke_identity_arn: &'a str,
    aws_region: &'a str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kinesis<'a> {
    kinesis_schema_version: &'static str,
    partition_key: &'a str,
    sequence_number: &'a str,
    data: String,
    approximate_arrival_timestamp: f64,
}

/// `{"Records": [...]}` for `items`.
pub(crate) fn event(source: &Source<'_>, items: &[Item]) -> Vec<u8> {
    let records = items
        .iter()
        .map(|item| EventRecord {
            kinesis: Kinesis {
                kinesis_schema_version: "1.0",
                partition_key: &item.partition_key,
                sequence_number: &item.sequence,
                data: base64::engine::general_purpose::STANDARD.encode(&item.data),
                approximate_arrival_timestamp: item.arrival_ms as f64 / 1000.0,
            },
            event_source: "aws:kinesis",
            event_version: "1.0",
            event_id: format!("{}:{}", source.shard_id, item.sequence),
            event_name: "aws:kinesis:record",
            invoke_identity_arn: source.role,
            aws_region: source.region,
            event_source_arn: source.stream_arn,
        })
        .collect();
    serde_json::to_vec(&Event { records }).expect("an event serializes")
}

/// What FilterCriteria patterns are matched against: the record as the
/// event shows it, with `data` decoded (as JSON when it is JSON).
pub(crate) fn filter_view(item: &Item) -> Value {
    let data = serde_json::from_slice::<Value>(&item.data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&item.data).into_owned()));
    json!({
        "data": data,
        "partitionKey": item.partition_key,
        "sequenceNumber": item.sequence,
        "kinesis": {
            "data": data,
            "partitionKey": item.partition_key,
            "sequenceNumber": item.sequence,
        },
        "eventSource": "aws:kinesis",
        "eventName": "aws:kinesis:record",
    })
}

/// The OnFailure record for a batch given up on.
pub(crate) fn failure_record(
    source: &Source<'_>,
    items: &[Item],
    condition: &str,
    invocations: u32,
    function_arn: &str,
    last: Option<&crate::InvokeOutcome>,
) -> Value {
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let (first, last_item) = (items.first(), items.last());
    let mut record = json!({
        "requestContext": {
            "requestId": last.map(|o| o.request_id.clone()).unwrap_or_default(),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invocations,
        },
        "version": "1.0",
        "timestamp": time(chrono::Utc::now().timestamp_millis()),
        "KinesisBatchInfo": {
            "shardId": source.shard_id,
            "startSequenceNumber": first.map(|i| i.sequence.as_str()),
            "endSequenceNumber": last_item.map(|i| i.sequence.as_str()),
            "approximateArrivalOfFirstRecord": first.map(|i| time(i.arrival_ms)),
            "approximateArrivalOfLastRecord": last_item.map(|i| time(i.arrival_ms)),
            "batchSize": items.len(),
            "streamArn": source.stream_arn,
        },
    });
    if let Some(outcome) = last {
        let mut context = json!({ "statusCode": 200, "executedVersion": outcome.executed_version });
        if outcome.function_error {
            context["functionError"] = "Unhandled".into();
        }
        record["responseContext"] = context;
    }
    record
}
