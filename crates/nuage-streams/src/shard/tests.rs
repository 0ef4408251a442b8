use std::cell::Cell;

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;

fn entries(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| (format!("key-{i}"), vec![b'a' + (i % 26) as u8; size]))
        .collect()
}

fn append_all(log: &ShardLog, records: &[(String, Vec<u8>)], ms: i64) -> u64 {
    let batch: Vec<Entry<'_>> = records
        .iter()
        .map(|(k, d)| Entry {
            partition_key: k,
            data: d,
        })
        .collect();
    log.append(&batch, ms).unwrap().0
}

fn read_all(log: &ShardLog, from: u64) -> Vec<Record> {
    let mut out = Vec::new();
    let mut pos = Position::at(from);
    loop {
        let batch = log.read(pos, 1000, 1 << 20).unwrap();
        if batch.records.is_empty() {
            return out;
        }
        pos = batch.next;
        out.extend(batch.records);
    }
}

#[tokio::test]
async fn appends_read_back_across_segments_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes: 100_000,
        ..LogOptions::default()
    };
    let log = ShardLog::open(dir.path(), options).unwrap();
    let records = entries(5000, 100);
    for (i, part) in records.chunks(500).enumerate() {
        let first = append_all(&log, part, 1000 + i as i64);
        assert_eq!(first, i as u64 * 500);
        log.commit(first + part.len() as u64).await.unwrap();
    }
    assert_eq!(log.end(), 5000);
    let segments = log.segments.read().unwrap().len();
    assert!(segments >= 5, "{segments} segments");
    let back = read_all(&log, 0);
    assert_eq!(back.len(), 5000);
    assert!(back.iter().enumerate().all(|(i, r)| r.number == i as u64
        && r.partition_key == records[i].0
        && r.data[..] == records[i].1[..]));
    // From the middle, by record number and by time.
    assert_eq!(read_all(&log, 4321)[0].number, 4321);
    assert_eq!(log.position_at_time(1005).unwrap().record, 2500);
    assert_eq!(log.position_at_time(99_999).unwrap().record, 5000);
    drop(log);

    let log = ShardLog::open(dir.path(), options).unwrap();
    assert_eq!(log.end(), 5000);
    assert_eq!(read_all(&log, 0).len(), 5000);
    let first = append_all(&log, &entries(1, 10), 2000);
    assert_eq!(first, 5000);
}

#[tokio::test]
async fn uncommitted_records_are_invisible_and_retention_drops_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes: 50_000,
        ..LogOptions::default()
    };
    let log = ShardLog::open(dir.path(), options).unwrap();
    let first = append_all(&log, &entries(10, 100), 10);
    assert_eq!(read_all(&log, 0).len(), 0, "not synced yet");
    log.commit(first + 10).await.unwrap();
    assert_eq!(read_all(&log, 0).len(), 10);
    for ms in 11..20 {
        let first = append_all(&log, &entries(500, 100), ms);
        log.commit(first + 500).await.unwrap();
    }
    let before = log.segments.read().unwrap().len();
    let removed = log.trim(15).unwrap();
    assert!(removed > 0 && removed < before);
    let horizon = log.trim_horizon();
    assert!(horizon > 0);
    let back = read_all(&log, 0);
    assert_eq!(back[0].number, horizon, "reads start at the trim horizon");
    assert_eq!(back.last().unwrap().number, log.end() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(ShardLog::open(dir.path(), LogOptions::default()).unwrap());
    let (writers, rounds) = (16, 50);
    let mut tasks = Vec::new();
    for t in 0..writers {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..rounds {
                let records = entries(10, 50);
                let first = append_all(&log, &records, t);
                log.commit(first + 10).await.unwrap();
                assert!(log.end() >= first + 10);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(read_all(&log, 0).len(), writers as usize * rounds * 10);
    // 800 acknowledged puts; with one fsync each this would be 800.
    let puts = writers as u64 * rounds as u64;
    assert!(
        log.fsyncs() <= puts / 2,
        "{} fsyncs for {puts} concurrent puts: group commit is not grouping",
        log.fsyncs()
    );
}

/// A put dropped while its fsync runs (the client hung up) must not stall
/// the next put on the shard, whatever moment it was dropped at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_commit_never_stalls_the_next_one() {
    use futures::FutureExt;
    let dir = tempfile::tempdir().unwrap();
    let log = ShardLog::open(dir.path(), LogOptions::default()).unwrap();
    let mut dropped_while_pending = 0;
    for round in 0..200 {
        let first = append_all(&log, &entries(1, 10), round);
        // Polled once, then dropped: it started the sync and went away.
        if log.commit(first + 1).now_or_never().is_none() {
            dropped_while_pending += 1;
        }
        let first = append_all(&log, &entries(1, 10), round);
        tokio::time::timeout(std::time::Duration::from_secs(10), log.commit(first + 1))
            .await
            .expect("a put after a dropped one is acknowledged")
            .unwrap();
    }
    assert!(dropped_while_pending > 0, "no commit was dropped mid-sync");
}

/// Sealing full segments happens inside the grouped sync: every record
/// stays readable across many small segments, before and after a
/// restart, and the index files of the full ones are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_segments_are_sealed_by_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes: 4096,
        ..LogOptions::default()
    };
    let log = ShardLog::open(dir.path(), options).unwrap();
    for round in 0..40 {
        let first = append_all(&log, &entries(10, 100), round);
        log.commit(first + 10).await.unwrap();
    }
    assert_eq!(read_all(&log, 0).len(), 400);
    let count = |extension: &str| {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == extension)
            })
            .count()
    };
    // ~1.2 KB a round into 4 KiB segments: about ten of them, every one
    // but the open one sealed with its index.
    assert!(count("seg") >= 8, "{} segments", count("seg"));
    assert_eq!(count("idx"), count("seg") - 1);
    drop(log);
    let reopened = ShardLog::open(dir.path(), options).unwrap();
    assert_eq!(read_all(&reopened, 0).len(), 400);
}

/// How a segment file is damaged.
#[derive(Debug, Clone)]
enum Damage {
    FlipBit(u8),
    CutAt,
    Append(Vec<u8>),
    Overwrite(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0u8..8).prop_map(Damage::FlipBit),
        Just(Damage::CutAt),
        vec(any::<u8>(), 0..100).prop_map(Damage::Append),
        vec(any::<u8>(), 1..64).prop_map(Damage::Overwrite),
    ]
}

/// Random damage to segment files (flipped bits, cuts, garbage appended,
/// ranges overwritten): opening either fails with a report or recovers,
/// and every record read back is exactly the one that was written.
#[tokio::test]
async fn damaged_files_never_yield_wrong_records() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        segment_bytes: 20_000,
        ..LogOptions::default()
    };
    let log = ShardLog::open(dir.path(), options).unwrap();
    let written = entries(2000, 40);
    for part in written.chunks(100) {
        let first = append_all(&log, part, 5);
        log.commit(first + part.len() as u64).await.unwrap();
    }
    drop(log);
    let segments: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.extension().is_some_and(|e| e == "seg"))
        .collect();
    let (refused, recovered) = (Cell::new(0), Cell::new(0));
    let mut runner = TestRunner::new(ProptestConfig::with_cases(200));
    let case = (any::<Index>(), any::<Index>(), damage());
    let outcome = runner.run(&case, |(victim, at, damage)| {
        let copy = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(dir.path()).unwrap() {
            let f = entry.unwrap().path();
            fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
        }
        let victim = copy.path().join(victim.get(&segments).file_name().unwrap());
        let mut bytes = fs::read(&victim).unwrap();
        let at = at.index(bytes.len());
        match damage {
            Damage::FlipBit(bit) => bytes[at] ^= 1 << bit,
            Damage::CutAt => bytes.truncate(at),
            Damage::Append(garbage) => bytes.extend(garbage),
            Damage::Overwrite(garbage) => {
                let end = (at + garbage.len()).min(bytes.len());
                bytes[at..end].copy_from_slice(&garbage[..end - at]);
            }
        }
        fs::write(&victim, &bytes).unwrap();
        let Ok(log) = ShardLog::open(copy.path(), options) else {
            refused.set(refused.get() + 1);
            return Ok(());
        };
        recovered.set(recovered.get() + 1);
        let mut pos = Position::at(0);
        while let Ok(batch) = log.read(pos, 500, 1 << 20) {
            if batch.records.is_empty() {
                break;
            }
            for r in &batch.records {
                let (key, data) = &written[r.number as usize];
                prop_assert_eq!((&r.partition_key, &r.data[..]), (key, &data[..]));
            }
            pos = batch.next;
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let (refused, recovered) = (refused.get(), recovered.get());
    assert!(
        refused > 0 && recovered > 0,
        "{refused} refused, {recovered} recovered"
    );
}
