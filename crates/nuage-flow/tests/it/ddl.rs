//! `CREATE TABLE ... WITH (...)` as Flink SQL writes it.

use nuage_catalog::HiveType;
use nuage_flow::ddl::{flink_type_to_hive, parse_create};
use nuage_flow::table::{ColumnKind, StreamTable};

const TOLLS: &str = "CREATE TABLE tolls (
  ts TIMESTAMP(3), station STRING, customerId VARCHAR(20), amount DOUBLE,
  arrival TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  amount_cents AS amount * 100,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
  PRIMARY KEY (station) NOT ENFORCED
) COMMENT 'toll events' WITH ('connector' = 'kinesis', 'stream' = 'tolls', 'format' = 'json',
        'scan.stream.initpos' = 'TRIM_HORIZON')";

#[test]
fn a_flink_create_table_is_read_whole() {
    let table = parse_create(TOLLS, "default").unwrap().unwrap().table;
    assert_eq!(table.name, "tolls");
    let names: Vec<&str> = table.columns.iter().map(|(c, _)| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ts",
            "station",
            "customerId",
            "amount",
            "arrival",
            "amount_cents"
        ]
    );
    assert_eq!(table.columns[0].1, HiveType::Timestamp);
    assert_eq!(
        table.columns[4].0.kind,
        ColumnKind::Metadata {
            key: "timestamp".into(),
            is_virtual: true
        }
    );
    assert!(matches!(
        table.columns[5].0.kind,
        ColumnKind::Computed { .. }
    ));
    let wm = table.watermark.clone().unwrap();
    assert_eq!(
        (wm.column.as_str(), wm.expr.as_str()),
        ("ts", "ts - INTERVAL '5' SECOND")
    );
    assert_eq!(table.stream_name().unwrap(), "tolls");
    // Through the catalog and back.
    let back = StreamTable::from_catalog(&table.to_catalog("me")).unwrap();
    assert_eq!(back, table);
}

#[test]
fn hive_create_tables_are_left_to_the_sql_engine() {
    for sql in [
        "CREATE TABLE t (a INT) STORED AS PARQUET",
        "CREATE TABLE t AS WITH x AS (SELECT 1 AS a) SELECT * FROM x",
        "CREATE TABLE t (a INT) TBLPROPERTIES ('x' = 'y')",
        "SELECT 1",
    ] {
        assert!(parse_create(sql, "default").is_none(), "{sql}");
    }
}

fn error_of(sql: &str) -> String {
    match parse_create(sql, "default").expect("a Flink CREATE TABLE") {
        Ok(_) => panic!("{sql} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_definitions_are_refused_with_what_to_write() {
    let e = error_of("CREATE TABLE t (a INT) WITH ('connector' = 'kafka')");
    assert!(e.contains("connector 'kafka' is not supported"), "{e}");
    let e = error_of("CREATE TABLE t (a INT) WITH ('format' = 'json')");
    assert!(e.contains("no 'connector' option"), "{e}");
    let e = error_of("CREATE TABLE t (a INT) WITH ('connector' = 'kinesis')");
    assert!(e.contains("'stream' = '<name>'"), "{e}");
    let e = error_of(
        "CREATE TABLE t (a INT, WATERMARK FOR b AS b) WITH ('connector' = 'kinesis', 'stream' = 's')",
    );
    assert!(e.contains("'b' is not defined"), "{e}");
    let e = error_of(
        "CREATE TABLE t (a INT, WATERMARK FOR a AS a) WITH ('connector' = 'kinesis', 'stream' = 's')",
    );
    assert!(e.contains("must be of type TIMESTAMP"), "{e}");
    let e = error_of(
        "CREATE TABLE t (a INT) WITH ('connector' = 'kinesis', 'stream' = 's', 'scan.stream.initpos' = 'EARLIEST')",
    );
    assert!(e.contains("TRIM_HORIZON, LATEST or AT_TIMESTAMP"), "{e}");
    let e = error_of(
        "CREATE TABLE t (a INT METADATA FROM 'offset') WITH ('connector' = 'kinesis', 'stream' = 's')",
    );
    assert!(e.contains("no metadata key 'offset'"), "{e}");
    let e =
        error_of("CREATE TABLE t (a MULTISET<INT>) WITH ('connector' = 'kinesis', 'stream' = 's')");
    assert!(e.contains("MULTISET is not supported"), "{e}");
}

#[test]
fn flink_types_map_to_hive_types() {
    let cases = [
        ("STRING", "string"),
        ("VARCHAR(10)", "string"),
        ("INTEGER NOT NULL", "int"),
        ("DOUBLE PRECISION", "double"),
        ("DECIMAL(10, 2)", "decimal(10,2)"),
        ("DECIMAL", "decimal(10,0)"),
        ("TIMESTAMP(3) WITHOUT TIME ZONE", "timestamp"),
        ("TIMESTAMP(6) WITH LOCAL TIME ZONE", "timestamp"),
        ("BYTES", "binary"),
        ("ARRAY<MAP<STRING, INT>>", "array<map<string,int>>"),
        ("ROW<a INT, b STRING>", "struct<a:int,b:string>"),
        (
            "ROW(a INT, b ARRAY<DOUBLE>)",
            "struct<a:int,b:array<double>>",
        ),
    ];
    for (flink, hive) in cases {
        assert_eq!(
            flink_type_to_hive(flink).unwrap().to_string(),
            hive,
            "{flink}"
        );
    }
}
