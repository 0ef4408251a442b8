//! S3 Select (SelectObjectContent) through the AWS SDK for S3, over
//! MovieLens 100k's ratings. Expected answers are computed here from the
//! data file itself; the event stream's shape (Records, Stats with the
//! bytes scanned and processed, End) and the error codes follow S3's API
//! reference.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompressionType, CsvInput, CsvOutput, ExpressionType, FileHeaderInfo, InputSerialization,
    JsonOutput, OutputSerialization, SelectObjectContentEventStream, Stats,
};

use crate::movies::datasets;
use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

/// The records, the Stats event, and whether End came.
async fn select(
    s3: &Client,
    key: &str,
    expression: &str,
    output: OutputSerialization,
) -> Result<(String, Option<Stats>, bool), String> {
    let input = InputSerialization::builder()
        .csv(
            CsvInput::builder()
                .file_header_info(FileHeaderInfo::Use)
                .field_delimiter("\t")
                .build(),
        )
        .compression_type(CompressionType::None)
        .build();
    let answer = s3
        .select_object_content()
        .bucket("ratings")
        .key(key)
        .expression(expression)
        .expression_type(ExpressionType::Sql)
        .input_serialization(input)
        .output_serialization(output)
        .send()
        .await
        .map_err(|e| code(&e))?;
    let mut events = answer.payload;
    let (mut records, mut stats, mut end) = (String::new(), None, false);
    while let Some(event) = events.recv().await.map_err(|e| format!("{e:?}"))? {
        match event {
            SelectObjectContentEventStream::Records(r) => {
                let bytes = r.payload().expect("records carry a payload").as_ref();
                records.push_str(std::str::from_utf8(bytes).unwrap());
            }
            SelectObjectContentEventStream::Stats(s) => stats = s.details,
            SelectObjectContentEventStream::End(_) => end = true,
            _ => {}
        }
    }
    Ok((records, stats, end))
}

fn csv_out() -> OutputSerialization {
    OutputSerialization::builder()
        .csv(CsvOutput::builder().build())
        .build()
}

#[test]
fn s3_select_answers_like_the_ratings_file_says() {
    let path = datasets().join("ml-100k/ratings.tsv");
    let data = std::fs::read(&path).unwrap();
    let text = String::from_utf8(data.clone()).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let item_50: Vec<f64> = rows
        .iter()
        .filter(|r| r[1] == "50")
        .map(|r| r[2].parse().unwrap())
        .collect();
    let mean = item_50.iter().sum::<f64>() / item_50.len() as f64;
    let first_fives: Vec<&str> = rows
        .iter()
        .filter(|r| r[2] == "5")
        .take(3)
        .map(|r| r[0])
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("ratings").send().await.unwrap();
        s3.put_object()
            .bucket("ratings")
            .key("ml-100k/ratings.tsv")
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();

        let (records, stats, end) = select(
            &s3,
            "ml-100k/ratings.tsv",
            "SELECT COUNT(*), AVG(CAST(s.rating AS FLOAT)) FROM S3Object s WHERE s.item_id = '50'",
            csv_out(),
        )
        .await
        .unwrap();
        let fields: Vec<&str> = records.trim_end().split(',').collect();
        assert_eq!(fields[0], item_50.len().to_string());
        let got: f64 = fields[1].parse().unwrap();
        assert!((got - mean).abs() < 1e-9, "{got} vs {mean}");
        assert!(end, "the stream ends with an End event");
        let stats = stats.expect("a Stats event");
        assert_eq!(stats.bytes_scanned(), Some(data.len() as i64));
        assert_eq!(stats.bytes_processed(), Some(data.len() as i64));
        assert_eq!(stats.bytes_returned(), Some(records.len() as i64));

        let json = OutputSerialization::builder()
            .json(JsonOutput::builder().record_delimiter("\n").build())
            .build();
        let (records, _, _) = select(
            &s3,
            "ml-100k/ratings.tsv",
            "SELECT s.user_id FROM S3Object s WHERE s.rating = '5' LIMIT 3",
            json,
        )
        .await
        .unwrap();
        let expected: String = first_fives
            .iter()
            .map(|u| format!("{{\"user_id\":\"{u}\"}}\n"))
            .collect();
        assert_eq!(records, expected);

        // What S3 Select refuses, with S3's codes.
        let refused = [
            (
                "SELECT item_id, COUNT(*) FROM S3Object GROUP BY item_id",
                "UnsupportedSqlStructure",
            ),
            ("SELECT nope FROM S3Object", "EvaluatorBindingDoesNotExist"),
            ("SELECT * FROM S3Object WHERE (", "ParseUnexpectedToken"),
        ];
        for (expression, expected) in refused {
            let got = select(&s3, "ml-100k/ratings.tsv", expression, csv_out()).await;
            assert_eq!(got.unwrap_err(), expected, "{expression}");
        }
        let missing = select(&s3, "nothing.tsv", "SELECT * FROM S3Object", csv_out()).await;
        assert_eq!(missing.unwrap_err(), "NoSuchKey");
    });
}
