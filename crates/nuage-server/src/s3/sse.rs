//! Server-side encryption.
//!
//! SSE-C is real: an object written with a customer key is kept on disk as
//! AES-256-CTR ciphertext under that key, and only a request carrying the
//! same key reads it back (the key itself is never stored: only a salted
//! SHA-256 that tells a wrong key). Each part has its own counter block,
//! derived from the object's random nonce and the part number, so a range
//! of a multipart object decrypts without reading anything before it. SQL
//! and the crawler see the ciphertext, as Athena cannot read SSE-C objects.
//!
//! SSE-S3 and SSE-KMS (asked per request or as the bucket's default) are
//! recorded and answered as S3 answers them, but their bytes stay as
//! written so SQL, the crawler and Firehose read them; nuage has no KMS, so
//! a KMS key id is recorded, not checked. At-rest protection for those is
//! the disk's (LUKS, an encrypted volume).

use std::ops::Range;

use aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use futures::{Stream, StreamExt};
use md5::Digest as _;
use nuage_lake::objects::{CustomerKeyed, Encryption, Meta};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, malformed_xml, refuse, refuse_custom};
use crate::s3::{Answer, NuageS3};

/// The bucket setting that holds the default encryption.
const SETTING: &str = "encryption";

/// The SSE-C headers of a request: algorithm, key and key MD5 (base64).
pub struct CustomerHeaders<'a> {
    pub algorithm: Option<&'a str>,
    pub key: Option<&'a str>,
    pub key_md5: Option<&'a str>,
}

/// A customer's 256-bit key, checked against the MD5 the client sent.
#[derive(Clone)]
pub struct CustomerKey {
    key: [u8; 32],
    md5: String,
}

impl CustomerHeaders<'_> {
    /// The key these headers carry, if any, with S3's refusals of a
    /// missing piece, another algorithm, a key of the wrong size or an MD5
    /// that is not the key's.
    pub fn key(&self) -> S3Result<Option<CustomerKey>> {
        let invalid = |message: &str| refuse(S3ErrorCode::InvalidArgument, message);
        let algorithm = match (self.algorithm, self.key, self.key_md5) {
            (None, None, None) => return Ok(None),
            (None, ..) => {
                return Err(invalid(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                ));
            }
            (Some(algorithm), ..) => algorithm,
        };
        if algorithm != "AES256" {
            return Err(refuse_custom(
                "InvalidEncryptionAlgorithmError",
                axum::http::StatusCode::BAD_REQUEST,
                "The Encryption request you specified is not valid. Supported value: AES256.",
            ));
        }
        let Some(text) = self.key else {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
            ));
        };
        let key: [u8; 32] = STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| invalid("The secret key was invalid for the specified algorithm."))?;
        let Some(md5) = self.key_md5 else {
            return Err(invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
            ));
        };
        let actual = STANDARD.encode(md5::Md5::digest(key));
        if md5.trim() != actual {
            return Err(invalid(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ));
        }
        Ok(Some(CustomerKey { key, md5: actual }))
    }
}

/// What a write asks for.
pub struct Asked<'a> {
    pub method: Option<&'a str>,
    pub kms_key_id: Option<&'a str>,
    pub kms_context: Option<&'a str>,
    pub bucket_key: Option<bool>,
    pub customer: CustomerHeaders<'a>,
}

/// The encryption a new object gets, and the cipher of its bytes (SSE-C).
#[derive(Default)]
pub struct Chosen {
    pub record: Option<Encryption>,
    pub cipher: Option<Cipher>,
}

fn managed(method: &str) -> S3Result<String> {
    match method {
        "AES256" | "aws:kms" | "aws:kms:dsse" => Ok(method.to_string()),
        _ => Err(refuse(
            S3ErrorCode::InvalidArgument,
            "The encryption method specified is not supported",
        )),
    }
}

impl Asked<'_> {
    /// Checks the combination as S3 does: SSE-C excludes the other
    /// methods, a KMS key or context needs `aws:kms`.
    fn check(&self) -> S3Result<(Option<Encryption>, Option<CustomerKey>)> {
        let customer = self.customer.key()?;
        let kms = self.kms_key_id.is_some() || self.kms_context.is_some();
        if customer.is_some() && (self.method.is_some() || kms) {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            ));
        }
        let Some(method) = self.method else {
            if kms {
                return Err(kms_needs_kms());
            }
            return Ok((None, customer));
        };
        let algorithm = managed(method)?;
        if kms && !algorithm.starts_with("aws:kms") {
            return Err(kms_needs_kms());
        }
        Ok((
            Some(Encryption {
                algorithm,
                kms_key_id: self.kms_key_id.map(str::to_string),
                kms_context: self.kms_context.map(str::to_string),
                bucket_key: self.bucket_key.unwrap_or(false),
                customer: None,
            }),
            None,
        ))
    }
}

fn kms_needs_kms() -> s3s::S3Error {
    refuse(
        S3ErrorCode::InvalidArgument,
        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
    )
}

/// The key's check value under `nonce`: tells a wrong key without storing it.
fn check_value(nonce: &[u8], key: &[u8; 32]) -> String {
    let mut hash = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hash, b"nuage sse-c key check\0");
    sha2::Digest::update(&mut hash, nonce);
    sha2::Digest::update(&mut hash, key);
    STANDARD.encode(sha2::Digest::finalize(hash))
}

/// A new SSE-C object's record and cipher.
fn seal(key: CustomerKey) -> Chosen {
    let nonce: [u8; 16] = rand::random();
    let record = Encryption {
        algorithm: "AES256".into(),
        customer: Some(CustomerKeyed {
            key_md5: key.md5.clone(),
            nonce: STANDARD.encode(nonce),
            check: check_value(&nonce, &key.key),
        }),
        ..Encryption::default()
    };
    Chosen {
        record: Some(record),
        cipher: Some(Cipher {
            key: key.key,
            nonce,
        }),
    }
}

/// The cipher of an object's (or upload's) bytes, for a read or a further
/// part: `None` for an object not stored under a customer key. Refuses a
/// read without the key (400), with a key the object was not written with
/// (403, as S3), or with a key for an object that has none (400).
pub fn open(meta: &Meta, given: Option<CustomerKey>) -> S3Result<Option<Cipher>> {
    let sealed = meta.encryption.as_ref().and_then(|e| e.customer.as_ref());
    match (sealed, given) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(refuse(
            S3ErrorCode::InvalidRequest,
            "The encryption parameters are not applicable to this object.",
        )),
        (Some(_), None) => Err(refuse(
            S3ErrorCode::InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (Some(sealed), Some(key)) => {
            let nonce: [u8; 16] = STANDARD
                .decode(&sealed.nonce)
                .ok()
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| refuse(S3ErrorCode::InternalError, "damaged encryption record"))?;
            if check_value(&nonce, &key.key) != sealed.check {
                return Err(refuse(S3ErrorCode::AccessDenied, "Access Denied"));
            }
            Ok(Some(Cipher {
                key: key.key,
                nonce,
            }))
        }
    }
}

/// A read (GET, HEAD) names no SSE-S3 or SSE-KMS: those apply to writes,
/// and S3 refuses them here.
pub fn refuse_on_read(headers: &axum::http::HeaderMap) -> S3Result<()> {
    for name in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
    ] {
        if headers.contains_key(name) {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                format!("{name} header is not supported for this operation."),
            ));
        }
    }
    Ok(())
}

/// The key of a part of an SSE-C upload: the one the upload was created
/// with (S3 refuses a part under another key with 400).
pub fn part_cipher(upload_meta: &Meta, given: Option<CustomerKey>) -> S3Result<Option<Cipher>> {
    open(upload_meta, given).map_err(|e| {
        if *e.code() == S3ErrorCode::AccessDenied {
            refuse(
                S3ErrorCode::InvalidArgument,
                "The provided encryption parameters did not match the ones used originally.",
            )
        } else {
            e
        }
    })
}

/// AES-256-CTR under a customer's key; each part has its own counter block.
#[derive(Clone)]
pub struct Cipher {
    key: [u8; 32],
    nonce: [u8; 16],
}

impl Cipher {
    fn part_iv(&self, part: u32) -> [u8; 16] {
        let mut hash = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hash, self.nonce);
        sha2::Digest::update(&mut hash, part.to_be_bytes());
        let digest = sha2::Digest::finalize(hash);
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&digest[..16]);
        iv
    }

    /// XORs `data`, which starts `offset` bytes into part `part`, with that
    /// part's keystream (encrypts and decrypts alike).
    fn apply(&self, part: u32, offset: u64, data: &mut [u8]) {
        let iv = self.part_iv(part);
        let mut stream = Ctr128BE::<Aes256>::new(&self.key.into(), &iv.into());
        stream.seek(offset);
        stream.apply_keystream(data);
    }
}

/// Encrypts a body on its way to disk as part `part` (1 for a whole object).
pub fn encrypt<S, E>(
    body: S,
    cipher: Option<Cipher>,
    part: u32,
) -> impl Stream<Item = Result<Bytes, E>> + Unpin
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut offset = 0u64;
    body.map(move |chunk| {
        let Some(cipher) = &cipher else {
            return chunk;
        };
        chunk.map(|bytes| {
            let mut data = writable(bytes);
            cipher.apply(part, offset, &mut data);
            offset += data.len() as u64;
            data.freeze()
        })
    })
}

/// The part ranges of an object's bytes: its parts', or one for a whole.
pub fn layout(meta: &Meta) -> Vec<Range<u64>> {
    match meta.part_count() {
        Some(count) => (1..=count).filter_map(|n| meta.part_range(n)).collect(),
        None => std::iter::once(0..meta.size).collect(),
    }
}

/// Decrypts the bytes of an object that start at `start`.
pub fn decrypt<S, E>(
    body: S,
    cipher: Cipher,
    layout: Vec<Range<u64>>,
    start: u64,
) -> impl Stream<Item = Result<Bytes, E>> + Unpin
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut position = start;
    // Reads go forward: the part of `position` only ever moves on.
    let mut index = 0usize;
    body.map(move |chunk| {
        chunk.map(|bytes| {
            let mut data = writable(bytes);
            let mut done = 0usize;
            while done < data.len() {
                let at = position + done as u64;
                while index < layout.len() && layout[index].end <= at {
                    index += 1;
                }
                let Some(part) = layout.get(index).filter(|p| p.contains(&at)) else {
                    break;
                };
                let take = ((part.end - at) as usize).min(data.len() - done);
                cipher.apply(
                    index as u32 + 1,
                    at - part.start,
                    &mut data[done..done + take],
                );
                done += take;
            }
            position += data.len() as u64;
            data.freeze()
        })
    })
}

/// A chunk's bytes to cipher in place: its own buffer when nothing else
/// holds it (a chunk read from disk or off the wire), else a copy.
fn writable(bytes: Bytes) -> BytesMut {
    bytes
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]))
}

/// The encryption headers S3 answers for an object.
#[derive(Default)]
pub struct Answered {
    pub server_side_encryption: Option<ServerSideEncryption>,
    pub sse_customer_algorithm: Option<String>,
    pub sse_customer_key_md5: Option<String>,
    pub ssekms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
}

pub fn answered(encryption: Option<&Encryption>) -> Answered {
    let Some(e) = encryption else {
        return Answered::default();
    };
    match &e.customer {
        Some(sealed) => Answered {
            sse_customer_algorithm: Some(e.algorithm.clone()),
            sse_customer_key_md5: Some(sealed.key_md5.clone()),
            ..Answered::default()
        },
        None => Answered {
            server_side_encryption: Some(ServerSideEncryption::from(e.algorithm.clone())),
            ssekms_key_id: e.kms_key_id.clone(),
            bucket_key_enabled: e.bucket_key.then_some(true),
            ..Answered::default()
        },
    }
}

impl NuageS3 {
    /// The encryption of a new object in `bucket`: what the write asks
    /// for, else the bucket's default.
    pub(super) fn choose_encryption(&self, bucket: &str, asked: Asked<'_>) -> S3Result<Chosen> {
        let (record, customer) = asked.check()?;
        if let Some(key) = customer {
            return Ok(seal(key));
        }
        if record.is_some() {
            return Ok(Chosen {
                record,
                cipher: None,
            });
        }
        Ok(Chosen {
            record: self.default_encryption(bucket)?,
            cipher: None,
        })
    }

    /// A bucket's default encryption, if it has one.
    fn default_encryption(&self, bucket: &str) -> S3Result<Option<Encryption>> {
        let stored = self.objects.bucket_setting_now(bucket, SETTING).or_s3()?;
        Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    pub(super) async fn put_bucket_encryption_(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> Answer<PutBucketEncryptionOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let rules = input.server_side_encryption_configuration.rules;
        let [rule] = &rules[..] else {
            return Err(malformed_xml());
        };
        let Some(default) = &rule.apply_server_side_encryption_by_default else {
            return Err(malformed_xml());
        };
        let algorithm = managed(default.sse_algorithm.as_str()).map_err(|_| malformed_xml())?;
        if default.kms_master_key_id.is_some() && !algorithm.starts_with("aws:kms") {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ));
        }
        let setting = Encryption {
            algorithm,
            kms_key_id: default.kms_master_key_id.clone(),
            bucket_key: rule.bucket_key_enabled.unwrap_or(false),
            ..Encryption::default()
        };
        let bytes = serde_json::to_vec(&setting)
            .map_err(|e| refuse(S3ErrorCode::InternalError, e.to_string()))?;
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(bytes))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(super) async fn get_bucket_encryption_(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> Answer<GetBucketEncryptionOutput> {
        let Some(setting) = self.default_encryption(&req.input.bucket)? else {
            let mut error = refuse(
                S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError,
                "The server side encryption configuration was not found",
            );
            error.set_status_code(axum::http::StatusCode::NOT_FOUND);
            return Err(error);
        };
        Ok(S3Response::new(GetBucketEncryptionOutput {
            server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
                rules: vec![ServerSideEncryptionRule {
                    apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                        kms_master_key_id: setting.kms_key_id,
                        sse_algorithm: ServerSideEncryption::from(setting.algorithm),
                    }),
                    bucket_key_enabled: Some(setting.bucket_key),
                }],
            }),
        }))
    }

    pub(super) async fn delete_bucket_encryption_(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> Answer<DeleteBucketEncryptionOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// s3-tests' first SSE-C key, with the MD5 it sends for it.
    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const KEY_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    fn key() -> CustomerKey {
        CustomerHeaders {
            algorithm: Some("AES256"),
            key: Some(KEY),
            key_md5: Some(KEY_MD5),
        }
        .key()
        .unwrap()
        .unwrap()
    }

    #[test]
    fn customer_headers_are_checked_as_s3_does() {
        let bad = |algorithm, key, key_md5| {
            CustomerHeaders {
                algorithm,
                key,
                key_md5,
            }
            .key()
            .err()
            .unwrap()
            .code()
            .as_str()
            .to_string()
        };
        assert_eq!(bad(None, Some(KEY), Some(KEY_MD5)), "InvalidArgument");
        assert_eq!(bad(Some("AES256"), None, None), "InvalidArgument");
        assert_eq!(bad(Some("AES256"), Some(KEY), None), "InvalidArgument");
        let zeros = "AAAAAAAAAAAAAAAAAAAAAA==";
        assert_eq!(
            bad(Some("AES256"), Some(KEY), Some(zeros)),
            "InvalidArgument"
        );
        assert_eq!(
            bad(Some("AES256"), Some("c2hvcnQ="), Some(zeros)),
            "InvalidArgument"
        );
        assert_eq!(
            bad(Some("AES128"), Some(KEY), Some(KEY_MD5)),
            "InvalidEncryptionAlgorithmError"
        );
    }

    /// AES-256-CTR as NIST SP 800-38A F.5.5 gives it (key, initial counter
    /// block, first plaintext and ciphertext blocks).
    #[test]
    fn the_keystream_is_nists_aes256_ctr() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let key: [u8; 32] = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
            .try_into()
            .unwrap();
        let iv: [u8; 16] = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap();
        let mut block = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let mut stream = Ctr128BE::<Aes256>::new(&key.into(), &iv.into());
        stream.apply_keystream(&mut block);
        assert_eq!(
            block,
            hex("601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5")
        );
    }

    /// Any range of a multipart object decrypts on its own, across parts.
    #[test]
    fn ranges_decrypt_across_parts() {
        let sealed = seal(key());
        let cipher = sealed.cipher.unwrap();
        let plain: Vec<u8> = (0..100u32).map(|i| (i * 7 % 251) as u8).collect();
        let layout = vec![0..40, 40..90, 90..100];
        let mut stored = Vec::new();
        for (index, part) in layout.iter().enumerate() {
            let mut bytes = plain[part.start as usize..part.end as usize].to_vec();
            cipher.apply(index as u32 + 1, 0, &mut bytes);
            stored.extend(bytes);
        }
        assert_ne!(stored, plain);
        for (start, end) in [(0, 100), (35, 95), (40, 41), (89, 91), (99, 100)] {
            let chunks: Vec<Result<Bytes, ()>> = stored[start..end]
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let out: Vec<u8> = futures::executor::block_on(
                decrypt(
                    futures::stream::iter(chunks),
                    cipher.clone(),
                    layout.clone(),
                    start as u64,
                )
                .map(|c| c.unwrap().to_vec())
                .concat(),
            );
            assert_eq!(out, plain[start..end], "{start}..{end}");
        }
    }

    #[test]
    fn only_the_writers_key_opens_an_object() {
        let sealed = seal(key());
        let meta = Meta {
            encryption: sealed.record,
            ..Meta::default()
        };
        assert!(open(&meta, Some(key())).unwrap().is_some());
        let other = CustomerHeaders {
            algorithm: Some("AES256"),
            key: Some("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4="),
            key_md5: Some("arxBvwY2V4SiOne6yppVPQ=="),
        }
        .key()
        .unwrap();
        let code = |r: S3Result<Option<Cipher>>| r.err().unwrap().code().as_str().to_string();
        assert_eq!(code(open(&meta, other)), "AccessDenied");
        assert_eq!(code(open(&meta, None)), "InvalidRequest");
        assert_eq!(code(open(&Meta::default(), Some(key()))), "InvalidRequest");
    }
}
