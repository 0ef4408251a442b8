//! Object bytes in and out: a file range as a response body, and the
//! checksums a client asks S3 to verify (Content-MD5, `x-amz-checksum-*` in
//! headers or in the trailer of an aws-chunked body), computed with s3s's
//! own hashers while the body streams to disk.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use nuage_lake::objects::{Meta, ObjectError, Written};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, StreamingBlob};
use s3s::{S3ErrorCode, S3Result};

use crate::s3::errors::refuse;

/// Bytes read from disk per trip to the blocking pool.
const CHUNK: u64 = 1 << 20;

/// The bytes `range` of `file` as a response body.
fn file_body(file: File, range: Range<u64>) -> StreamingBlob {
    StreamingBlob::wrap(file_chunks(file, range))
}

/// The bytes `range` of an object's file as it is stored, deciphered with
/// `cipher` for an SSE-C object (`meta`: the object's record).
pub fn object_body(
    file: File,
    range: Range<u64>,
    meta: &Meta,
    cipher: Option<crate::s3::sse::Cipher>,
) -> StreamingBlob {
    match cipher {
        None => file_body(file, range),
        Some(cipher) => {
            let start = range.start;
            let layout = crate::s3::sse::layout(meta);
            let chunks = file_chunks(file, range);
            StreamingBlob::wrap(crate::s3::sse::decrypt(chunks, cipher, layout, start))
        }
    }
}

/// The bytes `range` of `file`, a chunk at a time from the blocking pool.
pub(crate) fn file_chunks(
    file: File,
    range: Range<u64>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Unpin + Send + Sync + 'static {
    let file = Arc::new(file);
    let chunks = futures::stream::unfold(range, move |range| {
        let file = file.clone();
        async move {
            if range.start >= range.end {
                return None;
            }
            let len = (range.end - range.start).min(CHUNK);
            let start = range.start;
            let read = tokio::task::spawn_blocking(move || {
                let mut buffer = vec![0u8; len as usize];
                file.read_exact_at(&mut buffer, start)?;
                Ok::<_, std::io::Error>(Bytes::from(buffer))
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
            let next = match read {
                Ok(_) => start + len..range.end,
                // Stop after reporting the error.
                Err(_) => range.end..range.end,
            };
            Some((read, next))
        }
    });
    Box::pin(chunks)
}

/// The checksums one upload must match.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// Content-MD5, decoded.
    pub md5: Option<[u8; 16]>,
    /// (algorithm, base64 value) from `x-amz-checksum-*` headers.
    pub headers: Vec<(&'static str, String)>,
    /// The algorithm whose value comes in the body's trailer.
    pub trailer: Option<&'static str>,
    /// An algorithm asked for without a value: computed and stored.
    pub requested: Option<&'static str>,
    /// The bytes are stored encrypted (SSE-C): Content-MD5 is checked
    /// against the plaintext's own MD5, not the stored bytes'.
    pub encrypted: bool,
}

const ALGORITHMS: [&str; 5] = [
    ChecksumAlgorithm::CRC32,
    ChecksumAlgorithm::CRC32C,
    ChecksumAlgorithm::CRC64NVME,
    ChecksumAlgorithm::SHA1,
    ChecksumAlgorithm::SHA256,
];

/// The algorithm named by `name` (any case), as S3 spells it.
pub fn algorithm(name: &str) -> Option<&'static str> {
    ALGORITHMS
        .into_iter()
        .find(|a| a.eq_ignore_ascii_case(name))
}

impl Expected {
    /// Reads Content-MD5 and the checksum headers of a request.
    pub fn from_request(
        content_md5: Option<&str>,
        checksums: [Option<&String>; 5],
        algorithm_asked: Option<&ChecksumAlgorithm>,
        headers: &axum::http::HeaderMap,
    ) -> S3Result<Self> {
        // s3s reads an empty Content-MD5 header as none; S3 refuses it as it
        // refuses any digest that is not 16 bytes.
        let content_md5 = match content_md5 {
            None if headers.contains_key("content-md5") => Some(""),
            other => other,
        };
        let md5 = match content_md5 {
            None => None,
            Some(text) => Some(
                STANDARD
                    .decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .ok_or_else(|| {
                        refuse(
                            S3ErrorCode::InvalidDigest,
                            "The Content-MD5 you specified was not valid.",
                        )
                    })?,
            ),
        };
        let mut expected = Expected {
            md5,
            ..Expected::default()
        };
        for (name, value) in ALGORITHMS.into_iter().zip(checksums) {
            if let Some(value) = value {
                expected.headers.push((name, value.clone()));
            }
        }
        if expected.headers.len() > 1 {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
            let name = trailer
                .trim()
                .strip_prefix("x-amz-checksum-")
                .and_then(algorithm);
            expected.trailer = Some(name.ok_or_else(|| {
                refuse(
                    S3ErrorCode::InvalidRequest,
                    format!("The value specified in the x-amz-trailer header is not supported: {trailer}"),
                )
            })?);
        }
        expected.requested = algorithm_asked.and_then(|a| algorithm(a.as_str()));
        Ok(expected)
    }

    fn hasher(&self) -> ChecksumHasher {
        let mut hasher = ChecksumHasher::default();
        let wanted = self
            .headers
            .iter()
            .map(|(name, _)| *name)
            .chain(self.trailer)
            .chain(self.requested);
        for name in wanted {
            crate::s3::checksums::enable(&mut hasher, name);
        }
        hasher
    }
}

/// A body being hashed on its way to disk.
pub struct Hashing {
    hasher: Arc<Mutex<Hashers>>,
    expected: Expected,
}

/// The checksums asked for, and the plaintext's MD5 of an encrypted body.
struct Hashers {
    checksums: Option<ChecksumHasher>,
    md5: Option<md5::Md5>,
}

impl Hashing {
    /// Wraps `body` so every chunk also goes through the checksums asked for.
    pub fn wrap<S, E>(
        body: S,
        expected: Expected,
    ) -> (impl Stream<Item = Result<Bytes, E>> + Unpin, Hashing)
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let hasher = Arc::new(Mutex::new(Hashers {
            checksums: Some(expected.hasher()),
            md5: (expected.encrypted && expected.md5.is_some()).then(md5::Md5::default),
        }));
        let shared = hasher.clone();
        let body = body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                let mut hashers = shared.lock().expect("hasher");
                if let Some(h) = hashers.checksums.as_mut() {
                    h.update(bytes);
                }
                if let Some(h) = hashers.md5.as_mut() {
                    md5::Digest::update(h, bytes);
                }
            }
            chunk
        });
        (body, Hashing { hasher, expected })
    }

    /// Compares what arrived with what the client said, and records the
    /// checksums on the object. `trailers`: the aws-chunked trailer, if any.
    pub fn verify(
        self,
        written: &Written,
        meta: &mut Meta,
        trailers: Option<&axum::http::HeaderMap>,
    ) -> Result<(), ObjectError> {
        let mut hashers = self.hasher.lock().expect("hasher");
        let received: [u8; 16] = match hashers.md5.take() {
            Some(plain) => md5::Digest::finalize(plain).into(),
            None => written.md5,
        };
        if let Some(md5) = self.expected.md5
            && md5 != received
        {
            return Err(ObjectError::BadDigest(
                "The Content-MD5 you specified did not match what we received.".into(),
            ));
        }
        let Some(hasher) = hashers.checksums.take() else {
            return Ok(());
        };
        drop(hashers);
        let sums = hasher.finalize();
        let computed = |name: &str| crate::s3::checksums::value_in(&sums, name);
        let mut claims = self.expected.headers.clone();
        if let Some(name) = self.expected.trailer {
            let header = format!("x-amz-checksum-{}", name.to_ascii_lowercase());
            let value = trailers
                .and_then(|t| t.get(header.as_str()))
                .and_then(|v| v.to_str().ok());
            match value {
                Some(value) => claims.push((name, value.trim().to_string())),
                None => {
                    return Err(ObjectError::BadDigest(format!(
                        "x-amz-trailer names {header}, but the body's trailer did not carry it"
                    )));
                }
            }
        }
        for (name, claimed) in &claims {
            let Some(actual) = computed(name) else {
                continue;
            };
            if actual != *claimed {
                return Err(ObjectError::BadDigest(format!(
                    "The {name} you specified did not match the calculated checksum."
                )));
            }
        }
        let stored = claims
            .first()
            .map(|(name, _)| *name)
            .or(self.expected.requested);
        if let Some(name) = stored
            && let Some(value) = computed(name)
        {
            meta.checksums.insert(name.to_string(), value);
        }
        Ok(())
    }
}

/// An empty body (a folder object, a zero-length range).
pub fn empty() -> StreamingBlob {
    StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
}

/// An upload's body on its way in: hashed as it streams, then its length
/// and checksums checked against what the request declared.
pub struct Incoming {
    declared: Option<i64>,
    hashing: Hashing,
    trailers: Option<s3s::TrailingHeaders>,
    keyless: Option<crate::s3::keyless::Trailers>,
}

impl Incoming {
    /// `trailers` and `extensions`: the request's (the trailer of a body s3s
    /// or the keyless edge decoded).
    pub fn new(
        trailers: Option<s3s::TrailingHeaders>,
        extensions: &axum::http::Extensions,
        body: Option<StreamingBlob>,
        declared: Option<i64>,
        expected: Expected,
    ) -> (
        impl Stream<Item = Result<Bytes, s3s::StdError>> + Unpin,
        Incoming,
    ) {
        let (body, hashing) = Hashing::wrap(body.unwrap_or_else(empty), expected);
        let incoming = Incoming {
            declared,
            hashing,
            trailers,
            keyless: extensions.get::<crate::s3::keyless::Trailers>().cloned(),
        };
        (body, incoming)
    }

    /// Checks the whole body: as long as Content-Length said, with the
    /// digests the client sent (in headers or the trailer).
    pub fn finish(self, written: &Written, meta: &mut Meta) -> Result<(), ObjectError> {
        if let Some(declared) = self.declared
            && u64::try_from(declared).is_ok_and(|d| d != written.size)
        {
            return Err(ObjectError::IncompleteBody(format!(
                "{} of {declared} bytes",
                written.size
            )));
        }
        let trailers = self
            .trailers
            .as_ref()
            .and_then(|t| t.take())
            .or_else(|| self.keyless.and_then(|t| t.take()));
        self.hashing.verify(written, meta, trailers.as_ref())
    }
}
