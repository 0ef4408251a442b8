//! Event-source mappings in process, over a real stream log: resharding
//! followed (a parent's records before its children's), filters,
//! partial batch failures, LATEST.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nuage_functions::{Functions, FunctionsConfig, MappingRequest};
use nuage_streams::{PutEntry, StreamMode, Streams, StreamsConfig};

use crate::{new_function, zip};

const RECORDER: &str = r#"
import base64, json, os
def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            data = base64.b64decode(r["kinesis"]["data"]).decode()
            if data == "fail-once" and not os.path.exists(os.environ["OUT"] + ".failed"):
                open(os.environ["OUT"] + ".failed", "w").close()
                failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
                break
            f.write(r["eventID"].split(":")[0] + " " + data + "\n")
    return {"batchItemFailures": failures}
"#;

struct Setup {
    _dir: tempfile::TempDir,
    streams: Arc<Streams>,
    functions: Arc<Functions>,
    out: std::path::PathBuf,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let streams = Arc::new(Streams::open(StreamsConfig::new(dir.path().join("streams"))).unwrap());
    let functions = Functions::open(
        FunctionsConfig::new(dir.path().join("functions")),
        Some(streams.clone()),
    )
    .unwrap();
    let out = dir.path().join("out.txt");
    let mut function = new_function(
        "rec",
        "python3.12",
        "app.handler",
        zip(&[("app.py", RECORDER, false)]),
    );
    function
        .environment
        .insert("OUT".into(), out.display().to_string());
    functions.create(function).await.unwrap();
    streams
        .create("s", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    Setup {
        _dir: dir,
        streams,
        functions,
        out,
    }
}

async fn put(streams: &Streams, values: &[&str]) {
    let entries: Vec<PutEntry> = values
        .iter()
        .map(|v| PutEntry {
            partition_key: format!("key-{v}"),
            data: Bytes::from(v.to_string()),
            explicit_hash_key: None,
        })
        .collect();
    streams.put("s", &entries).await.unwrap();
}

/// The handler's complete lines (one still being written is left out).
fn lines(out: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
    complete
        .lines()
        .map(|l| {
            let (shard, data) = l.split_once(' ').unwrap();
            (shard.to_string(), data.to_string())
        })
        .collect()
}

async fn wait_lines(out: &std::path::Path, n: usize) -> Vec<(String, String)> {
    for _ in 0..200 {
        let got = lines(out);
        if got.len() >= n {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return lines(out);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("only {:?}", lines(out));
}

fn request(position: &str) -> MappingRequest {
    MappingRequest {
        function_name: Some("rec".into()),
        event_source_arn: Some("arn:aws:kinesis:us-east-1:000000000000:stream/s".into()),
        starting_position: Some(position.into()),
        batch_size: Some(10),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_shards_children_follow_their_parent_and_filters_drop_records() {
    let s = setup().await;
    let before: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    put(
        &s.streams,
        &before.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    // Split before the mapping reads anything: the parent is closed with
    // its 20 records, the children get the rest.
    s.streams
        .split_shard("s", "shardId-000000000000", &(u128::MAX / 2).to_string())
        .unwrap();
    let after: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    put(
        &s.streams,
        &after.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    put(&s.streams, &["skip-me"]).await;
    let mut mapping = request("TRIM_HORIZON");
    mapping.filters = Some(vec![r#"{"data": [{"anything-but": ["skip-me"]}]}"#.into()]);
    s.functions.create_mapping(mapping).await.unwrap();

    let got = wait_lines(&s.out, 40).await;
    assert_eq!(got.len(), 40, "{got:?}");
    let parent: Vec<&str> = got
        .iter()
        .filter(|(shard, _)| shard == "shardId-000000000000")
        .map(|(_, d)| d.as_str())
        .collect();
    assert_eq!(
        parent,
        before.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // Every parent record came before any child's.
    let first_child = got
        .iter()
        .position(|(shard, _)| shard != "shardId-000000000000")
        .unwrap();
    assert_eq!(first_child, 20);
    let mut children: Vec<&str> = got[20..].iter().map(|(_, d)| d.as_str()).collect();
    children.sort();
    let mut expected: Vec<&str> = after.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(children, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_item_failures_are_retried_from_the_first_one_and_latest_skips_the_past() {
    let s = setup().await;
    put(&s.streams, &["old"]).await;
    let mut mapping = request("LATEST");
    mapping.report_batch_item_failures = Some(true);
    let created = s.functions.create_mapping(mapping).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    put(&s.streams, &["a", "b", "fail-once", "c", "d"]).await;
    let got = wait_lines(&s.out, 5).await;
    let data: Vec<&str> = got.iter().map(|(_, d)| d.as_str()).collect();
    // a and b succeeded before the reported failure; the retry starts at it.
    assert_eq!(data, ["a", "b", "fail-once", "c", "d"]);
    assert_eq!(
        s.functions
            .mapping(&created.mapping.uuid)
            .unwrap()
            .last_result,
        "OK"
    );
}
