//! Bucket lifecycle rules through the AWS SDK for S3. Expected answers
//! follow S3's user guide and API reference: rules round-trip, bad ones
//! are refused with S3's codes (InvalidArgument for a zero Days, a date
//! not at midnight GMT or a repeated ID; NoSuchLifecycleConfiguration when
//! there is none), `x-amz-expiration` names the expiry date and rule, and
//! what the rules make due goes: current objects (a delete marker in a
//! versioned bucket), noncurrent versions, lone delete markers and old
//! multipart uploads. Days are shortened with `--s3-lifecycle-day`.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    NoncurrentVersionExpiration, Tag, VersioningConfiguration,
};

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

fn rule(id: &str, prefix: &str) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
}

fn expire_after_days(days: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(days).build()
}

async fn put_rules(s3: &Client, bucket: &str, rules: Vec<LifecycleRule>) -> Result<(), String> {
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .unwrap();
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn put(s3: &Client, bucket: &str, key: &str, text: &str) -> Option<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(text.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .expiration
}

async fn keys(s3: &Client, bucket: &str) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect()
}

/// Waits (up to 30 s) until `done` holds.
async fn eventually<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[test]
fn lifecycle_rules_round_trip_and_refuse_what_s3_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("lifecycle").send().await.unwrap();
        let missing = s3
            .get_bucket_lifecycle_configuration()
            .bucket("lifecycle")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing), "NoSuchLifecycleConfiguration");

        let logs = rule("logs", "logs/")
            .expiration(expire_after_days(30))
            .build()
            .unwrap();
        let unnamed = LifecycleRule::builder()
            .status(ExpirationStatus::Disabled)
            .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(7)
                    .build(),
            )
            .build()
            .unwrap();
        put_rules(&s3, "lifecycle", vec![logs.clone(), unnamed])
            .await
            .unwrap();
        let got = s3
            .get_bucket_lifecycle_configuration()
            .bucket("lifecycle")
            .send()
            .await
            .unwrap();
        assert_eq!(got.rules()[0], logs);
        let second = &got.rules()[1];
        assert!(
            second.id().is_some_and(|id| !id.is_empty()),
            "S3 names an unnamed rule"
        );
        assert_eq!(second.status(), &ExpirationStatus::Disabled);
        assert_eq!(
            second
                .abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
            Some(7)
        );

        // What S3 refuses, and the configuration in place stays.
        let zero = rule("z", "a/")
            .expiration(expire_after_days(0))
            .build()
            .unwrap();
        assert_eq!(
            put_rules(&s3, "lifecycle", vec![zero]).await,
            Err("InvalidArgument".into())
        );
        let noon = rule("n", "a/")
            .expiration(
                LifecycleExpiration::builder()
                    .date(DateTime::from_secs(1_577_880_000)) // 2020-01-01T12:00Z
                    .build(),
            )
            .build()
            .unwrap();
        assert_eq!(
            put_rules(&s3, "lifecycle", vec![noon]).await,
            Err("InvalidArgument".into())
        );
        let twice = vec![
            rule("same", "a/")
                .expiration(expire_after_days(1))
                .build()
                .unwrap(),
            rule("same", "b/")
                .expiration(expire_after_days(2))
                .build()
                .unwrap(),
        ];
        assert_eq!(
            put_rules(&s3, "lifecycle", twice).await,
            Err("InvalidArgument".into())
        );
        let idle = rule("idle", "a/").build().unwrap();
        assert_eq!(
            put_rules(&s3, "lifecycle", vec![idle]).await,
            Err("InvalidRequest".into())
        );
        let got = s3
            .get_bucket_lifecycle_configuration()
            .bucket("lifecycle")
            .send()
            .await
            .unwrap();
        assert_eq!(got.rules().len(), 2);

        // x-amz-expiration: 30 days after today, rounded up to midnight UTC.
        let header = put(&s3, "lifecycle", "logs/a.txt", "a").await.unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let midnight = (now + 30 * 86_400).div_ceil(86_400) * 86_400;
        let expected = DateTime::from_secs(midnight as i64)
            .fmt(aws_smithy_types::date_time::Format::HttpDate)
            .unwrap();
        assert_eq!(
            header,
            format!("expiry-date=\"{expected}\", rule-id=\"logs\"")
        );
        let head = s3
            .head_object()
            .bucket("lifecycle")
            .key("logs/a.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(head.expiration(), Some(header.as_str()));
        assert_eq!(put(&s3, "lifecycle", "other/b.txt", "b").await, None);

        s3.delete_bucket_lifecycle()
            .bucket("lifecycle")
            .send()
            .await
            .unwrap();
        let gone = s3
            .get_bucket_lifecycle_configuration()
            .bucket("lifecycle")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "NoSuchLifecycleConfiguration");
    });
}

#[test]
fn lifecycle_rules_expire_objects_versions_markers_and_uploads() {
    let dir = tempfile::tempdir().unwrap();
    // A lifecycle day of 2 s, checked every second.
    let args = ["--s3-lifecycle-day", "2", "--s3-lifecycle-every", "1"];
    let server = Server::start(dir.path(), &args);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        // An unversioned bucket: a past date expires `logs/` at once, a
        // tag rule its tagged objects after a day, uploads go after a day.
        s3.create_bucket().bucket("lifecycle").send().await.unwrap();
        for key in ["logs/1.txt", "logs/2.txt", "keep/data.csv", "scratch.txt"] {
            put(&s3, "lifecycle", key, key).await;
        }
        let temporary = Tag::builder().key("temp").value("yes").build().unwrap();
        s3.put_object()
            .bucket("lifecycle")
            .key("tagged.txt")
            .tagging("temp=yes")
            .body(ByteStream::from_static(b"t"))
            .send()
            .await
            .unwrap();
        let upload = s3
            .create_multipart_upload()
            .bucket("lifecycle")
            .key("uploads/big.bin")
            .send()
            .await
            .unwrap();
        let rules = vec![
            rule("past", "logs/")
                .expiration(
                    LifecycleExpiration::builder()
                        .date(DateTime::from_secs(1_577_836_800)) // 2020-01-01
                        .build(),
                )
                .build()
                .unwrap(),
            LifecycleRule::builder()
                .id("temp")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().tag(temporary).build())
                .expiration(expire_after_days(1))
                .build()
                .unwrap(),
            rule("uploads", "uploads/")
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ];
        put_rules(&s3, "lifecycle", rules).await.unwrap();
        eventually("logs/ and tagged.txt to expire", || async {
            keys(&s3, "lifecycle").await == ["keep/data.csv", "scratch.txt"]
        })
        .await;
        eventually("the upload to be aborted", || async {
            let listed = s3
                .list_multipart_uploads()
                .bucket("lifecycle")
                .send()
                .await
                .unwrap();
            listed.uploads().is_empty()
        })
        .await;
        let gone = s3
            .list_parts()
            .bucket("lifecycle")
            .key("uploads/big.bin")
            .upload_id(upload.upload_id().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "NoSuchUpload");
        let kept = s3
            .get_object()
            .bucket("lifecycle")
            .key("keep/data.csv")
            .send()
            .await
            .unwrap();
        let bytes = kept.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], b"keep/data.csv");

        // A versioned bucket: expiring the current object leaves a delete
        // marker; noncurrent versions go a day after they were replaced,
        // and then the marker, alone, goes too.
        s3.create_bucket()
            .bucket("lifecycle-v")
            .send()
            .await
            .unwrap();
        s3.put_bucket_versioning()
            .bucket("lifecycle-v")
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        put(&s3, "lifecycle-v", "k", "one").await;
        put(&s3, "lifecycle-v", "k", "two").await;
        let rules = vec![
            rule("noncurrent", "")
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("current", "")
                .expiration(expire_after_days(1))
                .build()
                .unwrap(),
            rule("markers", "")
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ];
        // "current" and "markers" share a filter: two rules, one prefix.
        put_rules(&s3, "lifecycle-v", rules).await.unwrap();
        eventually("every version of k to go", || async {
            let listed = s3
                .list_object_versions()
                .bucket("lifecycle-v")
                .send()
                .await
                .unwrap();
            listed.versions().is_empty() && listed.delete_markers().is_empty()
        })
        .await;
        let missing = s3
            .get_object()
            .bucket("lifecycle-v")
            .key("k")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing.into_service_error()), "NoSuchKey");
    });
}
