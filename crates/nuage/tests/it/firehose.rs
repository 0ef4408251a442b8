//! `nuage serve` as Firehose, through the AWS SDK for Firehose: delivery
//! streams buffer records and write objects that are files of the embedded
//! lake (`<data-dir>/lake/<bucket>/<key>`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_firehose::Client;
use aws_sdk_firehose::config::retry::RetryConfig;
use aws_sdk_firehose::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_firehose::error::ProvideErrorMetadata;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DataFormatConversionConfiguration,
    DeliveryStreamEncryptionStatus, DeliveryStreamStatus, DeliveryStreamType, Deserializer,
    DynamicPartitioningConfiguration, ExtendedS3DestinationConfiguration,
    ExtendedS3DestinationUpdate, InputFormatConfiguration, KinesisStreamSourceConfiguration,
    OpenXJsonSerDe, OutputFormatConfiguration, ParquetSerDe, ProcessingConfiguration, Processor,
    ProcessorParameter, ProcessorParameterName, ProcessorType, Record, SchemaConfiguration,
    Serializer, Tag,
};

use crate::streams::{Server, read_shard, runtime};
use crate::{nuage, run_ok};

fn client(server: &Server) -> Client {
    let config = aws_sdk_firehose::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

fn destination(bucket: &str, size_mb: i32, interval_s: i32) -> ExtendedS3DestinationConfiguration {
    ExtendedS3DestinationConfiguration::builder()
        .bucket_arn(format!("arn:aws:s3:::{bucket}"))
        .role_arn("arn:aws:iam::000000000000:role/firehose")
        .buffering_hints(
            BufferingHints::builder()
                .size_in_mbs(size_mb)
                .interval_in_seconds(interval_s)
                .build(),
        )
        .build()
        .unwrap()
}

fn record(data: impl Into<Vec<u8>>) -> Record {
    Record::builder().data(Blob::new(data)).build().unwrap()
}

/// Every object of a lake bucket, by key (files being written are skipped).
fn objects(data_dir: &Path, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if !path.to_string_lossy().contains('#') {
                let key = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    let root = data_dir.join("lake").join(bucket);
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `ready` holds, failing the test after `seconds`.
fn wait_until(seconds: u64, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(seconds),
            "not delivered within {seconds} s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A default key: `YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid><ext>`.
fn assert_default_key(key: &str, prefix: &str, stream: &str, version: u32, extension: &str) {
    let rest = key.strip_prefix(prefix).unwrap_or_else(|| panic!("{key}"));
    let parts: Vec<&str> = rest.split('/').collect();
    assert_eq!(parts.len(), 5, "{key}");
    for (part, len) in parts[..4].iter().zip([4, 2, 2, 2]) {
        assert!(
            part.len() == len && part.bytes().all(|b| b.is_ascii_digit()),
            "{key}"
        );
    }
    let name = parts[4]
        .strip_suffix(extension)
        .unwrap_or_else(|| panic!("{key}"));
    let stamp_and_id = name
        .strip_prefix(&format!("{stream}-{version}-"))
        .unwrap_or_else(|| panic!("{key}"));
    let (stamp, id) = stamp_and_id.split_at(20);
    assert_eq!(
        stamp,
        format!("{}-{}-{}-{}-", parts[0], parts[1], parts[2], parts[3]) + &stamp[14..20],
        "{key}"
    );
    assert_eq!(id.len(), 36, "{key}");
    assert_eq!(id.matches('-').count(), 4, "{key}");
}

#[test]
fn the_firehose_api_through_the_aws_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client(&server);
    runtime().block_on(async {
        let created = client
            .create_delivery_stream()
            .delivery_stream_name("tolls")
            .extended_s3_destination_configuration(destination("tolls", 1, 1))
            .tags(Tag::builder().key("team").value("roads").build().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.delivery_stream_arn(),
            Some("arn:aws:firehose:us-east-1:000000000000:deliverystream/tolls")
        );
        let again = client
            .create_delivery_stream()
            .delivery_stream_name("tolls")
            .extended_s3_destination_configuration(destination("tolls", 1, 1))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(again.code(), Some("ResourceInUseException"));
        assert_eq!(
            again.message(),
            Some("Firehose tolls under accountId 000000000000 already exists")
        );

        let described = client
            .describe_delivery_stream()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let d = described.delivery_stream_description().unwrap();
        assert_eq!(d.delivery_stream_status(), &DeliveryStreamStatus::Active);
        assert_eq!(d.version_id(), "1");
        let destination_id = d.destinations()[0].destination_id().to_string();
        let s3 = d.destinations()[0]
            .extended_s3_destination_description()
            .unwrap();
        assert_eq!(s3.bucket_arn(), "arn:aws:s3:::tolls");
        assert_eq!(s3.compression_format(), &CompressionFormat::Uncompressed);
        let hints = s3.buffering_hints().unwrap();
        assert_eq!((hints.size_in_mbs(), hints.interval_in_seconds()), (Some(1), Some(1)));

        let listed = client.list_delivery_streams().send().await.unwrap();
        assert_eq!(listed.delivery_stream_names(), ["tolls"]);
        assert!(!listed.has_more_delivery_streams());

        // Records are acknowledged, then delivered after the 1 s interval.
        let one = client
            .put_record()
            .delivery_stream_name("tolls")
            .record(record("car-1,3.5\n"))
            .send()
            .await
            .unwrap();
        assert!(!one.record_id().is_empty());
        let batch = client
            .put_record_batch()
            .delivery_stream_name("tolls")
            .set_records(Some(
                (2..5).map(|i| record(format!("car-{i},1.0\n"))).collect(),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(batch.failed_put_count(), 0);
        assert_eq!(batch.request_responses().len(), 3);
        wait_until(10, || {
            objects(dir.path(), "tolls")
                .values()
                .map(|o| lines(o).len())
                .sum::<usize>()
                == 4
        });
        let first = objects(dir.path(), "tolls");
        // Four small records put within one buffering interval: one object.
        assert_eq!(first.len(), 1, "{:?}", first.keys());
        let mut all: Vec<String> = first.values().flat_map(|o| lines(o)).collect();
        all.sort();
        assert_eq!(all, ["car-1,3.5", "car-2,1.0", "car-3,1.0", "car-4,1.0"]);
        for key in first.keys() {
            assert_default_key(key, "", "tolls", 1, "");
        }

        // Errors, as AWS words them.
        let missing = client
            .describe_delivery_stream()
            .delivery_stream_name("nope")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(missing.code(), Some("ResourceNotFoundException"));
        assert_eq!(
            missing.message(),
            Some("Firehose nope under account 000000000000 not found.")
        );
        let too_many = client
            .put_record_batch()
            .delivery_stream_name("tolls")
            .set_records(Some((0..501).map(|_| record("x")).collect()))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(too_many.code(), Some("ValidationException"));
        assert!(
            too_many
                .message()
                .unwrap()
                .contains("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"),
            "{too_many:?}"
        );
        let too_big = client
            .put_record()
            .delivery_stream_name("tolls")
            .record(record(vec![b'x'; 1_024_001]))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(too_big.code(), Some("ValidationException"));
        assert!(
            too_big
                .message()
                .unwrap()
                .contains("Member must have length less than or equal to 1024000"),
            "{too_big:?}"
        );
        let bad_name = client
            .describe_delivery_stream()
            .delivery_stream_name("no spaces")
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(bad_name.code(), Some("ValidationException"));
        let bad_prefix = client
            .create_delivery_stream()
            .delivery_stream_name("bad")
            .extended_s3_destination_configuration(
                ExtendedS3DestinationConfiguration::builder()
                    .bucket_arn("arn:aws:s3:::tolls")
                    .role_arn("arn:aws:iam::000000000000:role/firehose")
                    .prefix("x/!{timestamp:yyyy}/")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(bad_prefix.code(), Some("InvalidArgumentException"));
        assert!(
            bad_prefix.message().unwrap().contains("ErrorOutputPrefix"),
            "{bad_prefix:?}"
        );

        // UpdateDestination checks the version, merges the update and bumps it.
        let stale = client
            .update_destination()
            .delivery_stream_name("tolls")
            .current_delivery_stream_version_id("7")
            .destination_id(&destination_id)
            .extended_s3_destination_update(
                ExtendedS3DestinationUpdate::builder().prefix("gz/").build(),
            )
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(stale.code(), Some("ConcurrentModificationException"));
        client
            .update_destination()
            .delivery_stream_name("tolls")
            .current_delivery_stream_version_id("1")
            .destination_id(&destination_id)
            .extended_s3_destination_update(
                ExtendedS3DestinationUpdate::builder()
                    .prefix("gz/")
                    .compression_format(CompressionFormat::Gzip)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let described = client
            .describe_delivery_stream()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let d = described.delivery_stream_description().unwrap();
        assert_eq!(d.version_id(), "2");
        let s3 = d.destinations()[0]
            .extended_s3_destination_description()
            .unwrap();
        assert_eq!(s3.prefix(), Some("gz/"));
        assert_eq!(s3.compression_format(), &CompressionFormat::Gzip);
        let hints = s3.buffering_hints().unwrap();
        assert_eq!((hints.size_in_mbs(), hints.interval_in_seconds()), (Some(1), Some(1)));
        client
            .put_record_batch()
            .delivery_stream_name("tolls")
            .set_records(Some(vec![record("gz-1\n"), record("gz-2\n")]))
            .send()
            .await
            .unwrap();
        wait_until(10, || objects(dir.path(), "tolls").keys().any(|k| k.starts_with("gz/")));
        let zipped: Vec<(String, Vec<u8>)> = objects(dir.path(), "tolls")
            .into_iter()
            .filter(|(k, _)| k.starts_with("gz/"))
            .collect();
        assert_eq!(zipped.len(), 1);
        assert_default_key(&zipped[0].0, "gz/", "tolls", 2, ".gz");
        assert_eq!(lines(&gunzip(&zipped[0].1)), ["gz-1", "gz-2"]);

        // Tags and encryption are stored and reported.
        client
            .tag_delivery_stream()
            .delivery_stream_name("tolls")
            .tags(Tag::builder().key("env").value("test").build().unwrap())
            .send()
            .await
            .unwrap();
        client
            .untag_delivery_stream()
            .delivery_stream_name("tolls")
            .tag_keys("team")
            .send()
            .await
            .unwrap();
        let tags = client
            .list_tags_for_delivery_stream()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let tags: Vec<(&str, Option<&str>)> =
            tags.tags().iter().map(|t| (t.key(), t.value())).collect();
        assert_eq!(tags, [("env", Some("test"))]);
        client
            .start_delivery_stream_encryption()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let described = client
            .describe_delivery_stream()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let encryption = described
            .delivery_stream_description()
            .unwrap()
            .delivery_stream_encryption_configuration()
            .unwrap();
        assert_eq!(
            encryption.status(),
            Some(&DeliveryStreamEncryptionStatus::Enabled)
        );

        client
            .delete_delivery_stream()
            .delivery_stream_name("tolls")
            .send()
            .await
            .unwrap();
        let listed = client.list_delivery_streams().send().await.unwrap();
        assert!(listed.delivery_stream_names().is_empty());
        // What was delivered stays in the lake.
        assert_eq!(objects(dir.path(), "tolls").len(), first.len() + 1);
    });
}

#[test]
fn dynamic_partitioning_splits_records_by_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client(&server);
    let parameter = |name, value: &str| {
        ProcessorParameter::builder()
            .parameter_name(name)
            .parameter_value(value)
            .build()
            .unwrap()
    };
    runtime().block_on(async {
        let mut config = destination("cars", 64, 1);
        config.prefix = Some("cars/car=!{partitionKeyFromQuery:car}/!{timestamp:yyyy}/".into());
        config.error_output_prefix = Some("errors/!{firehose:error-output-type}/".into());
        config.dynamic_partitioning_configuration = Some(
            DynamicPartitioningConfiguration::builder()
                .enabled(true)
                .build(),
        );
        config.processing_configuration = Some(
            ProcessingConfiguration::builder()
                .enabled(true)
                .processors(
                    Processor::builder()
                        .r#type(ProcessorType::MetadataExtraction)
                        .parameters(parameter(
                            ProcessorParameterName::MetadataExtractionQuery,
                            "{car: .car.id}",
                        ))
                        .parameters(parameter(
                            ProcessorParameterName::JsonParsingEngine,
                            "JQ-1.6",
                        ))
                        .build()
                        .unwrap(),
                )
                .processors(
                    Processor::builder()
                        .r#type(ProcessorType::AppendDelimiterToRecord)
                        .build()
                        .unwrap(),
                )
                .build(),
        );
        client
            .create_delivery_stream()
            .delivery_stream_name("cars")
            .extended_s3_destination_configuration(config)
            .send()
            .await
            .unwrap();
        let records = [
            r#"{"car":{"id":"a"},"toll":1}"#,
            r#"{"car":{"id":"b"},"toll":2}"#,
            r#"{"car":{"id":"a"},"toll":3}"#,
            "not json",
            r#"{"car":{"id":"a"},"toll":4}"#,
        ];
        client
            .put_record_batch()
            .delivery_stream_name("cars")
            .set_records(Some(records.iter().map(|r| record(*r)).collect()))
            .send()
            .await
            .unwrap();
        wait_until(10, || objects(dir.path(), "cars").len() == 3);
    });
    let year = chrono::Utc::now().format("%Y").to_string();
    let by_prefix: BTreeMap<String, Vec<String>> = objects(dir.path(), "cars")
        .into_iter()
        .map(|(key, body)| (key.rsplit_once('/').unwrap().0.to_string(), lines(&body)))
        .collect();
    assert_eq!(
        by_prefix[&format!("cars/car=a/{year}")],
        [
            r#"{"car":{"id":"a"},"toll":1}"#,
            r#"{"car":{"id":"a"},"toll":3}"#,
            r#"{"car":{"id":"a"},"toll":4}"#
        ]
    );
    assert_eq!(
        by_prefix[&format!("cars/car=b/{year}")],
        [r#"{"car":{"id":"b"},"toll":2}"#]
    );
    let (error_prefix, failed) = by_prefix
        .iter()
        .find(|(k, _)| k.starts_with("errors/"))
        .unwrap();
    // A prefix with expressions replaces the hourly layout.
    assert_eq!(error_prefix, "errors/processing-failed");
    assert_eq!(failed.len(), 1);
    let failure: serde_json::Value = serde_json::from_str(&failed[0]).unwrap();
    assert_eq!(
        failure["errorCode"],
        "DynamicPartitioning.MetadataExtractionFailed"
    );
    assert_eq!(failure["rawData"], "bm90IGpzb24="); // base64 of "not json"
}

#[test]
fn size_flushes_early_and_sigterm_delivers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client(&server);
    let payload = |i: usize| format!("{i:08}{}\n", "x".repeat(991)); // 1,000 bytes
    runtime().block_on(async {
        client
            .create_delivery_stream()
            .delivery_stream_name("big")
            .extended_s3_destination_configuration(destination("big", 1, 900))
            .send()
            .await
            .unwrap();
        for batch in 0..3 {
            client
                .put_record_batch()
                .delivery_stream_name("big")
                .set_records(Some(
                    (batch * 500..(batch + 1) * 500)
                        .map(|i| record(payload(i)))
                        .collect(),
                ))
                .send()
                .await
                .unwrap();
        }
    });
    // 1.5 MB against a 1 MiB buffer: one object long before 900 s.
    wait_until(10, || !objects(dir.path(), "big").is_empty());
    let early = objects(dir.path(), "big");
    assert_eq!(early.len(), 1);
    let size = early.values().next().unwrap().len();
    assert!((1_000_000..=1_048_576).contains(&size), "{size} bytes");

    // The rest waits for the interval, but a graceful stop delivers it.
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let all: Vec<String> = objects(dir.path(), "big")
        .values()
        .flat_map(|o| lines(o))
        .collect();
    assert_eq!(all.len(), 1500);
    let mut numbers: Vec<usize> = all.iter().map(|l| l[..8].parse().unwrap()).collect();
    numbers.sort();
    assert_eq!(numbers, (0..1500).collect::<Vec<_>>());
}

#[test]
fn acknowledged_records_are_delivered_exactly_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = Vec::new();
    let mut sent = 0usize;
    for round in 0..8u64 {
        let server = Server::start(dir.path(), &[]);
        let client = client(&server);
        let pid = server.id();
        // Kill at a different moment of the 1 s buffering cycle each round.
        let after = Duration::from_millis(300 + round * 271 % 1200);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(after);
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
        });
        runtime().block_on(async {
            if round == 0 {
                client
                    .create_delivery_stream()
                    .delivery_stream_name("crash")
                    .extended_s3_destination_configuration(destination("crash", 1, 0))
                    .send()
                    .await
                    .unwrap();
            }
            loop {
                let ids: Vec<usize> = (sent..sent + 50).collect();
                sent += 50;
                let put = client
                    .put_record_batch()
                    .delivery_stream_name("crash")
                    .set_records(Some(ids.iter().map(|i| record(format!("{i}\n"))).collect()))
                    .send()
                    .await;
                match put {
                    Ok(reply) => {
                        assert_eq!(reply.failed_put_count(), 0);
                        acknowledged.extend(ids);
                    }
                    Err(_) => break,
                }
            }
        });
        killer.join().unwrap();
        server.kill();
    }
    assert!(acknowledged.len() > 1000, "{} records", acknowledged.len());
    let server = Server::start(dir.path(), &[]);
    assert!(server.terminate().success());
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for body in objects(dir.path(), "crash").values() {
        for line in lines(body) {
            *seen.entry(line.parse().unwrap()).or_default() += 1;
        }
    }
    for id in &acknowledged {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "record {id} delivered {:?} times",
            seen.get(id)
        );
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a record was delivered twice"
    );
}

/// DataFormatConversionConfiguration as the AWS CLI's JSON would give it.
fn parquet_destination(
    bucket: &str,
    prefix: &str,
    table: &str,
) -> ExtendedS3DestinationConfiguration {
    let mut config = destination(bucket, 64, 1);
    config.prefix = Some(prefix.into());
    config.error_output_prefix = Some("errors/!{firehose:error-output-type}/".into());
    config.data_format_conversion_configuration = Some(
        DataFormatConversionConfiguration::builder()
            .enabled(true)
            .schema_configuration(
                SchemaConfiguration::builder()
                    .database_name("default")
                    .table_name(table)
                    .role_arn("arn:aws:iam::000000000000:role/firehose")
                    .build(),
            )
            .input_format_configuration(
                InputFormatConfiguration::builder()
                    .deserializer(
                        Deserializer::builder()
                            .open_x_json_ser_de(OpenXJsonSerDe::builder().build())
                            .build(),
                    )
                    .build(),
            )
            .output_format_configuration(
                OutputFormatConfiguration::builder()
                    .serializer(
                        Serializer::builder()
                            .parquet_ser_de(ParquetSerDe::builder().build())
                            .build(),
                    )
                    .build(),
            )
            .build(),
    );
    config
}

#[test]
fn json_becomes_parquet_that_sql_reads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client(&server);
    // The table is created by another process while the server runs.
    run_ok(nuage(dir.path()).args([
        "sql",
        "-S",
        "-e",
        "CREATE EXTERNAL TABLE tolls (car STRING, amount DOUBLE, at TIMESTAMP) \
         PARTITIONED BY (day STRING) STORED AS PARQUET LOCATION 's3://tolls/parquet/'; \
         CREATE EXTERNAL TABLE flat (car STRING, n INT) STORED AS PARQUET LOCATION 's3://tolls/flat/'",
    ]));
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    runtime().block_on(async {
        client
            .create_delivery_stream()
            .delivery_stream_name("tolls")
            .extended_s3_destination_configuration(parquet_destination(
                "tolls",
                "parquet/day=!{timestamp:yyyy-MM-dd}/",
                "tolls",
            ))
            .send()
            .await
            .unwrap();
        client
            .put_record_batch()
            .delivery_stream_name("tolls")
            .set_records(Some(vec![
                // Keys in any case; two objects in one record; epoch millis.
                record(r#"{"Car":"a","amount":1.5,"at":"2025-11-22T09:05:03Z"}"#),
                record(r#"{"car":"b","AMOUNT":2}{"car":"c","amount":3.25,"at":1763802303042}"#),
                record("not json"),
            ]))
            .send()
            .await
            .unwrap();
        // Too small a buffer for conversion is refused as AWS refuses it.
        let small = client
            .create_delivery_stream()
            .delivery_stream_name("small")
            .extended_s3_destination_configuration({
                let mut c = parquet_destination("tolls", "flat/", "flat");
                c.buffering_hints = Some(BufferingHints::builder().size_in_mbs(5).build());
                c
            })
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(small.code(), Some("InvalidArgumentException"));
        // No expressions: the hourly folders go below the table's location.
        client
            .create_delivery_stream()
            .delivery_stream_name("flat")
            .extended_s3_destination_configuration(parquet_destination("tolls", "flat/", "flat"))
            .send()
            .await
            .unwrap();
        client
            .put_record()
            .delivery_stream_name("flat")
            .record(record(r#"{"car":"z","n":7}"#))
            .send()
            .await
            .unwrap();
    });
    wait_until(10, || {
        let objects = objects(dir.path(), "tolls");
        objects
            .keys()
            .any(|k| k.starts_with("parquet/") && k.ends_with(".parquet"))
            && objects
                .keys()
                .any(|k| k.starts_with("errors/format-conversion-failed/"))
            && objects.keys().any(|k| k.starts_with("flat/"))
    });
    let sql = |text: &str| run_ok(nuage(dir.path()).args(["sql", "-S", "-e", text])).0;
    assert_eq!(
        sql("SELECT day, car, amount, at FROM tolls ORDER BY car"),
        format!(
            "{day}\ta\t1.5\t2025-11-22 09:05:03\n\
             {day}\tb\t2.0\tNULL\n\
             {day}\tc\t3.25\t2025-11-22 09:05:03.042\n"
        )
    );
    assert_eq!(sql("SHOW PARTITIONS tolls"), format!("day={day}\n"));
    assert_eq!(sql("SELECT car, n FROM flat"), "z\t7\n");
    let errors: Vec<String> = objects(dir.path(), "tolls")
        .into_iter()
        .filter(|(k, _)| k.starts_with("errors/"))
        .flat_map(|(_, body)| lines(&body))
        .collect();
    assert_eq!(errors.len(), 1);
    let error: serde_json::Value = serde_json::from_str(&errors[0]).unwrap();
    assert_eq!(error["ErrorCode"], "DataFormatConversion.MalformedData");
    assert_eq!(error["rawData"], "bm90IGpzb24=");
    assert_eq!(error["dataCatalogTable"]["tableName"], "tolls");
}

#[test]
fn the_firehose_commands_talk_to_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let firehose = |args: &[&str]| {
        let mut command = nuage(dir.path());
        command
            .arg("firehose")
            .args(["--endpoint", &server.endpoint])
            .args(args);
        command
    };
    let (_, stderr) = run_ok(&mut firehose(&[
        "create",
        "cli",
        "--bucket",
        "out",
        "--prefix",
        "cli/",
        "--interval",
        "1",
        "--compression",
        "gzip",
    ]));
    assert_eq!(
        stderr,
        "created delivery stream arn:aws:firehose:us-east-1:000000000000:deliverystream/cli\n"
    );
    let (stdout, _) = run_ok(&mut firehose(&["list"]));
    assert_eq!(stdout, "cli\tACTIVE\ts3://out/cli/\tversion 1\n");
    let (stdout, _) = run_ok(&mut firehose(&["describe", "cli"]));
    let described: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        described["Destinations"][0]["ExtendedS3DestinationDescription"]["CompressionFormat"],
        "GZIP"
    );
    let (_, stderr) = run_ok(&mut firehose(&["put", "cli", "one", "two"]));
    assert_eq!(stderr, "put 2 records into cli\n");
    // Deleting delivers what is buffered first.
    run_ok(&mut firehose(&["delete", "cli"]));
    let objects = objects(dir.path(), "out");
    assert_eq!(objects.len(), 1);
    assert_eq!(
        lines(&gunzip(objects.values().next().unwrap())),
        ["one", "two"]
    );
    let missing = firehose(&["describe", "cli"]).output().unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(
            "ResourceNotFoundException: Firehose cli under account 000000000000 not found."
        ),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// PutRecords of `ids` into a Kinesis stream, keyed by id.
async fn put_kinesis(client: &aws_sdk_kinesis::Client, stream: &str, ids: std::ops::Range<usize>) {
    let entries = ids
        .map(|i| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key(format!("car-{i}"))
                .data(aws_sdk_kinesis::primitives::Blob::new(format!("{i}\n")))
                .build()
                .unwrap()
        })
        .collect();
    let put = client
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_record_count(), Some(0));
}

/// How many times each id was delivered to `bucket`.
/// Records 0..n were each delivered exactly once, and nothing else.
fn assert_each_once(seen: &BTreeMap<usize, usize>, n: usize) {
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..n).collect::<Vec<_>>()
    );
    assert!(
        seen.values().all(|&n| n == 1),
        "a record was delivered twice: {seen:?}"
    );
}

fn delivered(data_dir: &Path, bucket: &str) -> BTreeMap<usize, usize> {
    let mut seen = BTreeMap::new();
    for body in objects(data_dir, bucket).values() {
        for line in lines(body) {
            *seen.entry(line.parse().unwrap()).or_default() += 1;
        }
    }
    seen
}

#[test]
fn a_kinesis_stream_as_source_is_delivered_once_across_resharding_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (kinesis, firehose) = (server.client(), client(&server));
    runtime().block_on(async {
        kinesis
            .create_stream()
            .stream_name("tolls")
            .shard_count(2)
            .send()
            .await
            .unwrap();
        // Records from before the delivery stream exists are read too (TRIM_HORIZON).
        put_kinesis(&kinesis, "tolls", 0..300).await;
        firehose
            .create_delivery_stream()
            .delivery_stream_name("from-kinesis")
            .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(
                KinesisStreamSourceConfiguration::builder()
                    .kinesis_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/tolls")
                    .role_arn("arn:aws:iam::000000000000:role/firehose")
                    .build()
                    .unwrap(),
            )
            .extended_s3_destination_configuration(destination("k", 1, 1))
            .send()
            .await
            .unwrap();
        let refused = firehose
            .put_record()
            .delivery_stream_name("from-kinesis")
            .record(record("x"))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(refused.code(), Some("InvalidArgumentException"));
        assert_eq!(
            refused.message(),
            Some("This operation is not permitted on KinesisStreamAsSource delivery stream type.")
        );
        let missing = firehose
            .create_delivery_stream()
            .delivery_stream_name("no-source")
            .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(
                KinesisStreamSourceConfiguration::builder()
                    .kinesis_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/nope")
                    .role_arn("arn:aws:iam::000000000000:role/firehose")
                    .build()
                    .unwrap(),
            )
            .extended_s3_destination_configuration(destination("k", 1, 1))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(missing.code(), Some("InvalidArgumentException"));
        let described = firehose
            .describe_delivery_stream()
            .delivery_stream_name("from-kinesis")
            .send()
            .await
            .unwrap();
        let d = described.delivery_stream_description().unwrap();
        assert_eq!(
            d.delivery_stream_type(),
            &DeliveryStreamType::KinesisStreamAsSource
        );
        assert_eq!(
            d.source()
                .and_then(|s| s.kinesis_stream_source_description())
                .and_then(|k| k.kinesis_stream_arn()),
            Some("arn:aws:kinesis:us-east-1:000000000000:stream/tolls")
        );
        put_kinesis(&kinesis, "tolls", 300..500).await;
        // Resharding: records of the children come after their parent's.
        kinesis
            .update_shard_count()
            .stream_name("tolls")
            .target_shard_count(3)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
        put_kinesis(&kinesis, "tolls", 500..700).await;
    });
    wait_until(15, || delivered(dir.path(), "k").len() == 700);
    // A crash, more records, a graceful stop: still every record once.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    runtime().block_on(put_kinesis(&server.client(), "tolls", 700..800));
    wait_until(15, || delivered(dir.path(), "k").len() == 800);
    assert!(server.terminate().success());
    assert_each_once(&delivered(dir.path(), "k"), 800);
}

/// A Lambda processor calling `arn`, with no retries.
fn with_lambda(
    mut config: ExtendedS3DestinationConfiguration,
    arn: &str,
) -> ExtendedS3DestinationConfiguration {
    let parameter = |name, value: &str| {
        ProcessorParameter::builder()
            .parameter_name(name)
            .parameter_value(value)
            .build()
            .unwrap()
    };
    config.error_output_prefix = Some("errors/!{firehose:error-output-type}/".into());
    config.processing_configuration = Some(
        ProcessingConfiguration::builder()
            .enabled(true)
            .processors(
                Processor::builder()
                    .r#type(ProcessorType::Lambda)
                    .parameters(parameter(ProcessorParameterName::LambdaArn, arn))
                    .parameters(parameter(
                        ProcessorParameterName::LambdaNumberOfRetries,
                        "0",
                    ))
                    .build()
                    .unwrap(),
            )
            .build(),
    );
    config
}

/// Firehose's transformation, in Python: upper-case, drop or fail records.
const TRANSFORM: &str = r#"#!/usr/bin/env python3
import base64, json, sys
event = json.load(sys.stdin)
out = []
for r in event["records"]:
    text = base64.b64decode(r["data"]).decode()
    if "drop" in text:
        out.append({"recordId": r["recordId"], "result": "Dropped"})
    elif "fail" in text:
        out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
    else:
        out.append({"recordId": r["recordId"], "result": "Ok",
                    "data": base64.b64encode(text.upper().encode()).decode()})
json.dump({"records": out}, sys.stdout)
"#;

/// TRANSFORM as a Lambda handler.
const LAMBDA_TRANSFORM: &str = r#"
import base64
def handler(event, context):
    out = []
    for r in event["records"]:
        text = base64.b64decode(r["data"]).decode()
        if "drop" in text:
            out.append({"recordId": r["recordId"], "result": "Dropped"})
        elif "fail" in text:
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed", "data": r["data"]})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok",
                        "data": base64.b64encode(text.upper().encode()).decode()})
    return {"records": out}
"#;

/// An HTTP endpoint answering every POST with Ok records prefixed "http:".
fn transform_endpoint() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/transform", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let records: Vec<serde_json::Value> = event["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let data = base64::Engine::decode(
                        &base64::engine::general_purpose::STANDARD,
                        r["data"].as_str().unwrap(),
                    )
                    .unwrap();
                    let out = [b"http:".as_slice(), &data].concat();
                    serde_json::json!({"recordId": r["recordId"], "result": "Ok",
                        "data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, out)})
                })
                .collect();
            let reply = serde_json::json!({ "records": records }).to_string();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
    });
    url
}

#[test]
fn a_lambda_processor_transforms_drops_and_fails_records() {
    let dir = tempfile::tempdir().unwrap();
    let functions = dir.path().join("functions");
    std::fs::create_dir_all(&functions).unwrap();
    let script = functions.join("shout");
    std::fs::write(&script, TRANSFORM).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = client(&server);
    let url = transform_endpoint();
    runtime().block_on(async {
        // A function of nuage's Lambda service, with the same logic as a
        // Python handler.
        crate::lambda::client(&server)
            .create_function()
            .function_name("upper")
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role("arn:aws:iam::000000000000:role/firehose")
            .handler("app.handler")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(crate::lambda::zip(
                        &[("app.py", LAMBDA_TRANSFORM)],
                    )))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        for (name, arn) in [
            // An executable <data-dir>/functions/<name> (nuage's older convention).
            (
                "shout",
                "arn:aws:lambda:us-east-1:000000000000:function:shout:$LATEST",
            ),
            (
                "lam",
                "arn:aws:lambda:us-east-1:000000000000:function:upper",
            ),
            ("web", url.as_str()),
            (
                "gone",
                "arn:aws:lambda:us-east-1:000000000000:function:gone",
            ),
        ] {
            let mut config = with_lambda(destination(name, 1, 1), arn);
            config.prefix = Some("ok/".into());
            client
                .create_delivery_stream()
                .delivery_stream_name(name)
                .extended_s3_destination_configuration(config)
                .send()
                .await
                .unwrap();
            client
                .put_record_batch()
                .delivery_stream_name(name)
                .set_records(Some(
                    ["a\n", "please drop\n", "b\n", "fail me\n"]
                        .into_iter()
                        .map(record)
                        .collect(),
                ))
                .send()
                .await
                .unwrap();
        }
    });
    let under = |bucket: &str, prefix: &str| -> Vec<String> {
        objects(dir.path(), bucket)
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .flat_map(|(_, body)| lines(&body))
            .collect()
    };
    wait_until(15, || {
        // Each object is written on its own: wait for all of them.
        !under("shout", "ok/").is_empty()
            && !under("shout", "errors/processing-failed/").is_empty()
            && !under("web", "ok/").is_empty()
            && !under("gone", "errors/").is_empty()
            && !under("lam", "ok/").is_empty()
            && !under("lam", "errors/processing-failed/").is_empty()
    });
    assert_eq!(under("shout", "ok/"), ["A", "B"]);
    assert_eq!(under("lam", "ok/"), ["A", "B"]);
    assert_eq!(under("lam", "errors/processing-failed/").len(), 1);
    let failed: Vec<serde_json::Value> = under("shout", "errors/processing-failed/")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["errorCode"], "Lambda.ProcessingFailedStatus");
    assert_eq!(failed[0]["rawData"], "ZmFpbCBtZQo="); // "fail me\n"
    assert_eq!(
        under("web", "ok/"),
        ["http:a", "http:please drop", "http:b", "http:fail me"]
    );
    // A function that cannot run fails its records into the error prefix.
    let gone: Vec<serde_json::Value> = under("gone", "errors/processing-failed/")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(gone.len(), 4);
    assert_eq!(gone[0]["errorCode"], "Lambda.FunctionError");
    assert!(
        gone[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Function not found: arn:aws:lambda:us-east-1:000000000000:function:gone"),
        "{}",
        gone[0]
    );
    assert!(under("gone", "ok/").is_empty());
}

/// Appends lines `ids` (one number each) to `path`.
fn append_lines(path: &Path, ids: std::ops::Range<usize>) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in ids {
        writeln!(file, "{i}").unwrap();
    }
}

fn start_agent(data_dir: &Path, config: &Path, endpoint: &str) -> Agent {
    let mut child = nuage(data_dir)
        .args(["agent", "--config"])
        .arg(config)
        .args(["--endpoint", endpoint])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its first line, so its signal handlers are in place.
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("nuage agent:"), "{first}");
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            eprintln!("{line}");
        }
    });
    Agent(child)
}

/// A running `nuage agent`, killed if the test fails.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stop_agent(mut agent: Agent) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &agent.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(agent.0.wait().unwrap().success());
}

#[test]
fn the_agent_follows_rotation_and_restarts_without_loss_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (app, csv) = (logs.join("app.log"), logs.join("tolls.csv"));
    runtime().block_on(async {
        client(&server)
            .create_delivery_stream()
            .delivery_stream_name("logs")
            .extended_s3_destination_configuration(destination("logs", 1, 1))
            .send()
            .await
            .unwrap();
        for name in ["csv", "trace"] {
            server
                .client()
                .create_stream()
                .stream_name(name)
                .shard_count(1)
                .send()
                .await
                .unwrap();
        }
    });
    let trace = logs.join("trace.log");
    let config = dir.path().join("agent.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "checkpointFile": dir.path().join("agent-checkpoints.json"),
            "flows": [
                {"filePattern": format!("{}/app.log*", logs.display()), "deliveryStream": "logs",
                 "initialPosition": "START_OF_FILE", "maxBufferAgeMillis": 100},
                {"filePattern": csv.display().to_string(), "kinesisStream": "csv",
                 "maxBufferAgeMillis": 100, "partitionKeyOption": "DETERMINISTIC",
                 "dataProcessingOptions": [{"optionName": "CSVTOJSON", "customFieldNames": ["car", "amount"]}]},
                {"filePattern": trace.display().to_string(), "kinesisStream": "trace",
                 "maxBufferAgeMillis": 100, "multiLineStartPattern": "^\\[",
                 "dataProcessingOptions": [{"optionName": "SINGLELINE"}]}
            ]
        })
        .to_string(),
    )
    .unwrap();
    append_lines(&app, 0..100);
    std::fs::write(&csv, "a,1.5\nb,2\n").unwrap();
    std::fs::write(
        &trace,
        "[1] error\n  at a\n  at b\n[2] ok\n[3] warn\n  at c\n",
    )
    .unwrap();
    let agent = start_agent(dir.path(), &config, &server.endpoint);
    let data = dir.path().to_path_buf();
    let have = |n: usize| {
        let data = data.clone();
        move || delivered(&data, "logs").len() == n
    };
    wait_until(15, have(100));

    // Rotation by rename: the old writer still appends to the renamed
    // file for a moment, then a new app.log starts.
    std::fs::rename(&app, logs.join("app.log.1")).unwrap();
    append_lines(&logs.join("app.log.1"), 100..150);
    append_lines(&app, 150..250);
    wait_until(15, have(250));

    // Rotation by copy and truncation (logrotate's copytruncate).
    std::fs::copy(&app, logs.join("app.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&app)
        .unwrap();
    // No wait is needed: the 50 new lines are shorter than the 100 the agent
    // had read, so whenever it looks, the file is below its offset.
    append_lines(&app, 250..300);
    wait_until(15, have(300));

    // A restart goes on from the checkpoint.
    stop_agent(agent);
    append_lines(&app, 300..350);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&trace)
        .unwrap()
        .write_all(b"[4] done\n")
        .unwrap();
    let agent = start_agent(dir.path(), &config, &server.endpoint);
    wait_until(15, have(350));
    stop_agent(agent);
    assert!(server.terminate().success());
    assert_each_once(&delivered(dir.path(), "logs"), 350);

    // The CSV flow went to its Kinesis stream as JSON; the multi-line
    // flow sent one record per `[`, joined into one line (a graceful stop
    // sends the last one).
    let server = Server::start(dir.path(), &[]);
    let kinesis = server.client();
    let read = |stream: &str| -> Vec<String> {
        let records = runtime().block_on(read_shard(&kinesis, stream, "shardId-000000000000"));
        records
            .into_iter()
            .map(|(_, _, data)| String::from_utf8(data).unwrap())
            .collect()
    };
    assert_eq!(
        read("csv"),
        [
            "{\"car\":\"a\",\"amount\":\"1.5\"}\n",
            "{\"car\":\"b\",\"amount\":\"2\"}\n"
        ]
    );
    assert_eq!(
        read("trace"),
        [
            "[1] errorat aat b\n",
            "[2] ok\n",
            "[3] warnat c\n",
            "[4] done\n"
        ]
    );
}
