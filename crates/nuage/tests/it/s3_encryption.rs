//! Server-side encryption through the AWS SDK for S3. Expected answers
//! follow S3's user guide: an SSE-C object is read only with the key it was
//! written with (400 InvalidRequest without one, 403 AccessDenied with
//! another), answers the key's MD5, and is not kept in clear; SSE-S3 asked
//! per request or as the bucket's default is answered as `AES256`; a
//! bucket without a default answers ServerSideEncryptionConfigurationNotFoundError.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

/// A customer key: base64 of 32 bytes, and base64 of their MD5.
fn key(byte: u8) -> (String, String) {
    let raw = [byte; 32];
    (STANDARD.encode(raw), STANDARD.encode(Md5::digest(raw)))
}

/// The HTTP status of a failed SDK call.
fn status<E>(error: &aws_sdk_s3::error::SdkError<E, HttpResponse>) -> u16 {
    error
        .raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Bytes that differ at every position (so no part or range is mistaken).
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn sse_c_objects_open_only_with_their_key_and_are_not_kept_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    let (key_a, md5_a) = key(7);
    let (key_b, md5_b) = key(9);
    runtime().block_on(async {
        s3.create_bucket().bucket("vault").send().await.unwrap();
        let secret = b"account,balance\nalice,100\n".to_vec();
        let put = s3
            .put_object()
            .bucket("vault")
            .key("accounts.csv")
            .body(ByteStream::from(secret.clone()))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_a)
            .sse_customer_key_md5(&md5_a)
            .send()
            .await
            .unwrap();
        assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
        assert_eq!(put.sse_customer_key_md5(), Some(md5_a.as_str()));
        // The lake's file holds no plaintext.
        let stored = std::fs::read(dir.path().join("lake/vault/accounts.csv")).unwrap();
        assert_eq!(stored.len(), secret.len());
        assert_ne!(stored, secret);

        let without = s3
            .get_object()
            .bucket("vault")
            .key("accounts.csv")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (status(&without), code(&without).as_str()),
            (400, "InvalidRequest")
        );
        let head = s3
            .head_object()
            .bucket("vault")
            .key("accounts.csv")
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&head), 400);
        let wrong = s3
            .get_object()
            .bucket("vault")
            .key("accounts.csv")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b)
            .sse_customer_key_md5(&md5_b)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (status(&wrong), code(&wrong).as_str()),
            (403, "AccessDenied")
        );
        let got = s3
            .get_object()
            .bucket("vault")
            .key("accounts.csv")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_a)
            .sse_customer_key_md5(&md5_a)
            .send()
            .await
            .unwrap();
        assert_eq!(got.sse_customer_key_md5(), Some(md5_a.as_str()));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.as_ref(), secret.as_slice());

        // A key whose MD5 is not the one sent is refused before any byte is stored.
        let bad_md5 = s3
            .put_object()
            .bucket("vault")
            .key("other.csv")
            .body(ByteStream::from_static(b"x"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_a)
            .sse_customer_key_md5(&md5_b)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (status(&bad_md5), code(&bad_md5).as_str()),
            (400, "InvalidArgument")
        );

        // Copied under another key: the copy opens with that key only.
        s3.copy_object()
            .bucket("vault")
            .key("copy.csv")
            .copy_source("vault/accounts.csv")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key_a)
            .copy_source_sse_customer_key_md5(&md5_a)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b)
            .sse_customer_key_md5(&md5_b)
            .send()
            .await
            .unwrap();
        let copy = s3
            .get_object()
            .bucket("vault")
            .key("copy.csv")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b)
            .sse_customer_key_md5(&md5_b)
            .send()
            .await
            .unwrap();
        let bytes = copy.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.as_ref(), secret.as_slice());
    });
    drop(server);
}

/// A multipart SSE-C object: every part under the upload's key, ranges
/// that cross part boundaries read back exactly.
#[test]
fn sse_c_multipart_objects_read_back_by_range() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    let (key_a, md5_a) = key(1);
    let (key_b, md5_b) = key(2);
    runtime().block_on(async {
        s3.create_bucket().bucket("vault").send().await.unwrap();
        let whole = data((5 << 20) * 2 + 1000);
        let upload = s3
            .create_multipart_upload()
            .bucket("vault")
            .key("big.bin")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_a)
            .sse_customer_key_md5(&md5_a)
            .send()
            .await
            .unwrap();
        let id = upload.upload_id().unwrap();
        // A part under another key is refused.
        let other = s3
            .upload_part()
            .bucket("vault")
            .key("big.bin")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(whole[..5 << 20].to_vec()))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_b)
            .sse_customer_key_md5(&md5_b)
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&other), 400);
        let mut parts = Vec::new();
        for (index, chunk) in whole.chunks(5 << 20).enumerate() {
            let number = index as i32 + 1;
            let part = s3
                .upload_part()
                .bucket("vault")
                .key("big.bin")
                .upload_id(id)
                .part_number(number)
                .body(ByteStream::from(chunk.to_vec()))
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&key_a)
                .sse_customer_key_md5(&md5_a)
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .e_tag(part.e_tag().unwrap())
                    .build(),
            );
        }
        let complete = || {
            s3.complete_multipart_upload()
                .bucket("vault")
                .key("big.bin")
                .upload_id(id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts.clone()))
                        .build(),
                )
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&key_a)
                .sse_customer_key_md5(&md5_a)
                .send()
        };
        let done = complete().await.unwrap();
        // A Complete retried after success (a lost answer) answers the same.
        let again = complete().await.unwrap();
        assert_eq!(again.e_tag(), done.e_tag());
        let boundary = 5 << 20;
        for (first, last) in [
            (0, whole.len() - 1),
            (boundary - 10, boundary + 10),
            (boundary * 2 - 1, boundary * 2 + 999),
            (12_345, 12_345),
        ] {
            let got = s3
                .get_object()
                .bucket("vault")
                .key("big.bin")
                .range(format!("bytes={first}-{last}"))
                .sse_customer_algorithm("AES256")
                .sse_customer_key(&key_a)
                .sse_customer_key_md5(&md5_a)
                .send()
                .await
                .unwrap();
            let bytes = got.body.collect().await.unwrap().into_bytes();
            assert!(
                bytes.as_ref() == &whole[first..=last],
                "bytes={first}-{last}"
            );
        }
    });
    drop(server);
}

#[test]
fn sse_s3_is_answered_per_request_and_as_the_buckets_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        s3.create_bucket().bucket("raw").send().await.unwrap();
        let asked = s3
            .put_object()
            .bucket("raw")
            .key("a.csv")
            .body(ByteStream::from_static(b"1\n"))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .unwrap();
        assert_eq!(
            asked.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        let head = s3
            .head_object()
            .bucket("raw")
            .key("a.csv")
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );

        let none = s3
            .get_bucket_encryption()
            .bucket("raw")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&none),
            "ServerSideEncryptionConfigurationNotFoundError"
        );
        let plain = s3
            .put_object()
            .bucket("raw")
            .key("b.csv")
            .body(ByteStream::from_static(b"2\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(plain.server_side_encryption(), None);

        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            )
            .build();
        s3.put_bucket_encryption()
            .bucket("raw")
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let config = s3
            .get_bucket_encryption()
            .bucket("raw")
            .send()
            .await
            .unwrap();
        let rules = config
            .server_side_encryption_configuration()
            .unwrap()
            .rules();
        let default = rules[0].apply_server_side_encryption_by_default().unwrap();
        assert_eq!(default.sse_algorithm(), &ServerSideEncryption::Aes256);
        let defaulted = s3
            .put_object()
            .bucket("raw")
            .key("c.csv")
            .body(ByteStream::from_static(b"3\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            defaulted.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );

        // SSE-C with another method in the same request is refused.
        let (key_a, md5_a) = key(3);
        let both = s3
            .put_object()
            .bucket("raw")
            .key("d.csv")
            .body(ByteStream::from_static(b"4\n"))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key_a)
            .sse_customer_key_md5(&md5_a)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            (status(&both), code(&both).as_str()),
            (400, "InvalidArgument")
        );

        s3.delete_bucket_encryption()
            .bucket("raw")
            .send()
            .await
            .unwrap();
        let gone = s3
            .get_bucket_encryption()
            .bucket("raw")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&gone),
            "ServerSideEncryptionConfigurationNotFoundError"
        );
    });
    // SSE-S3 objects stay readable by SQL: their bytes are as written.
    let (out, _) = crate::run_ok(crate::nuage(dir.path()).args([
        "sql",
        "-e",
        "CREATE EXTERNAL TABLE n (v INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' \
         LOCATION 's3://raw/'; SELECT sum(v) FROM n",
    ]));
    assert_eq!(out.trim(), "6");
    drop(server);
}
