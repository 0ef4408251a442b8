//! Kinesis Analytics applications over a real stream log (no HTTP): the
//! KDA dialect's forms run on the engine, counted against the records the
//! test put (the oracle is the input itself).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use nuage_flow::kda::Applications;
use nuage_flow::kda::dialect;
use nuage_flow::kda::model::{
    DestinationSchema, Input, JsonMapping, MappingParameters, Output, RecordColumn, RecordFormat,
    ResourceRole, SourceSchema,
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
            record_format: Some(RecordFormat {
                record_format_type: Some("JSON".into()),
                mapping_parameters: Some(MappingParameters {
                    json: Some(JsonMapping {
                        record_row_path: Some("$".into()),
                    }),
                    csv: None,
                }),
            }),
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
    let t = dialect::translate(&code.pumps[0], &columns).unwrap();
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
