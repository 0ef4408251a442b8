//! Kinesis Analytics applications over a real stream log (no HTTP): the
//! KDA dialect's forms run on the engine, counted against the records the
//! test put (the oracle is the input itself).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use nuage_flow::kda::Applications;
use nuage_flow::kda::dialect;
use nuage_flow::kda::model::{
    DestinationSchema, Input, Output, RecordColumn, RecordFormat, ResourceRole, SourceSchema,
};
use nuage_streams::{PutEntry, StreamMode};
use serde_json::Value;

use crate::jobs::world;

const ROLE: &str = "arn:aws:iam::000000000000:role/kda";

fn column(name: &str, path: &str, ty: &str) -> RecordColumn {
    RecordColumn {
        name: Some(name.into()),
        mapping: Some(path.into()),
        sql_type: Some(ty.into()),
    }
}

fn ticker_input() -> Input {
    Input {
        name_prefix: Some("SOURCE_SQL_STREAM".into()),
        kinesis_streams_input: Some(ResourceRole {
            resource_arn: Some("arn:aws:kinesis:us-east-1:000000000000:stream/tolls".into()),
            role_arn: Some(ROLE.into()),
        }),
        input_schema: Some(SourceSchema {
            record_format: Some(RecordFormat::json("$")),
            record_encoding: Some("UTF-8".into()),
            record_columns: Some(vec![
                column("TICKER_SYMBOL", "$.ticker", "VARCHAR(4)"),
                column("PRICE", "$.quote.price", "DOUBLE"),
            ]),
        }),
        ..Default::default()
    }
}

fn output(name: &str, stream: &str, format: &str) -> Output {
    Output {
        name: Some(name.into()),
        kinesis_streams_output: Some(ResourceRole {
            resource_arn: Some(format!(
                "arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"
            )),
            role_arn: Some(ROLE.into()),
        }),
        destination_schema: Some(DestinationSchema {
            record_format_type: Some(format.into()),
        }),
        ..Default::default()
    }
}

fn records(world: &crate::jobs::World, stream: &str) -> Vec<String> {
    let stream = world.streams.get(stream).unwrap();
    let mut out = Vec::new();
    for shard in &stream.meta().shards {
        let log = stream.log(shard.index).unwrap();
        let batch = log
            .read(nuage_streams::Position::at(0), 10_000, 1 << 24)
            .unwrap();
        out.extend(
            batch
                .records
                .iter()
                .map(|r| String::from_utf8_lossy(&r.data).to_string()),
        );
    }
    out
}

#[test]
fn the_code_reads_into_streams_and_pumps() {
    let code = dialect::parse(
        "-- the getting-started application\n\
         CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (ticker_symbol VARCHAR(4), \"Count\" INTEGER NOT NULL);\n\
         CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n\
         SELECT STREAM ticker_symbol, COUNT(*) FROM \"SOURCE_SQL_STREAM_001\"\n\
         GROUP BY ticker_symbol, STEP(\"SOURCE_SQL_STREAM_001\".ROWTIME BY INTERVAL '60' SECOND);",
    )
    .unwrap();
    assert_eq!(code.streams.len(), 1);
    // Unquoted names upper-cased, quoted ones kept (as KDA does).
    assert_eq!(
        code.streams[0].columns,
        vec![
            ("TICKER_SYMBOL".to_string(), "VARCHAR(4)".to_string()),
            ("Count".to_string(), "INTEGER".to_string())
        ]
    );
    let mut columns = BTreeMap::new();
    columns.insert(
        "source_sql_stream_001".to_string(),
        vec!["ticker_symbol".to_string()],
    );
    let mut targets = BTreeMap::new();
    targets.insert(
        "destination_sql_stream".to_string(),
        vec!["ticker_symbol".to_string(), "count".to_string()],
    );
    let t = dialect::translate(&code.pumps[0], &columns, &targets).unwrap();
    assert_eq!(t.source, "source_sql_stream_001");
    assert_eq!(t.target, "destination_sql_stream");
    assert!(
        t.statement.contains(
            "TABLE(TUMBLE(TABLE `source_sql_stream_001`, DESCRIPTOR(rowtime), INTERVAL '60' SECOND))"
        ),
        "{}",
        t.statement
    );
    assert!(
        t.statement.contains("GROUP BY ticker_symbol, window_start"),
        "{}",
        t.statement
    );
}

#[test]
fn code_that_is_not_kda_sql_is_refused_with_what_to_write() {
    for (code, says) in [
        ("SELECT 1", "CREATE OR REPLACE STREAM"),
        ("CREATE OR REPLACE STREAM \"S\"", "list its columns"),
        ("CREATE OR REPLACE STREAM \"S\" (a NOTATYPE)", "column A"),
        ("CREATE OR REPLACE PUMP \"P\" AS SELECT 1", "INSERT INTO"),
    ] {
        let e = dialect::parse(code).unwrap_err();
        assert!(
            matches!(e, nuage_flow::FlowError::CodeValidation(_)) && e.to_string().contains(says),
            "{code}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tumbling_count_over_rowtime_counts_every_record_once_and_bad_ones_reach_the_error_stream()
 {
    let world = world(2).await;
    for name in ["counts", "errors", "big"] {
        world
            .streams
            .create(name, 1, StreamMode::Provisioned, BTreeMap::new())
            .unwrap();
    }
    let flow = world.flow();
    let apps = Applications::open(flow, world.env(), &world.data_dir)
        .await
        .unwrap();
    let code = r#"
        CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), ticker_count INTEGER, total DOUBLE);
        CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
          SELECT STREAM ticker_symbol, COUNT(*) AS ticker_count, SUM(price) AS total
          FROM "SOURCE_SQL_STREAM_001"
          GROUP BY ticker_symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' SECOND);
        -- rows as they come, through an in-application stream only pumps read
        CREATE OR REPLACE STREAM "EXPENSIVE" (ticker_symbol VARCHAR(4), price DOUBLE);
        CREATE OR REPLACE PUMP "FILTER_PUMP" AS INSERT INTO "EXPENSIVE"
          SELECT STREAM * FROM "SOURCE_SQL_STREAM_001" WHERE price > 100;
        CREATE OR REPLACE STREAM "BIG" (ticker_symbol VARCHAR(4), price DOUBLE);
        CREATE OR REPLACE PUMP "BIG_PUMP" AS INSERT INTO "BIG"
          SELECT STREAM ticker_symbol, price FROM "EXPENSIVE" WHERE price > 150;
    "#;
    apps.create(
        "tickers",
        None,
        vec![ticker_input()],
        vec![
            output("DESTINATION_SQL_STREAM", "counts", "JSON"),
            output("error_stream", "errors", "JSON"),
            output("BIG", "big", "CSV"),
        ],
        Vec::new(),
        code.into(),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    // 300 records over two shards; every 50th has a price that is no number.
    let mut expected: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    let mut bad = 0;
    let mut big = 0;
    let mut entries = Vec::new();
    for i in 0..300u32 {
        let ticker = ["AMZN", "MSFT", "IBM"][i as usize % 3];
        let price = 50.0 + (i % 150) as f64;
        let data = if i % 50 == 7 {
            bad += 1;
            format!(r#"{{"ticker": "{ticker}", "quote": {{"price": "n/a"}}}}"#)
        } else {
            let e = expected.entry(ticker.to_string()).or_default();
            e.0 += 1;
            e.1 += price;
            if price > 150.0 {
                big += 1;
            }
            format!(r#"{{"ticker": "{ticker}", "quote": {{"price": {price}}}, "other": 1}}"#)
        };
        entries.push(PutEntry {
            partition_key: format!("k{i}"),
            data: Bytes::from(data),
            explicit_hash_key: None,
        });
    }
    world.streams.put("tolls", &entries).await.unwrap();
    apps.start(
        "tickers",
        &[("1.1".to_string(), "TRIM_HORIZON".to_string())],
    )
    .await
    .unwrap();
    let mut got: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for _ in 0..100 {
        got.clear();
        for line in records(&world, "counts") {
            let v: Value = serde_json::from_str(&line).unwrap();
            let e = got
                .entry(v["TICKER_SYMBOL"].as_str().unwrap().to_string())
                .or_default();
            e.0 += v["TICKER_COUNT"].as_u64().unwrap();
            e.1 += v["TOTAL"].as_f64().unwrap();
        }
        if got == expected
            && records(&world, "errors").len() == bad
            && records(&world, "big").len() == big
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let app = apps.describe("tickers").unwrap();
    assert_eq!(got, expected, "errors: {:?}", apps.errors(&app));
    let errors = records(&world, "errors");
    assert_eq!(errors.len(), bad);
    let error: Value = serde_json::from_str(&errors[0]).unwrap();
    assert!(
        error["DATA_ROW"].as_str().unwrap().contains("n/a"),
        "{error}"
    );
    // CSV rows of the second pump's output, through the hidden stream.
    let big_rows = records(&world, "big");
    assert_eq!(
        big_rows.len(),
        big,
        "errors: {:?}, expensive: {:?}",
        apps.errors(&app),
        records(&world, "kinesisanalytics-tickers-expensive").first()
    );
    assert!(
        big_rows.iter().all(|r| r.split(',').count() == 2),
        "{big_rows:?}"
    );
    apps.stop("tickers").await.unwrap();
    let app = apps.describe("tickers").unwrap();
    assert_eq!(app.status, "READY");
    apps.delete("tickers", app.create_ms).await.unwrap();
    assert!(
        world
            .streams
            .get("kinesisanalytics-tickers-expensive")
            .is_err()
    );
}

/// KDA's reference data (a CSV object in the lake, joined by every row)
/// and a sliding window (`WINDOW w AS (PARTITION BY ... RANGE INTERVAL
/// ... PRECEDING)`, ordered by ROWTIME): each row gets the running count
/// of its ticker's rows in the last minute, and its company's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_data_joins_and_sliding_windows_run_per_row() {
    use nuage_flow::kda::model::{ReferenceDataSource, S3Reference};
    let world = world(1).await;
    world
        .streams
        .create("named", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    let env = world.env();
    env.lake.make_bucket("refs").await.unwrap();
    env.lake
        .put_bytes(
            &nuage_lake::Location::parse("s3://refs/companies.csv").unwrap(),
            Bytes::from_static(b"AMZN,Amazon\nMSFT,Microsoft\n"),
        )
        .await
        .unwrap();
    let apps = Applications::open(world.flow(), env, &world.data_dir)
        .await
        .unwrap();
    let code = r#"
        CREATE OR REPLACE STREAM "NAMED" (ticker VARCHAR(4), company VARCHAR(16), recent BIGINT);
        CREATE OR REPLACE PUMP "P" AS INSERT INTO "NAMED"
          SELECT STREAM s.ticker_symbol, c."Company", COUNT(*) OVER w
          FROM "SOURCE_SQL_STREAM_001" AS s JOIN "Companies" AS c ON s.ticker_symbol = c."Ticker"
          WINDOW w AS (PARTITION BY s.ticker_symbol RANGE INTERVAL '1' MINUTE PRECEDING);
    "#;
    apps.create(
        "named",
        None,
        vec![ticker_input()],
        vec![output("NAMED", "named", "JSON")],
        Vec::new(),
        code.into(),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let app = apps
        .add_reference(
            "named",
            1,
            ReferenceDataSource {
                table_name: Some("Companies".into()),
                s3_reference_data_source: Some(S3Reference {
                    bucket_arn: Some("arn:aws:s3:::refs".into()),
                    file_key: Some("companies.csv".into()),
                    reference_role_arn: Some(ROLE.into()),
                }),
                reference_schema: Some(SourceSchema {
                    record_format: Some(RecordFormat::csv("\n", ",")),
                    record_encoding: Some("UTF-8".into()),
                    record_columns: Some(vec![
                        column("Ticker", "", "VARCHAR(4)"),
                        column("Company", "", "VARCHAR(16)"),
                    ]),
                }),
            },
        )
        .await
        .unwrap();
    assert_eq!(app.version, 2);
    // 3 AMZN, 2 MSFT and 1 IBM (no company: the join drops it).
    let entries: Vec<PutEntry> = ["AMZN", "MSFT", "AMZN", "IBM", "MSFT", "AMZN"]
        .iter()
        .map(|t| PutEntry {
            partition_key: t.to_string(),
            data: Bytes::from(format!(r#"{{"ticker": "{t}", "quote": {{"price": 1}}}}"#)),
            explicit_hash_key: None,
        })
        .collect();
    world.streams.put("tolls", &entries).await.unwrap();
    apps.start("named", &[("1.1".to_string(), "TRIM_HORIZON".to_string())])
        .await
        .unwrap();
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = records(&world, "named");
        if rows.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let app = apps.describe("named").unwrap();
    let mut got: Vec<(String, String, u64)> = rows
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).unwrap();
            (
                v["TICKER"].as_str().unwrap().to_string(),
                v["COMPANY"].as_str().unwrap().to_string(),
                v["RECENT"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let expected: Vec<(String, String, u64)> = [
        ("AMZN", "Amazon", 1),
        ("AMZN", "Amazon", 2),
        ("AMZN", "Amazon", 3),
        ("MSFT", "Microsoft", 1),
        ("MSFT", "Microsoft", 2),
    ]
    .iter()
    .map(|(t, c, n)| (t.to_string(), c.to_string(), *n))
    .collect();
    assert_eq!(got, expected, "errors: {:?}", apps.errors(&app));
}

/// KDA's stagger windows, as its guide's example writes them: per minute
/// of event time and ticker, a window opened by the key's first row and
/// closed RANGE later (in ROWTIME); rows put together land in one window
/// per key, so the counts are the events per key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stagger_windows_count_each_key_once_per_window() {
    let world = world(2).await;
    world
        .streams
        .create("staggered", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    let apps = Applications::open(world.flow(), world.env(), &world.data_dir)
        .await
        .unwrap();
    let mut input = ticker_input();
    input
        .input_schema
        .as_mut()
        .unwrap()
        .record_columns
        .as_mut()
        .unwrap()
        .push(column("EVENT_TIME", "$.event_time", "TIMESTAMP"));
    let code = r#"
        CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
            TICKER_SYMBOL VARCHAR(4), EVENT_MINUTE TIMESTAMP, TICKER_COUNT BIGINT);
        CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
          SELECT STREAM TICKER_SYMBOL, FLOOR(EVENT_TIME TO MINUTE), COUNT(TICKER_SYMBOL) AS TICKER_COUNT
          FROM "SOURCE_SQL_STREAM_001"
          WINDOWED BY STAGGER (
            PARTITION BY FLOOR(EVENT_TIME TO MINUTE), TICKER_SYMBOL RANGE INTERVAL '2' SECOND);
    "#;
    apps.create(
        "staggered",
        None,
        vec![input],
        vec![output("DESTINATION_SQL_STREAM", "staggered", "JSON")],
        Vec::new(),
        code.into(),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut entries = Vec::new();
    for i in 0..40u32 {
        let ticker = ["AMZN", "MSFT"][i as usize % 2];
        let minute = if i < 25 { "10:00" } else { "10:01" };
        *expected
            .entry((ticker.to_string(), format!("2024-01-01 {minute}:00.000")))
            .or_default() += 1;
        entries.push(PutEntry {
            partition_key: format!("k{i}"),
            data: Bytes::from(format!(
                r#"{{"ticker": "{ticker}", "quote": {{"price": 1}}, "event_time": "2024-01-01 {minute}:{:02}"}}"#,
                i % 60
            )),
            explicit_hash_key: None,
        });
    }
    world.streams.put("tolls", &entries).await.unwrap();
    apps.start(
        "staggered",
        &[("1.1".to_string(), "TRIM_HORIZON".to_string())],
    )
    .await
    .unwrap();
    let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
    for _ in 0..100 {
        got.clear();
        for line in records(&world, "staggered") {
            let v: Value = serde_json::from_str(&line).unwrap();
            *got.entry((
                v["TICKER_SYMBOL"].as_str().unwrap().to_string(),
                v["EVENT_MINUTE"].as_str().unwrap().to_string(),
            ))
            .or_default() += v["TICKER_COUNT"].as_u64().unwrap();
        }
        if got == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let app = apps.describe("staggered").unwrap();
    assert_eq!(got, expected, "errors: {:?}", apps.errors(&app));
    // One row per key: each key's rows came together, in one window.
    assert_eq!(records(&world, "staggered").len(), expected.len());
}

/// StartApplication's positions: LAST_STOPPED_POINT goes on from where the
/// application stopped (nothing counted twice, nothing skipped); NOW skips
/// what came while it was stopped. (The pump names its INSERT's columns in
/// another order than the stream's.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_stopped_point_goes_on_where_the_application_stopped_and_now_skips() {
    let world = world(1).await;
    world
        .streams
        .create("passed", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    let apps = Applications::open(world.flow(), world.env(), &world.data_dir)
        .await
        .unwrap();
    let code = r#"
        CREATE OR REPLACE STREAM "PASSED" (ticker_symbol VARCHAR(4), price DOUBLE);
        CREATE OR REPLACE PUMP "P" AS INSERT INTO "PASSED" (price, ticker_symbol)
          SELECT STREAM price, ticker_symbol FROM "SOURCE_SQL_STREAM_001";
    "#;
    apps.create(
        "passer",
        None,
        vec![ticker_input()],
        vec![output("PASSED", "passed", "JSON")],
        Vec::new(),
        code.into(),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let put = |from: u32, to: u32| {
        let entries: Vec<PutEntry> = (from..to)
            .map(|i| PutEntry {
                partition_key: format!("k{i}"),
                data: Bytes::from(format!(r#"{{"ticker": "T", "quote": {{"price": {i}}}}}"#)),
                explicit_hash_key: None,
            })
            .collect();
        let streams = world.streams.clone();
        async move { streams.put("tolls", &entries).await.unwrap() }
    };
    let world = &world;
    let wait_for = |n: usize| async move {
        for _ in 0..100 {
            if records(world, "passed").len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let prices = || -> Vec<u64> {
        let mut p: Vec<u64> = records(world, "passed")
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(r).unwrap()["PRICE"]
                    .as_f64()
                    .unwrap() as u64
            })
            .collect();
        p.sort();
        p
    };
    put(0, 10).await;
    let start = |position: &str| vec![("1.1".to_string(), position.to_string())];
    apps.start("passer", &start("TRIM_HORIZON")).await.unwrap();
    wait_for(10).await;
    apps.stop("passer").await.unwrap();
    put(10, 20).await;
    apps.start("passer", &start("LAST_STOPPED_POINT"))
        .await
        .unwrap();
    wait_for(20).await;
    assert_eq!(prices(), (0..20).collect::<Vec<u64>>());
    apps.stop("passer").await.unwrap();
    // Stopped while 20..30 come; NOW starts after them.
    put(20, 30).await;
    apps.start("passer", &start("NOW")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    put(30, 35).await;
    wait_for(25).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut expected: Vec<u64> = (0..20).collect();
    expected.extend(30..35);
    assert_eq!(prices(), expected);
    let app = apps.describe("passer").unwrap();
    assert_eq!(app.inputs[0].starting_position.as_deref(), Some("NOW"));
}

/// InputParallelism 2: the input becomes SOURCE_SQL_STREAM_001 and _002,
/// each with its share of the shards; a pump per in-application stream,
/// and every record comes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_parallelism_splits_the_shards_between_in_application_streams() {
    use nuage_flow::kda::model::InputParallelism;
    let world = world(2).await;
    world
        .streams
        .create("both", 1, StreamMode::Provisioned, BTreeMap::new())
        .unwrap();
    let apps = Applications::open(world.flow(), world.env(), &world.data_dir)
        .await
        .unwrap();
    let mut input = ticker_input();
    input.input_parallelism = Some(InputParallelism { count: Some(2) });
    let code = r#"
        CREATE OR REPLACE STREAM "BOTH" (ticker_symbol VARCHAR(4), price DOUBLE);
        CREATE OR REPLACE PUMP "P1" AS INSERT INTO "BOTH"
          SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";
        CREATE OR REPLACE PUMP "P2" AS INSERT INTO "BOTH"
          SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_002";
    "#;
    apps.create(
        "split",
        None,
        vec![input],
        vec![output("BOTH", "both", "JSON")],
        Vec::new(),
        code.into(),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let app = apps.describe("split").unwrap();
    assert_eq!(
        nuage_flow::kda::model::Application::in_app_streams(&app.inputs[0].input),
        ["SOURCE_SQL_STREAM_001", "SOURCE_SQL_STREAM_002"]
    );
    // 40 records over both shards (explicit hash keys at either end).
    let entries: Vec<PutEntry> = (0..40u32)
        .map(|i| PutEntry {
            partition_key: format!("k{i}"),
            data: Bytes::from(format!(r#"{{"ticker": "T", "quote": {{"price": {i}}}}}"#)),
            explicit_hash_key: Some(if i % 2 == 0 { 0 } else { u128::MAX }),
        })
        .collect();
    world.streams.put("tolls", &entries).await.unwrap();
    apps.start("split", &[("1.1".to_string(), "TRIM_HORIZON".to_string())])
        .await
        .unwrap();
    let prices_now = || -> Vec<u64> {
        records(&world, "both")
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(r).unwrap()["PRICE"]
                    .as_f64()
                    .unwrap() as u64
            })
            .collect()
    };
    for _ in 0..100 {
        if prices_now().len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut prices = prices_now();
    prices.sort();
    assert_eq!(
        prices,
        (0..40).collect::<Vec<u64>>(),
        "errors: {:?}",
        apps.errors(&app)
    );
}
