//! Kill the process in the middle of UPDATE, many times: the table must always
//! read as entirely the old version or entirely the new one.

use std::time::Duration;

use crate::{nuage, run_ok};

const ROWS: usize = 100_000;

fn state(dir: &std::path::Path) -> (usize, i64, i64) {
    let (stdout, _) =
        run_ok(nuage(dir).args(["sql", "-S", "-e", "SELECT count(*), min(v), max(v) FROM t"]));
    let fields: Vec<&str> = stdout.trim().split('\t').collect();
    (
        fields[0].parse().unwrap(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
    )
}

#[test]
fn update_is_all_or_nothing_under_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.csv");
    let text: String = (0..ROWS)
        .map(|i| format!("{i},0,row number {i}\n"))
        .collect();
    std::fs::write(&data, text).unwrap();
    run_ok(nuage(dir.path()).args(["sql", "-S", "-e"]).arg(format!(
        "CREATE TABLE t (id INT, v BIGINT, label STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY ','; \
         LOAD DATA LOCAL INPATH '{}' INTO TABLE t",
        data.display()
    )));

    // UPDATEs to completion tell how long one takes on this machine (the
    // fastest of three: other tests may be busy at first); the kills below are
    // spread over that time, from start-up to commit. If too few land while
    // an UPDATE runs (the machine sped up), more rounds come, with shorter delays.
    let mut full = Duration::MAX;
    let mut version = 0i64;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        run_ok(nuage(dir.path()).args(["sql", "-S", "-e", "UPDATE t SET v = v + 1"]));
        full = full.min(started.elapsed());
        version += 1;
    }
    assert_eq!(state(dir.path()), (ROWS, version, version));

    let mut killed = 0;
    let mut attempt = 0u32;
    while attempt < 16 || (killed < 4 && attempt < 64) {
        let mut child = nuage(dir.path())
            .args(["sql", "-S", "-e", "UPDATE t SET v = v + 1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let round = 1 + attempt / 16;
        std::thread::sleep(full * (attempt % 16) / 16 / round + Duration::from_millis(2));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();

        let (count, min, max) = state(dir.path());
        assert_eq!(count, ROWS, "attempt {attempt}: rows lost or duplicated");
        assert_eq!(min, max, "attempt {attempt}: the table mixes two versions");
        assert!(
            min == version || min == version + 1,
            "attempt {attempt}: version {min} after {version}"
        );
        version = min;
        attempt += 1;
    }
    assert!(
        killed >= 4,
        "the test must actually interrupt updates (killed {killed})"
    );
}
