//! Expected answers are worked out by hand from each test's own records
//! and S3 Select's documented rules (names, `_N`, CSV and JSON output).

use std::io::Write;

use futures::StreamExt;

use super::*;

const PEOPLE: &str = "Name,City,Age\n\
Ana,Lyon,34\n\
bob,Paris,19\n\
Chloé,\"Nice, France\",52\n";

fn csv(header: Header) -> Input {
    Input::Csv(CsvInput {
        header,
        ..CsvInput::default()
    })
}

fn request(expression: &str, input: Input, output: Output) -> Request {
    Request {
        expression: expression.to_string(),
        input,
        compression: Compression::None,
        output,
        scan_range: None,
    }
}

fn csv_out() -> Output {
    Output::Csv(CsvOutput::default())
}

fn json_out() -> Output {
    Output::Json {
        record_delimiter: b"\n".to_vec(),
    }
}

async fn run(request: Request, data: &[u8]) -> Result<(String, Arc<Counts>), SelectError> {
    let selection = select(request, Source::Bytes(Bytes::copy_from_slice(data))).await?;
    let mut text = String::new();
    let mut records = selection.records;
    while let Some(chunk) = records.next().await {
        text.push_str(std::str::from_utf8(&chunk?).unwrap());
    }
    Ok((text, selection.counts))
}

async fn answer(expression: &str, input: Input, output: Output, data: &str) -> String {
    run(request(expression, input, output), data.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .0
}

async fn refusal(expression: &str, input: Input, data: &str) -> SelectError {
    run(request(expression, input, csv_out()), data.as_bytes())
        .await
        .expect_err(expression)
}

#[tokio::test]
async fn header_names_match_without_case_and_quotes_match_case() {
    let got = answer(
        "SELECT s.name FROM S3Object s WHERE CAST(s.age AS INT) > 30",
        csv(Header::Use),
        csv_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "Ana\nChloé\n");
    // USER is a keyword; `s.user` is still the column.
    let got = answer(
        "SELECT s.user FROM S3Object s",
        csv(Header::Use),
        json_out(),
        "id,User\n1,ana\n",
    )
    .await;
    assert_eq!(got, "{\"user\":\"ana\"}\n");
    let got = answer(
        "select \"City\" from s3object where \"Name\" = 'bob'",
        csv(Header::Use),
        csv_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "Paris\n");
    let e = refusal("SELECT \"name\" FROM S3Object", csv(Header::Use), PEOPLE).await;
    assert_eq!(e.code, "EvaluatorBindingDoesNotExist", "{e}");
}

#[tokio::test]
async fn positions_name_csv_columns_and_star_keeps_fields() {
    // IGNORE: the header line is skipped, columns are _1, _2, _3.
    let got = answer(
        "SELECT _3, _1 FROM S3Object",
        csv(Header::Ignore),
        csv_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "34,Ana\n19,bob\n52,Chloé\n");
    // NONE: the header line is a record; a field with the delimiter is quoted.
    let got = answer(
        "SELECT * FROM S3Object s WHERE s._2 LIKE 'N%'",
        csv(Header::None),
        csv_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "Chloé,\"Nice, France\",52\n");
    let got = answer(
        "SELECT * FROM S3Object LIMIT 1",
        csv(Header::Use),
        json_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "{\"Name\":\"Ana\",\"City\":\"Lyon\",\"Age\":\"34\"}\n");
}

#[tokio::test]
async fn aggregates_over_cast_text() {
    // 34 + 19 + 52 = 105; 105 / 3 = 35; min and max of the numbers.
    let got = answer(
        "SELECT COUNT(*), SUM(CAST(age AS INT)), AVG(CAST(age AS FLOAT)), MIN(CAST(age AS INT)), MAX(CAST(age AS INT)) FROM S3Object",
        csv(Header::Use),
        csv_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "3,105,35.0,19,52\n");
}

#[tokio::test]
async fn json_names_are_aliases_columns_or_positions() {
    let got = answer(
        "SELECT COUNT(*) AS n, MAX(CAST(_3 AS INT)) FROM S3Object",
        csv(Header::Ignore),
        json_out(),
        PEOPLE,
    )
    .await;
    assert_eq!(got, "{\"n\":3,\"_2\":52}\n");
}

#[tokio::test]
async fn json_lines_records_and_missing_attributes() {
    let data = "{\"name\":\"Ana\",\"age\":34,\"tags\":{\"team\":\"red\"}}\n\
                {\"name\":\"bob\",\"age\":19}\n\
                {\"name\":\"Chloé\",\"age\":52,\"tags\":{\"team\":\"blue\"}}\n";
    let got = answer(
        "SELECT s.name, s.tags.team FROM S3Object[*] s WHERE s.age > 20",
        Input::Json { document: false },
        json_out(),
        data,
    )
    .await;
    assert_eq!(
        got,
        "{\"name\":\"Ana\",\"team\":\"red\"}\n{\"name\":\"Chloé\",\"team\":\"blue\"}\n"
    );
    // bob has no tags: his record has no "team" attribute.
    let got = answer(
        "SELECT s.tags.team AS team FROM S3Object s WHERE s.name = 'bob'",
        Input::Json { document: false },
        json_out(),
        data,
    )
    .await;
    assert_eq!(got, "{}\n");
    let got = answer(
        "SELECT COUNT(*) FROM S3Object s WHERE s.nothing IS MISSING",
        Input::Json { document: false },
        csv_out(),
        data,
    )
    .await;
    assert_eq!(got, "3\n");
}

#[tokio::test]
async fn a_json_document_is_walked_by_the_path() {
    let data = r#"{
  "books": [
    {"title": "Dune", "price": 12.5},
    {"title": "Emma", "price": 7}
  ]
}"#;
    let got = answer(
        "SELECT price FROM S3Object[*].books[*].price",
        Input::Json { document: true },
        csv_out(),
        data,
    )
    .await;
    assert_eq!(got, "12.5\n7.0\n");
    let got = answer(
        "SELECT b.title FROM S3Object[*].books[*] b WHERE b.price < 10",
        Input::Json { document: true },
        json_out(),
        data,
    )
    .await;
    assert_eq!(got, "{\"title\":\"Emma\"}\n");
}

#[tokio::test]
async fn gzip_and_bzip2_objects_are_read_and_counted() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(PEOPLE.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let mut req = request("SELECT name FROM S3Object", csv(Header::Use), csv_out());
    req.compression = Compression::Gzip;
    let (got, counts) = run(req, &gz).await.unwrap();
    assert_eq!(got, "Ana\nbob\nChloé\n");
    let (scanned, processed, returned) = counts.get();
    assert_eq!(scanned, gz.len() as u64);
    assert_eq!(processed, PEOPLE.len() as u64);
    assert_eq!(returned, "Ana\nbob\nChloé\n".len() as u64);

    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(PEOPLE.as_bytes()).unwrap();
    let bz = bz.finish().unwrap();
    let mut req = request("SELECT COUNT(*) FROM S3Object", csv(Header::Use), csv_out());
    req.compression = Compression::Bzip2;
    assert_eq!(run(req, &bz).await.unwrap().0, "3\n");
}

#[tokio::test]
async fn a_scan_range_takes_the_records_that_start_in_it() {
    let data = "a,1\nbb,2\nccc,3\ndddd,4\n";
    // Offsets: "a,1\n" 0-3, "bb,2\n" 4-8, "ccc,3\n" 9-14, "dddd,4\n" 15-21.
    let cases = [
        ((Some(0), Some(3)), "a\n"),
        ((Some(1), Some(9)), "bb\nccc\n"),
        ((Some(4), Some(4)), "bb\n"),
        ((Some(10), None), "dddd\n"),
        ((None, Some(7)), "dddd\n"),
    ];
    for (range, expected) in cases {
        let mut req = request("SELECT _1 FROM S3Object", csv(Header::None), csv_out());
        req.scan_range = Some(range);
        assert_eq!(
            run(req, data.as_bytes()).await.unwrap().0,
            expected,
            "{range:?}"
        );
    }
    let mut req = request("SELECT _1 FROM S3Object", csv(Header::None), csv_out());
    req.scan_range = Some((Some(9), Some(3)));
    assert_eq!(
        run(req, data.as_bytes()).await.unwrap_err().code,
        "InvalidScanRange"
    );
}

#[tokio::test]
async fn output_delimiters_and_quoting_follow_the_request() {
    let output = Output::Csv(CsvOutput {
        field_delimiter: b'|',
        quote: b'\'',
        escape: b'\'',
        record_delimiter: Some(b';'),
        always_quote: true,
    });
    let got = answer(
        "SELECT name, age FROM S3Object",
        csv(Header::Use),
        output,
        PEOPLE,
    )
    .await;
    assert_eq!(got, "'Ana'|'34';'bob'|'19';'Chloé'|'52';");
    let output = Output::Json {
        record_delimiter: b"\r\n".to_vec(),
    };
    let got = answer(
        "SELECT age FROM S3Object LIMIT 2",
        csv(Header::Use),
        output,
        PEOPLE,
    )
    .await;
    assert_eq!(got, "{\"age\":\"34\"}\r\n{\"age\":\"19\"}\r\n");
}

#[tokio::test]
async fn what_s3_select_refuses() {
    let cases = [
        (
            "SELECT city, COUNT(*) FROM S3Object GROUP BY city",
            "UnsupportedSqlStructure",
        ),
        (
            "SELECT * FROM S3Object ORDER BY name",
            "UnsupportedSqlStructure",
        ),
        (
            "SELECT * FROM S3Object a JOIN S3Object b ON a.name = b.name",
            "UnsupportedSqlStructure",
        ),
        (
            "SELECT * FROM S3Object WHERE name IN (SELECT name FROM S3Object)",
            "UnsupportedSqlStructure",
        ),
        ("SELECT * FROM people", "InvalidTableAlias"),
        ("SELECT name", "ParseSelectMissingFrom"),
        ("SELEC name FROM S3Object", "ParseUnexpectedToken"),
        ("SELECT nope FROM S3Object", "EvaluatorBindingDoesNotExist"),
        ("SELECT _0 FROM S3Object", "InvalidColumnIndex"),
        ("DELETE FROM S3Object", "ParseUnsupportedSelect"),
        ("", "MissingRequiredParameter"),
        ("SELECT CAST(name AS INT) FROM S3Object", "CastFailed"),
    ];
    for (expression, code) in cases {
        let e = refusal(expression, csv(Header::Use), PEOPLE).await;
        assert_eq!(e.code, code, "{expression}: {e}");
    }
    let e = refusal("SELECT * FROM S3Object[*].a", csv(Header::Use), PEOPLE).await;
    assert_eq!(e.code, "UnsupportedSyntax");
    let not_text = b"a,b\n\xff\xfe,1\n";
    let req = request("SELECT a FROM S3Object", csv(Header::Use), csv_out());
    let e = run(req, not_text).await.unwrap_err();
    assert_eq!(e.code, "CSVParsingError", "{e}");
}

#[tokio::test]
async fn parquet_columns_keep_their_types() {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::arrow::ArrowWriter;
    let schema = Arc::new(Schema::new(vec![
        Field::new("title", DataType::Utf8, false),
        Field::new("Year", DataType::Int64, false),
    ]));
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["Alien", "Heat", "Up"])),
            Arc::new(Int64Array::from(vec![1979, 1995, 2009])),
        ],
    )
    .unwrap();
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let got = run(
        request(
            "SELECT title, year FROM S3Object WHERE year > 1990",
            Input::Parquet,
            json_out(),
        ),
        &file,
    )
    .await
    .unwrap()
    .0;
    assert_eq!(
        got,
        "{\"title\":\"Heat\",\"year\":1995}\n{\"title\":\"Up\",\"year\":2009}\n"
    );
}

#[tokio::test]
async fn rows_wider_than_the_header_keep_their_fields() {
    // A trailing delimiter makes a third field, empty (not absent).
    let data = "c1,c2\n1,2,\n3,4,x\n";
    let got = answer(
        "SELECT c2, _3 FROM S3Object",
        csv(Header::Use),
        json_out(),
        data,
    )
    .await;
    assert_eq!(
        got,
        "{\"c2\":\"2\",\"_3\":\"\"}\n{\"c2\":\"4\",\"_3\":\"x\"}\n"
    );
}

/// The examples of S3 Select's date functions page (AWS documentation),
/// one row of input so each expression answers once.
#[tokio::test]
async fn date_functions_answer_as_the_documentation_shows() {
    let cases = [
        ("DATE_DIFF(year, `2010-01-01T`, `2011-01-01T`)", "1"),
        ("DATE_DIFF(month, `2010T`, `2011T`)", "12"),
        ("DATE_DIFF(month, `2011T`, `2010T`)", "-12"),
        (
            "DATE_DIFF(day, `2010-01-01T23:00`, `2010-01-02T01:00`)",
            "0",
        ),
        ("EXTRACT(YEAR FROM `2010-01-01T`)", "2010"),
        ("EXTRACT(MONTH FROM `2010T`)", "1"),
        ("EXTRACT(MONTH FROM `2010-10T`)", "10"),
        ("EXTRACT(HOUR FROM `2017-01-02T03:04:05+07:08`)", "3"),
        ("EXTRACT(MINUTE FROM `2017-01-02T03:04:05+07:08`)", "4"),
        (
            "TO_STRING(`1969-07-20T20:18Z`, 'MMMM d, y')",
            "\"July 20, 1969\"",
        ),
        (
            "TO_STRING(`1969-07-20T20:18Z`, 'MMM d, yyyy')",
            "\"Jul 20, 1969\"",
        ),
        ("TO_STRING(`1969-07-20T20:18Z`, 'M-d-yy')", "7-20-69"),
        ("TO_STRING(`1969-07-20T20:18Z`, 'MM-d-y')", "07-20-1969"),
        (
            "TO_STRING(`1969-07-20T20:18Z`, 'MMMM d, y h:m a')",
            "\"July 20, 1969 8:18 PM\"",
        ),
        (
            "TO_STRING(`1969-07-20T20:18Z`, 'y-MM-dd''T''H:m:ssX')",
            "1969-07-20T20:18:00Z",
        ),
        // DATE_ADD's examples, compared as instants.
        ("DATE_ADD(year, 5, `2010-01-01T`) = `2015-01-01T`", "true"),
        ("DATE_ADD(month, 1, `2010T`) = `2010-02T`", "true"),
        ("DATE_ADD(month, 13, `2010T`) = `2011-02T`", "true"),
        ("DATE_ADD(day, -1, `2017-01-10T`) = `2017-01-09T`", "true"),
        (
            "DATE_ADD(hour, 1, `2017T`) = `2017-01-01T01:00-00:00`",
            "true",
        ),
        (
            "DATE_ADD(hour, 1, `2017-01-02T03:04Z`) = `2017-01-02T04:04Z`",
            "true",
        ),
        (
            "DATE_ADD(minute, 1, `2017-01-02T03:04:05.006Z`) = `2017-01-02T03:05:05.006Z`",
            "true",
        ),
        (
            "DATE_ADD(second, 1, `2017-01-02T03:04:05.006Z`) = `2017-01-02T03:04:06.006Z`",
            "true",
        ),
        // TO_TIMESTAMP's examples.
        ("TO_TIMESTAMP('2007T') = `2007T`", "true"),
        (
            "TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00') = `2007-02-23T20:14:33.079Z`",
            "true",
        ),
        ("CAST('2007-02T' AS TIMESTAMP) < `2007-03T`", "true"),
        ("UTCNOW() > `2026-01-01T`", "true"),
    ];
    for (expression, expected) in cases {
        let query = format!("SELECT {expression} FROM S3Object");
        let got = answer(&query, csv(Header::None), csv_out(), "x\n").await;
        assert_eq!(got.trim_end(), expected, "{query}");
    }
    // A timestamp read from the object, compared with a literal.
    let got = answer(
        "SELECT s.id FROM S3Object s WHERE TO_TIMESTAMP(s.at) > DATE_ADD(day, -7, `2024-03-10T`)",
        csv(Header::Use),
        csv_out(),
        "id,at\n1,2024-03-01T10:00:00Z\n2,2024-03-05T00:00:01Z\n3,2024-03-09T\n",
    )
    .await;
    assert_eq!(got, "2\n3\n");

    let refused = refusal(
        "SELECT DATE_ADD(week, 1, `2010T`) FROM S3Object",
        csv(Header::None),
        "x\n",
    )
    .await;
    assert_eq!(refused.code, "ParseExpectedDatePart", "{refused}");
    // Offsets beyond a day, months past 12, letters: not timestamps.
    for literal in [
        "`2010-01-01T00:00+99:00`",
        "`2010-13T`",
        "`20x0T`",
        "`2010`",
    ] {
        let refused = refusal(
            &format!("SELECT {literal} FROM S3Object"),
            csv(Header::None),
            "x\n",
        )
        .await;
        assert_eq!(refused.code, "ParseUnexpectedToken", "{literal}: {refused}");
    }
    let refused = refusal(
        "SELECT TO_TIMESTAMP(_1) FROM S3Object",
        csv(Header::None),
        "yesterday\n",
    )
    .await;
    assert_eq!(refused.code, "CastFailed", "{refused}");
}
