//! `nuage crawl` over trees of files in every format, compression and
//! partition style, then SQL over the tables it made, with the bytes scanned.

use std::io::Write;
use std::path::Path;

use crate::{nuage, run_ok};

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn snappy(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = snap::write::FrameEncoder::new(&mut out);
    encoder.write_all(text.as_bytes()).unwrap();
    drop(encoder);
    out
}

/// Rows on stdout of `nuage sql -S -e`.
fn sql(data: &Path, text: &str) -> String {
    run_ok(nuage(data).args(["sql", "-S", "-e", text])).0
}

/// The cost figures of one query, from `--stats json`.
fn scanned(data: &Path, text: &str) -> serde_json::Value {
    let (_, stderr) = run_ok(nuage(data).args(["sql", "--stats", "json", "-e", text]));
    serde_json::from_str(stderr.lines().last().unwrap()).unwrap()
}

/// Clicks as CSV with a header, gzip, under Hive-style `year=/month=` folders.
fn clicks(lake: &Path) {
    for month in 1..=6 {
        let mut text = String::from("id,url,ts,price,ok\n");
        for i in 0..400 {
            text.push_str(&format!(
                "{i},/p/{},2024-{month:02}-{:02} 10:00:00,{}.25,{}\n",
                i % 7,
                i % 28 + 1,
                i % 50,
                i % 2 == 0
            ));
        }
        write(
            lake,
            &format!("logs/clicks/year=2024/month={month:02}/part-00000.csv.gz"),
            &gzip(&text),
        );
    }
}

#[test]
fn crawls_formats_compressions_and_both_partition_styles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let lake = data.join("lake");
    clicks(&lake);
    // Nested JSON lines, zstd, under plain `2024/01/` folders.
    for day in 1..=3 {
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&format!(
                "{{\"User\": \"u{i}\", \"page\": {{\"path\": \"/x/{i}\", \"ms\": {}}}, \"tags\": [\"a\", \"b{i}\"], \"at\": \"2024-01-{day:02}T08:00:00Z\"}}\n",
                i * 10
            ));
        }
        let compressed = zstd::encode_all(text.as_bytes(), 3).unwrap();
        write(
            &lake,
            &format!("logs/views/2024/01/{day:02}/views.json.zst"),
            &compressed,
        );
    }
    // Pipe-delimited text without a header, snappy (framing format).
    write(
        &lake,
        "logs/tolls/booth=a/t.psv.snappy",
        &snappy("1|car-1|3.5|2024-03-01\n2|car-2|4.0|2024-03-02\n"),
    );
    write(
        &lake,
        "logs/tolls/booth=b/t.psv.snappy",
        &snappy("3|car-3|1.25|2024-03-03\n"),
    );

    let (stdout, stderr) = run_ok(nuage(data).args(["crawl", "s3://logs/", "--database", "web"]));
    assert!(stdout.contains("created database web"), "{stdout}");
    assert!(
        stdout.contains("created web.clicks  s3://logs/clicks  csv (',', header), gzip  6 file(s), 6 partition(s), 6 new"),
        "{stdout}"
    );
    assert!(
        stdout.contains("columns: id bigint, url string, ts timestamp, price double, ok boolean"),
        "{stdout}"
    );
    assert!(
        stdout.contains("partitioned by: year string, month string"),
        "{stdout}"
    );
    assert!(
        stdout.contains("columns: user string, page struct<path:string,ms:bigint>, tags array<string>, at timestamp"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("partitioned by: partition_0 string, partition_1 string, partition_2 string"),
        "{stdout}"
    );
    assert!(
        stdout.contains("created web.tolls  s3://logs/tolls  csv ('|', no header), snappy"),
        "{stdout}"
    );
    assert!(
        stdout.contains("columns: col0 bigint, col1 string, col2 double, col3 date"),
        "{stdout}"
    );
    assert!(
        stderr.contains("3 table(s) created, 0 updated, 0 unchanged; 11 partition(s) added; 11 file(s) read, 0 skipped"),
        "{stderr}"
    );

    assert_eq!(
        sql(
            data,
            "SELECT count(*), sum(price), count(DISTINCT month) FROM web.clicks WHERE ok"
        ),
        "1200\t29100.0\t6\n"
    );
    assert_eq!(
        sql(
            data,
            "SELECT user, page.ms, tags[1], at, partition_2 FROM web.views WHERE partition_2 = '03' AND page.ms = 50"
        ),
        "u5\t50\tb5\t2024-01-03 08:00:00\t03\n"
    );
    assert_eq!(
        sql(
            data,
            "SELECT booth, col1, col2 FROM web.tolls ORDER BY col0"
        ),
        "a\tcar-1\t3.5\na\tcar-2\t4.0\nb\tcar-3\t1.25\n"
    );
    assert_eq!(
        sql(
            data,
            "SELECT count(*) FROM web.clicks WHERE year = '2024' AND month = '01'"
        ),
        "400\n"
    );
}

#[test]
fn parquet_and_pruning_scan_less() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    clicks(&data.join("lake"));
    run_ok(nuage(data).args(["crawl", "s3://logs/clicks/", "--database", "web"]));
    // Athena's CTAS to partitioned Parquet, then a crawl of what it wrote.
    sql(
        data,
        "CREATE TABLE web.clicks_pq WITH (format = 'PARQUET', external_location = 's3://logs/clicks_parquet/', partitioned_by = ARRAY['month']) AS SELECT id, url, ts, price, ok, month FROM web.clicks",
    );
    let (stdout, _) = run_ok(nuage(data).args([
        "crawl",
        "s3://logs/clicks_parquet/",
        "--database",
        "crawled",
    ]));
    assert!(
        stdout.contains("created crawled.clicks_parquet  s3://logs/clicks_parquet  parquet  6 file(s), 6 partition(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("columns: id bigint, url string, ts timestamp, price double, ok boolean"),
        "{stdout}"
    );

    let query = |table: &str, filter: &str| format!("SELECT sum(price) FROM {table} {filter}");
    let all_csv = scanned(data, &query("web.clicks", ""));
    let one_csv = scanned(data, &query("web.clicks", "WHERE month = '03'"));
    let all_pq = scanned(data, &query("crawled.clicks_parquet", ""));
    let one_pq = scanned(data, &query("crawled.clicks_parquet", "WHERE month = '03'"));
    let bytes = |v: &serde_json::Value| v["bytes_scanned"].as_u64().unwrap();
    assert_eq!(all_csv["partitions_total"], 6);
    assert_eq!(one_csv["partitions_read"], 1);
    assert_eq!(one_csv["files_scanned"], 1);
    assert!(
        bytes(&one_csv) * 5 < bytes(&all_csv),
        "{one_csv} vs {all_csv}"
    );
    assert!(bytes(&all_pq) < bytes(&all_csv), "{all_pq} vs {all_csv}");
    assert!(bytes(&one_pq) * 5 < bytes(&all_pq), "{one_pq} vs {all_pq}");
    assert_eq!(
        sql(data, &query("crawled.clicks_parquet", "WHERE month = '03'")),
        sql(data, &query("web.clicks", "WHERE month = '03'"))
    );

    // EXPLAIN shows what pruning kept; EXPLAIN ANALYZE what was read.
    let explain = sql(
        data,
        &format!("EXPLAIN {}", query("web.clicks", "WHERE month = '03'")),
    );
    assert!(
        explain.contains("nuage_scan\tpartitions read: 1 of 6, files listed: 1\n"),
        "{explain}"
    );
    let explain = sql(
        data,
        &format!(
            "EXPLAIN ANALYZE {}",
            query("crawled.clicks_parquet", "WHERE month = '03'")
        ),
    );
    assert!(
        explain.contains(&format!(
            "partitions read: 1 of 6, files listed: 1, files scanned: 1, files pruned: 0, bytes scanned: {}",
            bytes(&one_pq)
        )),
        "{explain}"
    );

    // A workgroup-style limit stops a query before it runs.
    let output = nuage(data)
        .args([
            "sql",
            "-e",
            &format!(
                "SET nuage.max_scan_bytes = {}; {}",
                bytes(&all_csv) / 2,
                query("web.clicks", "")
            ),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("more than nuage.max_scan_bytes"),
        "{stderr}"
    );
    let (_, stderr) = run_ok(nuage(data).args([
        "sql",
        "-e",
        &format!(
            "SET nuage.max_scan_bytes = {}; {}",
            bytes(&all_csv) / 2,
            query("web.clicks", "WHERE month = '01'")
        ),
    ]));
    assert!(stderr.contains("Partitions: 1 of 6"), "{stderr}");
}

#[test]
fn recrawl_adds_partitions_and_columns_and_never_drops() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let lake = data.join("lake");
    write(
        &lake,
        "b/t/dt=2024-01-01/a.json",
        b"{\"id\": 1, \"v\": 2}\n",
    );
    let crawl = |extra: &[&str]| {
        let mut args = vec!["crawl", "s3://b/t", "--database", "d"];
        args.extend_from_slice(extra);
        run_ok(nuage(data).args(&args))
    };
    crawl(&[]);
    let (stdout, stderr) = crawl(&[]);
    assert!(stdout.contains("unchanged d.t"), "{stdout}");
    assert!(stderr.contains("0 partition(s) added"), "{stderr}");

    // A new day brings a new column and a wider type.
    write(
        &lake,
        "b/t/dt=2024-01-02/a.json",
        b"{\"id\": 2, \"v\": 2.5, \"note\": \"x\"}\n",
    );
    let (stdout, _) = crawl(&["--dry-run"]);
    assert!(stdout.contains("would update d.t"), "{stdout}");
    assert_eq!(
        sql(data, "SELECT count(*) FROM d.t"),
        "1\n",
        "a dry run changes nothing"
    );
    let (stdout, stderr) = crawl(&[]);
    assert!(stdout.contains("updated d.t"), "{stdout}");
    assert!(
        stdout.contains("change: column v bigint -> double"),
        "{stdout}"
    );
    assert!(
        stdout.contains("change: added column note string"),
        "{stdout}"
    );
    assert!(stderr.contains("1 partition(s) added"), "{stderr}");
    assert_eq!(
        sql(data, "SELECT dt, id, v, note FROM d.t ORDER BY id"),
        "2024-01-01\t1\t2.0\tNULL\n2024-01-02\t2\t2.5\tx\n"
    );
    let props = sql(data, "SHOW TBLPROPERTIES d.t");
    assert!(props.contains("nuage.crawler.last_change"), "{props}");

    // Files removed from the lake do not remove partitions or columns.
    std::fs::remove_dir_all(lake.join("b/t/dt=2024-01-02")).unwrap();
    crawl(&[]);
    assert_eq!(
        sql(data, "SHOW PARTITIONS d.t"),
        "dt=2024-01-01\ndt=2024-01-02\n"
    );
    assert!(sql(data, "DESCRIBE d.t").contains("note"));
}

#[test]
fn mixed_schemas_and_malformed_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let lake = data.join("lake");
    // JSON files of two shapes in one folder are merged: each names its keys.
    write(&lake, "m/json/a.json", b"{\"a\": 1, \"b\": \"x\"}\n");
    write(&lake, "m/json/b.json", b"{\"c\": true}\n");
    // CSV files of two shapes in one folder cannot be: columns go by position.
    write(&lake, "m/csv/a.csv", b"id,name\n1,x\n");
    write(&lake, "m/csv/b.csv", b"name,id\nx,1\n");
    // A header that extends another at the end is the same table, grown.
    write(&lake, "m/grown/a.csv", b"id,name\n1,x\n");
    write(
        &lake,
        "m/grown/b.csv",
        b"id,name,email\n2,y,y@example.com\n",
    );
    // A malformed JSON file among good ones is skipped and named.
    write(&lake, "m/logs/good.json", b"{\"id\": 1}\n{\"id\": 2}\n");
    write(&lake, "m/logs/bad.json", b"{\"id\": 3\nthis is not json\n");
    write(&lake, "m/logs/_SUCCESS", b"");

    let (stdout, stderr) = run_ok(nuage(data).args(["crawl", "s3://m/", "--database", "m"]));
    assert!(stdout.contains("created m.json"), "{stdout}");
    assert!(
        stdout.contains("columns: a bigint, b string, c boolean"),
        "{stdout}"
    );
    assert!(
        stdout.contains("note: its files have different columns; merged them"),
        "{stdout}"
    );
    assert!(!stdout.contains("m.csv"), "{stdout}");
    assert!(
        stderr.contains("skipped csv/a.csv: the files of csv/ do not share one schema"),
        "{stderr}"
    );
    assert!(
        stderr.contains("skipped logs/bad.json: line 1: malformed JSON"),
        "{stderr}"
    );
    assert!(stdout.contains("created m.logs"), "{stdout}");
    assert!(
        stdout.contains("columns: id bigint, name string, email string"),
        "{stdout}"
    );
    assert_eq!(
        sql(data, "SELECT id, name, email FROM m.grown ORDER BY id"),
        "1\tx\tNULL\n2\ty\ty@example.com\n"
    );
    assert_eq!(
        sql(data, "SELECT a, b, c FROM m.json ORDER BY a"),
        "1\tx\tNULL\nNULL\tNULL\ttrue\n"
    );
    // The bad file stays in the folder; its bad lines read as NULL rows, not errors.
    assert_eq!(sql(data, "SELECT count(*), sum(id) FROM m.logs"), "4\t3\n");
}
