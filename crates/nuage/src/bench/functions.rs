//! `nuage bench functions`: against a running `nuage serve` (without
//! access keys), through Lambda's REST API:
//! - warm latency: a no-op Python handler invoked one call after another
//!   for S seconds (p50, p99, calls/s), then from C connections at once;
//! - cold start: new functions invoked for the first time;
//! - event-source mapping throughput: N records put on a stream first, then
//!   a mapping with BatchSize B into a Python handler that counts them;
//!   records/s from the mapping's creation until every record is counted;
//! - bucket notifications: files written into a bucket of the server's
//!   data dir by this process (as `nuage lake put` does), and the delay
//!   until the bucket's function has been called with each one's event.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::latency::Latencies;
use crate::client::Connection;

#[derive(Args, Clone)]
pub struct FunctionsBench {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Python runtime of the benchmark's functions.
    #[arg(long, default_value = "python3.12")]
    runtime: String,
    /// Seconds of warm invocations (each phase).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Connections of the concurrent warm phase.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Functions started cold, one after another.
    #[arg(long, default_value_t = 5)]
    cold: usize,
    /// Records put on the mapping's stream (0: skip the mapping phase).
    #[arg(long, default_value_t = 500_000)]
    records: usize,
    /// Shards of the mapping's stream.
    #[arg(long, default_value_t = 2)]
    shards: u32,
    /// BatchSize of the mapping.
    #[arg(long, default_value_t = 1000)]
    batch_size: u32,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
    /// Files written into a bucket with a notification, one after another
    /// (0: skip; the server must serve this data dir).
    #[arg(long, default_value_t = 20)]
    notified_files: usize,
}

type Http = Client<HttpConnector, Full<Bytes>>;

const NOOP: &str = "def handler(event, context):\n    return None\n";

/// Appends each event's key to a file.
const NOTIFIED: &str = r#"
import os
def handler(event, context):
    with open(os.environ["SEEN"], "a") as f:
        f.write(event["Records"][0]["s3"]["object"]["key"] + "\n")
"#;

/// Counts the records of each batch into a file of its own process.
const COUNTER: &str = r#"
import os
total = 0
path = os.path.join(os.environ["COUNTS"], str(os.getpid()))
def handler(event, context):
    global total
    total += len(event["Records"])
    with open(path, "w") as f:
        f.write(str(total))
"#;

struct Lambda {
    http: Http,
    endpoint: String,
}

impl Lambda {
    async fn call(&self, method: &str, path: &str, body: Bytes) -> anyhow::Result<(u16, Bytes)> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint))
            .header("content-type", "application/json")
            .body(Full::new(body))?;
        let response = self.http.request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn create(
        &self,
        name: &str,
        runtime: &str,
        code: &str,
        env: Value,
    ) -> anyhow::Result<()> {
        let _ = self
            .call(
                "DELETE",
                &format!("/2015-03-31/functions/{name}"),
                Bytes::new(),
            )
            .await?;
        let zip = base64::engine::general_purpose::STANDARD.encode(zip_of("app.py", code)?);
        let body = json!({
            "FunctionName": name,
            "Runtime": runtime,
            "Role": "arn:aws:iam::000000000000:role/bench",
            "Handler": "app.handler",
            "Code": { "ZipFile": zip },
            "Environment": { "Variables": env },
        });
        let (status, answer) = self
            .call(
                "POST",
                "/2015-03-31/functions",
                Bytes::from(body.to_string()),
            )
            .await?;
        anyhow::ensure!(status == 201, "CreateFunction {name}: {status} {answer:?}");
        Ok(())
    }

    async fn invoke(&self, name: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .call(
                "POST",
                &format!("/2015-03-31/functions/{name}/invocations"),
                Bytes::from_static(b"{}"),
            )
            .await?;
        anyhow::ensure!(status == 200, "Invoke {name}: {status} {body:?}");
        Ok(())
    }
}

fn zip_of(name: &str, content: &str) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    out.start_file(name, zip::write::SimpleFileOptions::default())?;
    out.write_all(content.as_bytes())?;
    Ok(out.finish()?.into_inner())
}

pub async fn run(config: &nuage_common::Config, b: FunctionsBench) -> anyhow::Result<ExitCode> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let lambda = std::sync::Arc::new(Lambda {
        http: Client::builder(TokioExecutor::new()).build(connector),
        endpoint: b.endpoint.trim_end_matches('/').to_string(),
    });

    // Cold starts: each function's first invocation starts its process.
    let mut cold = Latencies::new();
    for i in 0..b.cold {
        let name = format!("bench-cold-{i}");
        lambda.create(&name, &b.runtime, NOOP, json!({})).await?;
        let started = Instant::now();
        lambda.invoke(&name).await?;
        cold.record(started.elapsed());
    }
    if b.cold > 0 {
        println!(
            "cold start: {} functions, p50 {:.1} ms, max {:.1} ms",
            b.cold,
            cold.ms(0.5),
            cold.ms(1.0)
        );
    }

    // Warm: one caller, then several.
    lambda
        .create("bench-noop", &b.runtime, NOOP, json!({}))
        .await?;
    lambda.invoke("bench-noop").await?;
    for connections in [1, b.connections] {
        let deadline = Instant::now() + Duration::from_secs(b.seconds);
        let started = Instant::now();
        let mut callers = Vec::new();
        for _ in 0..connections {
            let lambda = lambda.clone();
            callers.push(tokio::spawn(async move {
                let mut latencies = Latencies::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    lambda.invoke("bench-noop").await?;
                    latencies.record(t.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            }));
        }
        let mut latencies = Latencies::new();
        for caller in callers {
            latencies.add(&caller.await??);
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "warm RequestResponse, {connections} connection(s): {} calls in {elapsed:.1} s = {:.0} calls/s; p50 {:.2} ms, p99 {:.2} ms",
            latencies.calls(),
            latencies.calls() as f64 / elapsed,
            latencies.ms(0.5),
            latencies.ms(0.99)
        );
    }

    if b.records > 0 {
        mapping_throughput(&b, &lambda).await?;
    }
    if b.notified_files > 0 {
        notification_delay(config, &b, &lambda).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Files written through the lake (another process than the server, as
/// `nuage lake put` and SQL are) into a bucket whose notification calls a
/// function: the delay from each write to the function having run.
async fn notification_delay(
    config: &nuage_common::Config,
    b: &FunctionsBench,
    lambda: &Lambda,
) -> anyhow::Result<()> {
    let bucket = format!("bench-notified-{}", std::process::id());
    let seen = std::env::temp_dir().join(format!("{bucket}.txt"));
    lambda
        .create(
            "bench-notified",
            &b.runtime,
            NOTIFIED,
            json!({ "SEEN": seen.display().to_string() }),
        )
        .await?;
    let lake = nuage_lake::Lake::new(config)?;
    lake.make_bucket(&bucket).await?;
    // S3's XML names a LambdaFunctionConfiguration CloudFunctionConfiguration.
    let rule = "<NotificationConfiguration><CloudFunctionConfiguration>\
        <CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:bench-notified</CloudFunction>\
        <Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration></NotificationConfiguration>";
    let (status, answer) = lambda
        .call(
            "PUT",
            &format!("/{bucket}?notification"),
            Bytes::from_static(rule.as_bytes()),
        )
        .await?;
    anyhow::ensure!(
        status == 200,
        "PutBucketNotificationConfiguration: {status} {answer:?} (does the server serve this \
         data dir, {}?)",
        config.data_dir.display()
    );
    let mut delays = Latencies::new();
    for i in 0..b.notified_files {
        let location = nuage_lake::Location::Object {
            bucket: bucket.clone(),
            key: format!("in/{i}.csv"),
        };
        let started = Instant::now();
        lake.put_bytes(&location, Bytes::from_static(b"a,1\n"))
            .await?;
        loop {
            let lines = std::fs::read_to_string(&seen).map_or(0, |t| t.lines().count());
            if lines > i {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the function was not called within 30 s of writing {location}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        delays.record(started.elapsed());
    }
    println!(
        "bucket notification of a file written by another process: {} files, p50 {:.0} ms, max {:.0} ms",
        b.notified_files,
        delays.ms(0.5),
        delays.ms(1.0)
    );
    let _ = std::fs::remove_file(&seen);
    Ok(())
}

async fn mapping_throughput(b: &FunctionsBench, lambda: &Lambda) -> anyhow::Result<()> {
    let stream = format!("bench-fn-{}", std::process::id());
    let mut kinesis = Connection::open(&b.endpoint).await?;
    kinesis.create_stream(&stream, b.shards).await?;
    let data = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; b.record_bytes]);
    let started = Instant::now();
    let mut put = 0;
    while put < b.records {
        let n = (b.records - put).min(500);
        let records: Vec<Value> = (0..n)
            .map(|i| json!({"PartitionKey": format!("key-{}", put + i), "Data": data}))
            .collect();
        let body = json!({"StreamName": stream, "Records": records});
        let answer = kinesis
            .call("PutRecords", Bytes::from(body.to_string()))
            .await?;
        let answer: Value = serde_json::from_slice(&answer)?;
        anyhow::ensure!(
            answer["FailedRecordCount"] == 0,
            "PutRecords failed: {answer}"
        );
        put += n;
    }
    eprintln!(
        "put {put} records of {} B on {} shards in {:.1} s",
        b.record_bytes,
        b.shards,
        started.elapsed().as_secs_f64()
    );

    let counts = std::env::temp_dir().join(format!("nuage-bench-counts-{}", std::process::id()));
    std::fs::create_dir_all(&counts)?;
    lambda
        .create(
            "bench-counter",
            &b.runtime,
            COUNTER,
            json!({ "COUNTS": counts.display().to_string() }),
        )
        .await?;
    let mapping = json!({
        "FunctionName": "bench-counter",
        "EventSourceArn": format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"),
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": b.batch_size,
    });
    let started = Instant::now();
    let (status, answer) = lambda
        .call(
            "POST",
            "/2015-03-31/event-source-mappings/",
            Bytes::from(mapping.to_string()),
        )
        .await?;
    anyhow::ensure!(
        status == 202,
        "CreateEventSourceMapping: {status} {answer:?}"
    );
    let uuid = serde_json::from_slice::<Value>(&answer)?["UUID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let total = loop {
        let total: usize = std::fs::read_dir(&counts)?
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|t| t.trim().parse::<usize>().ok())
            .sum();
        if total >= b.records || started.elapsed() > Duration::from_secs(600) {
            break total;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "event-source mapping: {total} records ({} shards, BatchSize {}) into a Python handler in {elapsed:.2} s = {:.0} records/s",
        b.shards,
        b.batch_size,
        total as f64 / elapsed
    );
    let _ = lambda
        .call(
            "DELETE",
            &format!("/2015-03-31/event-source-mappings/{uuid}"),
            Bytes::new(),
        )
        .await;
    let _ = kinesis
        .json("DeleteStream", json!({"StreamName": stream}))
        .await;
    let _ = std::fs::remove_dir_all(&counts);
    Ok(())
}
