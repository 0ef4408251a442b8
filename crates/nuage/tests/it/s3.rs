//! `s3://` against a real S3 API: moto's server (from PyPI, installed by
//! `.ci/run`) on 127.0.0.1, reached through `NUAGE_S3_ENDPOINT`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{nuage, require_python, run_ok};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> Option<(Moto, u16)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((moto, port))
}

/// Creates a bucket with a plain HTTP PUT (moto accepts unsigned requests).
fn create_bucket(port: u16, bucket: &str) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

#[test]
fn s3_locations_go_to_a_configured_endpoint() {
    require_python("moto.server", "moto[server]");
    let Some((_moto, port)) = start_moto() else {
        panic!(
            "moto's S3 server did not start: python3 -m pip install 'moto[server]' (.ci/run does this)"
        );
    };
    create_bucket(port, "lake");
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("x.csv");
    std::fs::write(&local, "1,a\n2,b\n").unwrap();
    let with_s3 = |command: &mut Command| {
        command
            .env("NUAGE_S3_ENDPOINT", format!("http://127.0.0.1:{port}"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
    };
    let mut put = nuage(dir.path());
    with_s3(put.args(["lake", "put"]).arg(&local).arg("s3://lake/raw/"));
    run_ok(&mut put);
    assert!(
        !dir.path().join("lake").exists(),
        "nothing may land in the embedded lake"
    );

    let mut sql = nuage(dir.path());
    with_s3(sql.args(["sql", "-S", "-e",
        "CREATE EXTERNAL TABLE t (id INT, v STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://lake/raw/'; \
         CREATE TABLE c STORED AS PARQUET LOCATION 's3://lake/copy' AS SELECT * FROM t; \
         SELECT v, id FROM c ORDER BY id"]));
    let (stdout, _) = run_ok(&mut sql);
    assert_eq!(stdout, "a\t1\nb\t2\n");

    let mut ls = nuage(dir.path());
    with_s3(ls.args(["lake", "ls", "-r", "s3://lake/copy/"]));
    let (stdout, _) = run_ok(&mut ls);
    assert!(stdout.contains(".parquet"), "{stdout}");

    // The crawler reads S3 too: the Parquet copy becomes a table of its own.
    let mut crawl = nuage(dir.path());
    with_s3(crawl.args(["crawl", "s3://lake/copy/", "--database", "crawled"]));
    let (stdout, _) = run_ok(&mut crawl);
    assert!(
        stdout.contains("created crawled.copy  s3://lake/copy  parquet  1 file(s)"),
        "{stdout}"
    );
    let mut sql = nuage(dir.path());
    with_s3(sql.args([
        "sql",
        "-S",
        "-e",
        "SELECT sum(id), max(v) FROM crawled.copy",
    ]));
    assert_eq!(run_ok(&mut sql).0, "3\tb\n");
}
