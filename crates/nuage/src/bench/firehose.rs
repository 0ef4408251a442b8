//! `nuage bench firehose`: PutRecordBatch load against a running `nuage
//! serve` on the same data dir, delivered as JSON objects or converted to
//! Parquet. Prints what the server took (records/s, MB/s, latency), how
//! long delivery took to catch up (counting the rows in the lake files),
//! and freshness: from a put to the row being visible to SQL.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use datafusion::arrow::array::{Array, Int64Array};
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use futures::TryStreamExt;
use nuage_sql::{Output, Session};
use serde_json::{Value, json};

use super::latency::Latencies;
use crate::client::Connection;

#[derive(Args, Clone)]
pub struct FirehoseBench {
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// json: objects of JSON lines; parquet: converted with a catalog table.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Concurrent writer connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds of writing.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Records per PutRecordBatch call.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// IntervalInSeconds of the delivery stream (freshness is measured against it).
    #[arg(long, default_value_t = 1)]
    interval: u64,
    /// Pad records with a `note` field to about this many bytes (0: ~106 bytes, no note).
    #[arg(long, default_value_t = 0)]
    record_bytes: usize,
    /// SizeInMBs of the delivery stream (at least 64 for Parquet, as in AWS).
    #[arg(long, default_value_t = 64)]
    size_mb: u64,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Json,
    Parquet,
}

const BUCKET: &str = "bench";

/// A toll record of about 106 bytes (or `size` with a note), different for every `i`.
fn toll(i: usize, size: usize) -> String {
    let note = if size > 120 {
        let words = [
            "late", "cash", "tag", "truck", "rain", "night", "toll", "lane",
        ];
        let mut note = String::from(",\"note\":\"");
        let mut w = i;
        while note.len() < size - 110 {
            note.push_str(words[w % words.len()]);
            note.push(' ');
            w = w / 3 + 7;
        }
        note.push('"');
        note
    } else {
        String::new()
    };
    format!(
        "{{\"car\":\"car-{:07}\",\"plaza\":\"{}\",\"lane\":{},\"amount\":{}.{:02},\"at\":\"2025-11-22 09:{:02}:{:02}\",\"kind\":\"passenger\"{note}}}\n",
        i % 1_000_000,
        ["north", "south", "east", "west"][i % 4],
        i % 12,
        2 + i % 9,
        i % 100,
        i / 60 % 60,
        i % 60
    )
}

/// A delivery stream into `s3://bench/<prefix>` with a table over it.
async fn create(
    b: &FirehoseBench,
    admin: &mut Connection,
    session: &mut Session,
    name: &str,
    table: &str,
    prefix: &str,
) -> anyhow::Result<()> {
    let stored = match b.format {
        Format::Json => "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
        Format::Parquet => "STORED AS PARQUET",
    };
    session
        .execute(&format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS {table} (car STRING, plaza STRING, lane INT, amount DOUBLE, at TIMESTAMP, kind STRING) {stored} LOCATION 's3://{BUCKET}/{prefix}'"
        ))
        .await?;
    let mut destination = json!({
        "BucketARN": format!("arn:aws:s3:::{BUCKET}"),
        "RoleARN": "arn:aws:iam::000000000000:role/bench",
        "Prefix": prefix,
        "BufferingHints": {"SizeInMBs": b.size_mb, "IntervalInSeconds": b.interval},
    });
    if b.format == Format::Parquet {
        destination["DataFormatConversionConfiguration"] = json!({
            "SchemaConfiguration": {"DatabaseName": "default", "TableName": table},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
        });
    }
    admin
        .json(
            "CreateDeliveryStream",
            json!({"DeliveryStreamName": name, "ExtendedS3DestinationConfiguration": destination}),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} (start from a fresh data dir)"))?;
    Ok(())
}

pub async fn run(config: &nuage_common::Config, b: FirehoseBench) -> anyhow::Result<ExitCode> {
    let format = match b.format {
        Format::Json => "json",
        Format::Parquet => "parquet",
    };
    let mut session = Session::open(config).await?;
    let mut admin = Connection::open(&b.endpoint).await?.firehose();
    // One stream under load, and one that only gets the freshness probes
    // (so SQL over it reads a few rows, not the whole load).
    let (name, table, prefix) = (
        format!("bench-{format}"),
        format!("bench_{format}"),
        format!("{format}/data/"),
    );
    let (probe_name, probe_table, probe_prefix) = (
        format!("bench-{format}-fresh"),
        format!("bench_{format}_fresh"),
        format!("{format}/fresh/"),
    );
    create(&b, &mut admin, &mut session, &name, &table, &prefix).await?;
    create(
        &b,
        &mut admin,
        &mut session,
        &probe_name,
        &probe_table,
        &probe_prefix,
    )
    .await?;

    // Pre-built bodies, each batch different.
    let bodies: Vec<(Bytes, usize)> = (0..16)
        .map(|variant| {
            let records: Vec<String> = (0..b.batch)
                .map(|i| toll(variant * b.batch + i, b.record_bytes))
                .collect();
            let bytes = records.iter().map(String::len).sum();
            let records: Vec<Value> = records
                .iter()
                .map(|r| json!({"Data": STANDARD.encode(r)}))
                .collect();
            let body = json!({"DeliveryStreamName": name, "Records": records}).to_string();
            (Bytes::from(body), bytes)
        })
        .collect();
    eprintln!(
        "writing: {} connections x PutRecordBatch of {} records (~{} bytes each) for {} s, delivered as {}",
        b.connections,
        b.batch,
        bodies[0].1 / b.batch,
        b.seconds,
        match b.format {
            Format::Json => "JSON objects",
            Format::Parquet => "Parquet",
        }
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(b.seconds);
    let mut writers = Vec::new();
    for c in 0..b.connections {
        let endpoint = b.endpoint.clone();
        let bodies = bodies.clone();
        writers.push(tokio::spawn(async move {
            let mut conn = Connection::open(&endpoint).await?.firehose();
            let (mut latencies, mut bytes, mut i) = (Latencies::new(), 0usize, c);
            while Instant::now() < deadline {
                let (body, size) = &bodies[i % bodies.len()];
                let t = Instant::now();
                let reply = conn.call("PutRecordBatch", body.clone()).await?;
                latencies.record(t.elapsed());
                let reply: Value = serde_json::from_slice(&reply)?;
                anyhow::ensure!(
                    reply["FailedPutCount"] == 0,
                    "PutRecordBatch reported failures"
                );
                bytes += size;
                i += 1;
            }
            Ok::<_, anyhow::Error>((latencies, bytes))
        }));
    }
    let (mut latencies, mut bytes) = (Latencies::new(), 0usize);
    for w in writers {
        let (l, n) = w.await??;
        latencies.add(&l);
        bytes += n;
    }
    let written_in = started.elapsed().as_secs_f64();
    let records = latencies.calls() as usize * b.batch;
    println!(
        "put: {records} records, {:.1} MB in {written_in:.2} s = {:.0} records/s, {:.1} MB/s; PutRecordBatch latency p50 {:.1} ms, p99 {:.1} ms",
        bytes as f64 / 1e6,
        records as f64 / written_in,
        bytes as f64 / written_in / 1e6,
        latencies.ms(0.5),
        latencies.ms(0.99),
    );

    // Delivery: wait until the lake files hold every record.
    let folder = config.data_dir.join("lake").join(BUCKET).join(&prefix);
    let mut counted = Counted::default();
    let drain_deadline = Instant::now() + Duration::from_secs(600);
    while counted.rows < records {
        anyhow::ensure!(
            Instant::now() < drain_deadline,
            "only {} of {records} records were delivered within 10 minutes",
            counted.rows
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        counted.scan(&folder, b.format)?;
    }
    let delivered_in = started.elapsed().as_secs_f64();
    println!(
        "delivered: {records} records in {} objects ({:.1} MB) {delivered_in:.2} s after the first put ({:.2} s after the last ack) = {:.0} records/s, {:.1} MB/s of JSON end to end",
        counted.files.len(),
        counted.bytes as f64 / 1e6,
        delivered_in - written_in,
        records as f64 / delivered_in,
        bytes as f64 / delivered_in / 1e6,
    );
    let in_sql = count(&mut session, &format!("SELECT count(*) FROM {table}")).await?;
    anyhow::ensure!(
        in_sql == records as i64,
        "SQL counts {in_sql} rows in {table}, not {records}"
    );

    // Freshness: one record at a time, from the put to SQL seeing it.
    let mut fresh = Vec::new();
    for probe in 0..5 {
        let car = format!("probe-{probe}");
        let record = format!("{{\"car\":\"{car}\",\"amount\":1.0}}\n");
        let put = Instant::now();
        admin
            .json(
                "PutRecord",
                json!({"DeliveryStreamName": probe_name, "Record": {"Data": STANDARD.encode(record)}}),
            )
            .await?;
        loop {
            let query = format!("SELECT count(*) FROM {probe_table} WHERE car = '{car}'");
            if count(&mut session, &query).await? == 1 {
                break;
            }
            anyhow::ensure!(
                put.elapsed() < Duration::from_secs(b.interval + 60),
                "{car} not visible after {:?}",
                put.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        fresh.push(put.elapsed());
    }
    fresh.sort();
    println!(
        "freshness (put to visible in SQL, IntervalInSeconds {}): min {:.2} s, median {:.2} s, max {:.2} s over {} probes",
        b.interval,
        fresh[0].as_secs_f64(),
        fresh[fresh.len() / 2].as_secs_f64(),
        fresh[fresh.len() - 1].as_secs_f64(),
        fresh.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn count(session: &mut Session, query: &str) -> anyhow::Result<i64> {
    let Output::Rows(stream) = session.execute(query).await? else {
        anyhow::bail!("{query} returned no rows");
    };
    let batches: Vec<_> = stream.try_collect().await?;
    let column = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).clone())
        .ok_or_else(|| anyhow::anyhow!("{query} returned no rows"))?;
    let counts = column
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| anyhow::anyhow!("{query} did not return a BIGINT"))?;
    Ok(if counts.is_null(0) {
        0
    } else {
        counts.value(0)
    })
}

/// Rows in the delivered files, counted once per new file.
#[derive(Default)]
struct Counted {
    files: BTreeSet<PathBuf>,
    rows: usize,
    bytes: u64,
}

impl Counted {
    fn scan(&mut self, dir: &Path, format: Format) -> anyhow::Result<()> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                self.scan(&path, format)?;
                continue;
            }
            if path.to_string_lossy().contains('#') || self.files.contains(&path) {
                continue;
            }
            self.rows += match format {
                Format::Json => std::fs::read(&path)?
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count(),
                Format::Parquet => SerializedFileReader::new(std::fs::File::open(&path)?)?
                    .metadata()
                    .file_metadata()
                    .num_rows() as usize,
            };
            self.bytes += std::fs::metadata(&path)?.len();
            self.files.insert(path);
        }
        Ok(())
    }
}
