//! `nuage bench flow`: a continuous job over events already in a stream.
//! EVENTS toll events (STATIONS stations, event times spread over HOURS)
//! are put on a SHARDS-shard stream of a `nuage serve` on the same data
//! dir; then the job "30-minute tumbling count per station joined with the
//! minimums table, into a Parquet lake table" starts, and the bench prints
//! events/s from the job's start until every window's row is committed.
//! Then the latency of one window: events that move every shard's
//! watermark past a window's end are put, and the time until the job has
//! committed that window's row is printed (several times).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use clap::Args;
use futures::StreamExt;
use nuage_sql::Session;
use serde_json::{Value, json};

use crate::client::Connection;

#[derive(Args)]
pub struct FlowBench {
    /// The nuage server running on this data dir.
    #[arg(long, default_value = "http://127.0.0.1:4566", env = "NUAGE_ENDPOINT")]
    endpoint: String,
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    #[arg(long, default_value_t = 4)]
    shards: u32,
    #[arg(long, default_value_t = 20)]
    stations: usize,
    /// Event-time span of the events, in hours (48 windows in 24 hours).
    #[arg(long, default_value_t = 24)]
    hours: u64,
    /// Windows whose commit latency is measured after the catch-up.
    #[arg(long, default_value_t = 5)]
    latency_windows: usize,
    /// Run the count as a Kinesis Analytics (SQL) application instead:
    /// per station and 30 minutes of event time, per second of ROWTIME,
    /// into a stream; timed until the counts add up to the events.
    #[arg(long)]
    kda: bool,
    /// Run an interval join instead: EVENTS orders and EVENTS shipments
    /// on two SHARDS-shard streams, each order shipped `id mod 10` minutes
    /// after it, joined within 5 minutes into a Parquet table; timed
    /// until every joined row is committed.
    #[arg(long, conflicts_with = "kda")]
    join: bool,
    /// Run a GROUP BY without a window instead (vehicles per station, an
    /// updating result) into a debezium-json stream; timed until the
    /// latest counts add up to the events.
    #[arg(long, conflicts_with_all = ["kda", "join"])]
    updating: bool,
}

const WINDOW_MS: i64 = 30 * 60 * 1000;
/// 2024-01-01 00:00:00 UTC.
const BASE_MS: i64 = 1_704_067_200_000;

fn event(ms: i64, station: usize) -> String {
    let ts = chrono::DateTime::from_timestamp_millis(ms).expect("a time");
    format!(
        r#"{{"ts":"{}","station":"S{station}","customer":"C{}","amount":1.25}}"#,
        ts.format("%Y-%m-%d %H:%M:%S%.3f"),
        ms % 97
    )
}

fn record(data: &str, key: String, hash: Option<u128>) -> Value {
    let mut r = json!({
        "PartitionKey": key,
        "Data": base64::engine::general_purpose::STANDARD.encode(data),
    });
    if let Some(h) = hash {
        r["ExplicitHashKey"] = json!(h.to_string());
    }
    r
}

/// Each shard's starting hash key, from ListShards.
async fn shard_starts(kinesis: &mut Connection, stream: &str) -> anyhow::Result<Vec<u128>> {
    let shards = kinesis
        .json("ListShards", json!({"StreamName": stream}))
        .await?;
    shards["Shards"]
        .as_array()
        .context("ListShards lists shards")?
        .iter()
        .map(|s| {
            s["HashKeyRange"]["StartingHashKey"]
                .as_str()
                .and_then(|h| h.parse().ok())
                .context("a starting hash key")
        })
        .collect()
}

/// One record per shard at `ms`.
async fn on_every_shard(
    kinesis: &mut Connection,
    stream: &str,
    starts: &[u128],
    ms: i64,
) -> anyhow::Result<()> {
    let records: Vec<Value> = starts
        .iter()
        .enumerate()
        .map(|(s, hash)| record(&event(ms, 0), format!("w{s}"), Some(*hash)))
        .collect();
    let answer = kinesis
        .json(
            "PutRecords",
            json!({"StreamName": stream, "Records": records}),
        )
        .await?;
    anyhow::ensure!(
        answer["FailedRecordCount"] == 0,
        "PutRecords failed: {answer}"
    );
    Ok(())
}

/// Puts events `0..events` (`make(i)` gives its time and record) on the
/// stream: event i on shard `i mod shards`, each shard's events in time
/// order from one connection (explicit hash keys), as a producer per
/// shard would.
async fn load(
    endpoint: &str,
    stream: &str,
    starts: &[u128],
    events: usize,
    make: impl Fn(usize) -> (i64, String) + Clone + Send + 'static,
) -> anyhow::Result<()> {
    let mut loaders = Vec::new();
    for (shard, start) in starts.iter().enumerate() {
        let (endpoint, stream, start) = (endpoint.to_string(), stream.to_string(), *start);
        let (shards, make) = (starts.len(), make.clone());
        loaders.push(tokio::spawn(async move {
            let mut kinesis = Connection::open(&endpoint).await?;
            let mut mine: Vec<(i64, usize, String)> = (shard..events)
                .step_by(shards)
                .map(|i| {
                    let (ms, data) = make(i);
                    (ms, i, data)
                })
                .collect();
            mine.sort_by_key(|(ms, i, _)| (*ms, *i));
            for chunk in mine.chunks(500) {
                let records: Vec<Value> = chunk
                    .iter()
                    .map(|(_, i, data)| record(data, format!("k{i}"), Some(start)))
                    .collect();
                let body = json!({"StreamName": stream, "Records": records});
                let answer: Value = serde_json::from_slice(
                    &kinesis
                        .call("PutRecords", Bytes::from(body.to_string()))
                        .await?,
                )?;
                anyhow::ensure!(
                    answer["FailedRecordCount"] == 0,
                    "PutRecords failed: {answer}"
                );
            }
            anyhow::Ok(())
        }));
    }
    for loader in loaders {
        loader.await??;
    }
    Ok(())
}

/// Starts the job: its connection, id, and when it started.
async fn start_job(endpoint: &str, job: &str) -> anyhow::Result<(Connection, String, Instant)> {
    let mut flow = Connection::open(endpoint).await?.flow();
    let started = Instant::now();
    let answer = flow
        .json("StartJob", json!({"Database": "default", "Statement": job}))
        .await?;
    let id = answer["JobId"].as_str().context("a job id")?.to_string();
    Ok((flow, id, started))
}

/// Waits until the job has written `expected` rows (an hour at most).
async fn wait_for_rows(
    flow: &mut Connection,
    id: &str,
    expected: u64,
    started: Instant,
) -> anyhow::Result<()> {
    loop {
        let figures = job_figures(flow, id).await?;
        if figures["EventsOut"].as_u64() == Some(expected) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the job did not finish within an hour: {figures}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn job_figures(flow: &mut Connection, id: &str) -> anyhow::Result<Value> {
    let jobs = flow.json("ListJobs", json!({})).await?;
    let job = jobs["Jobs"]
        .as_array()
        .and_then(|j| j.iter().find(|j| j["JobId"] == id))
        .cloned()
        .context("the job is listed")?;
    if job["State"] != "RUNNING" {
        bail!("the job is {}: {}", job["State"], job["Error"]);
    }
    Ok(job)
}

pub async fn run(config: &nuage_common::Config, b: FlowBench) -> anyhow::Result<ExitCode> {
    let pid = std::process::id();
    let stream = format!("bench_flow_{pid}");
    let mut kinesis = Connection::open(&b.endpoint).await?;
    kinesis.create_stream(&stream, b.shards).await?;
    if b.join {
        return join(config, &b, &stream, kinesis).await;
    }

    let starts = shard_starts(&mut kinesis, &stream).await?;
    let span_ms = b.hours as i64 * 3_600_000;
    let step = span_ms as f64 / b.events as f64;
    let started = Instant::now();
    let stations = b.stations;
    load(&b.endpoint, &stream, &starts, b.events, move |i| {
        let ms = BASE_MS + (i as f64 * step) as i64;
        (ms, event(ms, i % stations))
    })
    .await?;
    // Every shard's watermark past the last window of the data.
    let end_ms = BASE_MS + span_ms;
    let next_window = end_ms - end_ms.rem_euclid(WINDOW_MS) + WINDOW_MS;
    on_every_shard(&mut kinesis, &stream, &starts, next_window + 6_000).await?;
    eprintln!(
        "put {} events on {} shards in {:.1} s (not timed)",
        b.events,
        b.shards,
        started.elapsed().as_secs_f64()
    );
    // The windows with events, per station: the rows the job will write.
    let windows: BTreeSet<(usize, i64)> = (0..b.events)
        .map(|i| {
            let ms = BASE_MS + (i as f64 * step) as i64;
            (i % b.stations, ms - ms.rem_euclid(WINDOW_MS))
        })
        .collect();
    let expected = windows.len() as u64;
    if b.kda {
        return kda(&b, &stream, kinesis).await;
    }
    if b.updating {
        return updating(config, &b, &stream, kinesis).await;
    }

    let mut session = Session::open(config).await?;
    let minimums: Vec<String> = (0..b.stations).map(|s| format!("('S{s}', 100)")).collect();
    for sql in [
        format!(
            "CREATE TABLE {stream} (ts TIMESTAMP(3), station STRING, customer STRING, amount DOUBLE, \
             WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kinesis', \
             'stream' = '{stream}', 'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON')"
        ),
        format!("CREATE TABLE {stream}_minimums (station STRING, min_vehicles BIGINT)"),
        format!(
            "INSERT INTO {stream}_minimums VALUES {}",
            minimums.join(", ")
        ),
        format!(
            "CREATE TABLE {stream}_counts (station STRING, window_start TIMESTAMP, \
             window_end TIMESTAMP, vehicles BIGINT, min_vehicles BIGINT) STORED AS PARQUET"
        ),
    ] {
        run_sql(&mut session, &sql).await?;
    }
    let job = format!(
        "INSERT INTO {stream}_counts \
         SELECT c.station, c.window_start, c.window_end, c.vehicles, m.min_vehicles \
         FROM (SELECT station, window_start, window_end, COUNT(*) AS vehicles \
               FROM TABLE(TUMBLE(TABLE {stream}, DESCRIPTOR(ts), INTERVAL '30' MINUTES)) \
               GROUP BY station, window_start, window_end) c \
         JOIN {stream}_minimums m ON c.station = m.station"
    );
    let (mut flow, id, started) = start_job(&b.endpoint, &job).await?;
    wait_for_rows(&mut flow, &id, expected, started).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "flow: {} events, 30-min tumbling count per station + minimums join -> Parquet: \
         {:.2} s, {:.0} events/s, {expected} window rows",
        b.events,
        seconds,
        b.events as f64 / seconds
    );

    // Latency: each step moves every shard's watermark past one more window.
    let mut latencies = Vec::new();
    let mut window_end = next_window + WINDOW_MS;
    let mut out = expected;
    for _ in 0..b.latency_windows {
        on_every_shard(&mut kinesis, &stream, &starts, window_end + 5_001).await?;
        let put_at = Instant::now();
        out += 1;
        loop {
            let figures = job_figures(&mut flow, &id).await?;
            if figures["EventsOut"].as_u64() >= Some(out) {
                break;
            }
            if put_at.elapsed() > Duration::from_secs(60) {
                bail!("a window was not committed within 60 s: {figures}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(put_at.elapsed().as_secs_f64() * 1000.0);
        window_end += WINDOW_MS;
    }
    if !latencies.is_empty() {
        latencies.sort_by(|a, b| a.total_cmp(b));
        println!(
            "flow: watermark past a window's end -> its row committed: median {:.0} ms, max {:.0} ms ({} windows)",
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1],
            latencies.len()
        );
    }
    flow.json("StopJob", json!({"JobId": id})).await?;
    Ok(ExitCode::SUCCESS)
}

/// The count as a KDA application reading the stream from TRIM_HORIZON
/// into an output stream; events/s until the output's counts add up to
/// every event (the last ROWTIME second closes about a second after it
/// ends: the clock moves the watermark).
async fn kda(b: &FlowBench, stream: &str, mut kinesis: Connection) -> anyhow::Result<ExitCode> {
    let output = format!("{stream}_out");
    kinesis.create_stream(&output, 1).await?;
    let arn = |name: &str| format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}");
    let role = "arn:aws:iam::000000000000:role/bench";
    let mut kda = Connection::open(&b.endpoint).await?.kinesis_analytics();
    let code = r#"
        CREATE OR REPLACE STREAM "COUNTS" (station VARCHAR(8), window_start TIMESTAMP, vehicles BIGINT);
        CREATE OR REPLACE PUMP "P" AS INSERT INTO "COUNTS"
          SELECT STREAM station, STEP(ts BY INTERVAL '30' MINUTE), COUNT(*)
          FROM "SOURCE_SQL_STREAM_001"
          GROUP BY station, STEP(ts BY INTERVAL '30' MINUTE),
                   FLOOR("SOURCE_SQL_STREAM_001".ROWTIME TO SECOND);
    "#;
    let column =
        |name: &str, ty: &str| json!({"Name": name, "Mapping": format!("$.{name}"), "SqlType": ty});
    kda.json(
        "CreateApplication",
        json!({
            "ApplicationName": stream,
            "Inputs": [{
                "NamePrefix": "SOURCE_SQL_STREAM",
                "KinesisStreamsInput": {"ResourceARN": arn(stream), "RoleARN": role},
                "InputSchema": {
                    "RecordFormat": {"RecordFormatType": "JSON",
                        "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
                    "RecordColumns": [column("ts", "TIMESTAMP"), column("station", "VARCHAR(8)"),
                        column("customer", "VARCHAR(8)"), column("amount", "DOUBLE")],
                },
            }],
            "Outputs": [{
                "Name": "COUNTS",
                "KinesisStreamsOutput": {"ResourceARN": arn(&output), "RoleARN": role},
                "DestinationSchema": {"RecordFormatType": "JSON"},
            }],
            "ApplicationCode": code,
        }),
    )
    .await?;
    // The events, and the record on every shard that closed the windows.
    let total = b.events as u64 + b.shards as u64;
    let started = Instant::now();
    kda.json(
        "StartApplication",
        json!({"ApplicationName": stream, "InputConfigurations": [{"Id": "1.1",
            "InputStartingPositionConfiguration": {"InputStartingPosition": "TRIM_HORIZON"}}]}),
    )
    .await?;
    let mut iterator = first_iterator(&mut kinesis, &output).await?;
    let (mut counted, mut rows) = (0u64, 0u64);
    while counted < total {
        let records = next_records(&mut kinesis, &mut iterator).await?;
        for data in &records {
            let row: Value = serde_json::from_slice(data)?;
            counted += row["VEHICLES"].as_u64().context("a count")?;
            rows += 1;
        }
        if records.is_empty() {
            if started.elapsed() > Duration::from_secs(3600) {
                bail!(
                    "the application did not count every event within an hour ({counted} of {total})"
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "flow --kda: {} events, KDA application counting per station, 30 min of event time and 1 s of ROWTIME -> stream: {:.2} s, {:.0} events/s, {rows} rows",
        b.events,
        seconds,
        b.events as f64 / seconds
    );
    kda.json("StopApplication", json!({"ApplicationName": stream}))
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// The interval join: orders and shipments (order i shipped `i mod 10`
/// minutes after it), joined on the id within 5 minutes into a Parquet
/// table; events/s (both streams) until the 6 in 10 orders shipped in
/// time are committed.
async fn join(
    config: &nuage_common::Config,
    b: &FlowBench,
    orders: &str,
    mut kinesis: Connection,
) -> anyhow::Result<ExitCode> {
    let shipments = format!("{orders}_shipments");
    kinesis.create_stream(&shipments, b.shards).await?;
    let span_ms = b.hours as i64 * 3_600_000;
    let step = span_ms as f64 / b.events as f64;
    let at = move |i: usize| BASE_MS + (i as f64 * step) as i64;
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("a time")
            .format("%Y-%m-%d %H:%M:%S%.3f")
            .to_string()
    };
    let started = Instant::now();
    for (stream, delay) in [(orders, 0), (shipments.as_str(), 60_000)] {
        let starts = shard_starts(&mut kinesis, stream).await?;
        load(&b.endpoint, stream, &starts, b.events, move |i| {
            let ms = at(i) + delay * (i % 10) as i64;
            (ms, format!(r#"{{"id":{i},"ts":"{}"}}"#, time(ms)))
        })
        .await?;
    }
    eprintln!(
        "put {} orders and {} shipments on {} shards each in {:.1} s (not timed)",
        b.events,
        b.events,
        b.shards,
        started.elapsed().as_secs_f64()
    );
    let expected = (0..b.events).filter(|i| i % 10 <= 5).count() as u64;
    let mut session = Session::open(config).await?;
    for (name, stream) in [("o", orders), ("s", shipments.as_str())] {
        run_sql(
            &mut session,
            &format!(
                "CREATE TABLE {orders}_{name} (id BIGINT, ts TIMESTAMP(3),                  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kinesis',                  'stream' = '{stream}', 'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON')"
            ),
        )
        .await?;
    }
    run_sql(
        &mut session,
        &format!(
            "CREATE TABLE {orders}_shipped (id BIGINT, ordered TIMESTAMP, shipped TIMESTAMP)              STORED AS PARQUET"
        ),
    )
    .await?;
    let job = format!(
        "INSERT INTO {orders}_shipped SELECT o.id, o.ts, s.ts          FROM {orders}_o o JOIN {orders}_s s ON o.id = s.id          AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '5' MINUTE"
    );
    let (mut flow, id, started) = start_job(&b.endpoint, &job).await?;
    wait_for_rows(&mut flow, &id, expected, started).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "flow --join: {} orders + {} shipments, interval join on id within 5 min -> Parquet: \
         {:.2} s, {:.0} events/s (both streams), {expected} joined rows",
        b.events,
        b.events,
        seconds,
        2.0 * b.events as f64 / seconds
    );
    flow.json("StopJob", json!({"JobId": id})).await?;
    Ok(ExitCode::SUCCESS)
}

/// Vehicles per station without a window: each read's changes into a
/// debezium-json stream; events/s until the latest count of every station
/// (the last "c" record of each) adds up to the events.
async fn updating(
    config: &nuage_common::Config,
    b: &FlowBench,
    stream: &str,
    mut kinesis: Connection,
) -> anyhow::Result<ExitCode> {
    let output = format!("{stream}_totals");
    kinesis.create_stream(&output, 1).await?;
    let mut session = Session::open(config).await?;
    for sql in [
        format!(
            "CREATE TABLE {stream} (ts TIMESTAMP(3), station STRING, customer STRING, amount DOUBLE) \
             WITH ('connector' = 'kinesis', 'stream' = '{stream}', 'format' = 'json', \
             'scan.stream.initpos' = 'TRIM_HORIZON')"
        ),
        format!(
            "CREATE TABLE {output} (station STRING, vehicles BIGINT) WITH ('connector' = \
             'kinesis', 'stream' = '{output}', 'format' = 'debezium-json')"
        ),
    ] {
        run_sql(&mut session, &sql).await?;
    }
    let job = format!(
        "INSERT INTO {output} SELECT station, COUNT(*) AS vehicles FROM {stream} GROUP BY station"
    );
    let (mut flow, id, started) = start_job(&b.endpoint, &job).await?;
    let mut iterator = first_iterator(&mut kinesis, &output).await?;
    // The events and the record on every shard that closed the windows.
    let total = (b.events + b.shards as usize) as u64;
    let mut latest: std::collections::HashMap<String, u64> = Default::default();
    let mut changes = 0u64;
    while latest.values().sum::<u64>() < total {
        let records = next_records(&mut kinesis, &mut iterator).await?;
        for data in &records {
            let change: Value = serde_json::from_slice(data)?;
            if change["op"] == "c" {
                let after = &change["after"];
                latest.insert(
                    after["station"].as_str().unwrap_or_default().to_string(),
                    after["vehicles"].as_u64().context("a count")?,
                );
            }
            changes += 1;
        }
        if records.is_empty() {
            job_figures(&mut flow, &id).await?;
            if started.elapsed() > Duration::from_secs(3600) {
                bail!("the job did not count every event within an hour");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "flow --updating: {} events, vehicles per station without a window -> debezium-json \
         stream: {:.2} s, {:.0} events/s, {changes} change records",
        b.events,
        seconds,
        b.events as f64 / seconds
    );
    flow.json("StopJob", json!({"JobId": id})).await?;
    Ok(ExitCode::SUCCESS)
}

/// A TRIM_HORIZON iterator of the first shard of `stream`.
async fn first_iterator(kinesis: &mut Connection, stream: &str) -> anyhow::Result<String> {
    let answer = kinesis
        .json(
            "GetShardIterator",
            json!({"StreamName": stream, "ShardId": "shardId-000000000000",
                   "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await?;
    Ok(answer["ShardIterator"]
        .as_str()
        .context("an iterator")?
        .to_string())
}

/// The next records' data from `iterator` (moved past them).
async fn next_records(
    kinesis: &mut Connection,
    iterator: &mut String,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let got = kinesis
        .json(
            "GetRecords",
            json!({"ShardIterator": iterator, "Limit": 10000}),
        )
        .await?;
    let mut records = Vec::new();
    for r in got["Records"].as_array().context("records")? {
        records.push(
            base64::engine::general_purpose::STANDARD
                .decode(r["Data"].as_str().context("data")?)?,
        );
    }
    *iterator = got["NextShardIterator"]
        .as_str()
        .context("an iterator")?
        .to_string();
    Ok(records)
}

async fn run_sql(session: &mut Session, sql: &str) -> anyhow::Result<()> {
    if let Some(create) = nuage_flow::ddl::parse_create(sql, session.database()) {
        let table = create?.table.to_catalog("bench");
        session.shared().metastore.create_table(&table, false)?;
        return Ok(());
    }
    if let nuage_sql::Output::Rows(mut rows) = session.execute(sql).await? {
        while let Some(batch) = rows.next().await {
            batch?;
        }
    }
    Ok(())
}
