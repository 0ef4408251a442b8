//! S3 server access logging through the AWS SDK for S3. Expected answers
//! follow S3's documentation: PutBucketLogging refuses a target bucket that
//! does not exist (InvalidTargetBucketForLogging) and an unknown
//! PartitionDateSource (MalformedXML); log objects are named
//! `<prefix>YYYY-mm-DD-HH-MM-SS-<unique>` (PartitionedPrefix:
//! `<prefix><account>/<region>/<bucket>/YYYY/MM/DD/...`) and each line has
//! the documented fields: owner, bucket, [time], remote IP, requester,
//! request id, operation (REST.PUT.OBJECT, ...), key, "request-URI",
//! status, error code, bytes sent, object size, ...

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLoggingStatus, LoggingEnabled, PartitionDateSource, PartitionedPrefix,
    TargetObjectKeyFormat,
};

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

fn logging(target: &str, prefix: &str) -> LoggingEnabled {
    LoggingEnabled::builder()
        .target_bucket(target)
        .target_prefix(prefix)
        .build()
        .unwrap()
}

async fn enable(s3: &Client, bucket: &str, enabled: LoggingEnabled) -> Result<(), String> {
    s3.put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .logging_enabled(enabled)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

/// The log objects under `prefix`, waiting (up to 30 s) for at least one,
/// and every line in them.
async fn log_lines(s3: &Client, bucket: &str, prefix: &str) -> (Vec<String>, Vec<String>) {
    let start = Instant::now();
    loop {
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .map(|o| o.key().unwrap().to_string())
            .collect();
        if !keys.is_empty() {
            let mut lines = Vec::new();
            for key in &keys {
                let got = s3
                    .get_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .unwrap();
                let text = got.body.collect().await.unwrap().into_bytes();
                lines.extend(
                    String::from_utf8(text.to_vec())
                        .unwrap()
                        .lines()
                        .map(String::from),
                );
            }
            return (keys, lines);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no log object under {prefix}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A log line's fields: quoted fields and the bracketed time stay whole.
fn fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let (field, tail) = match rest.as_bytes()[0] {
            b'"' => {
                let end = rest[1..].find("\" ").map_or(rest.len(), |i| i + 2);
                (&rest[..end], &rest[end..])
            }
            b'[' => {
                let end = rest.find("] ").map_or(rest.len(), |i| i + 1);
                (&rest[..end], &rest[end..])
            }
            _ => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
        };
        fields.push(field.to_string());
        rest = tail.trim_start_matches(' ');
    }
    fields
}

#[test]
fn access_logs_are_delivered_into_the_target_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--s3-access-log-every", "1"]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        for bucket in ["source-data", "source-two", "access-logs"] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        let missing = enable(&s3, "source-data", logging("no-such-target", "logs/")).await;
        assert_eq!(missing, Err("InvalidTargetBucketForLogging".into()));
        let bogus = LoggingEnabled::builder()
            .target_bucket("access-logs")
            .target_prefix("logs/")
            .target_object_key_format(
                TargetObjectKeyFormat::builder()
                    .partitioned_prefix(
                        PartitionedPrefix::builder()
                            .partition_date_source(PartitionDateSource::from("Tuesday"))
                            .build(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        assert_eq!(
            enable(&s3, "source-data", bogus).await,
            Err("MalformedXML".into())
        );

        enable(&s3, "source-data", logging("access-logs", "logs/"))
            .await
            .unwrap();
        let got = s3
            .get_bucket_logging()
            .bucket("source-data")
            .send()
            .await
            .unwrap();
        let enabled = got.logging_enabled().unwrap();
        assert_eq!(enabled.target_bucket(), "access-logs");
        assert_eq!(enabled.target_prefix(), "logs/");
        let partitioned = LoggingEnabled::builder()
            .target_bucket("access-logs")
            .target_prefix("by-day/")
            .target_object_key_format(
                TargetObjectKeyFormat::builder()
                    .partitioned_prefix(
                        PartitionedPrefix::builder()
                            .partition_date_source(PartitionDateSource::EventTime)
                            .build(),
                    )
                    .build(),
            )
            .build()
            .unwrap();
        enable(&s3, "source-two", partitioned).await.unwrap();

        s3.put_object()
            .bucket("source-data")
            .key("data/a b.csv")
            .body(ByteStream::from_static(b"1,2,3\n"))
            .send()
            .await
            .unwrap();
        s3.get_object()
            .bucket("source-data")
            .key("data/a b.csv")
            .send()
            .await
            .unwrap();
        let missing = s3
            .get_object()
            .bucket("source-data")
            .key("nothing-here")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing.into_service_error()), "NoSuchKey");
        s3.list_objects_v2()
            .bucket("source-two")
            .send()
            .await
            .unwrap();

        let (keys, lines) = log_lines(&s3, "access-logs", "logs/").await;
        let name = keys[0].strip_prefix("logs/").unwrap();
        // YYYY-mm-DD-HH-MM-SS-<unique>
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 7, "{name}");
        assert!(
            parts[..6]
                .iter()
                .all(|p| p.chars().all(|c| c.is_ascii_digit())),
            "{name}"
        );
        let lines: Vec<Vec<String>> = lines.iter().map(|l| fields(l)).collect();
        assert!(lines.iter().all(|f| f.len() >= 25 && f[1] == "source-data"));
        assert!(
            lines
                .iter()
                .all(|f| f[2].starts_with('[') && f[2].ends_with(" +0000]"))
        );
        assert!(lines.iter().all(|f| f[3] == "127.0.0.1"));
        let put = lines.iter().find(|f| f[6] == "REST.PUT.OBJECT").unwrap();
        assert_eq!(put[7], "data/a%20b.csv");
        // The request line as sent (the SDK adds `x-id`).
        assert_eq!(
            put[8],
            "\"PUT /source-data/data/a%20b.csv?x-id=PutObject HTTP/1.1\""
        );
        assert_eq!(
            (put[9].as_str(), put[10].as_str(), put[12].as_str()),
            ("200", "-", "6")
        );
        let get = lines
            .iter()
            .find(|f| f[6] == "REST.GET.OBJECT" && f[9] == "200")
            .unwrap();
        assert_eq!((get[11].as_str(), get[12].as_str()), ("6", "6"));
        let miss = lines.iter().find(|f| f[7] == "nothing-here").unwrap();
        assert_eq!((miss[9].as_str(), miss[10].as_str()), ("404", "NoSuchKey"));
        // The log's own bucket is not logged, and neither is PutBucketLogging
        // before logging was on.
        assert!(lines.iter().all(|f| f[6] != "REST.PUT.LOGGING_STATUS"));

        let (keys, lines) = log_lines(&s3, "access-logs", "by-day/").await;
        let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
        let partition = format!("by-day/000000000000/us-east-1/source-two/{today}/");
        assert!(
            keys[0].starts_with(&partition),
            "{} vs {partition}",
            keys[0]
        );
        assert!(lines.iter().any(|l| fields(l)[6] == "REST.GET.BUCKET"));

        // An empty status turns logging off.
        s3.put_bucket_logging()
            .bucket("source-data")
            .bucket_logging_status(BucketLoggingStatus::builder().build())
            .send()
            .await
            .unwrap();
        let got = s3
            .get_bucket_logging()
            .bucket("source-data")
            .send()
            .await
            .unwrap();
        assert!(got.logging_enabled().is_none());
    });
}
