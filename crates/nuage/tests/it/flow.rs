//! Continuous SQL through `nuage sql` against `nuage serve`: the toll
//! scenario of the Kinesis whitepaper on events made from MovieLens
//! ratings (each rating a vehicle at a station, at the rating's time),
//! put on a 4-shard stream with the AWS SDK. Every job's output is
//! compared with the same question asked of the same events by DuckDB,
//! across a `kill -9` of the server in the middle.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::movies::datasets;
use crate::s3_api::venv_python;
use crate::streams::{Server, runtime};
use crate::{nuage, run_ok};

const SHARDS: u128 = 4;

/// Toll events from MovieLens 100k, in time order: station S<item mod 8>,
/// customer C<user mod 50>, amount = rating * 1.25.
pub(crate) fn toll_events() -> Vec<String> {
    let text = std::fs::read_to_string(datasets().join("ml-100k/ratings.tsv")).unwrap();
    let mut events: Vec<(i64, String)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<i64> = line.split('\t').map(|x| x.parse().unwrap()).collect();
            let ts = chrono::DateTime::from_timestamp(f[3], 0).unwrap();
            let json = format!(
                r#"{{"ts": "{}", "station": "S{}", "customer": "C{}", "amount": {}}}"#,
                ts.format("%Y-%m-%d %H:%M:%S"),
                f[1] % 8,
                f[0] % 50,
                f[2] as f64 * 1.25
            );
            (f[3], json)
        })
        .collect();
    events.sort_by_key(|(t, _)| *t);
    events.into_iter().map(|(_, e)| e).collect()
}

async fn put(server: &Server, events: &[String]) {
    let client = server.client();
    for chunk in events.chunks(500) {
        let entries: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|e| {
                let customer = e.split("\"customer\": \"").nth(1).unwrap();
                PutRecordsRequestEntry::builder()
                    .partition_key(&customer[..customer.find('"').unwrap()])
                    .data(Blob::new(e.as_bytes()))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = client
            .put_records()
            .stream_name("tolls")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// One far-future event on every shard: each shard's watermark passes
/// every real window, so all of them fire (the flush's own never does).
async fn flush(server: &Server) {
    let client = server.client();
    for shard in 0..SHARDS {
        client
            .put_record()
            .stream_name("tolls")
            .partition_key("flush")
            .explicit_hash_key((shard << 126).to_string())
            .data(Blob::new(
                r#"{"ts": "2030-01-01 00:00:00", "station": "FLUSH", "customer": "FLUSH", "amount": 0}"#,
            ))
            .send()
            .await
            .unwrap();
    }
}

const SETUP: &str = r#"
CREATE TABLE tolls (
  ts TIMESTAMP(3), station STRING, customer STRING, amount DOUBLE,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'stream' = 'tolls', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON');
CREATE TABLE station_minimums (station STRING, min_vehicles BIGINT);
INSERT INTO station_minimums VALUES ('S0', 12), ('S1', 12), ('S2', 12), ('S3', 12),
  ('S4', 12), ('S5', 12), ('S6', 12), ('S7', 12), ('S9', 1);
CREATE TABLE station_counts (station STRING, window_start TIMESTAMP, window_end TIMESTAMP, vehicles BIGINT) STORED AS PARQUET;
CREATE TABLE low_traffic (station STRING, window_start TIMESTAMP, vehicles BIGINT, min_vehicles BIGINT) STORED AS PARQUET;
CREATE TABLE customer_spend (customer STRING, window_start TIMESTAMP, spend DOUBLE) STORED AS PARQUET;
CREATE TABLE customer_limits (customer STRING, monthly_limit DOUBLE);
CREATE TABLE over_limit (customer STRING, ts TIMESTAMP, month_total DOUBLE, monthly_limit DOUBLE) STORED AS PARQUET;
"#;

/// Requirement 3: vehicles per station per 30 minutes.
const COUNTS: &str = "INSERT INTO station_counts
SELECT station, window_start, window_end, COUNT(*) AS vehicles
FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '30' MINUTES))
GROUP BY station, window_start, window_end";

/// Requirement 3's alerts against the minimums, with zero-count windows
/// for listed stations that sent nothing (S9: a broken sensor).
const LOW_TRAFFIC: &str = "INSERT INTO low_traffic
SELECT m.station, w.window_start, COALESCE(c.vehicles, 0) AS vehicles, m.min_vehicles
FROM (SELECT DISTINCT window_start FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '30' MINUTES))) w
CROSS JOIN station_minimums m
LEFT JOIN (SELECT station, window_start, COUNT(*) AS vehicles
           FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '30' MINUTES))
           GROUP BY station, window_start) c
  ON c.station = m.station AND c.window_start = w.window_start
WHERE COALESCE(c.vehicles, 0) < m.min_vehicles";

/// Requirement 2: spend per customer per 10 minutes.
const SPEND: &str = "INSERT INTO customer_spend
SELECT customer, window_start, SUM(amount) AS spend
FROM TABLE(TUMBLE(TABLE tolls, DESCRIPTOR(ts), INTERVAL '10' MINUTES))
GROUP BY customer, window_start, window_end";

/// Requirement 2's monthly crossings: each toll whose running monthly
/// total is over the customer's limit (RANGE: tolls of the same second count
/// together, as in Flink and DuckDB).
const OVER_LIMIT: &str = "INSERT INTO over_limit
SELECT t.customer, t.ts, t.month_total, l.monthly_limit
FROM (SELECT customer, ts, SUM(amount) OVER (
        PARTITION BY customer, date_format(ts, 'yyyy-MM') ORDER BY ts
        RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS month_total
      FROM tolls) t
JOIN customer_limits l ON t.customer = l.customer
WHERE t.month_total > l.monthly_limit";

/// The same questions asked of the events by DuckDB.
const ORACLE: &str = r#"
import duckdb, sys
con = duckdb.connect()
con.execute("CREATE TABLE e AS SELECT CAST(ts AS TIMESTAMP) ts, station, customer, CAST(amount AS DOUBLE) amount FROM read_json_auto(?)", [sys.argv[1]])
con.execute("CREATE TABLE m AS SELECT * FROM (VALUES ('S0', 12), ('S1', 12), ('S2', 12), ('S3', 12), ('S4', 12), ('S5', 12), ('S6', 12), ('S7', 12), ('S9', 1)) t(station, min_vehicles)")
def show(name, sql):
    for row in con.execute(sql).fetchall():
        print(name + "\t" + "\t".join(str(v) for v in row))
show("counts", "SELECT station, time_bucket(INTERVAL 30 MINUTE, ts) w, COUNT(*) FROM e GROUP BY ALL ORDER BY w, station")
show("low", """WITH c AS (SELECT station, time_bucket(INTERVAL 30 MINUTE, ts) w, COUNT(*) n FROM e GROUP BY ALL),
  ws AS (SELECT DISTINCT w FROM c)
  SELECT m.station, ws.w, COALESCE(c.n, 0), m.min_vehicles FROM ws CROSS JOIN m
  LEFT JOIN c ON c.station = m.station AND c.w = ws.w
  WHERE COALESCE(c.n, 0) < m.min_vehicles ORDER BY ws.w, m.station""")
show("spend", "SELECT customer, time_bucket(INTERVAL 10 MINUTE, ts) w, SUM(amount) FROM e GROUP BY ALL ORDER BY w, customer")
con.execute("CREATE TABLE l AS SELECT 'C' || n AS customer, CASE WHEN n < 10 THEN 500.0 ELSE 1500.0 END AS monthly_limit FROM range(50) t(n)")
show("over", """SELECT t.customer, t.ts, t.total, l.monthly_limit FROM (
  SELECT customer, ts, SUM(amount) OVER (PARTITION BY customer, strftime(ts, '%Y-%m') ORDER BY ts
    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) total FROM e) t
  JOIN l USING (customer) WHERE t.total > l.monthly_limit""")
"#;

/// Rows by table as sorted text lines (doubles to 6 places).
pub(crate) type Answers = BTreeMap<String, Vec<String>>;

pub(crate) fn normalize(table: &str, fields: &[&str]) -> String {
    let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    if table == "spend" || table == "over" {
        for field in fields.iter_mut().skip(2) {
            let v: f64 = field.parse().unwrap();
            *field = format!("{v:.6}");
        }
    }
    fields.join("\t")
}

/// Runs a DuckDB script (Python) written into `dir` with `args`; its output.
pub(crate) fn duckdb(dir: &Path, script: &str, args: &[&Path]) -> String {
    let path = dir.join("oracle.py");
    std::fs::write(&path, script).unwrap();
    let out = std::process::Command::new(venv_python())
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn oracle(dir: &Path, events: &[String]) -> Answers {
    let file = dir.join("events.jsonl");
    std::fs::write(&file, events.join("\n")).unwrap();
    let mut answers = Answers::new();
    for line in duckdb(dir, ORACLE, &[&file]).lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        answers
            .entry(fields[0].to_string())
            .or_default()
            .push(normalize(fields[0], &fields[1..]));
    }
    answers
}

fn nuage_answers(dir: &Path) -> Answers {
    let queries = [
        (
            "counts",
            "SELECT station, window_start, vehicles FROM station_counts",
        ),
        (
            "low",
            "SELECT station, window_start, vehicles, min_vehicles FROM low_traffic",
        ),
        (
            "spend",
            "SELECT customer, window_start, spend FROM customer_spend",
        ),
        (
            "over",
            "SELECT customer, ts, month_total, monthly_limit FROM over_limit",
        ),
    ];
    let mut answers = Answers::new();
    for (name, sql) in queries {
        let (out, _) = run_ok(nuage(dir).args(["sql", "-S", "-e", sql]));
        let mut lines: Vec<String> = out
            .lines()
            .map(|l| normalize(name, &l.split('\t').collect::<Vec<_>>()))
            .collect();
        lines.sort();
        answers.insert(name.to_string(), lines);
    }
    answers
}

/// Waits (two minutes at most) for `read` to give `expected`, then
/// asserts it does, table by table.
pub(crate) fn assert_answers_come(expected: &Answers, read: impl Fn() -> Answers) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = read();
    while got != *expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        got = read();
    }
    for (name, lines) in expected {
        let mine = &got[name];
        assert_eq!(
            mine.len(),
            lines.len(),
            "{name}: {} rows from nuage, {} from DuckDB",
            mine.len(),
            lines.len()
        );
        assert_eq!(mine, lines, "{name}");
    }
}

pub(crate) fn sorted(mut answers: Answers) -> Answers {
    for lines in answers.values_mut() {
        lines.sort();
    }
    answers
}

fn start_job(dir: &Path, statement: &str) -> String {
    let (out, _) = run_ok(nuage(dir).args(["sql", "-S", "-e", statement]));
    let id = out.trim().to_string();
    assert_eq!(id.len(), 32, "a job id: {out}");
    id
}

#[test]
fn the_toll_jobs_answer_like_duckdb_across_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events = toll_events();
    let expected = sorted(oracle(dir.path(), &events));
    assert!(expected["low"].iter().any(|l| l.starts_with("S9\t")));
    eprintln!(
        "DuckDB: {} station windows, {} alerts, {} customer windows, {} tolls over a monthly limit",
        expected["counts"].len(),
        expected["low"].len(),
        expected["spend"].len(),
        expected["over"].len()
    );
    assert!(expected["counts"].len() > 10_000 && expected["spend"].len() > 5_000);

    run_ok(nuage(&data).args(["sql", "-S", "-e", SETUP]));
    // SHOW CREATE TABLE gives a stream table's own statement.
    let (ddl, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW CREATE TABLE tolls"]));
    assert!(
        ddl.contains("WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"),
        "{ddl}"
    );
    let limits: Vec<String> = (0..50)
        .map(|n| format!("('C{n}', {})", if n < 10 { 500.0 } else { 1500.0 }))
        .collect();
    run_ok(nuage(&data).args([
        "sql",
        "-S",
        "-e",
        &format!("INSERT INTO customer_limits VALUES {}", limits.join(", ")),
    ]));
    // Without a server, a job cannot start, and says what to do.
    let refused = nuage(&data)
        .args(["sql", "-S", "-e", COUNTS])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("start one (nuage --data-dir"), "{stderr}");

    let server = Server::start(&data, &[]);
    let rt = runtime();
    rt.block_on(async {
        server
            .client()
            .create_stream()
            .stream_name("tolls")
            .shard_count(SHARDS as i32)
            .send()
            .await
            .unwrap();
    });
    let half = events.len() / 2;
    rt.block_on(put(&server, &events[..half]));
    let ids: Vec<String> = [COUNTS, LOW_TRAFFIC, SPEND, OVER_LIMIT]
        .iter()
        .map(|s| start_job(&data, s))
        .collect();
    let (jobs, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW JOBS"]));
    for id in &ids {
        assert!(jobs.contains(&format!("{id}\t")), "{jobs}");
    }
    // Some windows fire (the first half's watermark passes them), then the
    // server dies without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (out, _) =
            run_ok(nuage(&data).args(["sql", "-S", "-e", "SELECT COUNT(*) FROM customer_spend"]));
        if out.trim() != "0" || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    server.kill();

    let server = Server::start(&data, &[]);
    rt.block_on(put(&server, &events[half..]));
    rt.block_on(flush(&server));
    assert_answers_come(&expected, || nuage_answers(&data));
    let (jobs, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW JOBS"]));
    assert_eq!(jobs.matches("\tRUNNING\t").count(), 4, "{jobs}");
    run_ok(nuage(&data).args(["sql", "-S", "-e", &format!("STOP JOB '{}'", ids[0])]));
    let (jobs, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW JOBS"]));
    assert!(
        jobs.contains(&format!("{}\t", ids[0])) && jobs.contains("\tSTOPPED\t"),
        "{jobs}"
    );
}

/// A one-shard stream `clicks` and its stream table.
fn clicks(server: &Server, data: &Path) {
    runtime().block_on(async {
        server
            .client()
            .create_stream()
            .stream_name("clicks")
            .shard_count(1)
            .send()
            .await
            .unwrap();
    });
    run_ok(nuage(data).args([
        "sql",
        "-S",
        "-e",
        "CREATE TABLE clicks (page STRING, ms INT) WITH ('connector' = 'kinesis', \
         'stream' = 'clicks', 'format' = 'json', 'scan.stream.initpos' = 'TRIM_HORIZON')",
    ]));
}

/// Clicks `{"page": "p<i>", "ms": <i>}` for each i, in order.
fn put_clicks(server: &Server, clicks: std::ops::Range<i32>) {
    runtime().block_on(async {
        let client = server.client();
        for i in clicks {
            client
                .put_record()
                .stream_name("clicks")
                .partition_key("k")
                .data(Blob::new(format!(r#"{{"page": "p{i}", "ms": {i}}}"#)))
                .send()
                .await
                .unwrap();
        }
    })
}

/// A SELECT from a stream table in `nuage sql` shows its rows as they
/// come (as Flink's SQL client does), here until its LIMIT; the stream and
/// table it used for that are gone afterwards.
#[test]
fn a_select_from_a_stream_shows_its_rows_until_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    clicks(&server, &data);
    put_clicks(&server, 0..10);
    let (out, err) = run_ok(nuage(&data).args([
        "sql",
        "-S",
        "-e",
        "SELECT page, ms * 2 AS twice, ms / 2 AS half FROM clicks WHERE ms % 2 = 1 LIMIT 3",
    ]));
    // The odd clicks in the order they were put, doubled and halved as
    // Flink SQL divides INTs (an INT, not Hive's DOUBLE).
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["p1\t2\t0", "p3\t6\t1", "p5\t10\t2"],
        "{err}"
    );
    let (tables, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW TABLES"]));
    assert_eq!(tables.trim(), "clicks");
    let streams =
        runtime().block_on(async { server.client().list_streams().send().await.unwrap() });
    assert_eq!(streams.stream_names(), ["clicks"]);
    server.kill();
}

/// A GROUP BY without a window in `nuage sql` shows its result changing,
/// as Flink's SQL client does in changelog mode: an `op` column, `+I` for
/// a new row, `-U`/`+U` for a row before and after an update.
#[test]
fn a_select_with_a_group_by_shows_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    clicks(&server, &data);
    put_clicks(&server, 0..10);
    let preview = nuage(&data)
        .args([
            "sql",
            "-S",
            "-e",
            "SELECT ms % 2 AS odd, COUNT(*) AS n FROM clicks GROUP BY ms % 2 LIMIT 4",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The ten clicks are counted first; then one more odd one comes.
    std::thread::sleep(Duration::from_secs(3));
    put_clicks(&server, 11..12);
    let out = preview.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        4,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut first: Vec<&str> = lines[..2].to_vec();
    first.sort();
    assert_eq!(first, ["+I\t0\t5", "+I\t1\t5"]);
    assert_eq!(lines[2..], ["-U\t1\t5", "+U\t1\t6"]);
    server.kill();
}
