//! Interval joins through `nuage sql` against `nuage serve`: orders and
//! shipments made from MovieLens ratings (each rating an order at the
//! rating's time; ratings of 2 and more ship `item mod 360` minutes
//! later), put on two 2-shard streams with the AWS SDK as time goes by.
//! Three joins (one-to-one within 4 hours, the same as a LEFT join that
//! pads the orders not shipped in time, many-to-many within a minute)
//! must give exactly what DuckDB gives for the same joins of all the
//! events, across a `kill -9` of the server in the middle.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::flow::{Answers, assert_answers_come, duckdb, sorted};
use crate::movies::datasets;
use crate::streams::{Server, runtime};
use crate::{nuage, run_ok};

/// An event for one of the two streams, at `at` (seconds).
struct Event {
    at: i64,
    shipment: bool,
    customer: String,
    json: String,
}

fn events() -> Vec<Event> {
    let text = std::fs::read_to_string(datasets().join("ml-100k/ratings.tsv")).unwrap();
    let mut ratings: Vec<[i64; 4]> = text
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<i64> = line.split('\t').map(|x| x.parse().unwrap()).collect();
            [f[0], f[1], f[2], f[3]]
        })
        .collect();
    ratings.sort_by_key(|[user, item, _, at]| (*at, *user, *item));
    let time = |at: i64| {
        chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let mut events = Vec::new();
    for (i, [user, item, rating, at]) in ratings.into_iter().enumerate() {
        let (id, customer) = (i + 1, format!("C{}", user % 50));
        events.push(Event {
            at,
            shipment: false,
            json: format!(
                r#"{{"order_id": {id}, "ts": "{}", "customer": "{customer}", "item": {item}}}"#,
                time(at)
            ),
            customer: customer.clone(),
        });
        if rating >= 2 {
            let shipped = at + (item % 360) * 60;
            let carrier = ["ups", "dhl", "fedex"][(item % 3) as usize];
            events.push(Event {
                at: shipped,
                shipment: true,
                json: format!(
                    r#"{{"order_id": {id}, "ts": "{}", "customer": "{customer}", "carrier": "{carrier}"}}"#,
                    time(shipped)
                ),
                customer,
            });
        }
    }
    // As time goes by: each stream in time order.
    events.sort_by_key(|e| e.at);
    events
}

const SETUP: &str = r#"
CREATE TABLE orders (order_id BIGINT, ts TIMESTAMP(3), customer STRING, item INT,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'stream' = 'orders', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON');
CREATE TABLE shipments (order_id BIGINT, ts TIMESTAMP(3), customer STRING, carrier STRING,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kinesis', 'stream' = 'shipments', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON');
CREATE TABLE shipped (order_id BIGINT, carrier STRING, ordered TIMESTAMP, shipped TIMESTAMP) STORED AS PARQUET;
CREATE TABLE near (order_id BIGINT, shipment_of BIGINT, customer STRING) STORED AS PARQUET;
CREATE TABLE in_time (order_id BIGINT, carrier STRING) STORED AS PARQUET;
"#;

/// Orders shipped within four hours (Flink's documented example).
const SHIPPED: &str = "INSERT INTO shipped
SELECT o.order_id, s.carrier, o.ts, s.ts
FROM orders o JOIN shipments s ON o.order_id = s.order_id
  AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR";

/// Every order, with its carrier when it shipped within four hours, or
/// NULL once no shipment can come in time.
const IN_TIME: &str = "INSERT INTO in_time
SELECT o.order_id, s.carrier
FROM orders o LEFT JOIN shipments s ON o.order_id = s.order_id
  AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR";

/// Orders a customer placed in the minute before another of their orders
/// shipped (many rows of each side meet many of the other).
const NEAR: &str = "INSERT INTO near
SELECT o.order_id, s.order_id, o.customer
FROM orders o, shipments s
WHERE o.customer = s.customer AND o.order_id <> s.order_id
  AND o.ts >= s.ts - INTERVAL '1' MINUTE AND o.ts <= s.ts";

const ORACLE: &str = r#"
import duckdb, sys
con = duckdb.connect()
con.execute("CREATE TABLE o AS SELECT order_id, CAST(ts AS TIMESTAMP) ts, customer FROM read_json_auto(?)", [sys.argv[1]])
con.execute("CREATE TABLE s AS SELECT order_id, CAST(ts AS TIMESTAMP) ts, customer, carrier FROM read_json_auto(?)", [sys.argv[2]])
def show(name, sql):
    for row in con.execute(sql).fetchall():
        print(name + "\t" + "\t".join("NULL" if v is None else str(v) for v in row))
show("shipped", "SELECT o.order_id, s.carrier, o.ts, s.ts FROM o JOIN s ON o.order_id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL 4 HOUR")
show("in_time", "SELECT o.order_id, s.carrier FROM o LEFT JOIN s ON o.order_id = s.order_id AND s.ts BETWEEN o.ts AND o.ts + INTERVAL 4 HOUR")
show("near", "SELECT o.order_id, s.order_id, o.customer FROM o JOIN s ON o.customer = s.customer AND o.order_id <> s.order_id AND o.ts BETWEEN s.ts - INTERVAL 1 MINUTE AND s.ts")
"#;

fn oracle(dir: &Path, events: &[Event]) -> Answers {
    let mut files = Vec::new();
    for (name, shipment) in [("orders", false), ("shipments", true)] {
        let file = dir.join(format!("{name}.jsonl"));
        let lines: Vec<&str> = events
            .iter()
            .filter(|e| e.shipment == shipment)
            .map(|e| e.json.as_str())
            .collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        files.push(file);
    }
    let files: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    let mut answers = Answers::new();
    for line in duckdb(dir, ORACLE, &files).lines() {
        let (name, rest) = line.split_once('\t').unwrap();
        // DuckDB prints 2020-01-01 10:00:00, nuage sql 2020-01-01 10:00:00 too.
        answers
            .entry(name.to_string())
            .or_default()
            .push(rest.to_string());
    }
    sorted(answers)
}

fn nuage_answers(dir: &Path) -> Answers {
    let mut answers = Answers::new();
    for (name, sql) in [
        (
            "shipped",
            "SELECT order_id, carrier, ordered, shipped FROM shipped",
        ),
        ("near", "SELECT order_id, shipment_of, customer FROM near"),
        ("in_time", "SELECT order_id, carrier FROM in_time"),
    ] {
        let (out, _) = run_ok(nuage(dir).args(["sql", "-S", "-e", sql]));
        answers.insert(name.to_string(), out.lines().map(String::from).collect());
    }
    sorted(answers)
}

async fn put(server: &Server, events: &[Event]) {
    let client = server.client();
    for chunk in events.chunks(1000) {
        for (stream, shipment) in [("orders", false), ("shipments", true)] {
            let entries: Vec<PutRecordsRequestEntry> = chunk
                .iter()
                .filter(|e| e.shipment == shipment)
                .map(|e| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(&e.customer)
                        .data(Blob::new(e.json.as_bytes()))
                        .build()
                        .unwrap()
                })
                .collect();
            for part in entries.chunks(500) {
                let out = client
                    .put_records()
                    .stream_name(stream)
                    .set_records(Some(part.to_vec()))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(out.failed_record_count(), Some(0));
            }
        }
    }
}

#[test]
fn interval_joins_of_two_streams_answer_like_duckdb_across_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let events = events();
    let expected = oracle(dir.path(), &events);
    eprintln!(
        "DuckDB: {} orders shipped within 4 hours of {}, {} near pairs",
        expected["shipped"].len(),
        expected["in_time"].len(),
        expected["near"].len()
    );
    assert!(expected["shipped"].len() > 50_000 && expected["near"].len() > 10_000);
    run_ok(nuage(&data).args(["sql", "-S", "-e", SETUP]));
    let server = Server::start(&data, &[]);
    let rt = runtime();
    rt.block_on(async {
        for name in ["orders", "shipments"] {
            server
                .client()
                .create_stream()
                .stream_name(name)
                .shard_count(2)
                .send()
                .await
                .unwrap();
        }
    });
    let (plan, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", &format!("EXPLAIN {NEAR}")]));
    assert!(
        plan.contains("IntervalJoin: ts - ts within [-60000 ms, 0 ms]"),
        "{plan}"
    );
    for statement in [SHIPPED, IN_TIME, NEAR] {
        let (id, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", statement]));
        assert_eq!(id.trim().len(), 32, "a job id: {id}");
    }
    let half = events.len() / 2;
    rt.block_on(put(&server, &events[..half]));
    // Some rows are joined, then the server dies without warning.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (out, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SELECT COUNT(*) FROM near"]));
        if out.trim() != "0" || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    server.kill();
    let server = Server::start(&data, &[]);
    rt.block_on(put(&server, &events[half..]));
    // A shipment far ahead on each shard: the shipments' watermark passes
    // every order's four hours, so the last unshipped ones are padded.
    rt.block_on(async {
        for hash in [0u128, 1 << 127] {
            server
                .client()
                .put_record()
                .stream_name("shipments")
                .partition_key("flush")
                .explicit_hash_key(hash.to_string())
                .data(Blob::new(
                    r#"{"order_id": 0, "ts": "2030-01-01 00:00:00", "customer": "FLUSH", "carrier": "none"}"#,
                ))
                .send()
                .await
                .unwrap();
        }
    });
    assert_answers_come(&expected, || nuage_answers(&data));
    let (jobs, _) = run_ok(nuage(&data).args(["sql", "-S", "-e", "SHOW JOBS"]));
    assert_eq!(jobs.matches("\tRUNNING\t").count(), 3, "{jobs}");
    server.kill();
}
