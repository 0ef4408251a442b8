//! Bucket versioning through the AWS SDK for S3. Expected answers follow
//! S3's user guide on versioning: an overwrite or a delete keeps the older
//! version, a delete marker hides the key (404 NoSuchKey with
//! `x-amz-delete-marker`, 405 MethodNotAllowed when its own version is
//! asked for), removing a version for good makes the next newest current,
//! a suspended bucket writes the `null` version in place. SQL reads the
//! current version only.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, Delete, ObjectIdentifier, VersioningConfiguration,
};

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

async fn body(s3: &aws_sdk_s3::Client, key: &str, version: Option<&str>) -> String {
    let got = s3
        .get_object()
        .bucket("ver")
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .unwrap();
    let bytes = got.body.collect().await.unwrap().into_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, text: &str) -> Option<String> {
    s3.put_object()
        .bucket("ver")
        .key(key)
        .body(ByteStream::from(text.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .version_id
}

async fn set_versioning(s3: &aws_sdk_s3::Client, status: BucketVersioningStatus) {
    s3.put_bucket_versioning()
        .bucket("ver")
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

/// (key, version id, is latest, is a delete marker) of every version.
async fn versions(s3: &aws_sdk_s3::Client) -> Vec<(String, String, bool, bool)> {
    let listed = s3
        .list_object_versions()
        .bucket("ver")
        .send()
        .await
        .unwrap();
    let mut all: Vec<_> = listed
        .versions()
        .iter()
        .map(|v| {
            let id = v.version_id().unwrap().to_string();
            (
                v.key().unwrap().to_string(),
                id,
                v.is_latest().unwrap(),
                false,
            )
        })
        .chain(listed.delete_markers().iter().map(|m| {
            let id = m.version_id().unwrap().to_string();
            (
                m.key().unwrap().to_string(),
                id,
                m.is_latest().unwrap(),
                true,
            )
        }))
        .collect();
    all.sort_by_key(|(key, _, latest, _)| (key.clone(), !*latest));
    all
}

#[test]
fn versioned_buckets_keep_every_version_and_sql_reads_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    let (one, two, marker) = runtime().block_on(async {
        s3.create_bucket().bucket("ver").send().await.unwrap();
        // A bucket never versioned answers no status.
        let state = s3
            .get_bucket_versioning()
            .bucket("ver")
            .send()
            .await
            .unwrap();
        assert_eq!(state.status(), None);
        assert_eq!(put(&s3, "data/r.csv", "1\n").await, None);

        set_versioning(&s3, BucketVersioningStatus::Enabled).await;
        let state = s3
            .get_bucket_versioning()
            .bucket("ver")
            .send()
            .await
            .unwrap();
        assert_eq!(state.status(), Some(&BucketVersioningStatus::Enabled));
        let one = put(&s3, "data/r.csv", "1\n2\n").await.unwrap();
        let two = put(&s3, "data/r.csv", "1\n2\n3\n").await.unwrap();
        assert_ne!(one, two);
        assert_eq!(body(&s3, "data/r.csv", None).await, "1\n2\n3\n");
        assert_eq!(body(&s3, "data/r.csv", Some(&one)).await, "1\n2\n");
        assert_eq!(body(&s3, "data/r.csv", Some("null")).await, "1\n");
        let head = s3
            .head_object()
            .bucket("ver")
            .key("data/r.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(head.version_id(), Some(two.as_str()));

        // A delete adds a marker: the key answers 404, its versions stay.
        let deleted = s3
            .delete_object()
            .bucket("ver")
            .key("data/r.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.delete_marker(), Some(true));
        let marker = deleted.version_id().unwrap().to_string();
        let gone = s3
            .get_object()
            .bucket("ver")
            .key("data/r.csv")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "NoSuchKey");
        let raw = gone.raw_response().unwrap();
        assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("true"));
        assert_eq!(raw.headers().get("x-amz-version-id"), Some(marker.as_str()));
        let asked = s3
            .get_object()
            .bucket("ver")
            .key("data/r.csv")
            .version_id(&marker)
            .send()
            .await
            .unwrap_err();
        assert_eq!(asked.raw_response().unwrap().status().as_u16(), 405);
        assert_eq!(body(&s3, "data/r.csv", Some(&two)).await, "1\n2\n3\n");
        let missing = s3
            .get_object()
            .bucket("ver")
            .key("data/r.csv")
            .version_id("0123456789abcdef0123456789abcdef")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing), "NoSuchVersion");

        let key =
            |id: &str, latest, marker| ("data/r.csv".to_string(), id.to_string(), latest, marker);
        let mut expected = vec![
            key(&marker, true, true),
            key(&two, false, false),
            key(&one, false, false),
            key("null", false, false),
        ];
        expected.sort_by_key(|(key, _, latest, _)| (key.clone(), !*latest));
        let mut listed = versions(&s3).await;
        listed[1..].sort();
        expected[1..].sort();
        assert_eq!(listed, expected);

        // The bucket is not empty while versions remain.
        let refused = s3.delete_bucket().bucket("ver").send().await.unwrap_err();
        assert_eq!(code(&refused), "BucketNotEmpty");
        (one, two, marker)
    });

    // Versions and markers survive a restart.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        assert_eq!(versions(&s3).await.len(), 4);
        // Removing the marker makes the newest version current again.
        let removed = s3
            .delete_object()
            .bucket("ver")
            .key("data/r.csv")
            .version_id(&marker)
            .send()
            .await
            .unwrap();
        assert_eq!(removed.delete_marker(), Some(true));
        assert_eq!(body(&s3, "data/r.csv", None).await, "1\n2\n3\n");
        // Removing the current version makes the one before it current.
        s3.delete_object()
            .bucket("ver")
            .key("data/r.csv")
            .version_id(&two)
            .send()
            .await
            .unwrap();
        assert_eq!(body(&s3, "data/r.csv", None).await, "1\n2\n");
    });

    // SQL reads the current version, and only it.
    let (rows, _) = crate::run_ok(crate::nuage(dir.path()).args([
        "sql",
        "-S",
        "-e",
        "CREATE EXTERNAL TABLE r (n INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' \
         LOCATION 's3://ver/data/'; SELECT count(*), sum(n) FROM r",
    ]));
    assert_eq!(rows.trim(), "2\t3");

    runtime().block_on(async {
        // Suspended: writes replace the null version in place.
        set_versioning(&s3, BucketVersioningStatus::Suspended).await;
        assert_eq!(put(&s3, "data/r.csv", "7\n").await, None);
        assert_eq!(put(&s3, "data/r.csv", "8\n").await, None);
        let listed = versions(&s3).await;
        let ids: Vec<(&str, bool)> = listed.iter().map(|v| (v.1.as_str(), v.2)).collect();
        assert_eq!(ids, [("null", true), (one.as_str(), false)]);

        // DeleteObjects removes versions by id, and reports markers it adds.
        let delete = Delete::builder()
            .objects(
                ObjectIdentifier::builder()
                    .key("data/r.csv")
                    .version_id("null")
                    .build()
                    .unwrap(),
            )
            .objects(
                ObjectIdentifier::builder()
                    .key("data/r.csv")
                    .version_id(&one)
                    .build()
                    .unwrap(),
            )
            .objects(ObjectIdentifier::builder().key("other").build().unwrap())
            .build()
            .unwrap();
        let done = s3
            .delete_objects()
            .bucket("ver")
            .delete(delete)
            .send()
            .await
            .unwrap();
        assert!(done.errors().is_empty());
        let other = done
            .deleted()
            .iter()
            .find(|d| d.key() == Some("other"))
            .unwrap();
        assert_eq!(other.delete_marker(), Some(true));
        assert_eq!(other.delete_marker_version_id(), Some("null"));
        let listed = versions(&s3).await;
        assert_eq!(
            listed,
            [("other".to_string(), "null".to_string(), true, true)]
        );
        s3.delete_object()
            .bucket("ver")
            .key("other")
            .version_id("null")
            .send()
            .await
            .unwrap();
        s3.delete_bucket().bucket("ver").send().await.unwrap();
    });
}

/// Object Lock as S3's user guide describes it: a bucket created with it is
/// versioned for good; a version under GOVERNANCE retention is deleted only
/// with the bypass header, one under COMPLIANCE or with a legal hold not
/// at all; retention can be lengthened, not shortened; a delete without a
/// version id still adds a marker.
#[test]
fn object_lock_keeps_versions_until_their_retention_ends() {
    use aws_sdk_s3::primitives::DateTime;
    use aws_sdk_s3::types::{
        ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
        ObjectLockRetentionMode,
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("plain").send().await.unwrap();
        let none = s3
            .get_object_lock_configuration()
            .bucket("plain")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&none), "ObjectLockConfigurationNotFoundError");

        s3.create_bucket()
            .bucket("ver")
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        let state = s3
            .get_bucket_versioning()
            .bucket("ver")
            .send()
            .await
            .unwrap();
        assert_eq!(state.status(), Some(&BucketVersioningStatus::Enabled));
        let suspend = s3
            .put_bucket_versioning()
            .bucket("ver")
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&suspend), "InvalidBucketState");
        // A default retention past S3's 100 years is refused, not overflowed.
        let too_long = s3
            .put_object_lock_configuration()
            .bucket("ver")
            .object_lock_configuration(
                aws_sdk_s3::types::ObjectLockConfiguration::builder()
                    .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                    .rule(
                        aws_sdk_s3::types::ObjectLockRule::builder()
                            .default_retention(
                                aws_sdk_s3::types::DefaultRetention::builder()
                                    .mode(ObjectLockRetentionMode::Governance)
                                    .years(1_000_000)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&too_long), "InvalidRetentionPeriod");

        let until = DateTime::from_secs(4_102_444_800); // 2100-01-01
        let put = s3
            .put_object()
            .bucket("ver")
            .key("audit.csv")
            .body(ByteStream::from_static(b"a,b\n"))
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(until)
            .send()
            .await
            .unwrap();
        let id = put.version_id().unwrap().to_string();
        let head = s3
            .head_object()
            .bucket("ver")
            .key("audit.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
        assert_eq!(head.object_lock_retain_until_date(), Some(&until));

        let delete = |bypass: bool| {
            s3.delete_object()
                .bucket("ver")
                .key("audit.csv")
                .version_id(&id)
                .bypass_governance_retention(bypass)
                .send()
        };
        assert_eq!(code(&delete(false).await.unwrap_err()), "AccessDenied");
        // A delete without a version id only adds a marker.
        let marked = s3
            .delete_object()
            .bucket("ver")
            .key("audit.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(marked.delete_marker(), Some(true));
        assert_eq!(body(&s3, "audit.csv", Some(&id)).await, "a,b\n");

        // Shortening needs the bypass; a legal hold blocks even it.
        let shorter = ObjectLockRetention::builder()
            .mode(ObjectLockRetentionMode::Governance)
            .retain_until_date(DateTime::from_secs(4_000_000_000))
            .build();
        let refused = s3
            .put_object_retention()
            .bucket("ver")
            .key("audit.csv")
            .version_id(&id)
            .retention(shorter.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "AccessDenied");
        let hold = |status| {
            s3.put_object_legal_hold()
                .bucket("ver")
                .key("audit.csv")
                .version_id(&id)
                .legal_hold(ObjectLockLegalHold::builder().status(status).build())
                .send()
        };
        hold(ObjectLockLegalHoldStatus::On).await.unwrap();
        assert_eq!(code(&delete(true).await.unwrap_err()), "AccessDenied");
        hold(ObjectLockLegalHoldStatus::Off).await.unwrap();
        delete(true).await.unwrap();
        let gone = s3
            .get_object()
            .bucket("ver")
            .key("audit.csv")
            .version_id(&id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone), "NoSuchVersion");

        // COMPLIANCE: no one deletes or shortens it.
        let put = s3
            .put_object()
            .bucket("ver")
            .key("ledger.csv")
            .body(ByteStream::from_static(b"x\n"))
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(until)
            .send()
            .await
            .unwrap();
        let ledger = put.version_id().unwrap();
        let refused = s3
            .delete_object()
            .bucket("ver")
            .key("ledger.csv")
            .version_id(ledger)
            .bypass_governance_retention(true)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused), "AccessDenied");
    });
}
