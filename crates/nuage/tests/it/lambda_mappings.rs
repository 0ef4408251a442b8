//! Event-source mappings from nuage's Kinesis streams, through the AWS
//! SDKs: every record handed over once, in shard order, across a restart
//! of `nuage serve`; a poison record bisected out and sent to OnFailure.
//! The event shape is Lambda's documented Kinesis event.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob as KBlob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_lambda::types::{DestinationConfig, Environment, EventSourcePosition, OnFailure};

use crate::lambda::{client, python_function};
use crate::streams::{Server, read_shard, runtime};

/// Appends `shard sequence data` per record, after checking the batch.
const RECORDER: &str = r#"
import base64, os, time
def handler(event, context):
    lines = []
    for r in event["Records"]:
        assert r["eventSource"] == "aws:kinesis" and r["eventName"] == "aws:kinesis:record"
        shard, seq = r["eventID"].split(":")
        assert seq == r["kinesis"]["sequenceNumber"]
        data = base64.b64decode(r["kinesis"]["data"]).decode()
        if data == "poison":
            raise ValueError("poison record")
        lines.append(f"{shard} {seq} {data}\n")
    time.sleep(float(os.environ.get("PAUSE", "0")))
    with open(os.environ["OUT"], "a") as f:
        f.write("".join(lines))
    return {"count": len(lines)}
"#;

async fn create_recorder(lambda: &aws_sdk_lambda::Client, out: &Path, pause: &str) {
    python_function(lambda, "recorder", "app.handler", RECORDER)
        .environment(
            Environment::builder()
                .variables("OUT", out.to_str().unwrap())
                .variables("PAUSE", pause)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn put(kinesis: &aws_sdk_kinesis::Client, stream: &str, values: &[String]) {
    for chunk in values.chunks(500) {
        let entries = chunk
            .iter()
            .map(|v| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("key-{v}"))
                    .data(KBlob::new(v.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = kinesis
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// The recorder's lines: (shard, sequence, data); a line the handler is
/// still writing is not one yet.
fn recorded(out: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    complete
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let mut next = || parts.next().unwrap().to_string();
            (next(), next(), next())
        })
        .collect()
}

async fn wait_for_lines(out: &Path, n: usize) {
    for _ in 0..600 {
        if recorded(out).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {} of {n} records recorded", recorded(out).len());
}

#[test]
fn a_mapping_hands_over_every_record_once_in_shard_order_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.txt");
    let first: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let server = Server::start(dir.path(), &[]);
    runtime().block_on(async {
        let kinesis = server.client();
        let lambda = client(&server);
        kinesis
            .create_stream()
            .stream_name("tolls")
            .shard_count(2)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        put(&kinesis, "tolls", &first).await;
        create_recorder(&lambda, &out, "0.02").await;
        let mapping = lambda
            .create_event_source_mapping()
            .function_name("recorder")
            .event_source_arn("arn:aws:kinesis:us-east-1:000000000000:stream/tolls")
            .starting_position(EventSourcePosition::TrimHorizon)
            .batch_size(25)
            .send()
            .await
            .unwrap();
        assert_eq!(mapping.batch_size(), Some(25));
        assert_eq!(mapping.state(), Some("Enabled"));
        let listed = lambda
            .list_event_source_mappings()
            .function_name("recorder")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.event_source_mappings().len(), 1);
        // Stop mid-stream: the batch in flight finishes and is checkpointed.
        wait_for_lines(&out, 100).await;
    });
    let status = server.terminate();
    assert!(status.success());
    let midway = recorded(&out).len();
    assert!(
        midway < first.len(),
        "the restart came after the end ({midway})"
    );

    let server = Server::start(dir.path(), &[]);
    let second: Vec<String> = (600..800).map(|i| i.to_string()).collect();
    runtime().block_on(async {
        let kinesis = server.client();
        put(&kinesis, "tolls", &second).await;
        wait_for_lines(&out, 800).await;
        tokio::time::sleep(Duration::from_millis(500)).await;

        let lines = recorded(&out);
        assert_eq!(lines.len(), 800, "every record once, none repeated");
        let values: HashSet<&str> = lines.iter().map(|(_, _, v)| v.as_str()).collect();
        assert_eq!(values.len(), 800);
        // Each shard's records in the order the shard holds them.
        let mut by_shard: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (shard, seq, _) in &lines {
            by_shard.entry(shard).or_default().push(seq);
        }
        assert_eq!(by_shard.len(), 2);
        for (shard, seqs) in by_shard {
            let held: Vec<String> = read_shard(&kinesis, "tolls", shard)
                .await
                .into_iter()
                .map(|(seq, _, _)| seq)
                .collect();
            assert_eq!(seqs, held, "{shard}");
        }
    });
}

#[test]
fn a_poison_record_is_bisected_out_and_sent_to_the_failure_stream() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("records.txt");
    let server = Server::start(dir.path(), &[]);
    runtime().block_on(async {
        let kinesis = server.client();
        let lambda = client(&server);
        for stream in ["orders", "dead"] {
            kinesis
                .create_stream()
                .stream_name(stream)
                .shard_count(1)
                .send()
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let values: Vec<String> = (0..16)
            .map(|i| {
                if i == 11 {
                    "poison".to_string()
                } else {
                    i.to_string()
                }
            })
            .collect();
        put(&kinesis, "orders", &values).await;
        create_recorder(&lambda, &out, "0").await;
        lambda
            .create_event_source_mapping()
            .function_name("recorder")
            .event_source_arn("arn:aws:kinesis:us-east-1:000000000000:stream/orders")
            .starting_position(EventSourcePosition::TrimHorizon)
            .batch_size(16)
            .bisect_batch_on_function_error(true)
            .maximum_retry_attempts(1)
            .destination_config(
                DestinationConfig::builder()
                    .on_failure(
                        OnFailure::builder()
                            .destination("arn:aws:kinesis:us-east-1:000000000000:stream/dead")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        wait_for_lines(&out, 15).await;
        let mut dead = Vec::new();
        for _ in 0..100 {
            dead = read_shard(&kinesis, "dead", "shardId-000000000000").await;
            if !dead.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(dead.len(), 1);
        let record: serde_json::Value = serde_json::from_slice(&dead[0].2).unwrap();
        let info = &record["KinesisBatchInfo"];
        assert_eq!(info["batchSize"], 1);
        assert_eq!(info["shardId"], "shardId-000000000000");
        assert_eq!(
            record["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        let held = read_shard(&kinesis, "orders", "shardId-000000000000").await;
        assert_eq!(info["startSequenceNumber"], held[11].0.as_str());
        assert_eq!(info["endSequenceNumber"], held[11].0.as_str());

        let lines = recorded(&out);
        let got: Vec<&str> = lines.iter().map(|(_, _, v)| v.as_str()).collect();
        let mut expected: Vec<String> = (0..16)
            .filter(|i| *i != 11)
            .map(|i| i.to_string())
            .collect();
        expected.sort();
        let mut got: Vec<String> = got.into_iter().map(str::to_string).collect();
        got.sort();
        assert_eq!(got, expected, "each good record once");
    });
}
