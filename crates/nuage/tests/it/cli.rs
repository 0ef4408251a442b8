use crate::{nuage, run_ok};

#[test]
fn results_go_to_stdout_and_timings_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = run_ok(nuage(dir.path()).args([
        "sql",
        "-e",
        "SELECT 1 AS a, 'x' AS b, NULL AS c, 2.0 AS d; SELECT 7 / 2",
    ]));
    assert_eq!(stdout, "1\tx\tNULL\t2.0\n3.5\n");
    assert_eq!(stderr.matches("OK\n").count(), 2, "{stderr}");
    assert!(
        stderr.contains("Time taken: ")
            && stderr.contains("Fetched: 1 row(s), Data scanned: 0 bytes"),
        "{stderr}"
    );

    let (stdout, _) = run_ok(nuage(dir.path()).args([
        "sql",
        "--header",
        "-S",
        "-e",
        "SELECT 1 AS a, count(*) FROM (VALUES (1)) t",
    ]));
    assert_eq!(stdout, "a\t_c1\n1\t1\n");

    let (stdout, _) = run_ok(nuage(dir.path()).args([
        "sql",
        "-S",
        "--output",
        "csv",
        "--header",
        "-e",
        "SELECT 'a,b' AS x, 1 AS y",
    ]));
    assert_eq!(stdout, "x,y\n\"a,b\",1\n");
}

#[test]
fn a_failing_statement_stops_the_script_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.hql");
    std::fs::write(
        &script,
        "SELECT 1;\n\n-- next one fails\nSELECT * FROM missing_table;\nSELECT 2;\n",
    )
    .unwrap();
    let output = nuage(dir.path())
        .args(["sql", "-f"])
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stdout, "1\n",
        "the statement after the failure must not run"
    );
    assert!(
        stderr.contains("FAILED: SemanticException: Table not found 'default.missing_table'"),
        "{stderr}"
    );
    assert!(stderr.contains("at line 4 of"), "{stderr}");
}

#[test]
fn hiveconf_and_hivevar_flags_substitute() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, _) = run_ok(nuage(dir.path()).args([
        "sql",
        "-S",
        "--hiveconf",
        "x=40",
        "--hivevar",
        "y=2",
        "-e",
        "SELECT ${hiveconf:x} + ${y}; SET x; SET z=hello; SELECT '${hiveconf:z}'",
    ]));
    assert_eq!(stdout, "42\nx=40\nhello\n");
}

#[test]
fn lake_commands_move_files_like_hadoop_dfs() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("ratings.csv");
    std::fs::write(&local, "1,2,5\n").unwrap();
    run_ok(nuage(dir.path()).args(["lake", "mb", "s3://movies"]));
    let (stdout, _) = run_ok(
        nuage(dir.path())
            .args(["lake", "put"])
            .arg(&local)
            .arg("s3://movies/raw/"),
    );
    assert_eq!(stdout, "upload: s3://movies/raw/ratings.csv\n");
    assert_eq!(
        std::fs::read(dir.path().join("lake/movies/raw/ratings.csv")).unwrap(),
        b"1,2,5\n"
    );
    let (stdout, _) = run_ok(nuage(dir.path()).args(["lake", "ls", "s3://movies/"]));
    assert!(stdout.contains("PRE raw/"), "{stdout}");
    let back = dir.path().join("back.csv");
    run_ok(
        nuage(dir.path())
            .args(["lake", "get", "s3://movies/raw/ratings.csv"])
            .arg(&back),
    );
    assert_eq!(std::fs::read(&back).unwrap(), b"1,2,5\n");
    let (stdout, _) = run_ok(nuage(dir.path()).args(["sql", "-S", "-e",
        "CREATE EXTERNAL TABLE r (u INT, m INT, s INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://movies/raw/'; SELECT s FROM r"]));
    assert_eq!(stdout, "5\n");
    run_ok(nuage(dir.path()).args(["lake", "rm", "-r", "s3://movies/raw/"]));
    assert!(!dir.path().join("lake/movies/raw/ratings.csv").exists());

    let output = nuage(dir.path())
        .args(["lake", "put"])
        .arg(&local)
        .arg("s3://movies/../escape")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("escape the bucket"));
}

#[test]
fn processes_sharing_a_data_dir_do_not_trip_over_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(nuage(dir.path()).args(["sql", "-S", "-e", "SELECT 1"]));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let mut command = nuage(dir.path());
            let script: String = (0..6)
                .map(|i| {
                    format!("CREATE TABLE t_{w}_{i} (x INT); INSERT INTO t_{w}_{i} VALUES ({i});")
                })
                .collect();
            command.args(["sql", "-S", "-e", &script]);
            command.spawn().unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success());
    }
    let (stdout, _) = run_ok(nuage(dir.path()).args(["sql", "-S", "-e", "SHOW TABLES"]));
    assert_eq!(stdout.lines().count(), 18, "{stdout}");
}

#[test]
fn source_runs_another_script_and_quit_stops() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("inner.hql");
    std::fs::write(&inner, "SELECT 'inner';\n").unwrap();
    let outer = dir.path().join("outer.hql");
    std::fs::write(
        &outer,
        format!(
            "SELECT 'before';\nsource {};\nquit;\nSELECT 'never';\n",
            inner.display()
        ),
    )
    .unwrap();
    let (stdout, _) = run_ok(nuage(dir.path()).args(["sql", "-S", "-f"]).arg(&outer));
    assert_eq!(stdout, "before\ninner\n");
}
