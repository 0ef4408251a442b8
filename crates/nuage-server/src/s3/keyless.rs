//! Without `--access-keys`, nuage accepts any signature (as for Kinesis and
//! Firehose), but s3s verifies every signature it sees and needs the secret
//! to decode a body whose chunks are signed. So the edge takes the
//! signature off first: the Authorization header, or the presigned query
//! parameters (after checking that a presigned URL has not expired, which
//! does not need the secret), and decodes an `aws-chunked` body itself
//! (signed or unsigned chunks, with or without a trailer), keeping the
//! trailer for the checksum checks ([`Trailers`]). With keys configured
//! none of this runs: s3s verifies and decodes everything.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};

pub use crate::s3::errors::Refusal;

/// The trailer of an aws-chunked body, once the body has been read.
#[derive(Debug, Clone, Default)]
pub struct Trailers(Arc<Mutex<Option<HeaderMap>>>);

impl Trailers {
    pub fn take(&self) -> Option<HeaderMap> {
        self.0.lock().expect("trailers").take()
    }
}

/// Query parameters of presigned URLs (SigV4, then SigV2).
const PRESIGNED: [&str; 10] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

pub fn prepare(request: Request) -> Result<Request, Refusal> {
    let (mut parts, body) = request.into_parts();
    parts.uri = strip_presigned(&parts.uri)?;
    parts.headers.remove(header::AUTHORIZATION);
    let streaming = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    if !streaming {
        return Ok(Request::from_parts(parts, body));
    }
    let headers = &mut parts.headers;
    if let Some(length) = headers.get("x-amz-decoded-content-length").cloned() {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    headers.insert(
        HeaderName::from_static("x-amz-content-sha256"),
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|t| !t.eq_ignore_ascii_case("aws-chunked") && !t.is_empty())
                .collect::<Vec<_>>()
                .join(",")
        });
    match encoding
        .and_then(|e| HeaderValue::from_str(&e).ok())
        .filter(|e| !e.is_empty())
    {
        Some(encoding) => headers.insert(header::CONTENT_ENCODING, encoding),
        None => headers.remove(header::CONTENT_ENCODING),
    };
    let trailers = Trailers::default();
    parts.extensions.insert(trailers.clone());
    let decoded = decode_chunks(body.into_data_stream(), trailers);
    Ok(Request::from_parts(parts, Body::from_stream(decoded)))
}

/// The URI without the presigned parameters (their lifetime was checked
/// before, [`crate::s3::presigned`]).
fn strip_presigned(uri: &Uri) -> Result<Uri, Refusal> {
    let Some(query) = uri.query() else {
        return Ok(uri.clone());
    };
    if !url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| PRESIGNED.contains(&&*k)) {
        return Ok(uri.clone());
    }
    // Keep the other parameters exactly as the client encoded them.
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !PRESIGNED.contains(&name)
        })
        .collect();
    let path = uri.path();
    let rebuilt = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    rebuilt.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "Couldn't parse the specified URI.",
        )
    })
}

fn error(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status,
        code,
        message,
    }
}

/// The longest chunk-size or trailer line accepted (AWS's are ~100 bytes).
const MAX_LINE: usize = 8 << 10;

/// The most trailer fields accepted (AWS sends one checksum, or two).
const MAX_TRAILERS: usize = 64;

enum State {
    /// Reading a chunk's size line.
    Size,
    /// This many bytes of chunk data to go, then CRLF.
    Data(usize),
    /// The final chunk was read: the trailer follows.
    Trailer,
    Done,
}

/// Decodes `aws-chunked` framing: `hex-size[;chunk-signature=...]\r\n`,
/// data, `\r\n`, ..., a zero-size chunk, then optional `name:value` trailer
/// lines and an empty line. Chunk signatures are not checked (no keys).
fn decode_chunks<S, E>(
    body: S,
    trailers: Trailers,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::fmt::Display,
{
    let malformed = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("aws-chunked body: {what}"),
        )
    };
    futures::stream::unfold(
        (body, BytesMut::new(), State::Size, trailers, false),
        move |(mut body, mut buffer, mut state, trailers, mut ended)| async move {
            loop {
                match state {
                    State::Done => return None,
                    State::Size => {
                        if let Some(end) = find_crlf(&buffer) {
                            let line = buffer.split_to(end + 2);
                            let text = std::str::from_utf8(&line[..end]).unwrap_or("");
                            let size = text.split(';').next().unwrap_or("").trim();
                            match usize::from_str_radix(size, 16) {
                                Ok(0) => state = State::Trailer,
                                Ok(size) => state = State::Data(size),
                                Err(_) => {
                                    return Some((
                                        Err(malformed("bad chunk size")),
                                        (body, buffer, State::Done, trailers, ended),
                                    ));
                                }
                            }
                            continue;
                        }
                    }
                    State::Data(left) => {
                        if left == 0 {
                            if buffer.len() >= 2 {
                                if &buffer[..2] != b"\r\n" {
                                    return Some((
                                        Err(malformed("chunk not followed by CRLF")),
                                        (body, buffer, State::Done, trailers, ended),
                                    ));
                                }
                                buffer.advance(2);
                                state = State::Size;
                                continue;
                            }
                        } else if !buffer.is_empty() {
                            let take = left.min(buffer.len());
                            let data = buffer.split_to(take).freeze();
                            return Some((
                                Ok(data),
                                (body, buffer, State::Data(left - take), trailers, ended),
                            ));
                        }
                    }
                    State::Trailer => {
                        if let Some(end) = find_crlf(&buffer) {
                            let line = buffer.split_to(end + 2);
                            let text = String::from_utf8_lossy(&line[..end]).into_owned();
                            if text.is_empty() {
                                state = State::Done;
                                continue;
                            }
                            if let Some((name, value)) = text.split_once(':') {
                                let name = name.trim().to_ascii_lowercase();
                                if let (Ok(name), Ok(value)) = (
                                    HeaderName::from_bytes(name.as_bytes()),
                                    HeaderValue::from_str(value.trim()),
                                ) {
                                    let full = {
                                        let mut map = trailers.0.lock().expect("trailers");
                                        let map = map.get_or_insert_with(HeaderMap::new);
                                        map.insert(name, value);
                                        map.len() > MAX_TRAILERS
                                    };
                                    if full {
                                        return Some((
                                            Err(malformed("more than 64 trailer fields")),
                                            (body, buffer, State::Done, trailers, ended),
                                        ));
                                    }
                                }
                            }
                            continue;
                        }
                        if ended {
                            // A trailer without its closing empty line.
                            state = State::Done;
                            continue;
                        }
                    }
                }
                // A size or trailer line never needs more than this; a
                // client that sends no line end must not grow the buffer.
                if matches!(state, State::Size | State::Trailer) && buffer.len() > MAX_LINE {
                    return Some((
                        Err(malformed(
                            "a chunk-size or trailer line is longer than 8 KiB",
                        )),
                        (body, buffer, State::Done, trailers, ended),
                    ));
                }
                if ended {
                    return Some((
                        Err(malformed("the body ended before its final chunk")),
                        (body, buffer, State::Done, trailers, ended),
                    ));
                }
                match body.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(e)) => {
                        let e = std::io::Error::other(e.to_string());
                        return Some((Err(e), (body, buffer, State::Done, trailers, ended)));
                    }
                    None => ended = true,
                }
            }
        },
    )
}

fn find_crlf(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn decode(wire: &[&str]) -> (Result<Vec<u8>, String>, Option<HeaderMap>) {
        let chunks: Vec<Result<Bytes, std::io::Error>> = wire
            .iter()
            .map(|c| Ok(Bytes::copy_from_slice(c.as_bytes())))
            .collect();
        let trailers = Trailers::default();
        let mut stream = Box::pin(decode_chunks(
            futures::stream::iter(chunks),
            trailers.clone(),
        ));
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => return (Err(e.to_string()), trailers.take()),
            }
        }
        (Ok(out), trailers.take())
    }

    #[tokio::test]
    async fn signed_and_unsigned_chunks_decode_to_the_payload() {
        // The framing of AWS's SigV4 streaming example, split mid-line.
        let (body, _) = decode(&[
            "5;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\nhel",
            "lo\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        ])
        .await;
        assert_eq!(body.unwrap(), b"hello");
        let (body, trailers) =
            decode(&["3\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"]).await;
        assert_eq!(body.unwrap(), b"abcde");
        assert_eq!(trailers.unwrap()["x-amz-checksum-crc32"], "NhCmhg==");
    }

    #[tokio::test]
    async fn endless_lines_are_refused_not_buffered() {
        let long = "1".repeat(MAX_LINE + 10);
        let (body, _) = decode(&[&long, &long]).await;
        assert!(body.unwrap_err().contains("longer than 8 KiB"));
        let mut trailer = String::from("0\r\n");
        for i in 0..100 {
            trailer.push_str(&format!("x-field-{i}:v\r\n"));
        }
        let (body, _) = decode(&[&trailer]).await;
        assert!(body.unwrap_err().contains("trailer fields"));
    }

    #[tokio::test]
    async fn a_cut_body_is_an_error_not_a_shorter_object() {
        let (body, _) = decode(&["5\r\nhel"]).await;
        assert!(body.unwrap_err().contains("final chunk"));
        let (body, _) = decode(&["zz\r\n"]).await;
        assert!(body.is_err());
    }
}
