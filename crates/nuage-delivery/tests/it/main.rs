//! In-process tests of delivery streams: no HTTP and no binary, a lake and a
//! catalog in a temporary data dir, and tokio runtimes the tests start and
//! drop themselves (dropping a runtime stops every task at its next await,
//! the closest an in-process test gets to a crash).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use nuage_common::Config;
use nuage_delivery::{Deliveries, DeliveriesConfig, NewDelivery, S3Destination, Services, Source};
use nuage_lake::Lake;

const BUCKET: &str = "dest";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Opens the delivery streams of `data_dir` as `nuage serve` does.
async fn open(data_dir: &Path) -> Deliveries {
    let config = Config::from_vars(|_| None).with_data_dir(data_dir);
    let lake = Arc::new(Lake::new(&config).expect("the lake"));
    lake.make_bucket(BUCKET).await.expect("the bucket");
    let services = Services {
        lake,
        catalog: nuage_catalog::open_metastore(&config).expect("the catalog"),
        functions: data_dir.join("functions"),
        invoker: None,
    };
    Deliveries::open(
        DeliveriesConfig::new(data_dir.join("firehose")),
        services,
        None,
    )
    .expect("the delivery streams")
}

fn destination(interval_seconds: u64) -> S3Destination {
    serde_json::from_value(serde_json::json!({
        "BucketARN": format!("arn:aws:s3:::{BUCKET}"),
        "RoleARN": "arn:aws:iam::000000000000:role/firehose",
        "Prefix": "events/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": interval_seconds},
    }))
    .expect("a destination")
}

fn new_delivery(name: &str, interval_seconds: u64) -> NewDelivery {
    NewDelivery {
        name: name.into(),
        source: Source::DirectPut,
        destination: destination(interval_seconds),
        tags: BTreeMap::new(),
        encryption: None,
    }
}

/// Puts records `"<i>\n"` for `i` in `range`, 100 per call.
async fn put(deliveries: &Deliveries, name: &str, range: std::ops::Range<usize>) {
    let delivery = deliveries.get(name).expect("the delivery stream");
    let records: Vec<Bytes> = range.map(|i| Bytes::from(format!("{i}\n"))).collect();
    for chunk in records.chunks(100) {
        delivery.put(chunk).await.expect("an acknowledged put");
    }
}

/// How many times each record appears in the objects under the prefix.
fn delivered(data_dir: &Path) -> BTreeMap<usize, usize> {
    fn walk(dir: &Path, counts: &mut BTreeMap<usize, usize>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, counts);
            } else {
                let text = std::fs::read_to_string(&path).expect("an object");
                for line in text.lines() {
                    let record = line
                        .parse()
                        .unwrap_or_else(|_| panic!("{}: {line:?} is not a record", path.display()));
                    *counts.entry(record).or_default() += 1;
                }
            }
        }
    }
    let mut counts = BTreeMap::new();
    walk(
        &data_dir.join("lake").join(BUCKET).join("events"),
        &mut counts,
    );
    counts
}

fn once_each(n: usize) -> BTreeMap<usize, usize> {
    (0..n).map(|i| (i, 1)).collect()
}

#[test]
fn a_stop_delivers_everything_acknowledged_and_a_restart_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let deliveries = open(dir.path()).await;
        deliveries.create(new_delivery("clicks", 900)).unwrap();
        put(&deliveries, "clicks", 0..1000).await;
        // The buffer interval is 15 minutes: only the stop flushes.
        deliveries.shutdown().await;
    });
    assert_eq!(delivered(dir.path()), once_each(1000));

    runtime().block_on(async {
        let deliveries = open(dir.path()).await;
        put(&deliveries, "clicks", 1000..1500).await;
        deliveries.shutdown().await;
    });
    assert_eq!(delivered(dir.path()), once_each(1500));
}

#[test]
fn acknowledged_records_survive_a_runtime_that_dies_before_any_flush() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = runtime();
    crashed.block_on(async {
        let deliveries = open(dir.path()).await;
        deliveries.create(new_delivery("clicks", 900)).unwrap();
        put(&deliveries, "clicks", 0..700).await;
        // Leaked, so that nothing of it runs at drop: the runtime's end
        // is all the delivery streams see.
        std::mem::forget(deliveries);
    });
    drop(crashed);
    assert_eq!(
        delivered(dir.path()),
        BTreeMap::new(),
        "nothing was flushed yet"
    );

    runtime().block_on(async {
        let deliveries = open(dir.path()).await;
        deliveries.shutdown().await;
    });
    assert_eq!(delivered(dir.path()), once_each(700));
}

#[test]
fn a_flush_comes_when_the_buffer_interval_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let deliveries = open(dir.path()).await;
        deliveries.create(new_delivery("clicks", 1)).unwrap();
        put(&deliveries, "clicks", 0..300).await;
        // No stop: the flusher alone must deliver, bounded at 30 s.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while delivered(dir.path()) != once_each(300) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "records not delivered 30 s after a put with IntervalInSeconds 1: {:?}",
                delivered(dir.path()).len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        deliveries.shutdown().await;
    });
    assert_eq!(delivered(dir.path()), once_each(300));
}
