//! Jobs over a real stream log and catalog (no HTTP): windows fire when
//! the watermark passes their end, late rows reach the late-data stream,
//! an idle shard stops holding the watermark back, and a job stopped and
//! started again neither loses nor repeats a window.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nuage_common::Config;
use nuage_flow::{Env, Flow};
use nuage_sql::{Output, Session};
use nuage_streams::{PutEntry, StreamMode, Streams, StreamsConfig};

pub(crate) struct World {
    pub _dir: tempfile::TempDir,
    pub data_dir: std::path::PathBuf,
    pub streams: Arc<Streams>,
    deliveries: Option<Arc<nuage_delivery::Deliveries>>,
    session: Session,
}

pub(crate) async fn world(shards: u32) -> World {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let streams = Arc::new(Streams::open(StreamsConfig::new(data_dir.join("streams"))).unwrap());
    streams
        .create("tolls", shards, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    streams
        .create("late", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    let session = Session::open(&Config::default().with_data_dir(&data_dir))
        .await
        .unwrap();
    World {
        _dir: dir,
        data_dir,
        streams,
        deliveries: None,
        session,
    }
}

impl World {
    pub(crate) fn env(&self) -> Env {
        Env {
            metastore: self.session.shared().metastore.clone(),
            lake: self.session.shared().lake.clone(),
            streams: self.streams.clone(),
            deliveries: self.deliveries.clone(),
            functions: None,
        }
    }

    pub(crate) fn flow(&self) -> Arc<Flow> {
        Flow::open(self.env(), &self.data_dir).unwrap()
    }

    pub(crate) async fn sql(&mut self, text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        if let Output::Rows(mut stream) = self.session.execute(text).await.unwrap() {
            while let Some(batch) = stream.next().await {
                let batch = batch.unwrap();
                for r in 0..batch.num_rows() {
                    rows.push(
                        batch
                            .columns()
                            .iter()
                            .map(|c| {
                                datafusion::arrow::util::display::array_value_to_string(c, r)
                                    .unwrap()
                            })
                            .collect(),
                    );
                }
            }
        }
        rows
    }

    fn create_stream_table(&self, extra_options: &str) {
        let sql = format!(
            "CREATE TABLE tolls (ts TIMESTAMP(3), station STRING, amount DOUBLE, \
             WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) \
             WITH ('connector' = 'kinesis', 'stream' = 'tolls', 'format' = 'json', \
             'scan.stream.initpos' = 'TRIM_HORIZON'{extra_options})"
        );
        self.create(&sql);
    }

    /// A Flink CREATE TABLE into the catalog, as `nuage sql` does it.
    pub(crate) fn create(&self, sql: &str) {
        let table = nuage_flow::ddl::parse_create(sql, "default")
            .unwrap()
            .unwrap()
            .table;
        self.session
            .shared()
            .metastore
            .create_table(&table.to_catalog("test"), false)
            .unwrap();
    }

    /// Events `(shard, "HH:MM:SS", station)` on 2020-04-15.
    async fn put(&self, events: &[(u32, &str, &str)]) {
        for (shard, time, station) in events {
            let data =
                format!(r#"{{"ts": "2020-04-15 {time}", "station": "{station}", "amount": 1.5}}"#);
            let hash = if *shard == 0 { 0 } else { u128::MAX };
            self.streams
                .put(
                    "tolls",
                    &[PutEntry {
                        partition_key: station.to_string(),
                        data: Bytes::from(data),
                        explicit_hash_key: Some(hash),
                    }],
                )
                .await
                .unwrap();
        }
    }
}

const COUNTS: &str = "INSERT INTO counts \
    SELECT station, window_start, window_end, COUNT(*) AS vehicles \
    FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) \
    GROUP BY station, window_start, window_end";

const COUNTS_TABLE: &str = "CREATE TABLE counts (station STRING, window_start TIMESTAMP, \
    window_end TIMESTAMP, vehicles BIGINT) STORED AS PARQUET";

const ALL_COUNTS: &str =
    "SELECT station, window_start, vehicles FROM counts ORDER BY window_start, station";

pub(crate) async fn wait_rows(world: &mut World, sql: &str, n: usize) -> Vec<Vec<String>> {
    for _ in 0..200 {
        let rows = world.sql(sql).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.sql(sql).await
}

pub(crate) fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_fire_when_the_watermark_passes_and_late_rows_reach_their_stream() {
    let mut world = world(2).await;
    world.create_stream_table(", 'late-data.stream' = 'late'");
    world.sql(COUNTS_TABLE).await;
    let flow = world.flow();
    let id = flow.start("default", COUNTS).unwrap();
    world
        .put(&[
            (0, "08:01:00", "A"),
            (0, "08:03:00", "B"),
            (1, "08:04:00", "A"),
            // Shard 0 passes 08:10:05, shard 1 not yet: nothing fires.
            (0, "08:10:06", "A"),
            (1, "08:09:00", "B"),
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(world.sql(ALL_COUNTS).await.is_empty(), "fired too early");
    // Both shards' watermarks pass 08:10 (08:10:06 - 5 s).
    world.put(&[(1, "08:10:06", "B")]).await;
    let fired = wait_rows(&mut world, ALL_COUNTS, 2).await;
    assert_eq!(
        fired,
        rows(&[
            &["A", "2020-04-15T08:00:00", "2"],
            &["B", "2020-04-15T08:00:00", "2"]
        ])
    );
    // A row for the fired window is late: not counted, kept in 'late'.
    world.put(&[(0, "08:02:00", "C")]).await;
    let mut late = 0;
    for _ in 0..200 {
        late = flow.list().unwrap()[0].late;
        if late == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(late, 1, "{:?}", flow.list().unwrap());
    let log = world.streams.get("late").unwrap().log(0).unwrap();
    let batch = log
        .read(nuage_streams::Position::at(0), 10, 1 << 20)
        .unwrap();
    assert_eq!(batch.records.len(), 1);
    assert!(String::from_utf8_lossy(&batch.records[0].data).contains("08:02:00"));
    assert_eq!(world.sql(ALL_COUNTS).await.len(), 2);
    let status = &flow.list().unwrap()[0];
    assert_eq!((status.events_in, status.events_out), (7, 2));
    flow.stop(&id).await.unwrap();
    assert_eq!(flow.list().unwrap()[0].state, "STOPPED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_shard_stops_holding_the_watermark_back() {
    let mut world = world(2).await;
    world.create_stream_table(", 'scan.watermark.idle-timeout' = '1 s'");
    world.sql(COUNTS_TABLE).await;
    let flow = world.flow();
    flow.start("default", COUNTS).unwrap();
    // Shard 1 never sends anything.
    world
        .put(&[
            (0, "08:01:00", "A"),
            (0, "08:02:00", "A"),
            (0, "08:20:00", "A"),
        ])
        .await;
    let fired = wait_rows(&mut world, ALL_COUNTS, 1).await;
    assert_eq!(fired, rows(&[&["A", "2020-04-15T08:00:00", "2"]]));
    flow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_again_neither_loses_nor_repeats_a_window() {
    let mut world = world(1).await;
    world.create_stream_table("");
    world.sql(COUNTS_TABLE).await;
    let flow = world.flow();
    flow.start("default", COUNTS).unwrap();
    world
        .put(&[
            (0, "08:01:00", "A"),
            (0, "08:11:00", "A"),
            (0, "08:12:00", "B"),
        ])
        .await;
    wait_rows(&mut world, ALL_COUNTS, 1).await;
    // The server stops (the job stays RUNNING in the catalog) while the
    // window 08:10 is open, and starts again.
    flow.shutdown().await;
    drop(flow);
    world
        .put(&[(0, "08:13:00", "A"), (0, "08:25:00", "A")])
        .await;
    let flow = world.flow();
    assert_eq!(flow.list().unwrap()[0].state, "RUNNING");
    let all = wait_rows(&mut world, ALL_COUNTS, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(all, world.sql(ALL_COUNTS).await, "no more rows come");
    assert_eq!(
        all,
        rows(&[
            &["A", "2020-04-15T08:00:00", "1"],
            &["A", "2020-04-15T08:10:00", "2"],
            &["B", "2020-04-15T08:10:00", "1"],
        ])
    );
    flow.shutdown().await;
}

/// With an allowed lateness, a late row for a fired window within it
/// emits the window again, whole (an update: a second row for it); past
/// the lateness a row is late as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_lateness_emits_a_fired_window_again_with_its_late_rows() {
    let mut world = world(1).await;
    world.create_stream_table(", 'allowed-lateness' = '10 min'");
    world.sql(COUNTS_TABLE).await;
    let flow = world.flow();
    flow.start("default", COUNTS).unwrap();
    world
        .put(&[(0, "08:01:00", "A"), (0, "08:12:00", "B")])
        .await;
    let first = wait_rows(&mut world, ALL_COUNTS, 1).await;
    assert_eq!(first, rows(&[&["A", "2020-04-15T08:00:00", "1"]]));
    // Late for 08:00-08:10 (the watermark is 08:11:55), within 10 minutes.
    world.put(&[(0, "08:02:00", "A")]).await;
    let mut updated = wait_rows(&mut world, ALL_COUNTS, 2).await;
    updated.sort();
    assert_eq!(
        updated,
        rows(&[
            &["A", "2020-04-15T08:00:00", "1"],
            &["A", "2020-04-15T08:00:00", "2"],
        ])
    );
    // 08:35 passes 08:10's window and the lateness of 08:00's; a row for
    // 08:00 put after it (a put of its own, so no read can take it in the
    // same batch, before the watermark moves) is late.
    world.put(&[(0, "08:35:00", "C")]).await;
    let mut all = wait_rows(&mut world, ALL_COUNTS, 3).await;
    all.sort();
    world.put(&[(0, "08:03:00", "A")]).await;
    let mut late = 0;
    for _ in 0..100 {
        late = flow.list().unwrap()[0].late;
        if late == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(late, 1);
    let mut again = world.sql(ALL_COUNTS).await;
    again.sort();
    assert_eq!(all, again);
    assert_eq!(
        all,
        rows(&[
            &["A", "2020-04-15T08:00:00", "1"],
            &["A", "2020-04-15T08:00:00", "2"],
            &["B", "2020-04-15T08:10:00", "1"],
        ])
    );
    flow.shutdown().await;
}

/// Flink's SESSION windows: per station, rows less than the gap apart
/// share a window that ends a gap after its last row (expected rows from
/// Flink's documented semantics), across a restart while a session is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_windows_close_a_gap_after_their_last_row_across_a_restart() {
    let mut world = world(1).await;
    world.create_stream_table("");
    world.sql(COUNTS_TABLE).await;
    let sessions = "INSERT INTO counts \
        SELECT station, window_start, window_end, COUNT(*) AS vehicles \
        FROM TABLE(SESSION(TABLE tolls PARTITION BY station, DESCRIPTOR(ts), INTERVAL '5' MINUTES)) \
        GROUP BY station, window_start, window_end";
    let all = "SELECT station, window_start, window_end, vehicles FROM counts \
        ORDER BY window_start, station";
    let flow = world.flow();
    flow.start("default", sessions).unwrap();
    world
        .put(&[
            (0, "08:00:00", "A"),
            (0, "08:01:00", "B"),
            (0, "08:03:00", "A"),
            // The watermark (08:07:55) passes B's session end, not A's.
            (0, "08:08:00", "C"),
        ])
        .await;
    let fired = wait_rows(&mut world, all, 1).await;
    assert_eq!(
        fired,
        rows(&[&["B", "2020-04-15T08:01:00", "2020-04-15T08:06:00", "1"]])
    );
    flow.shutdown().await;
    drop(flow);
    // A's session grows while the job is down; C's row starts one.
    world
        .put(&[
            (0, "08:07:30", "A"),
            (0, "08:20:00", "A"),
            (0, "09:00:00", "Z"),
        ])
        .await;
    let flow = world.flow();
    let got = wait_rows(&mut world, all, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got, world.sql(all).await, "no more rows come");
    assert_eq!(
        got,
        rows(&[
            &["A", "2020-04-15T08:00:00", "2020-04-15T08:12:30", "3"],
            &["B", "2020-04-15T08:01:00", "2020-04-15T08:06:00", "1"],
            &["C", "2020-04-15T08:08:00", "2020-04-15T08:13:00", "1"],
            &["A", "2020-04-15T08:20:00", "2020-04-15T08:25:00", "1"],
        ])
    );
    flow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_go_to_a_stream_as_json_records_keyed_by_the_partition_columns() {
    let world = world(1).await;
    world.create_stream_table("");
    world
        .streams
        .create("alerts", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    world.create(
        "CREATE TABLE alerts (station STRING, window_start TIMESTAMP(3), vehicles BIGINT) \
         PARTITIONED BY (station) WITH ('connector' = 'kinesis', 'stream' = 'alerts', 'format' = 'json')",
    );
    let flow = world.flow();
    flow.start(
        "default",
        "INSERT INTO alerts SELECT station, window_start, COUNT(*) AS vehicles \
         FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) \
         GROUP BY station, window_start, window_end HAVING COUNT(*) < 2",
    )
    .unwrap();
    world
        .put(&[
            (0, "08:01:00", "A"),
            (0, "08:02:00", "A"),
            (0, "08:03:00", "B"),
            (0, "08:30:00", "A"),
        ])
        .await;
    let log = world.streams.get("alerts").unwrap().log(0).unwrap();
    let mut records = Vec::new();
    for _ in 0..200 {
        records = log
            .read(nuage_streams::Position::at(0), 10, 1 << 20)
            .unwrap()
            .records;
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(records.len(), 1, "only B was under 2 vehicles");
    let value: serde_json::Value = serde_json::from_slice(&records[0].data).unwrap();
    assert_eq!(value["station"], "B");
    assert_eq!(value["vehicles"], 1);
    // Flink's json format writes TIMESTAMP(3) in its SQL form by default.
    assert_eq!(value["window_start"], "2020-04-15 08:00:00.000");
    assert_eq!(records[0].partition_key, "B");
    flow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_stream_filtered_without_a_window_lands_in_a_lake_table() {
    let mut world = world(1).await;
    world.create(
        "CREATE TABLE raw_tolls (ts TIMESTAMP(3), station STRING, amount DOUBLE, \
         pk STRING METADATA FROM 'partition-key' VIRTUAL, cents AS amount * 100) \
         WITH ('connector' = 'kinesis', 'stream' = 'tolls', 'format' = 'csv', \
         'csv.field-delimiter' = ';', 'csv.ignore-parse-errors' = 'true', \
         'scan.stream.initpos' = 'TRIM_HORIZON')",
    );
    world
        .sql("CREATE TABLE big (station STRING, cents DOUBLE, pk STRING)")
        .await;
    let flow = world.flow();
    flow.start(
        "default",
        "INSERT INTO big SELECT station, cents, pk FROM raw_tolls WHERE amount > 5",
    )
    .unwrap();
    for (key, line) in [
        ("k1", "2020-04-15 08:00:00;A;7.5"),
        ("k2", "2020-04-15 08:00:01;B;2.0"),
        ("k3", "not a time;C;oops"),
        ("k4", "2020-04-15 08:00:02;D;9.25"),
    ] {
        world
            .streams
            .put(
                "tolls",
                &[PutEntry {
                    partition_key: key.into(),
                    data: Bytes::from(line),
                    explicit_hash_key: None,
                }],
            )
            .await
            .unwrap();
    }
    let rows = wait_rows(&mut world, "SELECT * FROM big ORDER BY station", 2).await;
    assert_eq!(
        rows,
        rows_of(&[&["A", "750.0", "k1"], &["D", "925.0", "k4"]])
    );
    let status = &flow.list().unwrap()[0];
    assert_eq!((status.events_in, status.events_out), (3, 2));
    flow.shutdown().await;
}

fn rows_of(expected: &[&[&str]]) -> Vec<Vec<String>> {
    rows(expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_aggregations_give_each_row_its_frame_across_a_restart() {
    let mut world = world(1).await;
    world.create_stream_table("");
    world
        .sql("CREATE TABLE recent (station STRING, ts TIMESTAMP, total DOUBLE) STORED AS PARQUET")
        .await;
    world
        .sql(
            "CREATE TABLE crossings (station STRING, ts TIMESTAMP, total DOUBLE) STORED AS PARQUET",
        )
        .await;
    let flow = world.flow();
    // A sliding 10-minute sum per station, and the rows where a running
    // (unbounded) sum passes 4.0.
    flow.start(
        "default",
        "INSERT INTO recent SELECT station, ts, SUM(amount) OVER (PARTITION BY station ORDER BY ts \
         RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW) AS total FROM tolls",
    )
    .unwrap();
    flow.start(
        "default",
        "INSERT INTO crossings SELECT station, ts, total FROM (SELECT station, ts, \
         SUM(amount) OVER (PARTITION BY station ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING \
         AND CURRENT ROW) AS total FROM tolls) t WHERE total > 4.0",
    )
    .unwrap();
    world
        .put(&[
            (0, "08:00:00", "A"),
            (0, "08:05:00", "A"),
            (0, "08:06:00", "B"),
            (0, "08:12:00", "A"),
        ])
        .await;
    let first = "SELECT station, ts, total FROM recent ORDER BY ts";
    assert_eq!(wait_rows(&mut world, first, 3).await.len(), 3);
    // The server stops while 08:12 waits for the watermark; 08:12's frame
    // needs 08:05, read again after the start.
    flow.shutdown().await;
    drop(flow);
    world
        .put(&[(0, "08:20:00", "A"), (0, "09:00:00", "C")])
        .await;
    let flow = world.flow();
    let all = wait_rows(&mut world, first, 5).await;
    assert_eq!(
        all,
        rows(&[
            &["A", "2020-04-15T08:00:00", "1.5"],
            &["A", "2020-04-15T08:05:00", "3.0"],
            &["B", "2020-04-15T08:06:00", "1.5"],
            &["A", "2020-04-15T08:12:00", "3.0"],
            &["A", "2020-04-15T08:20:00", "3.0"],
        ])
    );
    let crossings = wait_rows(
        &mut world,
        "SELECT station, ts, total FROM crossings ORDER BY ts",
        2,
    )
    .await;
    assert_eq!(
        crossings,
        rows(&[
            &["A", "2020-04-15T08:12:00", "4.5"],
            &["A", "2020-04-15T08:20:00", "6.0"],
        ])
    );
    flow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_go_through_firehose_into_the_lake_as_json_lines() {
    let mut world = world(1).await;
    world.create_stream_table("");
    let lake = world.session.shared().lake.clone();
    lake.make_bucket("dest").await.unwrap();
    let services = nuage_delivery::Services {
        lake,
        catalog: world.session.shared().metastore.clone(),
        functions: world.data_dir.join("functions"),
        invoker: None,
    };
    let deliveries = Arc::new(
        nuage_delivery::Deliveries::open(
            nuage_delivery::DeliveriesConfig::new(world.data_dir.join("firehose")),
            services,
            None,
        )
        .unwrap(),
    );
    let destination: nuage_delivery::S3Destination = serde_json::from_value(serde_json::json!({
        "BucketARN": "arn:aws:s3:::dest",
        "RoleARN": "arn:aws:iam::000000000000:role/firehose",
        "Prefix": "counts/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
    }))
    .unwrap();
    deliveries
        .create(nuage_delivery::NewDelivery {
            name: "counts-out".into(),
            source: nuage_delivery::Source::DirectPut,
            destination,
            tags: BTreeMap::new(),
            encryption: None,
        })
        .unwrap();
    world.deliveries = Some(deliveries.clone());
    world.create(
        "CREATE TABLE counts_out (station STRING, vehicles BIGINT) \
         WITH ('connector' = 'firehose', 'delivery-stream' = 'counts-out', 'format' = 'json')",
    );
    let flow = world.flow();
    flow.start(
        "default",
        "INSERT INTO counts_out SELECT station, COUNT(*) AS vehicles \
         FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) \
         GROUP BY station, window_start, window_end",
    )
    .unwrap();
    world
        .put(&[
            (0, "08:01:00", "A"),
            (0, "08:02:00", "A"),
            (0, "08:03:00", "B"),
            (0, "08:30:00", "A"),
        ])
        .await;
    let mut lines: Vec<String> = Vec::new();
    for _ in 0..100 {
        lines = files_under(&world.data_dir.join("lake/dest/counts"))
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        if lines.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lines.sort();
    assert_eq!(
        lines,
        [
            r#"{"station":"A","vehicles":2}"#,
            r#"{"station":"B","vehicles":1}"#
        ]
    );
    flow.shutdown().await;
    deliveries.shutdown().await;
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_fails_stops_the_job_with_its_error() {
    let world = world(1).await;
    world.create_stream_table("");
    world.create(
        "CREATE TABLE gone (station STRING, vehicles BIGINT) \
         WITH ('connector' = 'kinesis', 'stream' = 'gone', 'format' = 'json')",
    );
    let flow = world.flow();
    let id = flow
        .start(
            "default",
            "INSERT INTO gone SELECT station, COUNT(*) AS vehicles \
             FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '10' MINUTES)) \
             GROUP BY station, window_start, window_end",
        )
        .unwrap();
    world
        .put(&[(0, "08:01:00", "A"), (0, "08:30:00", "A")])
        .await;
    let mut status = flow.list().unwrap()[0].clone();
    for _ in 0..200 {
        status = flow.list().unwrap()[0].clone();
        if status.state != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status.id, id);
    assert_eq!(status.state, "FAILED");
    let error = status.error.unwrap_or_default();
    assert!(error.contains("stream gone"), "{error}");
    // A failed job does not start again with the server.
    flow.shutdown().await;
    drop(flow);
    let flow = world.flow();
    assert_eq!(flow.list().unwrap()[0].state, "FAILED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_starts_after_what_the_stream_holds() {
    let mut world = world(1).await;
    // A later option of the same key wins, as in a WITH list.
    world.create_stream_table(", 'scan.stream.initpos' = 'LATEST'");
    world.sql(COUNTS_TABLE).await;
    world
        .put(&[(0, "08:01:00", "A"), (0, "08:02:00", "A")])
        .await;
    let flow = world.flow();
    let id = flow.start("default", COUNTS).unwrap();
    // The job notes where each shard ends (its first checkpoint) before
    // these arrive.
    let checkpoint = world
        .data_dir
        .join("flow")
        .join(&id)
        .join("checkpoint.json");
    for _ in 0..200 {
        if checkpoint.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world
        .put(&[(0, "08:05:00", "A"), (0, "08:30:00", "A")])
        .await;
    let fired = wait_rows(&mut world, ALL_COUNTS, 1).await;
    assert_eq!(fired, rows(&[&["A", "2020-04-15T08:00:00", "1"]]));
    flow.shutdown().await;
}

/// A GROUP BY without a window is an updating result: into a stream
/// table with Flink's debezium-json format, each change is a record (an
/// update a "d" of the old row then a "c" of the new one, as Flink writes
/// it), across a restart; into a lake table it is refused as Flink does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_by_without_a_window_writes_its_changes_as_debezium_json() {
    let mut world = world(1).await;
    world.create_stream_table("");
    world
        .streams
        .create("totals", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    world.create(
        "CREATE TABLE totals (station STRING, vehicles BIGINT) WITH ('connector' = 'kinesis', \
         'stream' = 'totals', 'format' = 'debezium-json')",
    );
    world.sql(COUNTS_TABLE).await;
    let flow = world.flow();
    let refused = flow
        .start(
            "default",
            "INSERT INTO counts SELECT station, NULL, NULL, COUNT(*) FROM tolls GROUP BY station",
        )
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("doesn't support consuming update changes")
            && refused.contains("'format' = 'debezium-json'"),
        "{refused}"
    );
    let totals =
        "INSERT INTO totals SELECT station, COUNT(*) AS vehicles FROM tolls GROUP BY station";
    assert!(
        flow.explain("default", totals)
            .unwrap()
            .unwrap()
            .contains("GroupAggregate (updating)")
    );
    flow.start("default", totals).unwrap();
    let log = world.streams.get("totals").unwrap().log(0).unwrap();
    let records = |n: usize| {
        let log = log.clone();
        async move {
            for _ in 0..200 {
                let batch = log
                    .read(nuage_streams::Position::at(0), 100, 1 << 20)
                    .unwrap();
                if batch.records.len() >= n {
                    return batch
                        .records
                        .iter()
                        .map(|r| String::from_utf8_lossy(&r.data).into_owned())
                        .collect::<Vec<_>>();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("fewer than {n} changes");
        }
    };
    world.put(&[(0, "08:01:00", "A")]).await;
    records(1).await;
    world.put(&[(0, "08:02:00", "A")]).await;
    records(3).await;
    world.put(&[(0, "08:03:00", "B")]).await;
    records(4).await;
    flow.shutdown().await;
    drop(flow);
    world.put(&[(0, "08:04:00", "A")]).await;
    let flow = world.flow();
    let all = records(6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let row = |station: &str, n: u32| format!(r#"{{"station":"{station}","vehicles":{n}}}"#);
    let c = |s, n| format!(r#"{{"before":null,"after":{},"op":"c"}}"#, row(s, n));
    let d = |s, n| format!(r#"{{"before":{},"after":null,"op":"d"}}"#, row(s, n));
    assert_eq!(
        all,
        [
            c("A", 1),
            d("A", 1),
            c("A", 2),
            c("B", 1),
            d("A", 2),
            c("A", 3)
        ]
    );
    assert_eq!(records(6).await.len(), 6, "no change twice");
    flow.shutdown().await;
}
