//! `nuage serve` driven by the AWS SDK for Rust (JSON) and raw CBOR: the
//! Kinesis API, its errors, resharding, restarts and SIGKILL while writing.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    PutRecordsRequestEntry, ShardFilter, ShardFilterType, ShardIteratorType,
};
use md5::{Digest, Md5};

use crate::nuage;

/// A complete but unsigned Authorization, as raw requests send to a server
/// without access keys (AWS and nuage refuse a request with none at all).
const UNSIGNED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";
const UNSIGNED: &str = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0\r\nX-Amz-Date: 20261122T000000Z\r\n";

/// A `nuage serve` process on a free port; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub endpoint: String,
}

impl Server {
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with_env(dir, args, &[])
    }

    /// A server whose process has `env` set (test hooks such as
    /// NUAGE_FLOW_FAILPOINT).
    pub fn start_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = nuage(dir)
            .envs(env.iter().copied())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nuage serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines
                .next()
                .expect("nuage serve printed its address")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Self { child, endpoint }
    }

    pub fn client(&self) -> Client {
        self.client_with("test", "test")
    }

    pub fn client_with(&self, key_id: &str, secret: &str) -> Client {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(key_id, secret, None, None, "test"))
            .build();
        Client::from_conf(config)
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the process to end by itself.
    pub fn exited_within(&mut self, limit: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if self.child.try_wait().ok().flatten().is_some() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as a service manager stops it; waits for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.child.wait().expect("nuage serve exits")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One PutRecords entry.
fn entry(partition_key: impl Into<String>, data: impl Into<Vec<u8>>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(partition_key)
        .data(Blob::new(data))
        .build()
        .unwrap()
}

fn on_demand() -> aws_sdk_kinesis::types::StreamModeDetails {
    aws_sdk_kinesis::types::StreamModeDetails::builder()
        .stream_mode(aws_sdk_kinesis::types::StreamMode::OnDemand)
        .build()
        .unwrap()
}

/// How many records all shards of a stream hold, from TRIM_HORIZON.
async fn count_all(client: &Client, stream: &str) -> usize {
    let all = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let mut total = 0;
    for s in all.shards() {
        total += read_shard(client, stream, s.shard_id()).await.len();
    }
    total
}

fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Every record of a shard from TRIM_HORIZON: (sequence number, key, data).
pub async fn read_shard(
    client: &Client,
    stream: &str,
    shard: &str,
) -> Vec<(String, String, Vec<u8>)> {
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let mut out = Vec::new();
    loop {
        let page = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(1000)
            .send()
            .await
            .unwrap();
        let empty = page.records().is_empty();
        for r in page.records() {
            out.push((
                r.sequence_number().to_string(),
                r.partition_key().unwrap_or_default().to_string(),
                r.data().as_ref().to_vec(),
            ));
        }
        match page.next_shard_iterator {
            Some(next) if !empty => iterator = next,
            _ => return out,
        }
    }
}

#[test]
fn the_kinesis_api_through_the_aws_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .create_stream()
            .stream_name("tolls")
            .shard_count(2)
            .send()
            .await
            .unwrap();
        let description = client
            .describe_stream()
            .stream_name("tolls")
            .send()
            .await
            .unwrap()
            .stream_description
            .unwrap();
        assert_eq!(description.stream_status().as_str(), "ACTIVE");
        assert_eq!(description.retention_period_hours(), 24);
        let shards = description.shards();
        assert_eq!(shards.len(), 2);
        assert_eq!(
            shards[0].hash_key_range().unwrap().ending_hash_key(),
            "170141183460469231731687303715884105727"
        );
        assert_eq!(
            description.stream_arn(),
            "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"
        );

        // One record, then 500 in one call.
        let one = client
            .put_record()
            .stream_name("tolls")
            .partition_key("car-42")
            .data(Blob::new(br#"{"amount": 3.5}"#.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(one.sequence_number().len(), 56);
        let entries: Vec<PutRecordsRequestEntry> = (0..500)
            .map(|i| entry(format!("car-{}", i % 37), format!("toll {i}").into_bytes()))
            .collect();
        let many = client
            .put_records()
            .stream_name("tolls")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(many.failed_record_count(), Some(0));
        assert_eq!(many.records().len(), 500);

        // Routing: MD5 of the key, as a 128-bit number, in the shard's range.
        let ranges: HashMap<String, (u128, u128)> = shards
            .iter()
            .map(|s| {
                let r = s.hash_key_range().unwrap();
                (
                    s.shard_id().to_string(),
                    (
                        r.starting_hash_key().parse().unwrap(),
                        r.ending_hash_key().parse().unwrap(),
                    ),
                )
            })
            .collect();
        for (i, result) in many.records().iter().enumerate() {
            let (lo, hi) = ranges[result.shard_id().unwrap()];
            let hash = hash_key(&format!("car-{}", i % 37));
            assert!(lo <= hash && hash <= hi, "record {i} in the wrong shard");
        }

        // Everything reads back, in put order within each shard.
        let mut total = 0;
        for shard in ranges.keys() {
            let records = read_shard(&client, "tolls", shard).await;
            let sequence: Vec<&String> = records.iter().map(|r| &r.0).collect();
            let mut sorted = sequence.clone();
            sorted.sort();
            assert_eq!(sequence, sorted, "increasing sequence numbers");
            let tolls: Vec<usize> = records
                .iter()
                .filter_map(|r| {
                    String::from_utf8_lossy(&r.2)
                        .strip_prefix("toll ")
                        .map(|n| n.parse().unwrap())
                })
                .collect();
            assert!(tolls.windows(2).all(|w| w[0] < w[1]), "put order kept");
            total += records.len();
        }
        assert_eq!(total, 501);

        // AT_/AFTER_SEQUENCE_NUMBER, LATEST and AT_TIMESTAMP.
        let shard = one.shard_id();
        let at = |kind: ShardIteratorType, seq: Option<&str>, ts: Option<DateTime>| {
            client
                .get_shard_iterator()
                .stream_name("tolls")
                .shard_id(shard)
                .shard_iterator_type(kind)
                .set_starting_sequence_number(seq.map(str::to_string))
                .set_timestamp(ts)
                .send()
        };
        let first = |it: String| async {
            client
                .get_records()
                .shard_iterator(it)
                .limit(1)
                .send()
                .await
                .unwrap()
        };
        let it = at(
            ShardIteratorType::AtSequenceNumber,
            Some(one.sequence_number()),
            None,
        )
        .await
        .unwrap();
        let page = first(it.shard_iterator.unwrap()).await;
        assert_eq!(page.records()[0].data().as_ref(), br#"{"amount": 3.5}"#);
        let it = at(
            ShardIteratorType::AfterSequenceNumber,
            Some(one.sequence_number()),
            None,
        )
        .await
        .unwrap();
        let page = first(it.shard_iterator.unwrap()).await;
        assert!(page.records()[0].sequence_number() > one.sequence_number());
        let latest = at(ShardIteratorType::Latest, None, None).await.unwrap();
        let page = first(latest.shard_iterator.clone().unwrap()).await;
        assert!(page.records().is_empty());
        // AWS: zero means the reader has caught up with the tip.
        assert_eq!(page.millis_behind_latest(), Some(0));
        let late = client
            .put_record()
            .stream_name("tolls")
            .partition_key("car-42")
            .data(Blob::new(b"late".to_vec()))
            .send()
            .await
            .unwrap();
        let page = first(page.next_shard_iterator.unwrap()).await;
        assert_eq!(page.records()[0].sequence_number(), late.sequence_number());
        let arrival = *page.records()[0].approximate_arrival_timestamp().unwrap();
        let it = at(ShardIteratorType::AtTimestamp, None, Some(arrival))
            .await
            .unwrap();
        let page = first(it.shard_iterator.unwrap()).await;
        assert_eq!(page.records()[0].sequence_number(), late.sequence_number());

        // Errors: AWS's types and messages.
        let err = client
            .describe_stream()
            .stream_name("nope")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            err.message(),
            Some("Stream nope under account 000000000000 not found.")
        );
        let err = client
            .create_stream()
            .stream_name("tolls")
            .shard_count(1)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceInUseException"));
        assert_eq!(
            err.message(),
            Some("Stream tolls under account 000000000000 already exists.")
        );
        let err = client
            .get_records()
            .shard_iterator("bogus")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgumentException"));
        assert_eq!(err.message(), Some("Invalid ShardIterator."));
        let err = client
            .put_record()
            .stream_name("tolls")
            .partition_key("")
            .data(Blob::new(b"x".to_vec()))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"));
        assert!(
            err.message()
                .unwrap()
                .contains("Member must have length greater than or equal to 1")
        );
        let err = client
            .put_record()
            .stream_name("tolls")
            .partition_key("big")
            .data(Blob::new(vec![0u8; 1024 * 1024 + 1]))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"));
        let err = client
            .get_shard_iterator()
            .stream_name("tolls")
            .shard_id("shardId-000000000009")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        let other = if shard == "shardId-000000000000" {
            "shardId-000000000001"
        } else {
            "shardId-000000000000"
        };
        let err = client
            .get_shard_iterator()
            .stream_name("tolls")
            .shard_id(other)
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(one.sequence_number())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgumentException"));
        assert!(
            err.message()
                .unwrap()
                .starts_with("Invalid StartingSequenceNumber. It encodes")
        );

        // Retention, tags, listing, ARNs in place of names.
        client
            .increase_stream_retention_period()
            .stream_name("tolls")
            .retention_period_hours(48)
            .send()
            .await
            .unwrap();
        let err = client
            .decrease_stream_retention_period()
            .stream_name("tolls")
            .retention_period_hours(72)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidArgumentException"));
        client
            .add_tags_to_stream()
            .stream_name("tolls")
            .tags("team", "tolls")
            .send()
            .await
            .unwrap();
        let tags = client
            .list_tags_for_stream()
            .stream_name("tolls")
            .send()
            .await
            .unwrap();
        assert_eq!(tags.tags()[0].key(), "team");
        let summary = client
            .describe_stream_summary()
            .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/tolls")
            .send()
            .await
            .unwrap()
            .stream_description_summary
            .unwrap();
        assert_eq!(summary.retention_period_hours(), 48);
        assert_eq!(summary.open_shard_count(), 2);
        // Settings AWS stores and reports: monitoring, encryption, consumers.
        let monitoring = client
            .enable_enhanced_monitoring()
            .stream_name("tolls")
            .shard_level_metrics(aws_sdk_kinesis::types::MetricsName::All)
            .send()
            .await
            .unwrap();
        assert_eq!(monitoring.desired_shard_level_metrics().len(), 7);
        client
            .start_stream_encryption()
            .stream_name("tolls")
            .encryption_type(aws_sdk_kinesis::types::EncryptionType::Kms)
            .key_id("alias/aws/kinesis")
            .send()
            .await
            .unwrap();
        let put = client
            .put_record()
            .stream_name("tolls")
            .partition_key("x")
            .data(Blob::new(b"secret".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(put.encryption_type().map(|e| e.as_str()), Some("KMS"));
        let stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/tolls";
        let consumer = client
            .register_stream_consumer()
            .stream_arn(stream_arn)
            .consumer_name("app")
            .send()
            .await
            .unwrap()
            .consumer
            .unwrap();
        let listed = client
            .list_stream_consumers()
            .stream_arn(stream_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(
            listed.consumers()[0].consumer_arn(),
            consumer.consumer_arn()
        );
        let described = client
            .describe_stream_consumer()
            .consumer_arn(consumer.consumer_arn())
            .send()
            .await
            .unwrap();
        assert_eq!(
            described.consumer_description().unwrap().consumer_name(),
            "app"
        );
        let err = client
            .delete_stream()
            .stream_name("tolls")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ResourceInUseException"),
            "consumers block a plain delete"
        );

        for name in ["a1", "a2", "a3"] {
            client
                .create_stream()
                .stream_name(name)
                .stream_mode_details(on_demand())
                .send()
                .await
                .unwrap();
        }
        let page = client.list_streams().limit(2).send().await.unwrap();
        assert_eq!(page.stream_names(), ["a1", "a2"]);
        assert!(page.has_more_streams());
        let rest = client
            .list_streams()
            .next_token(page.next_token().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(rest.stream_names(), ["a3", "tolls"]);
        let on_demand = client.list_shards().stream_name("a1").send().await.unwrap();
        assert_eq!(
            on_demand.shards().len(),
            4,
            "ON_DEMAND streams start with 4 shards"
        );
        client
            .delete_stream()
            .stream_name("a2")
            .send()
            .await
            .unwrap();
        let err = client
            .describe_stream()
            .stream_name("a2")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
    });
}

#[test]
fn resharding_keeps_lineage_and_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    runtime().block_on(async {
        client
            .create_stream()
            .stream_name("s")
            .shard_count(1)
            .send()
            .await
            .unwrap();
        let put = |n: usize, tag: &'static str| {
            let entries: Vec<PutRecordsRequestEntry> = (0..n)
                .map(|i| entry(format!("k{i}"), format!("{tag}{i}").into_bytes()))
                .collect();
            client
                .put_records()
                .stream_name("s")
                .set_records(Some(entries))
                .send()
        };
        put(100, "before").await.unwrap();
        client
            .split_shard()
            .stream_name("s")
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key("170141183460469231731687303715884105728")
            .send()
            .await
            .unwrap();
        put(100, "after-split").await.unwrap();
        let shards = client.list_shards().stream_name("s").send().await.unwrap();
        let ids: Vec<&str> = shards.shards().iter().map(|s| s.shard_id()).collect();
        assert_eq!(
            ids,
            [
                "shardId-000000000000",
                "shardId-000000000001",
                "shardId-000000000002"
            ]
        );
        assert!(
            shards.shards()[0]
                .sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_some()
        );
        assert_eq!(
            shards.shards()[1].parent_shard_id(),
            Some("shardId-000000000000")
        );

        // The parent ends: no next iterator, its children named.
        let parent = read_shard(&client, "s", "shardId-000000000000").await;
        assert_eq!(parent.len(), 100);
        let it = client
            .get_shard_iterator()
            .stream_name("s")
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
            .starting_sequence_number(&parent[99].0)
            .send()
            .await
            .unwrap();
        let end = client
            .get_records()
            .shard_iterator(it.shard_iterator.unwrap())
            .send()
            .await
            .unwrap();
        assert!(end.next_shard_iterator.is_none());
        assert_eq!(end.child_shards().len(), 2);

        client
            .merge_shards()
            .stream_name("s")
            .shard_to_merge("shardId-000000000001")
            .adjacent_shard_to_merge("shardId-000000000002")
            .send()
            .await
            .unwrap();
        let merged = client
            .describe_stream()
            .stream_name("s")
            .send()
            .await
            .unwrap();
        let merged = merged.stream_description.unwrap();
        let child = &merged.shards()[3];
        assert_eq!(
            child.adjacent_parent_shard_id(),
            Some("shardId-000000000002")
        );
        let err = client
            .merge_shards()
            .stream_name("s")
            .shard_to_merge("shardId-000000000001")
            .adjacent_shard_to_merge("shardId-000000000003")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("ResourceNotFoundException"),
            "a closed shard cannot merge"
        );

        let scaled = client
            .update_shard_count()
            .stream_name("s")
            .target_shard_count(2)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
        assert_eq!(scaled.current_shard_count(), Some(1));
        let err = client
            .update_shard_count()
            .stream_name("s")
            .target_shard_count(5)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("LimitExceededException"));
        put(100, "after-scaling").await.unwrap();
        let open = client
            .list_shards()
            .stream_name("s")
            .shard_filter(
                ShardFilter::builder()
                    .r#type(ShardFilterType::AtLatest)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(open.shards().len(), 2);
        for s in open.shards() {
            assert!(s.parent_shard_id().is_some());
        }

        // Every record of every shard, once.
        assert_eq!(count_all(&client, "s").await, 300);
    });
    // The lineage and the records survive a restart.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    runtime().block_on(async {
        assert_eq!(count_all(&client, "s").await, 300);
    });
}

/// One HTTP/1.1 POST with a CBOR body; (status, content type, body).
fn post_cbor(
    endpoint: &str,
    target: &str,
    body: &ciborium::Value,
) -> (u16, String, ciborium::Value) {
    let mut bytes = Vec::new();
    ciborium::into_writer(body, &mut bytes).unwrap();
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-cbor-1.1\r\nX-Amz-Target: Kinesis_20131202.{target}\r\n{UNSIGNED}Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    stream.write_all(&bytes).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    // An operation with nothing to return answers with an empty body, as AWS.
    let body = &response[split + 4..];
    let value = if body.is_empty() {
        ciborium::Value::Map(Vec::new())
    } else {
        ciborium::from_reader(body).unwrap()
    };
    (status, content_type, value)
}

fn field<'a>(value: &'a ciborium::Value, name: &str) -> &'a ciborium::Value {
    value
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {value:?}"))
}

#[test]
fn cbor_clients_put_and_get_bytes_and_tagged_timestamps() {
    use ciborium::Value as C;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let map = |entries: Vec<(&str, C)>| {
        C::Map(
            entries
                .into_iter()
                .map(|(k, v)| (C::Text(k.into()), v))
                .collect(),
        )
    };
    let (status, content_type, _) = post_cbor(
        &server.endpoint,
        "CreateStream",
        &map(vec![
            ("StreamName", C::Text("c".into())),
            ("ShardCount", C::Integer(1.into())),
        ]),
    );
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-amz-cbor-1.1")
    );
    let payload = vec![0u8, 159, 146, 150, 255];
    let (status, _, put) = post_cbor(
        &server.endpoint,
        "PutRecord",
        &map(vec![
            ("StreamName", C::Text("c".into())),
            ("PartitionKey", C::Text("k".into())),
            ("Data", C::Bytes(payload.clone())),
        ]),
    );
    assert_eq!(status, 200);
    assert_eq!(
        field(&put, "ShardId").as_text(),
        Some("shardId-000000000000")
    );
    let (_, _, it) = post_cbor(
        &server.endpoint,
        "GetShardIterator",
        &map(vec![
            ("StreamName", C::Text("c".into())),
            ("ShardId", C::Text("shardId-000000000000".into())),
            ("ShardIteratorType", C::Text("TRIM_HORIZON".into())),
        ]),
    );
    let (status, _, records) = post_cbor(
        &server.endpoint,
        "GetRecords",
        &map(vec![("ShardIterator", field(&it, "ShardIterator").clone())]),
    );
    assert_eq!(status, 200);
    let record = &field(&records, "Records").as_array().unwrap()[0];
    assert_eq!(field(record, "Data"), &C::Bytes(payload));
    match field(record, "ApproximateArrivalTimestamp") {
        C::Tag(1, inner) => {
            let ms: i128 = inner.as_integer().unwrap().into();
            assert!(ms > 1_700_000_000_000, "epoch milliseconds, got {ms}");
        }
        other => panic!("expected a tag-1 timestamp, got {other:?}"),
    }
    // Timestamps of the other responses are tagged too.
    let (_, _, summary) = post_cbor(
        &server.endpoint,
        "DescribeStreamSummary",
        &map(vec![("StreamName", C::Text("c".into()))]),
    );
    let created = field(
        field(&summary, "StreamDescriptionSummary"),
        "StreamCreationTimestamp",
    );
    assert!(matches!(created, C::Tag(1, _)), "{created:?}");
    // Errors come back in CBOR too.
    let (status, _, error) = post_cbor(
        &server.endpoint,
        "DescribeStream",
        &map(vec![("StreamName", C::Text("missing".into()))]),
    );
    assert_eq!(status, 400);
    assert_eq!(
        field(&error, "__type").as_text(),
        Some("ResourceNotFoundException")
    );
    // Garbage is a SerializationException, not a crash.
    let addr = server.endpoint.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-cbor-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n{UNSIGNED}Content-Length: 3\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&[0xff, 0x00, 0x13]).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("SerializationException"), "{response}");
}

/// SIGKILL the server again and again while a client writes with fsync
/// durability: every acknowledged record must be there after each restart,
/// once, in order within its shard.
#[test]
fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    // payload id -> shard, for every acknowledged record
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut next_id = 0u64;
    let mut kills = 0;
    for round in 0..20u64 {
        let server = Server::start(dir.path(), &["--segment-bytes", "200000"]);
        let client = server.client();
        if round == 0 {
            rt.block_on(
                client
                    .create_stream()
                    .stream_name("k")
                    .shard_count(3)
                    .send(),
            )
            .unwrap();
        }
        // Write from a task; kill after a pseudo-random delay.
        let first_id = next_id;
        let writer = {
            let client = client.clone();
            rt.spawn(async move {
                let mut acked = Vec::new();
                let mut id = first_id;
                loop {
                    let entries: Vec<PutRecordsRequestEntry> = (0..50)
                        .map(|i| {
                            entry(
                                format!("p{}", (id + i) % 11),
                                format!("{:020}", id + i).into_bytes(),
                            )
                        })
                        .collect();
                    match client
                        .put_records()
                        .stream_name("k")
                        .set_records(Some(entries))
                        .send()
                        .await
                    {
                        Ok(out) => {
                            for (i, r) in out.records().iter().enumerate() {
                                if let Some(shard) = r.shard_id() {
                                    acked.push((id + i as u64, shard.to_string()));
                                }
                            }
                        }
                        Err(_) => return (acked, id + 50),
                    }
                    id += 50;
                }
            })
        };
        std::thread::sleep(Duration::from_millis(30 + (round * 37) % 250));
        server.kill();
        kills += 1;
        let (round_acked, last) = rt.block_on(writer).unwrap();
        acked.extend(round_acked);
        next_id = last + 1_000;

        // After a restart everything acknowledged so far is there.
        let server = Server::start(dir.path(), &["--segment-bytes", "200000"]);
        let client = server.client();
        rt.block_on(async {
            let mut seen: HashMap<u64, String> = HashMap::new();
            for shard in [
                "shardId-000000000000",
                "shardId-000000000001",
                "shardId-000000000002",
            ] {
                let ids: Vec<u64> = read_shard(&client, "k", shard)
                    .await
                    .iter()
                    .map(|r| String::from_utf8_lossy(&r.2).parse().unwrap())
                    .collect();
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "order within {shard}");
                for id in ids {
                    assert!(
                        seen.insert(id, shard.to_string()).is_none(),
                        "record {id} twice"
                    );
                }
            }
            for (id, shard) in &acked {
                assert_eq!(
                    seen.get(id),
                    Some(shard),
                    "acknowledged record {id} lost after kill {kills}"
                );
            }
        });
        server.kill();
    }
    assert_eq!(kills, 20);
    assert!(
        acked.len() > 1000,
        "only {} records were acknowledged",
        acked.len()
    );
}

#[test]
fn the_stream_commands_talk_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let cli = |args: &[&str]| {
        let mut command = nuage(dir.path());
        command
            .arg("stream")
            .args(args)
            .env("NUAGE_ENDPOINT", &server.endpoint);
        command
    };
    crate::run_ok(&mut cli(&["create", "tolls", "--shards", "2"]));
    crate::run_ok(&mut cli(&[
        "put",
        "tolls",
        "--key",
        "car-1",
        r#"{"amount": 3.5}"#,
        "plain text",
    ]));
    let (stdout, _) = crate::run_ok(&mut cli(&["get", "tolls"]));
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0][2], "car-1");
    assert_eq!(lines[0][3], r#"{"amount": 3.5}"#);
    assert_eq!(lines[1][3], "plain text");
    assert_eq!(lines[0][1].len(), 56);
    let (stdout, _) = crate::run_ok(&mut cli(&["describe", "tolls"]));
    assert!(stdout.contains("shardId-000000000001\topen"), "{stdout}");
    let failed = cli(&["get", "missing"]).output().unwrap();
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains(
        "ResourceNotFoundException: Stream missing under account 000000000000 not found."
    ));
    // Prometheus metrics saw all of it.
    let metrics = http_get(&server.endpoint, "/metrics");
    let line = |name: &str, parts: &[&str]| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no {name} {parts:?} in\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let stored: f64 = ["shardId-000000000000", "shardId-000000000001"]
        .iter()
        .map(|s| {
            metrics
                .lines()
                .find(|l| l.starts_with("nuage_stream_records_in_total{") && l.contains(s))
                .map_or(0.0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .sum();
    assert_eq!(stored, 2.0);
    assert_eq!(
        line(
            "nuage_requests_total{",
            &["operation=\"PutRecords\"", "outcome=\"ok\""]
        ),
        1.0
    );
    assert!(
        line(
            "nuage_requests_total{",
            &["outcome=\"ResourceNotFoundException\""]
        ) >= 1.0
    );
    assert!(
        line(
            "nuage_request_duration_seconds_count{",
            &["operation=\"GetRecords\""]
        ) >= 1.0
    );
    assert!(line("nuage_stream_disk_bytes{", &["stream=\"tolls\""]) > 0.0);
    assert_eq!(http_get(&server.endpoint, "/health").trim(), "ok");

    // A second server on the same data dir is refused.
    let second = nuage(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use by another nuage server"));
}

/// The body of a plain GET.
fn http_get(endpoint: &str, path: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn with_access_keys_requests_must_be_signed_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--access-keys", "AKIDNUAGE:s3cr3t,AKIDOTHER:other"],
    );
    runtime().block_on(async {
        let good = server.client_with("AKIDNUAGE", "s3cr3t");
        good.create_stream()
            .stream_name("s")
            .shard_count(1)
            .send()
            .await
            .unwrap();
        good.put_record()
            .stream_name("s")
            .partition_key("k")
            .data(Blob::new(b"signed".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            read_shard(&good, "s", "shardId-000000000000").await.len(),
            1
        );
        let other = server.client_with("AKIDOTHER", "other");
        other.list_streams().send().await.unwrap();

        let err = server
            .client_with("AKIDNUAGE", "wrong")
            .list_streams()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidSignatureException"));
        assert!(
            err.message()
                .unwrap()
                .starts_with("The request signature we calculated does not match")
        );
        let err = server
            .client_with("AKIDUNKNOWN", "s3cr3t")
            .list_streams()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("UnrecognizedClientException"));
        assert_eq!(
            err.message(),
            Some("The security token included in the request is invalid.")
        );
    });
    let raw = |auth: Option<&str>| {
        let addr = server.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\nX-Amz-Date: 20261122T000000Z\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n{auth}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        String::from_utf8_lossy(&response).to_string()
    };
    // The nuage stream commands sign with the AWS_* variables.
    let cli = |secret: &str| {
        nuage(dir.path())
            .args(["stream", "list"])
            .env("NUAGE_ENDPOINT", &server.endpoint)
            .env("AWS_ACCESS_KEY_ID", "AKIDNUAGE")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap()
    };
    let listed = cli("s3cr3t");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("s\tACTIVE"));
    let refused = cli("wrong");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("InvalidSignatureException"));

    let missing = raw(None);
    assert!(
        missing.starts_with("HTTP/1.1 400")
            && missing.contains("MissingAuthenticationTokenException"),
        "{missing}"
    );
    let incomplete = raw(Some(
        "AWS4-HMAC-SHA256 Credential=AKIDNUAGE/20261122/us-east-1/kinesis/aws4_request",
    ));
    assert!(
        incomplete.contains("IncompleteSignatureException"),
        "{incomplete}"
    );
    assert!(
        incomplete.contains("Authorization header requires 'Signature' parameter."),
        "{incomplete}"
    );
}

#[test]
fn enforce_limits_throttles_like_a_provisioned_shard() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--enforce-limits"]);
    // The SDK retries throttling errors by itself; this test wants to see them.
    let client = Client::from_conf(
        server
            .client()
            .config()
            .to_builder()
            .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
            .build(),
    );
    runtime().block_on(async {
        client
            .create_stream()
            .stream_name("p")
            .shard_count(1)
            .send()
            .await
            .unwrap();
        let entries: Vec<PutRecordsRequestEntry> = (0..500)
            .map(|i| entry(format!("k{i}"), vec![b'x'; 3000]))
            .collect();
        let out = client
            .put_records()
            .stream_name("p")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        let failed = out.failed_record_count().unwrap();
        assert!(
            failed > 100 && failed < 200,
            "1 MiB/s takes ~349 of 500 x 3 kB; {failed} failed"
        );
        let refused = out
            .records()
            .iter()
            .find(|r| r.error_code().is_some())
            .unwrap();
        assert_eq!(
            refused.error_code(),
            Some("ProvisionedThroughputExceededException")
        );
        assert!(
            refused
                .error_message()
                .unwrap()
                .starts_with("Rate exceeded for shard shardId-000000000000")
        );
        let err = client
            .put_record()
            .stream_name("p")
            .partition_key("k")
            .data(Blob::new(vec![b'x'; 1_000_000]))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"));

        let it = client
            .get_shard_iterator()
            .stream_name("p")
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let mut throttled = 0;
        for _ in 0..8 {
            if let Err(e) = client.get_records().shard_iterator(&it).send().await {
                assert_eq!(e.code(), Some("ProvisionedThroughputExceededException"));
                throttled += 1;
            }
        }
        assert!(
            throttled >= 2,
            "5 reads per second per shard; {throttled} of 8 throttled"
        );

        // On-demand streams are not held to a provisioned shard's limits.
        client
            .create_stream()
            .stream_name("od")
            .stream_mode_details(on_demand())
            .send()
            .await
            .unwrap();
        let entries: Vec<PutRecordsRequestEntry> =
            (0..500).map(|_| entry("same", vec![b'x'; 3000])).collect();
        let out = client
            .put_records()
            .stream_name("od")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    });
}

/// Waits for the next event of a subscription (`None` when it ended).
async fn next_event(
    events: &mut aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput,
) -> Option<aws_sdk_kinesis::types::SubscribeToShardEvent> {
    use aws_sdk_kinesis::types::SubscribeToShardEventStream;
    let received = tokio::time::timeout(Duration::from_secs(20), events.event_stream.recv())
        .await
        .expect("an event within 20 s")
        .expect("a well-formed event stream")?;
    match received {
        SubscribeToShardEventStream::SubscribeToShardEvent(event) => Some(event),
        other => panic!("unexpected message {other:?}"),
    }
}

/// Collects events until `count` records came; returns them and the last
/// ContinuationSequenceNumber.
/// Subscribes again while the server still holds the previous subscription
/// of the consumer (it frees the slot once it notices the drop); fails the
/// test after 10 s or on any other error.
async fn retry_while_in_use<F, Fut, T, E>(mut subscribe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_kinesis::error::SdkError<E>>>,
    E: aws_sdk_kinesis::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match subscribe().await {
            Ok(events) => return events,
            Err(e)
                if e.as_service_error().and_then(|e| e.code())
                    == Some("ResourceInUseException")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("subscribing failed: {e:?}"),
        }
    }
}

async fn receive(
    events: &mut aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput,
    count: usize,
) -> (Vec<String>, String) {
    let mut data = Vec::new();
    let mut continuation = String::new();
    while data.len() < count {
        let event = next_event(events).await.expect("the subscription goes on");
        for r in event.records() {
            data.push(String::from_utf8(r.data().as_ref().to_vec()).unwrap());
        }
        continuation = event.continuation_sequence_number().to_string();
    }
    (data, continuation)
}

#[test]
fn subscribe_to_shard_pushes_records_to_a_registered_consumer() {
    use aws_sdk_kinesis::types::{ShardIteratorType as Type, StartingPosition};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    runtime().block_on(async {
        let put = |data: &'static str| {
            let client = client.clone();
            async move {
                client
                    .put_record()
                    .stream_name("fan")
                    .partition_key("k")
                    .data(Blob::new(data))
                    .send()
                    .await
                    .unwrap()
                    .sequence_number
            }
        };
        client
            .create_stream()
            .stream_name("fan")
            .shard_count(1)
            .send()
            .await
            .unwrap();
        let stream_arn = client
            .describe_stream_summary()
            .stream_name("fan")
            .send()
            .await
            .unwrap()
            .stream_description_summary
            .unwrap()
            .stream_arn;
        let consumer_arn = client
            .register_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name("app")
            .send()
            .await
            .unwrap()
            .consumer
            .unwrap()
            .consumer_arn;
        let subscribe = |kind: Type, sequence: Option<&str>| {
            let position = StartingPosition::builder()
                .r#type(kind)
                .set_sequence_number(sequence.map(str::to_string))
                .build()
                .unwrap();
            client
                .subscribe_to_shard()
                .consumer_arn(&consumer_arn)
                .shard_id("shardId-000000000000")
                .starting_position(position)
                .send()
        };

        // LATEST on an empty shard: the first event says where to resume,
        // and resuming AFTER it misses nothing put in between.
        let mut latest = subscribe(Type::Latest, None).await.unwrap();
        let first = next_event(&mut latest).await.unwrap();
        assert!(first.records().is_empty());
        let start = first.continuation_sequence_number().to_string();
        assert_eq!(start.len(), 56);
        drop(latest);

        // Records already there, then records put while subscribed.
        let a = put("a").await;
        put("b").await;
        // The server notices the dropped subscription and frees the slot.
        let mut events =
            retry_while_in_use(|| subscribe(Type::AfterSequenceNumber, Some(&start))).await;
        let (data, continuation) = receive(&mut events, 2).await;
        assert_eq!(data, ["a", "b"]);
        put("c").await;
        let (data, _) = receive(&mut events, 1).await;
        assert_eq!(data, ["c"]);

        // One subscription per consumer and shard.
        let busy = subscribe(Type::TrimHorizon, None).await.unwrap_err();
        assert_eq!(busy.code(), Some("ResourceInUseException"));
        drop(events);

        // Resuming after a continuation number, and at a record's number.
        let mut after =
            retry_while_in_use(|| subscribe(Type::AfterSequenceNumber, Some(&continuation))).await;
        assert_eq!(receive(&mut after, 1).await.0, ["c"]);
        drop(after);
        let mut at = retry_while_in_use(|| subscribe(Type::AtSequenceNumber, Some(&a))).await;
        assert_eq!(receive(&mut at, 3).await.0, ["a", "b", "c"]);

        // Resharding ends the subscription with the child shards.
        client
            .split_shard()
            .stream_name("fan")
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key((1u128 << 127).to_string())
            .send()
            .await
            .unwrap();
        let last = loop {
            let event = next_event(&mut at)
                .await
                .expect("an event naming the children");
            if !event.child_shards().is_empty() {
                break event;
            }
        };
        let children: Vec<&str> = last.child_shards().iter().map(|c| c.shard_id()).collect();
        assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
        assert!(next_event(&mut at).await.is_none(), "the stream ends");

        // Errors before the stream starts are ordinary error responses.
        let unknown = client
            .subscribe_to_shard()
            .consumer_arn(format!("{stream_arn}/consumer/nobody:1"))
            .shard_id("shardId-000000000000")
            .starting_position(
                StartingPosition::builder()
                    .r#type(Type::TrimHorizon)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Some("ResourceNotFoundException"));
        let no_shard = client
            .subscribe_to_shard()
            .consumer_arn(&consumer_arn)
            .shard_id("shardId-000000000009")
            .starting_position(
                StartingPosition::builder()
                    .r#type(Type::TrimHorizon)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(no_shard.code(), Some("ResourceNotFoundException"));
    });
}

/// A Java-SDK-shaped subscription: CBOR over HTTP/2 (prior knowledge), the
/// event stream decoded frame by frame.
#[test]
fn subscribe_to_shard_speaks_cbor_over_http2() {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use aws_smithy_types::event_stream::{HeaderValue, Message};
    use ciborium::Value as C;
    use http_body_util::BodyExt;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let map = |entries: Vec<(&str, C)>| {
        C::Map(
            entries
                .into_iter()
                .map(|(k, v)| (C::Text(k.into()), v))
                .collect(),
        )
    };
    let text = |s: &str| C::Text(s.into());
    let call = |target: &str, body: C| {
        let (status, _, value) = post_cbor(&server.endpoint, target, &body);
        assert_eq!(status, 200, "{target}: {value:?}");
        value
    };
    call(
        "CreateStream",
        map(vec![
            ("StreamName", text("j")),
            ("ShardCount", C::Integer(1.into())),
        ]),
    );
    // The record arrives in a later second than the shard was created (a
    // sequence number carries both), as it does on any real stream.
    std::thread::sleep(Duration::from_millis(1100));
    call(
        "PutRecord",
        map(vec![
            ("StreamName", text("j")),
            ("PartitionKey", text("k")),
            ("Data", C::Bytes(vec![0, 159, 255])),
        ]),
    );
    let stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/j";
    let consumer = call(
        "RegisterStreamConsumer",
        map(vec![
            ("StreamARN", text(stream_arn)),
            ("ConsumerName", text("java")),
        ]),
    );
    let consumer_arn = field(field(&consumer, "Consumer"), "ConsumerARN").clone();
    let mut request = Vec::new();
    ciborium::into_writer(
        &map(vec![
            ("ConsumerARN", consumer_arn),
            ("ShardId", text("shardId-000000000000")),
            (
                "StartingPosition",
                map(vec![("Type", text("TRIM_HORIZON"))]),
            ),
        ]),
        &mut request,
    )
    .unwrap();

    let messages: Vec<Message> = runtime().block_on(async {
        let addr = server.endpoint.trim_start_matches("http://").to_string();
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::post(format!("http://{addr}/"))
            .header("content-type", "application/x-amz-cbor-1.1")
            .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
            .header("authorization", UNSIGNED_AUTHORIZATION)
            .header("x-amz-date", "20261122T000000Z")
            .body(http_body_util::Full::new(bytes::Bytes::from(request)))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.amazon.eventstream"
        );
        let mut body = response.into_body();
        let mut buffer = bytes::BytesMut::new();
        let mut decoder = MessageFrameDecoder::new();
        let mut messages = Vec::new();
        while messages.len() < 2 {
            let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
                .await
                .expect("a frame within 10 s")
                .expect("the stream goes on")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                buffer.extend_from_slice(&data);
            }
            while let DecodedFrame::Complete(message) = decoder.decode_frame(&mut buffer).unwrap() {
                messages.push(message);
            }
        }
        messages
    });
    let header = |m: &Message, name: &str| -> String {
        match m.headers().iter().find(|h| h.name().as_str() == name) {
            Some(h) => match h.value() {
                HeaderValue::String(s) => s.as_str().to_string(),
                other => panic!("{name} is {other:?}"),
            },
            None => String::new(),
        }
    };
    assert_eq!(header(&messages[0], ":event-type"), "initial-response");
    let event = &messages[1];
    assert_eq!(header(event, ":message-type"), "event");
    assert_eq!(header(event, ":event-type"), "SubscribeToShardEvent");
    assert_eq!(header(event, ":content-type"), "application/x-amz-cbor-1.1");
    let payload: C = ciborium::from_reader(&event.payload()[..]).unwrap();
    let records = field(&payload, "Records").as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(field(&records[0], "Data"), &C::Bytes(vec![0, 159, 255]));
    assert!(matches!(
        field(&records[0], "ApproximateArrivalTimestamp"),
        C::Tag(1, _)
    ));
    let continuation = field(&payload, "ContinuationSequenceNumber")
        .as_text()
        .unwrap();
    assert_eq!(
        continuation,
        field(&records[0], "SequenceNumber").as_text().unwrap()
    );
}
