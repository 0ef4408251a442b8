//! `nuage serve` as Lambda, through the AWS SDK for Lambda: Python
//! handlers written for AWS, zipped, created, invoked, updated, versioned.
//! Error types, statuses and payload shapes are those of the Lambda API
//! reference and its runtime documentation.

use std::io::Write;
use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    DestinationConfig, Environment, InvocationType, LogType, OnFailure, Runtime,
};
use base64::Engine;

use crate::streams::{Server, read_shard, runtime};
use crate::{nuage, run_ok};

pub fn client(server: &Server) -> Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// A zip of `(name, content)` files.
pub fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        out.start_file(*name, options).unwrap();
        out.write_all(content.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// CreateFunction of a Python 3.12 handler in `app.py`, with a role; the
/// caller adds what else the test needs.
pub fn python_function(
    lambda: &Client,
    name: &str,
    handler: &str,
    code: &str,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role("arn:aws:iam::000000000000:role/lambda")
        .handler(handler)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(Blob::new(zip(&[("app.py", code)])))
                .build(),
        )
}

fn code<E: ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or("<none>").to_string()
}

const HANDLER: &str = r#"
import json, os
VERSION = "one"
def lambda_handler(event, context):
    print("event", json.dumps(event))
    if event.get("fail"):
        raise KeyError("no such thing")
    if "mark" in event:
        with open(os.environ["MARKS"], "a") as f:
            f.write(event["mark"] + "\n")
    return {"version": VERSION, "greeting": os.environ.get("GREETING"),
            "function": context.function_name, "arn": context.invoked_function_arn}
"#;

#[test]
fn a_python_function_is_created_invoked_updated_and_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let lambda = client(&server);
    let marks = dir.path().join("marks.txt");
    runtime().block_on(async {
        let created = python_function(&lambda, "greeter", "app.lambda_handler", HANDLER)
            .environment(
                Environment::builder()
                    .variables("GREETING", "hello")
                    .variables("MARKS", marks.to_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.function_name(), Some("greeter"));
        assert_eq!(
            created.function_arn(),
            Some("arn:aws:lambda:us-east-1:000000000000:function:greeter")
        );
        assert_eq!(created.timeout(), Some(3));
        assert_eq!(created.memory_size(), Some(128));
        assert_eq!(created.version(), Some("$LATEST"));

        let again = python_function(&lambda, "greeter", "app.lambda_handler", HANDLER)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&again), "ResourceConflictException");

        // RequestResponse with the log's tail.
        let out = lambda
            .invoke()
            .function_name("greeter")
            .payload(Blob::new(r#"{"name": "ada"}"#))
            .log_type(LogType::Tail)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.function_error(), None);
        assert_eq!(out.executed_version(), Some("$LATEST"));
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(body["version"], "one");
        assert_eq!(body["greeting"], "hello");
        assert_eq!(body["function"], "greeter");
        let log = base64::engine::general_purpose::STANDARD
            .decode(out.log_result().unwrap())
            .unwrap();
        let log = String::from_utf8(log).unwrap();
        assert!(log.contains("START RequestId: "), "{log}");
        assert!(log.contains(r#"event {"name": "ada"}"#), "{log}");
        assert!(log.contains("REPORT RequestId: "), "{log}");

        // An unhandled exception.
        let failed = lambda
            .invoke()
            .function_name("greeter")
            .payload(Blob::new(r#"{"fail": true}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status_code(), 200);
        assert_eq!(failed.function_error(), Some("Unhandled"));
        let error: serde_json::Value =
            serde_json::from_slice(failed.payload().unwrap().as_ref()).unwrap();
        assert_eq!(error["errorType"], "KeyError");
        assert_eq!(error["errorMessage"], "'no such thing'");

        // DryRun checks without running; Event queues and runs later.
        let dry = lambda
            .invoke()
            .function_name("greeter")
            .invocation_type(InvocationType::DryRun)
            .send()
            .await
            .unwrap();
        assert_eq!(dry.status_code(), 204);
        let queued = lambda
            .invoke()
            .function_name("greeter")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(r#"{"mark": "queued"}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status_code(), 202);
        wait_for(|| std::fs::read_to_string(&marks).is_ok_and(|m| m == "queued\n")).await;

        // Not JSON.
        let bad = lambda
            .invoke()
            .function_name("greeter")
            .payload(Blob::new("not json"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&bad), "InvalidRequestContentException");

        // Publish version 1, change the code, alias "live" to version 1.
        let v1 = lambda
            .publish_version()
            .function_name("greeter")
            .send()
            .await
            .unwrap();
        assert_eq!(v1.version(), Some("1"));
        lambda
            .update_function_code()
            .function_name("greeter")
            .zip_file(Blob::new(zip(&[(
                "app.py",
                &HANDLER.replace("VERSION = \"one\"", "VERSION = \"two\""),
            )])))
            .send()
            .await
            .unwrap();
        lambda
            .create_alias()
            .function_name("greeter")
            .name("live")
            .function_version("1")
            .send()
            .await
            .unwrap();
        for (qualifier, expected, executed) in [
            (None, "two", "$LATEST"),
            (Some("1"), "one", "1"),
            (Some("live"), "one", "1"),
        ] {
            let mut call = lambda.invoke().function_name("greeter");
            if let Some(q) = qualifier {
                call = call.qualifier(q);
            }
            let out = call.send().await.unwrap();
            let body: serde_json::Value =
                serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            assert_eq!(body["version"], expected, "{qualifier:?}");
            assert_eq!(out.executed_version(), Some(executed));
        }
        let versions = lambda
            .list_versions_by_function()
            .function_name("greeter")
            .send()
            .await
            .unwrap();
        let names: Vec<_> = versions
            .versions()
            .iter()
            .filter_map(|v| v.version())
            .collect();
        assert_eq!(names, ["$LATEST", "1"]);

        // Configuration: a new timeout and environment take effect.
        let updated = lambda
            .update_function_configuration()
            .function_name("greeter")
            .timeout(10)
            .environment(
                Environment::builder()
                    .variables("GREETING", "bonjour")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(updated.timeout(), Some(10));
        let out = lambda
            .invoke()
            .function_name("greeter")
            .send()
            .await
            .unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(body["greeting"], "bonjour");

        let got = lambda
            .get_function()
            .function_name("greeter")
            .send()
            .await
            .unwrap();
        assert_eq!(got.configuration().unwrap().timeout(), Some(10));
        let listed = lambda.list_functions().send().await.unwrap();
        assert_eq!(listed.functions().len(), 1);

        // The log, as `nuage functions logs` prints it.
        let (log, _) = crate::run_ok(crate::nuage(dir.path()).args([
            "functions",
            "logs",
            "greeter",
            "--lines",
            "0",
        ]));
        assert!(log.starts_with("START RequestId: "), "{log}");
        assert!(log.contains("event {\"name\": \"ada\"}\n"), "{log}");
        assert!(log.contains("[ERROR] KeyError: 'no such thing'"), "{log}");
        assert_eq!(
            log.matches("REPORT RequestId: ").count(),
            log.matches("START RequestId: ").count()
        );
        lambda
            .delete_function()
            .function_name("greeter")
            .send()
            .await
            .unwrap();
        let gone = lambda
            .get_function()
            .function_name("greeter")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "ResourceNotFoundException");
        assert_eq!(
            gone.into_service_error().meta().message(),
            Some("Function not found: arn:aws:lambda:us-east-1:000000000000:function:greeter")
        );
    });
}

#[test]
fn bad_requests_get_lambdas_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let lambda = client(&server);
    runtime().block_on(async {
        let base = || {
            python_function(&lambda, "f", "app.handler", "def handler(e, c): return 1")
        };
        let e = base().timeout(901).send().await.unwrap_err();
        assert_eq!(code(&e), "ValidationException");
        assert!(
            e.into_service_error()
                .meta()
                .message()
                .unwrap()
                .contains("Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900")
        );
        let e = base()
            .environment(Environment::builder().variables("AWS_REGION", "x").build())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValueException");
        let e = base()
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(Blob::new("not a zip"))
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValueException");
        let e = base().runtime(Runtime::Java21).send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidParameterValueException");

        // Reserved concurrency 0: every invocation is throttled.
        base().send().await.unwrap();
        lambda
            .put_function_concurrency()
            .function_name("f")
            .reserved_concurrent_executions(0)
            .send()
            .await
            .unwrap();
        let e = lambda.invoke().function_name("f").send().await.unwrap_err();
        assert_eq!(code(&e), "TooManyRequestsException");
        lambda
            .delete_function_concurrency()
            .function_name("f")
            .send()
            .await
            .unwrap();
        let out = lambda.invoke().function_name("f").send().await.unwrap();
        assert_eq!(out.payload().unwrap().as_ref(), b"1");

        let e = lambda
            .invoke()
            .function_name("f")
            .qualifier("7")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ResourceNotFoundException");
    });
}

#[test]
fn a_failing_event_invocation_is_retried_then_sent_to_its_failure_stream() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--lambda-retry-delays", "0.1,0.1"]);
    let lambda = client(&server);
    let kinesis = server.client();
    let attempts = dir.path().join("attempts.txt");
    runtime().block_on(async {
        kinesis
            .create_stream()
            .stream_name("failures")
            .shard_count(1)
            .send()
            .await
            .unwrap();
        let handler = r#"
import os
def handler(event, context):
    with open(os.environ["ATTEMPTS"], "a") as f:
        f.write(context.aws_request_id + "\n")
    raise RuntimeError("always")
"#;
        python_function(&lambda, "flaky", "app.handler", handler)
            .environment(
                Environment::builder()
                    .variables("ATTEMPTS", attempts.to_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        lambda
            .put_function_event_invoke_config()
            .function_name("flaky")
            .destination_config(
                DestinationConfig::builder()
                    .on_failure(
                        OnFailure::builder()
                            .destination("arn:aws:kinesis:us-east-1:000000000000:stream/failures")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let queued = lambda
            .invoke()
            .function_name("flaky")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(r#"{"order": 7}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(queued.status_code(), 202);
        let shard = "shardId-000000000000";
        let mut records = Vec::new();
        for _ in 0..100 {
            records = read_shard(&kinesis, "failures", shard).await;
            if !records.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(records.len(), 1);
        let record: serde_json::Value = serde_json::from_slice(&records[0].2).unwrap();
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["requestPayload"]["order"], 7);
        assert_eq!(record["responseContext"]["functionError"], "Unhandled");
        assert_eq!(record["responsePayload"]["errorType"], "RuntimeError");
        // One request id through the three attempts.
        let ids = std::fs::read_to_string(&attempts).unwrap();
        let ids: Vec<&str> = ids.lines().collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|id| *id == ids[0]));
        assert_eq!(record["requestContext"]["requestId"], ids[0]);
    });
}

async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting");
}

/// boto3 and the aws CLI (`lambda create-function --zip-file fileb://`,
/// `create-event-source-mapping`, invoke, a function URL), from
/// `lambda_clients.py`.
#[test]
fn boto3_and_the_aws_cli_work_unchanged() {
    crate::require_python("boto3", "boto3");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    crate::run_python(
        "lambda_clients.py",
        &[server.endpoint.as_ref(), scratch.as_os_str()],
    );
}

/// The data-lake seed: a CSV put into the raw bucket through S3 invokes,
/// by the bucket's notification configuration, a function that runs the
/// crawler on the object's folder; SQL then reads the new table. The event
/// is S3's documented message (eventName, bucket, URL-encoded key, size,
/// the ETag as the MD5 of the bytes).
#[test]
fn an_object_put_through_s3_triggers_a_function_that_crawls_it() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::FilterRuleName;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let events = dir.path().join("events.jsonl");
    let handler = r#"
import json, os, subprocess, urllib.parse
def handler(event, context):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(json.dumps(event) + "\n")
    record = event["Records"][0]
    if not record["eventName"].startswith("ObjectCreated"):
        return
    bucket = record["s3"]["bucket"]["name"]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    folder = key.rsplit("/", 1)[0]
    subprocess.run([os.environ["NUAGE_BIN"], "--data-dir", os.environ["DATA"], "crawl",
                    f"s3://{bucket}/{folder}/", "--database", "raw"], check=True)
"#;
    let csv = "station,vehicles\nA,12\nB,7\nC,30\n";
    let s3 = s3_client(&server);
    let lambda = client(&server);
    runtime().block_on(async {
        python_function(&lambda, "crawl-raw", "app.handler", handler)
            .timeout(60)
            .environment(
                Environment::builder()
                    .variables("EVENTS", events.to_str().unwrap())
                    .variables("NUAGE_BIN", env!("CARGO_BIN_EXE_nuage"))
                    .variables("DATA", data.to_str().unwrap())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        s3.create_bucket().bucket("raw").send().await.unwrap();
        let configuration = |arn: &str| {
            notification(
                Some("crawl-csv"),
                arn,
                &["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                &[
                    (FilterRuleName::Prefix, "tolls/"),
                    (FilterRuleName::Suffix, ".csv"),
                ],
            )
        };
        let missing = s3
            .put_bucket_notification_configuration()
            .bucket("raw")
            .notification_configuration(configuration(
                "arn:aws:lambda:us-east-1:000000000000:function:nope",
            ))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_s3::error::ProvideErrorMetadata::code(&missing),
            Some("InvalidArgument")
        );
        s3.put_bucket_notification_configuration()
            .bucket("raw")
            .notification_configuration(configuration(
                "arn:aws:lambda:us-east-1:000000000000:function:crawl-raw",
            ))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_bucket_notification_configuration()
            .bucket("raw")
            .send()
            .await
            .unwrap();
        assert_eq!(got.lambda_function_configurations().len(), 1);
        assert_eq!(
            got.lambda_function_configurations()[0].id(),
            Some("crawl-csv")
        );

        // Not matching the filter: no event.
        s3.put_object()
            .bucket("raw")
            .key("other/day.csv")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket("raw")
            .key("tolls/day 1.csv")
            .body(ByteStream::from_static(csv.as_bytes()))
            .send()
            .await
            .unwrap();
        wait_for(|| std::fs::read_to_string(&events).is_ok_and(|e| e.lines().count() == 1)).await;
        let text = std::fs::read_to_string(&events).unwrap();
        let event: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["eventSource"], "aws:s3");
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["s3"]["configurationId"], "crawl-csv");
        assert_eq!(record["s3"]["bucket"]["name"], "raw");
        assert_eq!(record["s3"]["bucket"]["arn"], "arn:aws:s3:::raw");
        assert_eq!(record["s3"]["object"]["key"], "tolls%2Fday+1.csv");
        assert_eq!(record["s3"]["object"]["size"], csv.len());
        let md5: String = <md5::Md5 as md5::Digest>::digest(csv.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(record["s3"]["object"]["eTag"], md5);

        // The function crawled the folder: SQL sees the table.
        let mut found = String::new();
        for _ in 0..100 {
            let out = crate::nuage(&data)
                .args(["sql", "-S", "-e", "SELECT sum(vehicles) FROM raw.tolls"])
                .output()
                .unwrap();
            found = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(data.join("functions/crawl-raw/log")).unwrap_or_default();
        assert_eq!(found, "49\n", "the function's log:\n{log}");

        s3.delete_object()
            .bucket("raw")
            .key("tolls/day 1.csv")
            .send()
            .await
            .unwrap();
        wait_for(|| std::fs::read_to_string(&events).is_ok_and(|e| e.lines().count() == 2)).await;
        let text = std::fs::read_to_string(&events).unwrap();
        let removed: serde_json::Value =
            serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(removed["Records"][0]["eventName"], "ObjectRemoved:Delete");
        assert!(removed["Records"][0]["s3"]["object"].get("size").is_none());
    });
}

/// Objects a Firehose delivery stream writes into the embedded lake notify
/// the bucket's functions as S3 PUTs do.
#[test]
fn an_object_delivered_by_firehose_notifies_the_buckets_function() {
    use aws_sdk_firehose::types::{BufferingHints, ExtendedS3DestinationConfiguration, Record};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let events = dir.path().join("events.jsonl");
    let s3 = s3_client(&server);
    let firehose = aws_sdk_firehose::Client::from_conf(
        aws_sdk_firehose::Config::builder()
            .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
            .region(aws_sdk_firehose::config::Region::new("us-east-1"))
            .endpoint_url(&server.endpoint)
            .credentials_provider(aws_sdk_firehose::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );
    let lambda = client(&server);
    runtime().block_on(async {
        recording_function(&lambda, &events).await;
        s3.create_bucket().bucket("lake").send().await.unwrap();
        s3.put_bucket_notification_configuration()
            .bucket("lake")
            .notification_configuration(notification(None, SEEN_ARN, &["s3:ObjectCreated:*"], &[]))
            .send()
            .await
            .unwrap();
        firehose
            .create_delivery_stream()
            .delivery_stream_name("tolls")
            .extended_s3_destination_configuration(
                ExtendedS3DestinationConfiguration::builder()
                    .bucket_arn("arn:aws:s3:::lake")
                    .role_arn("arn:aws:iam::000000000000:role/firehose")
                    .prefix("fh/")
                    .buffering_hints(
                        BufferingHints::builder()
                            .size_in_mbs(1)
                            .interval_in_seconds(1)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        firehose
            .put_record()
            .delivery_stream_name("tolls")
            .record(
                Record::builder()
                    .data(aws_sdk_firehose::primitives::Blob::new("A,12\n"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        for _ in 0..100 {
            if std::fs::read_to_string(&events).is_ok_and(|e| !e.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = std::fs::read_to_string(&events).expect("an event");
        let event: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let record = &event["Records"][0];
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["s3"]["bucket"]["name"], "lake");
        assert!(
            record["s3"]["object"]["key"]
                .as_str()
                .unwrap()
                .starts_with("fh%2F"),
            "{record}"
        );
        assert_eq!(record["s3"]["object"]["size"], 5);
    });
}

const SEEN_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:seen";

/// The function `seen`: appends each event it gets to the file `events`.
async fn recording_function(lambda: &Client, events: &std::path::Path) {
    let handler = r#"
import json, os
def handler(event, context):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(json.dumps(event) + "\n")
"#;
    python_function(lambda, "seen", "app.handler", handler)
        .environment(
            Environment::builder()
                .variables("EVENTS", events.to_str().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A bucket notification to the function `arn` on `events`, for keys
/// that pass the prefix/suffix `filters`.
fn notification(
    id: Option<&str>,
    arn: &str,
    events: &[&str],
    filters: &[(aws_sdk_s3::types::FilterRuleName, &str)],
) -> aws_sdk_s3::types::NotificationConfiguration {
    use aws_sdk_s3::types::{
        Event, FilterRule, LambdaFunctionConfiguration, NotificationConfiguration,
        NotificationConfigurationFilter, S3KeyFilter,
    };
    let mut function = LambdaFunctionConfiguration::builder()
        .set_id(id.map(str::to_string))
        .lambda_function_arn(arn);
    for event in events {
        function = function.events(Event::from(*event));
    }
    if !filters.is_empty() {
        let mut key = S3KeyFilter::builder();
        for (name, value) in filters {
            key = key.filter_rules(
                FilterRule::builder()
                    .name(name.clone())
                    .value(*value)
                    .build(),
            );
        }
        function = function.filter(
            NotificationConfigurationFilter::builder()
                .key(key.build())
                .build(),
        );
    }
    NotificationConfiguration::builder()
        .lambda_function_configurations(function.build().unwrap())
        .build()
}

fn s3_client(server: &Server) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&server.endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    )
}

/// Objects that other processes write into the lake notify the bucket's
/// function as S3 PUTs do: a file put with `nuage lake put`, the file an
/// SQL INSERT writes into a table's folder, and `nuage lake rm` (removed),
/// each as its own S3 event, while nuage serve runs; changes made while it
/// is down are sent when it starts again.
#[test]
fn objects_written_by_other_processes_notify_the_buckets_function() {
    use aws_sdk_s3::types::FilterRuleName;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let events = dir.path().join("events.jsonl");
    let s3 = s3_client(&server);
    let lambda = client(&server);
    let seen = |n: usize| {
        let events = events.clone();
        async move {
            wait_for(|| std::fs::read_to_string(&events).is_ok_and(|e| e.lines().count() >= n))
                .await;
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            text.lines()
                .map(|l| {
                    let e: serde_json::Value = serde_json::from_str(l).unwrap();
                    let r = &e["Records"][0];
                    format!(
                        "{} {} {}",
                        r["eventName"].as_str().unwrap(),
                        r["s3"]["object"]["key"].as_str().unwrap(),
                        r["s3"]["object"]["size"]
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    runtime().block_on(async {
        recording_function(&lambda, &events).await;
        s3.create_bucket().bucket("raw").send().await.unwrap();
        s3.put_bucket_notification_configuration()
            .bucket("raw")
            .notification_configuration(notification(
                None,
                SEEN_ARN,
                &["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                &[(FilterRuleName::Prefix, "tolls/")],
            ))
            .send()
            .await
            .unwrap();
    });
    let local = dir.path().join("day1.csv");
    std::fs::write(&local, "A,12\nB,7\n").unwrap();
    run_ok(
        nuage(&data)
            .args(["lake", "put"])
            .arg(&local)
            .arg("s3://raw/tolls/day1.csv"),
    );
    // Outside the prefix: no event.
    run_ok(
        nuage(&data)
            .args(["lake", "put"])
            .arg(&local)
            .arg("s3://raw/other/day1.csv"),
    );
    assert_eq!(
        runtime().block_on(seen(1)),
        ["ObjectCreated:Put tolls%2Fday1.csv 9"]
    );
    run_ok(nuage(&data).args([
        "sql",
        "-S",
        "-e",
        "CREATE EXTERNAL TABLE tolls (station STRING, vehicles INT) \
         ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://raw/tolls/'; \
         INSERT INTO tolls VALUES ('C', 30)",
    ]));
    let after_insert = runtime().block_on(seen(2));
    assert_eq!(after_insert.len(), 2, "{after_insert:?}");
    assert!(
        after_insert[1].starts_with("ObjectCreated:Put tolls%2F")
            && after_insert[1].ends_with(" 5"),
        "{after_insert:?}"
    );
    // While the server is down, a file is removed: the event comes after.
    server.kill();
    run_ok(nuage(&data).args(["lake", "rm", "s3://raw/tolls/day1.csv"]));
    let server = Server::start(&data, &[]);
    assert_eq!(
        runtime().block_on(seen(3))[2],
        "ObjectRemoved:Delete tolls%2Fday1.csv null"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runtime().block_on(seen(3)).len(), 3, "each change once");
    server.kill();
}

/// As on AWS, a Python handler imports boto3 without packaging it: here
/// the function runs on an interpreter without boto3 (the tests' own
/// virtualenv, first on the server's PATH), and nuage's runtime installs
/// boto3 once into the runtime's shared packages before the handler loads.
#[test]
fn a_python_handler_imports_boto3_when_its_interpreter_lacks_it() {
    let python = crate::s3_api::venv_python();
    let lacks = std::process::Command::new(&python)
        .args(["-c", "import boto3"])
        .output()
        .unwrap();
    assert!(
        !lacks.status.success(),
        "the virtualenv must lack boto3 for this test"
    );
    let (_dir, server) = server_with_python_first(&python);
    runtime().block_on(async {
        let lambda = client(&server);
        let handler = "import sys, boto3\n\
                       def handler(event, context):\n    \
                       return {'boto3': boto3.__version__, 'python': sys.executable}\n";
        python_function(&lambda, "uses-boto3", "app.handler", handler)
            .timeout(600)
            .send()
            .await
            .unwrap();
        let out = lambda
            .invoke()
            .function_name("uses-boto3")
            .send()
            .await
            .unwrap();
        let payload = String::from_utf8(out.payload().unwrap().as_ref().to_vec()).unwrap();
        assert_eq!(out.function_error(), None, "{payload}");
        let answer: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert!(
            answer["python"]
                .as_str()
                .unwrap()
                .starts_with(python.parent().unwrap().to_str().unwrap()),
            "{answer}"
        );
        assert!(!answer["boto3"].as_str().unwrap().is_empty(), "{answer}");
    });
    server.kill();
}

/// The Python with AWS's runtime interface client (awslambdaric), made by
/// .ci/run.
fn ric_python() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = std::path::Path::new(&home).join(".cache/nuage-ric/bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import awslambdaric"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "this test needs ~/.cache/nuage-ric: python3 -m venv ~/.cache/nuage-ric && \
         ~/.cache/nuage-ric/bin/pip install awslambdaric (.ci/run prepares it)"
    );
    python
}

/// Where AWS's runtime interface client is installed, the handler runs
/// under it (its LambdaContext, its error shape: errorMessage, errorType,
/// requestId, stackTrace, as the Lambda runtime documentation gives it),
/// and the log still splits per invocation with START / END / REPORT.
#[test]
fn a_python_handler_runs_under_awslambdaric_where_it_is_installed() {
    let python = ric_python();
    let version = std::process::Command::new(&python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let runtime_id = format!("python{}", String::from_utf8_lossy(&version.stdout).trim());
    let (_dir, server) = server_with_python_first(&python);
    runtime().block_on(async {
        let lambda = client(&server);
        let handler = "def handler(event, context):\n    \
                       print('doubling', event['n'])\n    \
                       if event['n'] < 0:\n        raise ValueError('n must not be negative')\n    \
                       return {'client': type(context).__module__, 'twice': event['n'] * 2}\n";
        python_function(&lambda, "ric", "app.handler", handler)
            .runtime(Runtime::from(runtime_id.as_str()))
            .send()
            .await
            .unwrap();
        let invoke = |n: i32| {
            lambda
                .invoke()
                .function_name("ric")
                .log_type(LogType::Tail)
                .payload(Blob::new(format!("{{\"n\": {n}}}")))
                .send()
        };
        for n in [2, 5] {
            let out = invoke(n).await.unwrap();
            let payload: serde_json::Value =
                serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            assert_eq!(out.function_error(), None, "{payload}");
            assert_eq!(payload["client"], "awslambdaric.lambda_context");
            assert_eq!(payload["twice"], n * 2);
            let log = base64::engine::general_purpose::STANDARD
                .decode(out.log_result().unwrap())
                .unwrap();
            let log = String::from_utf8(log).unwrap();
            assert!(log.contains(&format!("doubling {n}")), "{log}");
            let other = if n == 2 { 5 } else { 2 };
            assert!(!log.contains(&format!("doubling {other}")), "{log}");
            assert!(log.contains("START RequestId:") && log.contains("REPORT RequestId:"));
        }
        let failed = invoke(-1).await.unwrap();
        assert_eq!(failed.function_error(), Some("Unhandled"));
        let error: serde_json::Value =
            serde_json::from_slice(failed.payload().unwrap().as_ref()).unwrap();
        assert_eq!(error["errorType"], "ValueError");
        assert_eq!(error["errorMessage"], "n must not be negative");
        assert!(
            error["stackTrace"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        );
        // The environment survives a handler error, as on AWS.
        let again = invoke(3).await.unwrap();
        assert_eq!(again.function_error(), None);
    });
    server.kill();
}

/// Layers as the Lambda developer guide describes them: a layer's
/// `python/` folder is on a Python handler's import path (as `/opt/python`
/// is on AWS), a later layer's files win over an earlier one's, the
/// configuration lists each layer's ARN and size, and a deleted layer
/// version stays usable by the functions that already use it.
#[test]
fn a_python_handler_imports_modules_from_its_layers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    runtime().block_on(async {
        let lambda = client(&server);
        let publish = |name: &str, files: &[(&str, &str)]| {
            lambda
                .publish_layer_version()
                .layer_name(name)
                .description("shared code")
                .compatible_runtimes(Runtime::Python312)
                .content(
                    aws_sdk_lambda::types::LayerVersionContentInput::builder()
                        .zip_file(Blob::new(zip(files)))
                        .build(),
                )
                .send()
        };
        let common = publish(
            "common",
            &[
                (
                    "python/greet.py",
                    "def hello(name):\n    return 'hello ' + name\n",
                ),
                ("python/tone.py", "TONE = 'plain'\n"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(common.version(), 1);
        let common_arn = common.layer_version_arn().unwrap().to_string();
        assert_eq!(
            common_arn,
            "arn:aws:lambda:us-east-1:000000000000:layer:common:1"
        );
        let loud = publish("loud", &[("python/tone.py", "TONE = 'loud'\n")])
            .await
            .unwrap();
        let loud_arn = loud.layer_version_arn().unwrap().to_string();

        let handler = "import greet, tone\n\
                       def handler(event, context):\n    \
                       return {'greeting': greet.hello(event['name']), 'tone': tone.TONE}\n";
        let created = python_function(&lambda, "layered", "app.handler", handler)
            .layers(&common_arn)
            .layers(&loud_arn)
            .send()
            .await
            .unwrap();
        let listed: Vec<_> = created.layers().iter().map(|l| l.arn().unwrap()).collect();
        assert_eq!(listed, [common_arn.as_str(), loud_arn.as_str()]);
        assert!(created.layers()[0].code_size() > 0);

        let out = lambda
            .invoke()
            .function_name("layered")
            .payload(Blob::new(r#"{"name": "ada"}"#))
            .send()
            .await
            .unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(out.function_error(), None, "{payload}");
        assert_eq!(payload["greeting"], "hello ada");
        assert_eq!(payload["tone"], "loud", "the later layer wins");

        let versions = lambda
            .list_layer_versions()
            .layer_name("common")
            .send()
            .await
            .unwrap();
        assert_eq!(versions.layer_versions().len(), 1);
        let by_arn = lambda
            .get_layer_version_by_arn()
            .arn(&common_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(by_arn.description(), Some("shared code"));
        let layers = lambda.list_layers().send().await.unwrap();
        assert_eq!(layers.layers().len(), 2);

        let missing = python_function(&lambda, "broken", "app.handler", handler)
            .layers("arn:aws:lambda:us-east-1:000000000000:layer:common:9")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing), "InvalidParameterValueException");

        // A deleted version stays with the function that uses it.
        lambda
            .delete_layer_version()
            .layer_name("common")
            .version_number(1)
            .send()
            .await
            .unwrap();
        let gone = lambda
            .get_layer_version()
            .layer_name("common")
            .version_number(1)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "ResourceNotFoundException");
        lambda
            .update_function_configuration()
            .function_name("layered")
            .environment(Environment::builder().variables("FRESH", "1").build())
            .send()
            .await
            .unwrap();
        let again = lambda
            .invoke()
            .function_name("layered")
            .payload(Blob::new(r#"{"name": "bo"}"#))
            .send()
            .await
            .unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(again.payload().unwrap().as_ref()).unwrap();
        assert_eq!(payload["greeting"], "hello bo", "{payload}");

        // Version numbers are never given twice, even after a delete.
        let again = publish("common", &[("python/greet.py", "X = 1\n")])
            .await
            .unwrap();
        assert_eq!(again.version(), 2);
    });
    server.kill();
}

/// A server whose PATH finds `python`'s folder first (its `python3.X`
/// runs the functions of that runtime).
fn server_with_python_first(python: &std::path::Path) -> (tempfile::TempDir, Server) {
    let path = format!(
        "{}:{}",
        python.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(dir.path(), &[], &[("PATH", &path)]);
    (dir, server)
}
