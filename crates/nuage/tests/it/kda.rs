//! Kinesis Analytics for SQL through boto3 (`kda_clients.py`): the toll
//! scenario as a KDA application (schema discovered from the stream, the
//! questions in KDA's SQL, outputs to Kinesis streams, bad records to
//! error_stream). Its answers are compared with DuckDB's over the same
//! events: vehicles per station per 30 minutes and spend per customer per
//! 10 minutes of event time. KDA groups by ROWTIME too, so a window's
//! answer may come in parts (one per ROWTIME window); the parts are summed.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::flow::{normalize, oracle, sorted, toll_events};
use crate::streams::Server;

/// Events the test puts (the first of the MovieLens-made tolls).
const EVENTS: usize = 30_000;

fn summed(file: &std::path::Path, key: &str, value: &str, table: &str) -> Vec<String> {
    let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in std::fs::read_to_string(file).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        // KDA writes TIMESTAMPs as `1997-09-20 03:00:00.000`; DuckDB prints
        // whole seconds.
        let window = row["WINDOW_START"]
            .as_str()
            .unwrap()
            .trim_end_matches(".000")
            .to_string();
        *sums
            .entry((row[key].as_str().unwrap().to_string(), window))
            .or_default() += row[value].as_f64().unwrap();
    }
    sums.into_iter()
        .map(|((k, w), v)| {
            let v = if table == "counts" {
                format!("{}", v as i64)
            } else {
                v.to_string()
            };
            normalize(table, &[&k, &w, &v])
        })
        .collect()
}

#[test]
fn a_kda_application_made_with_boto3_answers_the_toll_questions_like_duckdb() {
    crate::require_python("boto3", "boto3");
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<String> = toll_events().into_iter().take(EVENTS).collect();
    let expected = sorted(oracle(dir.path(), &events));
    let server = Server::start(&dir.path().join("data"), &[]);
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let events_file = dir.path().join("events.jsonl");
    crate::run_python(
        "kda_clients.py",
        &[
            server.endpoint.as_ref(),
            events_file.as_os_str(),
            out.as_os_str(),
        ],
    );
    let counts = summed(
        &out.join("station_counts.jsonl"),
        "STATION",
        "VEHICLES",
        "counts",
    );
    assert_eq!(counts.len(), expected["counts"].len());
    assert_eq!(counts, expected["counts"]);
    let spend = summed(
        &out.join("customer_spend.jsonl"),
        "CUSTOMER",
        "SPEND",
        "spend",
    );
    assert_eq!(spend, expected["spend"]);
    server.kill();
}

/// The server aborts right after a window's records are in the output
/// stream and before the window is recorded as fired; the application
/// runs again with the next server and the stream holds every count once
/// (the redo finds the records already put).
#[test]
fn output_into_a_stream_is_exactly_once_across_a_crash_mid_firing() {
    crate::require_python("boto3", "boto3");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server =
        Server::start_with_env(&data, &[], &[("NUAGE_FLOW_FAILPOINT", "after-sink-put")]);
    crate::run_python(
        "kda_crash.py",
        &[server.endpoint.as_ref(), "setup".as_ref()],
    );
    assert!(
        server.exited_within(std::time::Duration::from_secs(30)),
        "the failpoint did not stop the server"
    );
    let server = Server::start(&data, &[]);
    crate::run_python(
        "kda_crash.py",
        &[server.endpoint.as_ref(), "check".as_ref()],
    );
    server.kill();
}

/// KDA's functions (`kda_lambda.py`): LambdaOutput hands the counts to a
/// Python function in AWS's event shape (a record it refuses comes again);
/// an input preprocessor turns CSV records into JSON, drops some, and its
/// ProcessingFailed record reaches error_stream.
#[test]
fn a_kda_output_can_be_a_function() {
    crate::require_python("boto3", "boto3");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), &[]);
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    crate::run_python(
        "kda_lambda.py",
        &[server.endpoint.as_ref(), scratch.as_os_str()],
    );
    server.kill();
}
