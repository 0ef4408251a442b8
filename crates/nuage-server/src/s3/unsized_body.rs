//! Bodies sent without a length. HTTP/1.1 lets a client stream a PUT with
//! `Transfer-Encoding: chunked` instead of `Content-Length`, and S3 accepts
//! it; s3s needs the length before it reads the body (to check a signed
//! payload's hash as it streams). So the edge reads such a body first -
//! in memory up to [`IN_MEMORY`], beyond that into an unnamed file in the
//! lake's staging folder that vanishes when the request is done, even on a
//! crash - and hands s3s the same request with its length.
//!
//! aws-chunked bodies (`x-amz-content-sha256: STREAMING-...`) carry their
//! decoded length in `x-amz-decoded-content-length` and are left alone.

use std::io::Write;
use std::path::Path;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
use futures::StreamExt;

use crate::auth::Keys;
use crate::s3::errors::Refusal;

/// The largest body held in memory; larger ones go to a file.
const IN_MEMORY: usize = 8 << 20;

/// S3's largest single PUT.
const MAX_BODY: u64 = 5 << 30;

/// Does this request stream a body whose length it does not say?
fn needs_length(request: &Request) -> bool {
    let headers = request.headers();
    let chunked = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    let aws_chunked = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    (request.method() == Method::PUT || request.method() == Method::POST)
        && chunked
        && !aws_chunked
        && !headers.contains_key(header::CONTENT_LENGTH)
}

/// The access key id a request is signed with (SigV4 or SigV2, in its
/// Authorization header or presigned query), if any.
pub(super) fn access_key_id(request: &Request) -> Option<String> {
    if let Some(auth) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let id = match auth.strip_prefix("AWS ") {
            Some(v2) => v2.split(':').next(),
            None => crate::request::authorization_fields(auth)
                .into_iter()
                .find(|(k, _)| *k == "Credential")
                .and_then(|(_, credential)| credential.split('/').next()),
        };
        return id.map(str::to_string);
    }
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes()).find_map(|(name, value)| match &*name {
        "X-Amz-Credential" => value.split('/').next().map(str::to_string),
        "AWSAccessKeyId" => Some(value.into_owned()),
        _ => None,
    })
}

/// The request with a `Content-Length`, its body read to the end first
/// when it came without one (see the module's documentation). With access
/// keys, only a request naming one of them is read ahead: an anonymous one
/// goes to s3s as it is and is refused there before its body is read.
pub async fn measured(
    request: Request,
    staging: &Path,
    keys: Option<&Keys>,
) -> Result<Request, Refusal> {
    if !needs_length(&request) {
        return Ok(request);
    }
    if let Some(keys) = keys
        && access_key_id(&request).is_none_or(|id| keys.secret(&id).is_none())
    {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut held: Vec<Bytes> = Vec::new();
    let mut size: u64 = 0;
    let mut spool: Option<std::fs::File> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "IncompleteBody",
            message: "You did not provide the number of bytes specified by the Content-Length HTTP header",
        })?;
        size += chunk.len() as u64;
        if size > MAX_BODY {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "EntityTooLarge",
                message: "Your proposed upload exceeds the maximum allowed object size.",
            });
        }
        held.push(chunk);
        if spool.is_none() && size <= IN_MEMORY as u64 {
            continue;
        }
        let file = spool.take();
        let dir = staging.to_path_buf();
        let chunks = std::mem::take(&mut held);
        let written = tokio::task::spawn_blocking(move || {
            let mut file = match file {
                Some(file) => file,
                None => tempfile::tempfile_in(&dir)?,
            };
            for chunk in chunks {
                file.write_all(&chunk)?;
            }
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        spool = Some(written.map_err(|e| {
            tracing::error!("s3: staging a body sent without a length: {e}");
            Refusal {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "InternalError",
                message: "We encountered an internal error. Please try again.",
            }
        })?);
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    let body = match spool {
        None => Body::from(held.concat()),
        Some(file) => Body::from_stream(crate::s3::body::file_chunks(file, 0..size)),
    };
    Ok(Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(method: Method, body: Body) -> Request {
        Request::builder()
            .method(method)
            .uri("/bucket/key")
            .header(header::TRANSFER_ENCODING, "chunked")
            .body(body)
            .unwrap()
    }

    async fn bytes_of(request: Request) -> (Option<u64>, Vec<u8>) {
        let length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.to_str().unwrap().parse().unwrap());
        let body = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap();
        (length, body.to_vec())
    }

    #[tokio::test]
    async fn small_and_large_bodies_get_their_length_and_keep_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let small = measured(chunked(Method::PUT, Body::from("bar")), dir.path(), None)
            .await
            .unwrap();
        assert_eq!(bytes_of(small).await, (Some(3), b"bar".to_vec()));

        // Larger than what is held in memory: pieces of a known pattern.
        let piece: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
        let pieces = (0..10).map({
            let piece = piece.clone();
            move |_| Ok::<_, std::io::Error>(Bytes::from(piece.clone()))
        });
        let body = Body::from_stream(futures::stream::iter(pieces));
        let large = measured(chunked(Method::PUT, body), dir.path(), None)
            .await
            .unwrap();
        let (length, bytes) = bytes_of(large).await;
        assert_eq!(length, Some(10 * piece.len() as u64));
        assert_eq!(bytes, piece.repeat(10));
        // The spooled file has no name: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn with_keys_only_requests_naming_a_known_key_are_read_ahead() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::parse("AKID:secret").unwrap();
        let anonymous = measured(
            chunked(Method::PUT, Body::from("bar")),
            dir.path(),
            Some(&keys),
        )
        .await
        .unwrap();
        assert!(!anonymous.headers().contains_key(header::CONTENT_LENGTH));
        let mut signed = chunked(Method::PUT, Body::from("bar"));
        signed.headers_mut().insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            ),
        );
        let signed = measured(signed, dir.path(), Some(&keys)).await.unwrap();
        assert_eq!(signed.headers()[header::CONTENT_LENGTH], "3");
    }

    #[tokio::test]
    async fn requests_with_a_length_or_aws_chunked_bodies_pass_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let with_length = Request::builder()
            .method(Method::PUT)
            .uri("/bucket/key")
            .header(header::CONTENT_LENGTH, "3")
            .body(Body::from("bar"))
            .unwrap();
        assert!(!needs_length(&with_length));
        let mut aws_chunked = chunked(Method::PUT, Body::empty());
        aws_chunked.headers_mut().insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        );
        assert!(!needs_length(&aws_chunked));
        assert!(!needs_length(&chunked(Method::GET, Body::empty())));
        let passed = measured(with_length, dir.path(), None).await.unwrap();
        assert_eq!(bytes_of(passed).await, (Some(3), b"bar".to_vec()));
    }
}
