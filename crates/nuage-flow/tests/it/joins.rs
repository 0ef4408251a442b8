//! Interval joins of two streams, as Flink documents them: a row of
//! either side meets the other side's rows within the time bounds, the
//! rows kept for that survive a restart, a row behind its side's
//! watermark is late (kept in the late-data stream, not joined), a LEFT
//! join pads an order with NULLs once no shipment can come for it, and a
//! join without time bounds is refused with what to write instead.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use nuage_streams::{PutEntry, StreamMode};

use crate::jobs::{World, rows, wait_rows, world};

const TABLES: [&str; 2] = [
    "CREATE TABLE orders (order_id INT, ts TIMESTAMP(3), customer STRING, \
     WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) \
     WITH ('connector' = 'kinesis', 'stream' = 'orders', 'format' = 'json', \
     'scan.stream.initpos' = 'TRIM_HORIZON')",
    "CREATE TABLE shipments (order_id INT, ts TIMESTAMP(3), carrier STRING, \
     WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) \
     WITH ('connector' = 'kinesis', 'stream' = 'shipments', 'format' = 'json', \
     'scan.stream.initpos' = 'TRIM_HORIZON', 'late-data.stream' = 'late')",
];

/// Flink's documented example: orders shipped within four hours.
const SHIPPED: &str = "INSERT INTO shipped \
    SELECT o.order_id, o.ts, s.ts, s.carrier \
    FROM orders o JOIN shipments s ON o.order_id = s.order_id \
    AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR";

const ALL_SHIPPED: &str =
    "SELECT order_id, ordered, shipped, carrier FROM shipped ORDER BY order_id";

async fn joined_world() -> World {
    let mut world = world(1).await;
    for name in ["orders", "shipments"] {
        world
            .streams
            .create(name, 1, StreamMode::Provisioned, BTreeMap::new())
            .unwrap();
    }
    for table in TABLES {
        world.create(table);
    }
    world
        .sql(
            "CREATE TABLE shipped (order_id INT, ordered TIMESTAMP, shipped TIMESTAMP, \
             carrier STRING) STORED AS PARQUET",
        )
        .await;
    world
}

/// `(order id, "HH:MM", text)` records on 2020-04-15 into `stream`.
async fn put(world: &World, stream: &str, events: &[(u32, &str, &str)]) {
    let field = if stream == "orders" {
        "customer"
    } else {
        "carrier"
    };
    for (id, time, text) in events {
        let data =
            format!(r#"{{"order_id": {id}, "ts": "2020-04-15 {time}:00", "{field}": "{text}"}}"#);
        world
            .streams
            .put(
                stream,
                &[PutEntry {
                    partition_key: id.to_string(),
                    data: Bytes::from(data),
                    explicit_hash_key: None,
                }],
            )
            .await
            .unwrap();
    }
}

async fn wait_events_in(flow: &nuage_flow::Flow, n: u64) {
    for _ in 0..200 {
        if flow.list().unwrap()[0].events_in >= n {
            // The round that read them has ended too.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job read fewer than {n} events: {:?}", flow.list());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_join_meets_rows_of_either_side_within_its_bounds_across_a_restart() {
    let mut world = joined_world().await;
    let flow = world.flow();
    let plan = flow.explain("default", SHIPPED).unwrap().unwrap();
    assert!(
        plan.contains("IntervalJoin: ts - ts within [-14400000 ms, 0 ms]"),
        "{plan}"
    );
    flow.start("default", SHIPPED).unwrap();
    put(
        &world,
        "orders",
        &[
            (1, "08:00", "ann"),
            (2, "08:30", "bob"),
            (3, "09:00", "cat"),
        ],
    )
    .await;
    // Order 1 ships in time; order 2 a minute too late (no match);
    // order 4's shipment comes before the order itself.
    put(
        &world,
        "shipments",
        &[(1, "09:00", "ups"), (4, "09:05", "dhl")],
    )
    .await;
    put(&world, "orders", &[(4, "09:01", "dan")]).await;
    put(&world, "shipments", &[(2, "12:31", "ups")]).await;
    let first = wait_rows(&mut world, ALL_SHIPPED, 2).await;
    assert_eq!(
        first,
        rows(&[
            &["1", "2020-04-15T08:00:00", "2020-04-15T09:00:00", "ups"],
            &["4", "2020-04-15T09:01:00", "2020-04-15T09:05:00", "dhl"],
        ])
    );
    wait_events_in(&flow, 7).await;
    // The server stops; order 3 (09:00) is kept for shipments up to
    // 13:00 (the shipments' watermark is at 12:30:55) and must still be
    // there when the job starts again.
    flow.shutdown().await;
    drop(flow);
    put(&world, "orders", &[(5, "12:00", "eve")]).await;
    put(
        &world,
        "shipments",
        &[(5, "12:45", "ups"), (3, "12:59", "fedex")],
    )
    .await;
    let flow = world.flow();
    let all = wait_rows(&mut world, ALL_SHIPPED, 4).await;
    wait_events_in(&flow, 10).await;
    // Shipments' watermark is at 12:58:55: a shipment at 08:10 is late,
    // even though order 1 would match it.
    put(&world, "shipments", &[(1, "08:10", "late")]).await;
    wait_events_in(&flow, 11).await;
    assert_eq!(
        world.sql(ALL_SHIPPED).await,
        rows(&[
            &["1", "2020-04-15T08:00:00", "2020-04-15T09:00:00", "ups"],
            &["3", "2020-04-15T09:00:00", "2020-04-15T12:59:00", "fedex"],
            &["4", "2020-04-15T09:01:00", "2020-04-15T09:05:00", "dhl"],
            &["5", "2020-04-15T12:00:00", "2020-04-15T12:45:00", "ups"],
        ])
    );
    assert_eq!(all.len(), 4);
    let status = &flow.list().unwrap()[0];
    assert_eq!(
        (status.events_in, status.events_out, status.late),
        (11, 4, 1),
        "{status:?}"
    );
    let log = world.streams.get("late").unwrap().log(0).unwrap();
    let batch = log
        .read(nuage_streams::Position::at(0), 10, 1 << 20)
        .unwrap();
    assert_eq!(batch.records.len(), 1);
    assert!(String::from_utf8_lossy(&batch.records[0].data).contains("08:10"));
    flow.shutdown().await;
}

/// Orders with their shipment within four hours, or padded with NULLs
/// once the shipments' watermark passes four hours after the order.
const WITH_UNSHIPPED: &str = "INSERT INTO shipped \
    SELECT o.order_id, o.ts, s.ts, s.carrier \
    FROM orders o LEFT JOIN shipments s ON o.order_id = s.order_id \
    AND s.ts BETWEEN o.ts AND o.ts + INTERVAL '4' HOUR";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_left_interval_join_pads_an_order_once_no_shipment_can_come() {
    let mut world = joined_world().await;
    let flow = world.flow();
    flow.start("default", WITH_UNSHIPPED).unwrap();
    put(
        &world,
        "orders",
        &[
            (1, "08:00", "ann"),
            (2, "08:30", "bob"),
            (3, "09:00", "cat"),
        ],
    )
    .await;
    put(&world, "shipments", &[(1, "09:00", "ups")]).await;
    wait_rows(&mut world, ALL_SHIPPED, 1).await;
    assert_eq!(
        world.sql(ALL_SHIPPED).await.len(),
        1,
        "order 2 can still ship"
    );
    // The shipments' watermark passes 12:30, four hours after order 2.
    put(&world, "shipments", &[(9, "12:31", "ups")]).await;
    let padded = wait_rows(&mut world, ALL_SHIPPED, 2).await;
    assert_eq!(
        padded,
        rows(&[
            &["1", "2020-04-15T08:00:00", "2020-04-15T09:00:00", "ups"],
            &["2", "2020-04-15T08:30:00", "", ""],
        ])
    );
    wait_events_in(&flow, 5).await;
    // Across a restart: order 3 still waits, and order 4 comes.
    flow.shutdown().await;
    drop(flow);
    put(&world, "orders", &[(4, "09:30", "dan")]).await;
    put(
        &world,
        "shipments",
        &[(3, "12:59", "fedex"), (9, "13:40", "ups")],
    )
    .await;
    let flow = world.flow();
    let all = wait_rows(&mut world, ALL_SHIPPED, 4).await;
    wait_events_in(&flow, 8).await;
    assert_eq!(
        all,
        rows(&[
            &["1", "2020-04-15T08:00:00", "2020-04-15T09:00:00", "ups"],
            &["2", "2020-04-15T08:30:00", "", ""],
            &["3", "2020-04-15T09:00:00", "2020-04-15T12:59:00", "fedex"],
            &["4", "2020-04-15T09:30:00", "", ""],
        ])
    );
    assert_eq!(world.sql(ALL_SHIPPED).await, all, "no more rows come");
    flow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_of_streams_without_time_bounds_is_refused() {
    let world = joined_world().await;
    let flow = world.flow();
    let error = flow
        .start(
            "default",
            "INSERT INTO shipped SELECT o.order_id, o.ts, s.ts, s.carrier \
             FROM orders o JOIN shipments s ON o.order_id = s.order_id",
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("must bound their time attributes (ts and ts) on both sides"),
        "{error}"
    );
    assert!(flow.list().unwrap().is_empty());
}
