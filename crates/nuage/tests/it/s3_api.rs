//! `nuage serve` as S3, through the AWS SDK for S3: buckets are folders of
//! the embedded lake and objects their files. Expected ETags are MD5s
//! computed here (S3 documents the ETag of a PUT as the MD5 of its bytes and
//! that of a multipart upload as the MD5 of the parts' MD5s, then `-N`);
//! error codes and statuses are those of S3's error-response reference.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tag, Tagging,
};
use md5::{Digest, Md5};

use crate::streams::{Server, runtime};

pub(crate) fn client(server: &Server, key: &str, secret: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The S3 error code of a failed SDK call.
pub(crate) fn code<E: ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or("<none>").to_string()
}

#[test]
fn objects_round_trip_through_the_sdk_and_are_files_of_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("movies").send().await.unwrap();
        // In us-east-1 S3 answers 200 OK to creating your bucket again
        // (BucketAlreadyOwnedByYou in every other region).
        s3.create_bucket().bucket("movies").send().await.unwrap();

        let data = b"movie_id,title\n1,Toy Story (1995)\n".to_vec();
        let put = s3
            .put_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .content_type("text/csv")
            .metadata("source", "movielens")
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(put.e_tag().unwrap(), format!("\"{}\"", md5_hex(&data)));
        // One lake: the object is a file SQL and the crawler read.
        let file = dir.path().join("lake/movies/raw/movies.csv");
        assert_eq!(std::fs::read(&file).unwrap(), data);

        let got = s3
            .get_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_type(), Some("text/csv"));
        assert_eq!(got.metadata().unwrap()["source"], "movielens");
        assert_eq!(got.content_length(), Some(data.len() as i64));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            &data[..]
        );

        let head = s3
            .head_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(head.e_tag(), put.e_tag());
        assert_eq!(head.content_length(), Some(data.len() as i64));

        // Range: bytes 0-7 inclusive (RFC 9110).
        let part = s3
            .get_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .range("bytes=0-7")
            .send()
            .await
            .unwrap();
        assert_eq!(
            part.content_range(),
            Some(format!("bytes 0-7/{}", data.len()).as_str())
        );
        assert_eq!(
            part.body.collect().await.unwrap().into_bytes().as_ref(),
            b"movie_id"
        );
        let beyond = s3
            .get_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .range("bytes=1000-")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&beyond.into_service_error()), "InvalidRange");

        // Conditions: a matching If-None-Match is 304, a failing If-Match 412.
        let unchanged = s3
            .get_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .if_none_match(put.e_tag().unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            unchanged.raw_response().map(|r| r.status().as_u16()),
            Some(304)
        );
        let failed = s3
            .get_object()
            .bucket("movies")
            .key("raw/movies.csv")
            .if_match("\"0123\"")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&failed.into_service_error()), "PreconditionFailed");

        // A file written beside S3 (by SQL, Firehose, a user) is an object.
        std::fs::write(dir.path().join("lake/movies/raw/extra.csv"), b"x\n").unwrap();
        let listed = s3
            .list_objects_v2()
            .bucket("movies")
            .prefix("raw/")
            .send()
            .await
            .unwrap();
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["raw/extra.csv", "raw/movies.csv"]);
        assert_eq!(
            listed.contents()[0].e_tag(),
            Some(format!("\"{}\"", md5_hex(b"x\n")).as_str())
        );
        let rolled = s3
            .list_objects_v2()
            .bucket("movies")
            .delimiter("/")
            .send()
            .await
            .unwrap();
        assert!(rolled.contents().is_empty());
        let prefixes: Vec<&str> = rolled
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .collect();
        assert_eq!(prefixes, ["raw/"]);

        let missing = s3
            .get_object()
            .bucket("movies")
            .key("nope")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&missing.into_service_error()), "NoSuchKey");
        let no_bucket = s3
            .list_objects_v2()
            .bucket("nobucket")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&no_bucket.into_service_error()), "NoSuchBucket");
        let not_empty = s3
            .delete_bucket()
            .bucket("movies")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&not_empty.into_service_error()), "BucketNotEmpty");

        // Copy with its metadata, then tags.
        s3.copy_object()
            .bucket("movies")
            .key("copy.csv")
            .copy_source("movies/raw/movies.csv")
            .send()
            .await
            .unwrap();
        let copy = s3
            .head_object()
            .bucket("movies")
            .key("copy.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(copy.e_tag(), put.e_tag());
        assert_eq!(copy.content_type(), Some("text/csv"));
        let tags = Tagging::builder()
            .tag_set(Tag::builder().key("team").value("data").build().unwrap())
            .build()
            .unwrap();
        s3.put_object_tagging()
            .bucket("movies")
            .key("copy.csv")
            .tagging(tags)
            .send()
            .await
            .unwrap();
        let read = s3
            .get_object_tagging()
            .bucket("movies")
            .key("copy.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(read.tag_set()[0].key(), "team");

        let delete = Delete::builder()
            .objects(ObjectIdentifier::builder().key("copy.csv").build().unwrap())
            .objects(
                ObjectIdentifier::builder()
                    .key("raw/extra.csv")
                    .build()
                    .unwrap(),
            )
            .objects(
                ObjectIdentifier::builder()
                    .key("raw/movies.csv")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let deleted = s3
            .delete_objects()
            .bucket("movies")
            .delete(delete)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.deleted().len(), 3);
        s3.delete_bucket().bucket("movies").send().await.unwrap();
        let buckets = s3.list_buckets().send().await.unwrap();
        assert!(buckets.buckets().is_empty());
    });
}

#[test]
fn multipart_uploads_presigned_urls_and_parts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("big").send().await.unwrap();
        let upload = s3
            .create_multipart_upload()
            .bucket("big")
            .key("data.bin")
            .send()
            .await
            .unwrap();
        let id = upload.upload_id().unwrap();
        let first: Vec<u8> = (0..5 << 20).map(|i: u32| (i % 253) as u8).collect();
        let second = b"the last part may be small".to_vec();
        let mut completed = Vec::new();
        for (number, body) in [(1, &first), (2, &second)] {
            let part = s3
                .upload_part()
                .bucket("big")
                .key("data.bin")
                .upload_id(id)
                .part_number(number)
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(part.e_tag().unwrap(), format!("\"{}\"", md5_hex(body)));
            completed.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(part.e_tag().unwrap())
                    .build(),
            );
        }
        let listed = s3
            .list_parts()
            .bucket("big")
            .key("data.bin")
            .upload_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.parts().len(), 2);
        let uploads = s3
            .list_multipart_uploads()
            .bucket("big")
            .send()
            .await
            .unwrap();
        assert_eq!(uploads.uploads()[0].upload_id(), Some(id));
        let done = s3
            .complete_multipart_upload()
            .bucket("big")
            .key("data.bin")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let mut md5s = Md5::digest(&first).to_vec();
        md5s.extend(Md5::digest(&second));
        assert_eq!(done.e_tag().unwrap(), format!("\"{}-2\"", md5_hex(&md5s)));
        let part2 = s3
            .get_object()
            .bucket("big")
            .key("data.bin")
            .part_number(2)
            .send()
            .await
            .unwrap();
        assert_eq!(part2.parts_count(), Some(2));
        assert_eq!(
            part2.body.collect().await.unwrap().into_bytes().as_ref(),
            &second[..]
        );
        let gone = s3
            .abort_multipart_upload()
            .bucket("big")
            .key("data.bin")
            .upload_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&gone.into_service_error()), "NoSuchUpload");

        // A presigned GET works from any HTTP client until it expires.
        let presigned = s3
            .get_object()
            .bucket("big")
            .key("data.bin")
            .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
        let body = http_get(presigned.uri()).await;
        assert_eq!(body.0, 200);
        assert_eq!(body.1.len(), first.len() + second.len());
    });
}

/// Additional checksums of multipart uploads. The expected values are those
/// ceph's s3-tests record for these bodies (test_multipart_checksum_sha256,
/// test_multipart_use_cksum_helper_crc32): a COMPOSITE SHA-256 is the hash
/// of the parts' hashes with `-N`, a FULL_OBJECT CRC32 that of all bytes.
#[test]
fn multipart_checksums_and_object_attributes() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ChecksumType, ObjectAttributes};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("sums").send().await.unwrap();
        let create =
            |key: &'static str, algorithm: ChecksumAlgorithm, kind: Option<ChecksumType>| {
                s3.create_multipart_upload()
                    .bucket("sums")
                    .key(key)
                    .checksum_algorithm(algorithm)
                    .set_checksum_type(kind)
                    .send()
            };

        // COMPOSITE SHA-256: one part of 1,024 "A"s.
        let upload = create("composite", ChecksumAlgorithm::Sha256, None)
            .await
            .unwrap();
        assert_eq!(
            upload.checksum_algorithm(),
            Some(&ChecksumAlgorithm::Sha256)
        );
        assert_eq!(upload.checksum_type(), Some(&ChecksumType::Composite));
        let id = upload.upload_id().unwrap();
        let part = s3
            .upload_part()
            .bucket("sums")
            .key("composite")
            .upload_id(id)
            .part_number(1)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(vec![b'A'; 1024]))
            .send()
            .await
            .unwrap();
        let part_sum = "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=";
        assert_eq!(part.checksum_sha256(), Some(part_sum));
        let without_sum = CompletedPart::builder()
            .part_number(1)
            .e_tag(part.e_tag().unwrap())
            .build();
        let refused = s3
            .complete_multipart_upload()
            .bucket("sums")
            .key("composite")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(without_sum)
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused.into_service_error()), "InvalidRequest");
        let done = s3
            .complete_multipart_upload()
            .bucket("sums")
            .key("composite")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().unwrap())
                            .checksum_sha256(part_sum)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let composite = "Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg=-1";
        assert_eq!(done.checksum_sha256(), Some(composite));
        assert_eq!(done.checksum_type(), Some(&ChecksumType::Composite));
        let head = s3
            .head_object()
            .bucket("sums")
            .key("composite")
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert_eq!(head.checksum_sha256(), Some(composite));
        let attributes = s3
            .get_object_attributes()
            .bucket("sums")
            .key("composite")
            .object_attributes(ObjectAttributes::Etag)
            .object_attributes(ObjectAttributes::Checksum)
            .object_attributes(ObjectAttributes::ObjectParts)
            .object_attributes(ObjectAttributes::ObjectSize)
            .send()
            .await
            .unwrap();
        assert_eq!(attributes.object_size(), Some(1024));
        // Unquoted, unlike every other ETag S3 sends.
        assert_eq!(
            attributes.e_tag(),
            done.e_tag().map(|e| e.trim_matches('"'))
        );
        assert_eq!(
            attributes.checksum().unwrap().checksum_sha256(),
            Some(composite)
        );
        let parts = attributes.object_parts().unwrap();
        assert_eq!(parts.total_parts_count(), Some(1));
        assert_eq!(parts.parts()[0].checksum_sha256(), Some(part_sum));
        // An attribute S3 does not have is refused, as S3 refuses it.
        let unknown = s3
            .get_object_attributes()
            .bucket("sums")
            .key("composite")
            .object_attributes(ObjectAttributes::from("Colour"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&unknown), "InvalidArgument");

        // FULL_OBJECT CRC32: three parts of 5 MiB of "A", "B" and "C".
        let upload = create(
            "full",
            ChecksumAlgorithm::Crc32,
            Some(ChecksumType::FullObject),
        )
        .await
        .unwrap();
        let id = upload.upload_id().unwrap();
        let mut completed = Vec::new();
        for (number, (letter, sum)) in [(b'A', "JRTCyQ=="), (b'B', "QoZTGg=="), (b'C', "YAgjqw==")]
            .into_iter()
            .enumerate()
        {
            let part = s3
                .upload_part()
                .bucket("sums")
                .key("full")
                .upload_id(id)
                .part_number(number as i32 + 1)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from(vec![letter; 5 << 20]))
                .send()
                .await
                .unwrap();
            assert_eq!(part.checksum_crc32(), Some(sum));
            completed.push(
                CompletedPart::builder()
                    .part_number(number as i32 + 1)
                    .e_tag(part.e_tag().unwrap())
                    .checksum_crc32(sum)
                    .build(),
            );
        }
        let done = s3
            .complete_multipart_upload()
            .bucket("sums")
            .key("full")
            .upload_id(id)
            .checksum_crc32("WgDhBQ==")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(done.checksum_crc32(), Some("WgDhBQ=="));
        assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
        let second = s3
            .get_object()
            .bucket("sums")
            .key("full")
            .part_number(2)
            .send()
            .await
            .unwrap();
        assert_eq!(second.checksum_crc32(), Some("QoZTGg=="));

        // CRC64NVME has no composite form.
        let refused = create(
            "bad",
            ChecksumAlgorithm::Crc64Nvme,
            Some(ChecksumType::Composite),
        )
        .await
        .unwrap_err();
        assert_eq!(code(&refused.into_service_error()), "InvalidRequest");
    });
}

/// boto3 (its transfer manager's threaded multipart upload and ranged
/// downloads, paginators, presigned URLs, checksums) and the aws CLI (`s3
/// sync`, `ls`, `cp`), from `s3_clients.py`.
#[test]
fn boto3_and_the_aws_cli_work_unchanged() {
    crate::require_python("boto3", "boto3");
    let found = std::process::Command::new("aws").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "this test needs the aws CLI: python3 -m pip install awscli (.ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/s3_clients.py");
    let output = std::process::Command::new("python3")
        .arg(&script)
        .arg(&server.endpoint)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "s3_clients.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// pyarrow's S3FileSystem writes a partitioned Parquet dataset that `nuage
/// crawl` finds and `nuage sql` reads; DuckDB's httpfs reads it and writes
/// through a multipart upload (`s3_tools.py`, in ~/.cache/nuage-py).
#[test]
fn pyarrow_and_duckdb_share_the_lake_with_the_crawler_and_sql() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/s3_tools.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&server.endpoint)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "s3_tools.py failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    crate::run_ok(crate::nuage(dir.path()).args([
        "crawl",
        "s3://tools/ratings/",
        "--database",
        "tools",
    ]));
    let (rows, _) = crate::run_ok(crate::nuage(dir.path()).args([
        "sql",
        "-S",
        "-e",
        "SELECT count(*), sum(rating), count(DISTINCT year) FROM tools.ratings",
    ]));
    // 3,000 rows rated 1..5 in turn (sum 9,000) over two years, as written.
    assert_eq!(rows.trim(), "3000\t9000.0\t2");
}

/// The Python that has duckdb 1.5.5 with httpfs and pyarrow.
pub(crate) fn venv_python() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let python = std::path::Path::new(&home).join(".cache/nuage-py/bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import duckdb, duckdb_extension_httpfs, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ready,
        "this test needs ~/.cache/nuage-py: python3 -m venv ~/.cache/nuage-py && \
         ~/.cache/nuage-py/bin/pip install duckdb==1.5.5 duckdb-extension-httpfs==1.5.5 pyarrow \
         (.ci/run prepares it)"
    );
    python
}

#[test]
fn with_access_keys_signatures_are_verified_and_anonymous_requests_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--access-keys", "AKIDNUAGE:s3cr3t"]);
    runtime().block_on(async {
        let good = client(&server, "AKIDNUAGE", "s3cr3t");
        good.create_bucket().bucket("safe").send().await.unwrap();
        good.put_object()
            .bucket("safe")
            .key("k")
            .body(ByteStream::from_static(b"secret data"))
            .send()
            .await
            .unwrap();
        let wrong = client(&server, "AKIDNUAGE", "wrong");
        let refused = wrong
            .get_object()
            .bucket("safe")
            .key("k")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused.into_service_error()), "SignatureDoesNotMatch");
        let unknown = client(&server, "AKIDOTHER", "s3cr3t");
        let refused = unknown.list_buckets().send().await.unwrap_err();
        assert_eq!(code(&refused.into_service_error()), "InvalidAccessKeyId");
        let anonymous = http_get(&format!("{}/safe/k", server.endpoint)).await;
        assert_eq!(anonymous.0, 403);
        assert!(String::from_utf8_lossy(&anonymous.1).contains("<Code>AccessDenied</Code>"));
        let presigned = good
            .get_object()
            .bucket("safe")
            .key("k")
            .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
        assert_eq!(http_get(presigned.uri()).await.1, b"secret data");
    });
    // boto3, signing: a PUT streamed with `Transfer-Encoding: chunked` and
    // no Content-Length (as s3-tests sends it, S3 takes it), and SigV2 (the
    // legacy `s3` signer, which signs a bucket as `/bucket/`).
    crate::require_python("boto3", "boto3");
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(SIGNED_BOTO3)
        .arg(&server.endpoint)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "boto3 with keys failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const SIGNED_BOTO3: &str = r#"
import sys, boto3
from botocore.config import Config
def client(signature):
    return boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                        aws_access_key_id="AKIDNUAGE", aws_secret_access_key="s3cr3t",
                        config=Config(signature_version=signature))
s3 = client("s3v4")
def chunked(request, **kwargs):
    request.headers.add_header("Transfer-Encoding", "chunked")
s3.meta.events.register_first("before-sign.s3.PutObject", chunked)
s3.put_object(Bucket="safe", Key="chunked", Body=b"bar" * 5000)
assert s3.get_object(Bucket="safe", Key="chunked")["Body"].read() == b"bar" * 5000
v2 = client("s3")
v2.create_bucket(Bucket="legacy-signed")
v2.put_object(Bucket="legacy-signed", Key="k", Body=b"v2")
assert [o["Key"] for o in v2.list_objects(Bucket="legacy-signed")["Contents"]] == ["k"]
v2.delete_object(Bucket="legacy-signed", Key="k")
v2.delete_bucket(Bucket="legacy-signed")
# S3 checks a request's time before its signature: a SigV2 x-amz-date years
# off is RequestTimeTooSkewed, an unreadable one AccessDenied; a SigV4
# request dated by a Date header (botocore signs so when one is set) is fine.
from botocore.exceptions import ClientError
from email.utils import formatdate
for date, expected in [("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"), ("Bad Date", "AccessDenied")]:
    dated = client("s3")
    dated.meta.events.register("before-call.s3.PutObject", lambda params, **kw: params["headers"].update({"x-amz-date": date}))
    try:
        dated.put_object(Bucket="safe", Key="dated", Body=b"x")
        raise AssertionError("a SigV2 request dated %r was taken" % date)
    except ClientError as e:
        assert e.response["Error"]["Code"] == expected, (date, e.response["Error"])
dated = client("s3v4")
dated.meta.events.register("before-call.s3.PutObject", lambda params, **kw: params["headers"].update({"Date": formatdate(usegmt=True)}))
dated.put_object(Bucket="safe", Key="dated", Body=b"x")
# A signed browser form (boto3's generate_presigned_post): ${filename} in
# the key becomes the file's name before the policy checks the key; a form
# the policy does not allow is refused with S3's 403.
import requests
post = s3.generate_presigned_post("safe", "uploads/${filename}", ExpiresIn=60)
posted = requests.post(post["url"], data=post["fields"], files={"file": ("photo.jpg", b"jpeg bytes")})
assert posted.status_code == 204, (posted.status_code, posted.text)
assert s3.get_object(Bucket="safe", Key="uploads/photo.jpg")["Body"].read() == b"jpeg bytes"
post = s3.generate_presigned_post("safe", "x", Conditions=[["starts-with", "$key", "uploads/"]], ExpiresIn=60)
refused = requests.post(post["url"], data=post["fields"], files={"file": ("x", b"x")})
assert refused.status_code == 403 and "<Code>AccessDenied</Code>" in refused.text, refused.text
"#;

/// ACLs with one owner, as S3's ACL overview describes the groups: a
/// `public-read` object is read by unsigned requests, a private one is not;
/// a `public-read` bucket is listed, a `public-read-write` one also takes
/// unsigned writes; Get*Acl show the AllUsers grant; a grant to another
/// user is refused (nuage has none).
#[test]
fn public_acls_open_buckets_and_objects_to_unsigned_requests() {
    use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl, Permission, Type};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--access-keys", "AKIDNUAGE:s3cr3t"]);
    runtime().block_on(async {
        let s3 = client(&server, "AKIDNUAGE", "s3cr3t");
        s3.create_bucket().bucket("site").send().await.unwrap();
        let put = |key: &'static str, acl: Option<ObjectCannedAcl>| {
            s3.put_object()
                .bucket("site")
                .key(key)
                .set_acl(acl)
                .body(ByteStream::from_static(b"<h1>hi</h1>"))
                .send()
        };
        put("index.html", Some(ObjectCannedAcl::PublicRead))
            .await
            .unwrap();
        put("draft.html", None).await.unwrap();
        let url = |key: &str| format!("{}/site/{key}", server.endpoint);
        assert_eq!(
            http_get(&url("index.html")).await,
            (200, b"<h1>hi</h1>".to_vec())
        );
        assert_eq!(http_get(&url("draft.html")).await.0, 403);
        // The bucket is private: no listing, no writes.
        assert_eq!(http_get(&format!("{}/site", server.endpoint)).await.0, 403);
        let acl = s3
            .get_object_acl()
            .bucket("site")
            .key("index.html")
            .send()
            .await
            .unwrap();
        let groups: Vec<_> = acl
            .grants()
            .iter()
            .filter(|g| g.grantee().is_some_and(|e| e.r#type() == &Type::Group))
            .map(|g| {
                let uri = g.grantee().unwrap().uri().unwrap().to_string();
                (uri, g.permission().unwrap().clone())
            })
            .collect();
        assert_eq!(
            groups,
            [(
                "http://acs.amazonaws.com/groups/global/AllUsers".to_string(),
                Permission::Read
            )]
        );

        s3.put_bucket_acl()
            .bucket("site")
            .acl(BucketCannedAcl::PublicReadWrite)
            .send()
            .await
            .unwrap();
        let (status, _, listing) =
            http_request("GET", &format!("{}/site?list-type=2", server.endpoint), &[]).await;
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&listing).contains("<Key>draft.html</Key>"));
        let (status, _, _) =
            http_request("PUT", &url("guest.txt"), &[("content-length", "0")]).await;
        assert_eq!(status, 200);
        s3.head_object()
            .bucket("site")
            .key("guest.txt")
            .send()
            .await
            .unwrap();
        // Unsigned requests still cannot change the ACL or list buckets.
        let (status, _, _) =
            http_request("GET", &format!("{}/site?acl", server.endpoint), &[]).await;
        assert_eq!(status, 403);
        assert_eq!(http_get(&format!("{}/", server.endpoint)).await.0, 403);

        let other = s3
            .put_object_acl()
            .bucket("site")
            .key("index.html")
            .grant_read("id=\"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be\"")
            .send()
            .await
            .unwrap_err();
        // No user of this server has that canonical id (S3: Invalid id).
        assert_eq!(code(&other), "InvalidArgument");

        // Block Public Access: IgnorePublicAcls closes what the grants
        // opened; BlockPublicAcls refuses new public grants (403).
        let block = |block_acls: bool, ignore_acls: bool| {
            s3.put_public_access_block()
                .bucket("site")
                .public_access_block_configuration(
                    aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                        .block_public_acls(block_acls)
                        .ignore_public_acls(ignore_acls)
                        .build(),
                )
                .send()
        };
        block(false, true).await.unwrap();
        assert_eq!(http_get(&url("index.html")).await.0, 403);
        block(true, false).await.unwrap();
        assert_eq!(http_get(&url("index.html")).await.0, 200);
        let blocked = put("other.html", Some(ObjectCannedAcl::PublicRead))
            .await
            .unwrap_err();
        assert_eq!(code(&blocked), "AccessDenied");
        let stored = s3
            .get_public_access_block()
            .bucket("site")
            .send()
            .await
            .unwrap();
        let config = stored.public_access_block_configuration().unwrap();
        assert_eq!(config.block_public_acls(), Some(true));
        s3.delete_public_access_block()
            .bucket("site")
            .send()
            .await
            .unwrap();
        let none = s3
            .get_public_access_block()
            .bucket("site")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&none), "NoSuchPublicAccessBlockConfiguration");
        put("other.html", Some(ObjectCannedAcl::PublicRead))
            .await
            .unwrap();
    });
}

/// A plain GET (no SDK): status and body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http_request("GET", url, &[]).await;
    (status, body)
}

/// A plain request (no SDK, unsigned): status, headers and body.
async fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(http_body_util::Empty::new()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

/// Conditional writes (S3's If-None-Match: * and If-Match on PutObject
/// and CompleteMultipartUpload), a 304 that names the ETag, error
/// documents whose RequestId is the x-amz-request-id header, and
/// ListBuckets in pages (MaxBuckets, ContinuationToken), as S3's API
/// reference documents them.
#[test]
fn conditional_writes_not_modified_request_ids_and_bucket_pages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        for bucket in ["pages-a", "pages-b", "pages-c"] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        let put = |key: &'static str, body: &'static [u8]| {
            s3.put_object()
                .bucket("pages-a")
                .key(key)
                .body(ByteStream::from_static(body))
        };
        let first = put("k", b"one").if_none_match("*").send().await.unwrap();
        let etag = first.e_tag().unwrap().to_string();
        let again = put("k", b"two")
            .if_none_match("*")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&again), "PreconditionFailed");
        let stale = put("k", b"two")
            .if_match("\"0123\"")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&stale), "PreconditionFailed");
        let missing = put("nope", b"x").if_match(&etag).send().await.unwrap_err();
        assert_eq!(code(&missing), "NoSuchKey");
        put("k", b"two").if_match(&etag).send().await.unwrap();
        let got = s3
            .get_object()
            .bucket("pages-a")
            .key("k")
            .send()
            .await
            .unwrap();
        let now = got.e_tag().unwrap().to_string();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"two"
        );

        // Not Modified names the version the client has.
        let url = format!("{}/pages-a/k", server.endpoint);
        let (status, headers, _) =
            http_request("GET", &url, &[("if-none-match", now.as_str())]).await;
        assert_eq!(status, 304);
        assert_eq!(headers["etag"].to_str().unwrap(), now);
        assert!(headers.contains_key("last-modified"));

        // An error document carries the request's id.
        let (status, headers, body) =
            http_request("GET", &format!("{}/pages-a/none", server.endpoint), &[]).await;
        assert_eq!(status, 404);
        let id = headers["x-amz-request-id"].to_str().unwrap();
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains(&format!("<RequestId>{id}</RequestId>")),
            "{body}"
        );

        // Buckets two at a time.
        let page = s3.list_buckets().max_buckets(2).send().await.unwrap();
        let names: Vec<&str> = page.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["pages-a", "pages-b"]);
        let token = page.continuation_token().unwrap();
        let rest = s3
            .list_buckets()
            .max_buckets(2)
            .continuation_token(token)
            .send()
            .await
            .unwrap();
        let names: Vec<&str> = rest.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["pages-c"]);
        assert!(rest.continuation_token().is_none());
        let bad = s3.list_buckets().max_buckets(0).send().await.unwrap_err();
        assert_eq!(code(&bad), "InvalidArgument");
    });
}

/// A bucket's CORS rules answer browsers' preflights and requests, as S3's
/// CORS documentation describes.
#[test]
fn bucket_cors_rules_answer_browsers() {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("site").send().await.unwrap();
        s3.put_object()
            .bucket("site")
            .key("index.html")
            .body(ByteStream::from_static(b"<h1>hi</h1>"))
            .send()
            .await
            .unwrap();
        let url = format!("{}/site/index.html", server.endpoint);
        let preflight = [
            ("origin", "https://console.example.com"),
            ("access-control-request-method", "PUT"),
        ];
        // No rules yet: CORS is not enabled for this bucket.
        assert_eq!(http_request("OPTIONS", &url, &preflight).await.0, 403);
        let missing = s3
            .get_bucket_cors()
            .bucket("site")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&missing.into_service_error()),
            "NoSuchCORSConfiguration"
        );

        let rule = CorsRule::builder()
            .allowed_origins("https://*.example.com")
            .allowed_methods("GET")
            .allowed_methods("PUT")
            .allowed_headers("content-type")
            .expose_headers("ETag")
            .max_age_seconds(600)
            .build()
            .unwrap();
        s3.put_bucket_cors()
            .bucket("site")
            .cors_configuration(
                CorsConfiguration::builder()
                    .cors_rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let stored = s3.get_bucket_cors().bucket("site").send().await.unwrap();
        assert_eq!(
            stored.cors_rules()[0].allowed_origins(),
            ["https://*.example.com"]
        );

        let (status, headers, _) = http_request(
            "OPTIONS",
            &url,
            &[
                ("origin", "https://console.example.com"),
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://console.example.com"
        );
        assert_eq!(headers["access-control-allow-methods"], "GET, PUT");
        assert_eq!(headers["access-control-max-age"], "600");
        // Another origin, or a method the rule does not allow: 403.
        let other = [
            ("origin", "https://evil.example.org"),
            ("access-control-request-method", "GET"),
        ];
        assert_eq!(http_request("OPTIONS", &url, &other).await.0, 403);
        let delete = [
            ("origin", "https://console.example.com"),
            ("access-control-request-method", "DELETE"),
        ];
        assert_eq!(http_request("OPTIONS", &url, &delete).await.0, 403);
        // The request itself carries the rule's headers.
        let (status, headers, body) =
            http_request("GET", &url, &[("origin", "https://console.example.com")]).await;
        assert_eq!((status, body.as_slice()), (200, &b"<h1>hi</h1>"[..]));
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://console.example.com"
        );
        assert_eq!(headers["access-control-expose-headers"], "ETag");

        s3.delete_bucket_cors().bucket("site").send().await.unwrap();
        assert_eq!(http_request("OPTIONS", &url, &preflight).await.0, 403);
    });
}

/// The bytes a crash-test writer puts under `key` (version `v`): every byte
/// depends on the key, so a torn or mixed object cannot pass for a whole one.
fn crash_body(key: &str, version: u32, size: usize) -> Vec<u8> {
    let seed = Md5::digest(format!("{key}#{version}").as_bytes());
    (0..size)
        .map(|i| seed[i % 16].wrapping_add((i / 16) as u8))
        .collect()
}

/// The versions the crash test's writers may have written under `key`.
fn crash_versions(key: &str) -> Vec<u32> {
    if key == "shared/object" {
        return (0..6u32)
            .flat_map(|w| (0..100_000u32).step_by(4).map(move |i| w * 100_000 + i))
            .collect();
    }
    if key.starts_with("mp") {
        return vec![0];
    }
    let (writer, i) = key.trim_start_matches('w').split_once('/').unwrap();
    vec![writer.parse::<u32>().unwrap() * 100_000 + i.parse::<u32>().unwrap()]
}

/// SIGKILL during concurrent PutObjects (one key written by several
/// clients at once) and multipart uploads: after a restart every
/// acknowledged object reads back byte for byte, every listed object is
/// whole (one complete version), and nothing is left in staging.
#[test]
fn acknowledged_objects_survive_kill_9_and_no_partial_object_is_listed() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let endpoint = server.endpoint.clone();
    // (key, bytes) of every acknowledged write.
    type Acked = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let acked: Acked = Arc::default();
    let rt = runtime();
    let s3 = client(&server, "test", "test");
    rt.block_on(s3.create_bucket().bucket("crash").send())
        .unwrap();
    let mut writers = Vec::new();
    for writer in 0..6u32 {
        let (s3, acked) = (s3.clone(), acked.clone());
        writers.push(rt.spawn(async move {
            for i in 0u32.. {
                let shared = i % 4 == 0;
                let key = if shared {
                    "shared/object".to_string()
                } else {
                    format!("w{writer}/{i:05}")
                };
                let size = 1 + ((writer as usize * 7919 + i as usize * 104_729) % (3 << 20));
                let body = crash_body(&key, writer * 100_000 + i, size);
                let put = s3
                    .put_object()
                    .bucket("crash")
                    .key(&key)
                    .body(ByteStream::from(body.clone()));
                if put.send().await.is_err() {
                    return;
                }
                if !shared {
                    acked.lock().unwrap().push((key, body));
                }
            }
        }));
    }
    for writer in 0..2u32 {
        let (s3, acked) = (s3.clone(), acked.clone());
        writers.push(rt.spawn(async move {
            for i in 0u32.. {
                let key = format!("mp{writer}/{i:03}");
                let body = crash_body(&key, 0, (5 << 20) + 4096);
                let Ok(upload) = s3
                    .create_multipart_upload()
                    .bucket("crash")
                    .key(&key)
                    .send()
                    .await
                else {
                    return;
                };
                let id = upload.upload_id().unwrap().to_string();
                let mut parts = Vec::new();
                for (n, range) in [(1, 0..5 << 20), (2, (5 << 20)..body.len())] {
                    let sent = s3
                        .upload_part()
                        .bucket("crash")
                        .key(&key)
                        .upload_id(&id)
                        .part_number(n)
                        .body(ByteStream::from(body[range].to_vec()))
                        .send()
                        .await;
                    let Ok(part) = sent else { return };
                    parts.push(
                        CompletedPart::builder()
                            .part_number(n)
                            .e_tag(part.e_tag().unwrap())
                            .build(),
                    );
                }
                let done = s3
                    .complete_multipart_upload()
                    .bucket("crash")
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await;
                if done.is_err() {
                    return;
                }
                acked.lock().unwrap().push((key, body));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    rt.block_on(async {
        for writer in writers {
            let _ = writer.await;
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 10,
        "only {} objects were acknowledged before the kill",
        acked.len()
    );
    eprintln!("{} objects acknowledged before SIGKILL", acked.len());

    let staging = dir.path().join("lake/.nuage-s3/tmp");
    let server = Server::start(dir.path(), &[]);
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "staging is emptied at start"
    );
    let s3 = client(&server, "test", "test");
    assert_ne!(endpoint, "", "the first server had an endpoint");
    rt.block_on(async {
        for (key, body) in &acked {
            let got = s3
                .get_object()
                .bucket("crash")
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert!(bytes.as_ref() == &body[..], "{key} differs after the crash");
        }
        let mut listed = Vec::new();
        let mut pages = s3.list_objects_v2().bucket("crash").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            listed.extend(
                page.contents()
                    .iter()
                    .map(|o| (o.key().unwrap().to_string(), o.size().unwrap())),
            );
        }
        for (key, size) in listed {
            let got = s3
                .get_object()
                .bucket("crash")
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(bytes.len() as i64, size, "{key}");
            // Whole: one version's bytes, all of them.
            let whole = crash_versions(&key).into_iter().any(|v| {
                bytes.starts_with(&crash_body(&key, v, 16.min(bytes.len())))
                    && crash_body(&key, v, bytes.len()) == bytes.as_ref()
            });
            assert!(whole, "{key} ({size} bytes) is not one complete version");
        }
    });
}

/// ExpectedBucketOwner: nuage's one account (000000000000) passes, any
/// other is refused with 403 AccessDenied, as S3 refuses a bucket of
/// another account (S3 user guide, "Verifying bucket ownership").
#[test]
fn requests_naming_another_bucket_owner_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("owned").send().await.unwrap();
        s3.list_objects_v2()
            .bucket("owned")
            .expected_bucket_owner("000000000000")
            .send()
            .await
            .unwrap();
        let other = s3
            .put_object()
            .bucket("owned")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .expected_bucket_owner("111122223333")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&other), "AccessDenied");
        let listed = s3.list_objects_v2().bucket("owned").send().await.unwrap();
        assert_eq!(listed.key_count(), Some(0));
    });
    drop(server);
}

/// Users: keys given as `ID:SECRET:USER_ID:NAME` act as distinct S3 users.
/// Expected answers follow S3's ACL overview: a bucket or object is its
/// creator's, others reach it only through grants (READ on a bucket lists
/// it, READ on an object reads it), a bucket name another user holds is
/// BucketAlreadyExists, ListBuckets shows one's own buckets, owners and
/// grantees carry their canonical id and display name.
#[test]
fn users_own_their_buckets_and_reach_others_through_grants() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "AKOWNER:ownersecret,AKALICE:alicesecret:alice-canonical-id:Alice Doe,\
                AKBOB:bobsecret:bob-canonical-id:Bob";
    let server = Server::start(dir.path(), &["--access-keys", keys]);
    let alice = client(&server, "AKALICE", "alicesecret");
    let bob = client(&server, "AKBOB", "bobsecret");
    runtime().block_on(async {
        alice
            .create_bucket()
            .bucket("alice-data")
            .send()
            .await
            .unwrap();
        alice
            .put_object()
            .bucket("alice-data")
            .key("notes.txt")
            .body(ByteStream::from_static(b"hello"))
            .send()
            .await
            .unwrap();
        let mine = alice.list_buckets().send().await.unwrap();
        assert_eq!(
            mine.owner().and_then(|o| o.display_name()),
            Some("Alice Doe")
        );
        let names: Vec<_> = mine.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["alice-data"]);
        assert!(
            bob.list_buckets()
                .send()
                .await
                .unwrap()
                .buckets()
                .is_empty()
        );

        // Bob has no grant yet.
        let denied = bob
            .get_object()
            .bucket("alice-data")
            .key("notes.txt")
            .send()
            .await;
        assert_eq!(code(&denied.unwrap_err()), "AccessDenied");
        let denied = bob.list_objects_v2().bucket("alice-data").send().await;
        assert_eq!(code(&denied.unwrap_err()), "AccessDenied");
        let taken = bob.create_bucket().bucket("alice-data").send().await;
        assert_eq!(code(&taken.unwrap_err()), "BucketAlreadyExists");

        // READ on the object, then on the bucket, by canonical id.
        alice
            .put_object_acl()
            .bucket("alice-data")
            .key("notes.txt")
            .grant_read("id=\"bob-canonical-id\"")
            .send()
            .await
            .unwrap();
        let got = bob
            .get_object()
            .bucket("alice-data")
            .key("notes.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"hello"
        );
        let acl = alice
            .get_object_acl()
            .bucket("alice-data")
            .key("notes.txt")
            .send()
            .await
            .unwrap();
        assert_eq!(acl.owner().and_then(|o| o.id()), Some("alice-canonical-id"));
        let grants: Vec<_> = acl
            .grants()
            .iter()
            .map(|g| {
                let grantee = g.grantee().unwrap();
                (
                    grantee.display_name().unwrap_or(""),
                    g.permission().unwrap().as_str(),
                )
            })
            .collect();
        assert_eq!(grants, [("Bob", "READ")]);
        // Bob may read the object, not write into the bucket.
        let write = bob
            .put_object()
            .bucket("alice-data")
            .key("mine.txt")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(code(&write.unwrap_err()), "AccessDenied");
        alice
            .put_bucket_acl()
            .bucket("alice-data")
            .grant_read("id=\"bob-canonical-id\"")
            .send()
            .await
            .unwrap();
        let listed = bob
            .list_objects_v2()
            .bucket("alice-data")
            .fetch_owner(true)
            .send()
            .await
            .unwrap();
        let owner = listed.contents()[0].owner().unwrap();
        assert_eq!(owner.display_name(), Some("Alice Doe"));
        // A bucket's other settings stay its owner's.
        let versioning = bob
            .put_bucket_versioning()
            .bucket("alice-data")
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await;
        assert_eq!(code(&versioning.unwrap_err()), "AccessDenied");
        // A grant to a canonical id no user has is refused.
        let unknown = alice
            .put_bucket_acl()
            .bucket("alice-data")
            .grant_read("id=\"nobody\"")
            .send()
            .await;
        assert_eq!(code(&unknown.unwrap_err()), "InvalidArgument");
    });
    drop(server);
    // Without keys every request is the lake owner's, who sees every bucket.
    let keyless = Server::start(dir.path(), &[]);
    let anyone = client(&keyless, "test", "test");
    runtime().block_on(async {
        let all = anyone.list_buckets().send().await.unwrap();
        let names: Vec<_> = all.buckets().iter().filter_map(|b| b.name()).collect();
        assert_eq!(names, ["alice-data"]);
    });
    drop(keyless);
}

/// Bucket policies, as S3's user guide describes them: an Allow to `*`
/// opens objects to unsigned requests, a Deny wins over ownership and
/// grants, GetBucketPolicyStatus calls an unconditional Allow to `*`
/// public, BlockPublicPolicy refuses such a policy, a policy naming another
/// bucket or missing its Principal is MalformedPolicy.
#[test]
fn bucket_policies_allow_and_deny_as_s3_decides() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "AKOWNER:ownersecret,AKBOB:bobsecret:bob-canonical-id:Bob";
    let server = Server::start(dir.path(), &["--access-keys", keys]);
    let owner = client(&server, "AKOWNER", "ownersecret");
    let bob = client(&server, "AKBOB", "bobsecret");
    runtime().block_on(async {
        owner.create_bucket().bucket("site").send().await.unwrap();
        for key in ["public/index.html", "private/notes.txt"] {
            owner
                .put_object()
                .bucket("site")
                .key(key)
                .body(ByteStream::from_static(b"<p>hi</p>"))
                .send()
                .await
                .unwrap();
        }
        let policy = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::site/public/*"},
            {"Effect": "Allow", "Principal": {"AWS": "bob-canonical-id"},
             "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::site/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": "arn:aws:s3:::site/public/*"}]}"#;
        owner
            .put_bucket_policy()
            .bucket("site")
            .policy(policy)
            .send()
            .await
            .unwrap();
        let status = owner
            .get_bucket_policy_status()
            .bucket("site")
            .send()
            .await
            .unwrap();
        assert_eq!(status.policy_status().unwrap().is_public(), Some(true));
        let stored = owner
            .get_bucket_policy()
            .bucket("site")
            .send()
            .await
            .unwrap();
        assert_eq!(stored.policy(), Some(policy));

        let public = format!("{}/site/public/index.html", server.endpoint);
        assert_eq!(http_get(&public).await.0, 200);
        let private = format!("{}/site/private/notes.txt", server.endpoint);
        assert_eq!(http_get(&private).await.0, 403);
        // Bob may write and delete, except under public/, where the Deny wins
        // (for the bucket's owner too).
        bob.put_object()
            .bucket("site")
            .key("drafts/a.txt")
            .body(ByteStream::from_static(b"a"))
            .send()
            .await
            .unwrap();
        bob.delete_object()
            .bucket("site")
            .key("drafts/a.txt")
            .send()
            .await
            .unwrap();
        for s3 in [&bob, &owner] {
            let deny = s3
                .delete_object()
                .bucket("site")
                .key("public/index.html")
                .send()
                .await;
            assert_eq!(code(&deny.unwrap_err()), "AccessDenied");
        }

        // aws:SourceIp is the address the request came from (127.0.0.1
        // here): IpAddress admits from a range that holds it and not from
        // another; a Deny with NotIpAddress refuses the owner too.
        let by_address = |effect: &str, operator: &str, range: &str| {
            format!(
                r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "{effect}", "Principal": "*",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/private/*",
                "Condition": {{"{operator}": {{"aws:SourceIp": "{range}"}}}}}}]}}"#
            )
        };
        for (range, status) in [("127.0.0.0/8", 200), ("10.0.0.0/8", 403)] {
            let policy = by_address("Allow", "IpAddress", range);
            let set = owner.put_bucket_policy().bucket("site").policy(policy).send().await;
            set.unwrap();
            assert_eq!(http_get(&private).await.0, status, "{range}");
        }
        let policy_deny = by_address("Deny", "NotIpAddress", "10.0.0.0/8");
        let set = owner.put_bucket_policy().bucket("site").policy(policy_deny).send().await;
        set.unwrap();
        let read = owner.get_object().bucket("site").key("private/notes.txt").send().await;
        assert_eq!(code(&read.unwrap_err().into_service_error()), "AccessDenied");

        // A policy larger than an extended attribute holds (many
        // statements) is kept whole.
        let statements: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    r#"{{"Sid": "Read{i}", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/public/{i}/*"}}"#
                )
            })
            .collect();
        let large = format!(r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#, statements.join(","));
        assert!(large.len() > 8 * 1024);
        let set = owner.put_bucket_policy().bucket("site").policy(&large).send().await;
        set.unwrap();
        let stored = owner.get_bucket_policy().bucket("site").send().await.unwrap();
        assert_eq!(stored.policy(), Some(large.as_str()));
        owner
            .put_bucket_policy()
            .bucket("site")
            .policy(policy)
            .send()
            .await
            .unwrap();

        let malformed = |policy: &'static str| {
            let owner = owner.clone();
            async move {
                let e = owner
                    .put_bucket_policy()
                    .bucket("site")
                    .policy(policy)
                    .send()
                    .await
                    .unwrap_err();
                code(&e)
            }
        };
        let other_bucket = r#"{"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}"#;
        assert_eq!(malformed(other_bucket).await, "MalformedPolicy");
        let no_principal = r#"{"Statement": [{"Effect": "Allow",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/*"}]}"#;
        assert_eq!(malformed(no_principal).await, "MalformedPolicy");
        assert_eq!(malformed("not json").await, "MalformedPolicy");

        owner
            .delete_bucket_policy()
            .bucket("site")
            .send()
            .await
            .unwrap();
        let gone = owner.get_bucket_policy().bucket("site").send().await;
        assert_eq!(code(&gone.unwrap_err()), "NoSuchBucketPolicy");
        assert_eq!(http_get(&public).await.0, 403);
        owner
            .put_public_access_block()
            .bucket("site")
            .public_access_block_configuration(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                    .block_public_policy(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let blocked = owner
            .put_bucket_policy()
            .bucket("site")
            .policy(policy)
            .send()
            .await;
        assert_eq!(code(&blocked.unwrap_err()), "AccessDenied");
    });
    drop(server);
}

/// Object Ownership, as S3's user guide describes it: BucketOwnerEnforced
/// makes every new object the bucket owner's and refuses ACLs other than
/// `bucket-owner-full-control` (AccessControlListNotSupported); without
/// the setting, GetBucketOwnershipControls is OwnershipControlsNotFoundError.
#[test]
fn bucket_owner_enforced_owns_every_object_and_refuses_acls() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "AKOWNER:ownersecret,AKBOB:bobsecret:bob-canonical-id:Bob";
    let server = Server::start(dir.path(), &["--access-keys", keys]);
    let owner = client(&server, "AKOWNER", "ownersecret");
    let bob = client(&server, "AKBOB", "bobsecret");
    runtime().block_on(async {
        owner
            .create_bucket()
            .bucket("shared")
            .object_ownership(aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced)
            .send()
            .await
            .unwrap();
        let controls = owner
            .get_bucket_ownership_controls()
            .bucket("shared")
            .send()
            .await
            .unwrap();
        let rule = &controls.ownership_controls().unwrap().rules()[0];
        assert_eq!(rule.object_ownership().as_str(), "BucketOwnerEnforced");
        owner
            .put_bucket_policy()
            .bucket("shared")
            .policy(
                r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob-canonical-id"},
                    "Action": ["s3:PutObject", "s3:GetObjectAcl"], "Resource": "arn:aws:s3:::shared/*"}]}"#,
            )
            .send()
            .await
            .unwrap();
        bob.put_object()
            .bucket("shared")
            .key("from-bob.txt")
            .body(ByteStream::from_static(b"b"))
            .send()
            .await
            .unwrap();
        let acl = bob
            .get_object_acl()
            .bucket("shared")
            .key("from-bob.txt")
            .send()
            .await
            .unwrap();
        let owner_id = owner.list_buckets().send().await.unwrap().owner().unwrap().id().unwrap().to_string();
        assert_eq!(acl.owner().and_then(|o| o.id()), Some(owner_id.as_str()));
        let public = bob
            .put_object()
            .bucket("shared")
            .key("public.txt")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"p"))
            .send()
            .await;
        assert_eq!(code(&public.unwrap_err()), "AccessControlListNotSupported");
        owner
            .delete_bucket_ownership_controls()
            .bucket("shared")
            .send()
            .await
            .unwrap();
        let none = owner.get_bucket_ownership_controls().bucket("shared").send().await;
        assert_eq!(code(&none.unwrap_err()), "OwnershipControlsNotFoundError");
    });
    drop(server);
}
