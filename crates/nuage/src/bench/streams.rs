//! `nuage bench streams`: N connections each send PutRecords of B records
//! for S seconds; then one reader per shard drains it with GetRecords.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::Args;
use serde::Deserialize;
use serde_json::{Value, json};

use super::latency::Latencies;
use crate::client::Connection;

#[derive(Args, Clone)]
pub struct StreamsBench {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    #[arg(long, default_value = "bench")]
    stream: String,
    /// Shards of the stream the benchmark creates (if it does not exist).
    #[arg(long, default_value_t = 4)]
    shards: u32,
    /// Concurrent writer connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds of writing.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Records per PutRecords call.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
}

pub async fn run(b: StreamsBench) -> anyhow::Result<ExitCode> {
    let mut admin = Connection::open(&b.endpoint).await?;
    if let Err(e) = admin
        .json(
            "CreateStream",
            json!({"StreamName": b.stream, "ShardCount": b.shards}),
        )
        .await
        && !e.to_string().contains("ResourceInUseException")
    {
        return Err(e);
    }
    loop {
        let summary = admin
            .json("DescribeStreamSummary", json!({"StreamName": b.stream}))
            .await?;
        if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Pre-built PutRecords bodies: random-looking keys spread over all shards.
    let data = STANDARD.encode(vec![b'x'; b.record_bytes]);
    let bodies: Vec<Bytes> = (0..8)
        .map(|variant| {
            let records: Vec<Value> = (0..b.batch)
                .map(|i| json!({"PartitionKey": format!("key-{variant}-{i}"), "Data": data}))
                .collect();
            Bytes::from(json!({"StreamName": b.stream, "Records": records}).to_string())
        })
        .collect();

    eprintln!(
        "writing: {} connections x PutRecords of {} x {}-byte records for {} s",
        b.connections, b.batch, b.record_bytes, b.seconds
    );
    let deadline = Instant::now() + Duration::from_secs(b.seconds);
    let started = Instant::now();
    let mut writers = Vec::new();
    for c in 0..b.connections {
        let endpoint = b.endpoint.clone();
        let bodies = bodies.clone();
        writers.push(tokio::spawn(async move {
            let mut conn = Connection::open(&endpoint).await?;
            let mut latencies = Latencies::new();
            let mut i = c;
            while Instant::now() < deadline {
                let t = Instant::now();
                let reply = conn
                    .call("PutRecords", bodies[i % bodies.len()].clone())
                    .await?;
                latencies.record(t.elapsed());
                if !reply.starts_with(b"{\"FailedRecordCount\":0") {
                    anyhow::bail!(
                        "PutRecords reported failures: {}",
                        String::from_utf8_lossy(&reply[..reply.len().min(200)])
                    );
                }
                i += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Latencies::new();
    for w in writers {
        latencies.add(&w.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let records = latencies.calls() as usize * b.batch;
    println!(
        "write: {records} records in {elapsed:.2} s = {:.0} records/s, {:.1} MB/s of data; PutRecords latency p50 {:.1} ms, p99 {:.1} ms ({} calls)",
        records as f64 / elapsed,
        (records * b.record_bytes) as f64 / elapsed / 1e6,
        latencies.ms(0.5),
        latencies.ms(0.99),
        latencies.calls()
    );

    // Read everything back, one reader per shard.
    let shards = admin
        .json("ListShards", json!({"StreamName": b.stream}))
        .await?;
    let ids: Vec<String> = shards["Shards"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["ShardId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let started = Instant::now();
    let mut readers = Vec::new();
    for shard in ids {
        let endpoint = b.endpoint.clone();
        let stream = b.stream.clone();
        readers.push(tokio::spawn(async move {
            #[derive(Deserialize)]
            struct Page {
                #[serde(rename = "Records")]
                records: Vec<serde::de::IgnoredAny>,
                #[serde(rename = "NextShardIterator")]
                next: Option<String>,
            }
            let mut conn = Connection::open(&endpoint).await?;
            let it = conn
                .json(
                    "GetShardIterator",
                    json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await?;
            let mut iterator = it["ShardIterator"].as_str().unwrap_or_default().to_string();
            let (mut count, mut calls, mut bytes) = (0usize, 0usize, 0usize);
            loop {
                let body = Bytes::from(json!({"ShardIterator": iterator, "Limit": 10000}).to_string());
                let reply = conn.call("GetRecords", body).await?;
                calls += 1;
                bytes += reply.len();
                let page: Page = serde_json::from_slice(&reply)?;
                if page.records.is_empty() {
                    break;
                }
                count += page.records.len();
                match page.next {
                    Some(next) => iterator = next,
                    None => break,
                }
            }
            Ok::<_, anyhow::Error>((count, calls, bytes))
        }));
    }
    let (mut read, mut calls, mut wire) = (0, 0, 0);
    for r in readers {
        let (n, c, w) = r.await??;
        read += n;
        calls += c;
        wire += w;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "read: {read} records in {elapsed:.2} s = {:.0} records/s, {:.1} MB/s of data ({:.1} MB/s of JSON, {calls} GetRecords calls)",
        read as f64 / elapsed,
        (read * b.record_bytes) as f64 / elapsed / 1e6,
        wire as f64 / elapsed / 1e6,
    );
    if read < records {
        eprintln!("error: read back {read} records, fewer than the {records} written");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
