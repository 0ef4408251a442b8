//! What S3 keeps about an object besides its bytes (ETag, content type, user
//! metadata, checksums, tags, part sizes), kept on the object's own file as
//! the extended attribute `user.nuage.s3`. It is written on the staged file
//! before the rename that publishes it, so bytes and metadata appear
//! together or not at all, and it travels with the file.
//!
//! The record names the size and modification time of the file it describes.
//! A file rewritten in place by another writer (SQL, Firehose, a user) no
//! longer matches and is served as a plain file: its ETag is recomputed from
//! its bytes (and cached), its content type is S3's default.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use xattr::FileExt;

use crate::objects::ObjectError;

const ATTRIBUTE: &str = "user.nuage.s3";

/// The content type S3 gives an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// The record kept on an object's file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Without quotes: the MD5 in hex, or `md5-of-part-md5s-N` for multipart.
    pub etag: String,
    pub size: u64,
    /// The file's modification time (ns since the epoch) when this was written.
    pub mtime_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Stored standard headers by lowercase name: cache-control,
    /// content-disposition, content-encoding, content-language, expires.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// User metadata (`x-amz-meta-*`), names lowercase.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Checksums the client asked for, by algorithm (`CRC32`, `SHA256`, ...), base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// `COMPOSITE` (a checksum of the parts' checksums, `...-N`) or
    /// `FULL_OBJECT`; absent for an object stored without a checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The checksum of each part of a multipart object, in part order, in
    /// the algorithm of `checksums` (kept while they fit the record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_checksums: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The key of an object kept in the hidden folder (its file is named by
    /// the key's hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Part sizes of a multipart object as runs of (size, count).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<(u64, u32)>,
    /// The version id given when the object was written into a versioned
    /// bucket (`null` in a suspended one); absent: the null version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: a version that says the key was deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// Object Lock: this version may not be deleted before `until_ns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Object Lock: this version may not be deleted while the hold is on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
    /// ACL grants to S3's groups, as (group URI, permission); the owner's
    /// FULL_CONTROL is implied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<(String, String)>,
    /// The canonical id of the S3 user who wrote this version; absent: the
    /// lake's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Server-side encryption as the writer asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

/// Server-side encryption of an object. With `customer` (SSE-C) the file
/// holds ciphertext that only the customer's key opens; SSE-S3 and SSE-KMS
/// are recorded and answered, the bytes kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// `AES256` (SSE-S3 or SSE-C), `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_context: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerKeyed>,
}

/// What an SSE-C object keeps about its key: never the key itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerKeyed {
    /// The key's MD5 as the client sent it (base64), answered on reads.
    pub key_md5: String,
    /// A random value (base64) from which each part's counter block comes.
    pub nonce: String,
    /// SHA-256 of the nonce and the key (base64): tells a wrong key.
    pub check: String,
}

/// An Object Lock retention period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// `GOVERNANCE` (a user may bypass it) or `COMPLIANCE` (no one may).
    pub mode: String,
    /// Until when, in ns since the epoch.
    pub until_ns: i64,
}

impl Retention {
    pub const GOVERNANCE: &str = "GOVERNANCE";
    pub const COMPLIANCE: &str = "COMPLIANCE";

    /// Whether it still holds.
    pub fn active(&self) -> bool {
        self.until_ns > now_ns()
    }
}

impl Meta {
    /// When the object was written: the file's modification time recorded
    /// with it.
    pub fn last_modified(&self) -> SystemTime {
        time_of(self.mtime_ns)
    }

    /// The ETag as S3 sends it, in quotes.
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }

    pub fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE)
    }

    /// The byte range of part `number` (1-based) of a multipart object; a
    /// single-part object is its own part 1.
    pub fn part_range(&self, number: u32) -> Option<std::ops::Range<u64>> {
        if self.parts.is_empty() {
            return (number == 1).then_some(0..self.size);
        }
        let mut start = 0;
        let mut seen = 0;
        for &(size, count) in &self.parts {
            if number <= seen + count {
                let begin = start + u64::from(number - seen - 1) * size;
                return Some(begin..begin + size);
            }
            seen += count;
            start += size * u64::from(count);
        }
        None
    }

    /// How many parts the object was uploaded in (`None`: a single PUT).
    pub fn part_count(&self) -> Option<u32> {
        (!self.parts.is_empty()).then(|| self.parts.iter().map(|(_, c)| c).sum())
    }

    /// Records sizes as runs.
    pub fn set_parts(&mut self, sizes: impl IntoIterator<Item = u64>) {
        self.parts.clear();
        for size in sizes {
            match self.parts.last_mut() {
                Some((last, count)) if *last == size => *count += 1,
                _ => self.parts.push((size, 1)),
            }
        }
    }
}

/// Nanoseconds since the epoch (0 for earlier times).
pub fn ns(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The time `ns` nanoseconds after the epoch.
pub fn time_of(ns: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

pub fn now_ns() -> i64 {
    ns(SystemTime::now())
}

/// Modification time in ns since the epoch.
pub fn mtime_ns(stat: &std::fs::Metadata) -> i64 {
    stat.modified().map_or(0, ns)
}

/// The record on an open file, if it still describes the file.
pub fn read(file: &File, stat: &std::fs::Metadata) -> Option<Meta> {
    let bytes = file.get_xattr(ATTRIBUTE).ok()??;
    let meta = decode(&bytes)?;
    (meta.size == stat.len() && meta.mtime_ns == mtime_ns(stat)).then_some(meta)
}

/// The record on a folder object (a key ending in `/`).
pub fn read_folder(path: &Path) -> Option<Meta> {
    let bytes = xattr::get(path, ATTRIBUTE).ok()??;
    decode(&bytes)
}

/// The record of a file, or a plain one made from its bytes (and cached on
/// it, so the file is read once).
/// `stat`: the open file's.
pub fn read_or_compute(
    file: &File,
    path: &Path,
    stat: &std::fs::Metadata,
) -> Result<Meta, ObjectError> {
    if let Some(meta) = read(file, stat) {
        return Ok(meta);
    }
    let mut md5 = Md5::new();
    let mut reader = file;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| ObjectError::io(path, e))?;
        if n == 0 {
            break;
        }
        md5.update(&buffer[..n]);
    }
    let meta = Meta {
        etag: hex(&md5.finalize()),
        size: stat.len(),
        mtime_ns: mtime_ns(stat),
        ..Meta::default()
    };
    // A cache only: a file nuage may not annotate is still served.
    let _ = write(file, &meta);
    Ok(meta)
}

/// Writes the record on a file.
pub fn write(file: &File, meta: &Meta) -> Result<(), ObjectError> {
    handle(file.set_xattr(ATTRIBUTE, &encode(meta)))
}

/// Writes the record on a folder object.
pub fn write_folder(path: &Path, meta: &Meta) -> Result<(), ObjectError> {
    handle(xattr::set(path, ATTRIBUTE, &encode(meta)))
}

/// Takes the folder-object mark off a folder.
pub fn remove_folder(path: &Path) -> bool {
    xattr::remove(path, ATTRIBUTE).is_ok()
}

/// Records above this size are compressed: ext4 keeps at most one 4 KB
/// block of attributes per file, and S3 allows 10 tags of 128 + 256
/// characters beside 2 KB of user metadata.
const COMPRESS_ABOVE: usize = 1024;
/// The first byte of a compressed record (JSON starts with `{`).
const DEFLATED: u8 = 1;

/// A record as stored: JSON, or [`DEFLATED`] then the JSON deflated.
fn encode(meta: &Meta) -> Vec<u8> {
    use std::io::Write;
    let json = serde_json::to_vec(meta).expect("metadata serializes");
    if json.len() <= COMPRESS_ABOVE {
        return json;
    }
    let mut out = flate2::write::DeflateEncoder::new(vec![DEFLATED], flate2::Compression::best());
    out.write_all(&json).expect("deflating into memory");
    out.finish().expect("deflating into memory")
}

fn decode(bytes: &[u8]) -> Option<Meta> {
    match bytes.split_first() {
        Some((&DEFLATED, deflated)) => {
            let mut json = Vec::new();
            flate2::read::DeflateDecoder::new(deflated)
                .read_to_end(&mut json)
                .ok()?;
            serde_json::from_slice(&json).ok()
        }
        _ => serde_json::from_slice(bytes).ok(),
    }
}

fn handle(result: std::io::Result<()>) -> Result<(), ObjectError> {
    static WARNED: AtomicBool = AtomicBool::new(false);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc_enotsup()) => {
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the lake's file system does not keep extended attributes: objects keep \
                     their bytes but lose content types, user metadata and tags"
                );
            }
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(E2BIG) || e.raw_os_error() == Some(ENOSPC) => {
            Err(ObjectError::MetadataTooLarge)
        }
        Err(e) => Err(ObjectError::Io {
            path: ATTRIBUTE.to_string(),
            source: e,
        }),
    }
}

/// Linux's errno values (EOPNOTSUPP, E2BIG, ENOSPC), without a libc dependency.
const fn libc_enotsup() -> i32 {
    95
}
const E2BIG: i32 = 7;
const ENOSPC: i32 = 28;

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_ranges_follow_the_runs() {
        let mut meta = Meta {
            size: 5 + 5 + 5 + 2,
            ..Meta::default()
        };
        meta.set_parts([5, 5, 5, 2]);
        assert_eq!(meta.parts, vec![(5, 3), (2, 1)]);
        assert_eq!(meta.part_count(), Some(4));
        assert_eq!(meta.part_range(1), Some(0..5));
        assert_eq!(meta.part_range(3), Some(10..15));
        assert_eq!(meta.part_range(4), Some(15..17));
        assert_eq!(meta.part_range(5), None);
        let single = Meta {
            size: 9,
            ..Meta::default()
        };
        assert_eq!(single.part_range(1), Some(0..9));
        assert_eq!(single.part_range(2), None);
    }

    #[test]
    fn a_record_describes_only_the_file_it_was_written_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        let file = File::open(&path).unwrap();
        let meta = read_or_compute(&file, &path, &file.metadata().unwrap()).unwrap();
        // MD5("hello"), as `md5sum` prints it.
        assert_eq!(meta.etag, "5d41402abc4b2a76b9719d911017c592");
        // Rewritten in place by another writer: recomputed, not stale.
        std::thread::sleep(std::time::Duration::from_millis(10));
        std::fs::write(&path, b"world").unwrap();
        let file = File::open(&path).unwrap();
        let meta = read_or_compute(&file, &path, &file.metadata().unwrap()).unwrap();
        assert_eq!(meta.etag, "7d793037a0760186574b0282f2f435e7");
    }
}
