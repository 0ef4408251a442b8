//! Additional checksums of whole objects and of multipart uploads, as S3
//! keeps them: an upload names one algorithm when it is created, every
//! part carries that checksum, and the object's checksum is either
//! `COMPOSITE` (the algorithm over the parts' binary checksums, shown as
//! `<base64>-<parts>`) or `FULL_OBJECT` (a CRC of all the bytes).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nuage_lake::objects::{Meta, ObjectError, Part, Upload};
use s3s::S3ErrorCode;
use s3s::S3Result;
use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm, ChecksumType};

use crate::s3::body::algorithm;
use crate::s3::errors::refuse;

/// Part checksums are kept on the object (for GetObject with a part
/// number and GetObjectAttributes) while they take at most this many
/// bytes: the record lives in one extended attribute.
const PART_CHECKSUMS_MAX_BYTES: usize = 2048;

/// The checksum fields of an answer, at most one algorithm set.
#[derive(Debug, Default, Clone)]
pub(super) struct Checksums {
    pub crc32: Option<String>,
    pub crc32c: Option<String>,
    pub crc64nvme: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub kind: Option<ChecksumType>,
}

impl Checksums {
    fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            ChecksumAlgorithm::CRC32 => &mut self.crc32,
            ChecksumAlgorithm::CRC32C => &mut self.crc32c,
            ChecksumAlgorithm::CRC64NVME => &mut self.crc64nvme,
            ChecksumAlgorithm::SHA1 => &mut self.sha1,
            _ => &mut self.sha256,
        };
        *slot = Some(value);
    }

    /// The values of `map` (algorithm to base64 value).
    pub fn of(map: &BTreeMap<String, String>, kind: Option<&str>) -> Self {
        let mut sums = Checksums {
            kind: kind.map(|k| ChecksumType::from(k.to_string())),
            ..Checksums::default()
        };
        for (name, value) in map {
            sums.set(name, value.clone());
        }
        sums
    }

    /// The object's checksum, as GetObject and HeadObject send it with
    /// ChecksumMode=ENABLED (`enabled`), else nothing.
    pub fn object(meta: &Meta, enabled: bool) -> Self {
        if !enabled || meta.checksums.is_empty() {
            return Checksums::default();
        }
        Checksums::of(&meta.checksums, Some(object_type(meta)))
    }

    /// The checksum of part `number` of a multipart object, when kept.
    pub fn part(meta: &Meta, number: u32) -> Option<Self> {
        let value = meta.part_checksums.get(number.checked_sub(1)? as usize)?;
        let name = meta.checksums.keys().next()?;
        let mut sums = Checksums {
            kind: Some(ChecksumType::from(object_type(meta).to_string())),
            ..Checksums::default()
        };
        sums.set(name, value.clone());
        Some(sums)
    }

    pub fn into_dto(self) -> Checksum {
        Checksum {
            checksum_crc32: self.crc32,
            checksum_crc32c: self.crc32c,
            checksum_crc64nvme: self.crc64nvme,
            checksum_sha1: self.sha1,
            checksum_sha256: self.sha256,
            checksum_type: self.kind,
        }
    }
}

/// `FULL_OBJECT` for an object stored by one PUT (its checksum covers all
/// its bytes), else the type its upload chose.
fn object_type(meta: &Meta) -> &str {
    meta.checksum_type
        .as_deref()
        .unwrap_or(ChecksumType::FULL_OBJECT)
}

/// The values of an s3s checksum for each algorithm, in one list.
pub(super) fn claims(
    crc32: Option<&String>,
    crc32c: Option<&String>,
    crc64nvme: Option<&String>,
    sha1: Option<&String>,
    sha256: Option<&String>,
) -> Vec<(&'static str, String)> {
    [
        (ChecksumAlgorithm::CRC32, crc32),
        (ChecksumAlgorithm::CRC32C, crc32c),
        (ChecksumAlgorithm::CRC64NVME, crc64nvme),
        (ChecksumAlgorithm::SHA1, sha1),
        (ChecksumAlgorithm::SHA256, sha256),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?.trim().to_string())))
    .collect()
}

/// CreateMultipartUpload's ChecksumAlgorithm and ChecksumType checked as
/// S3 checks them: (algorithm, type), the type defaulting to
/// `FULL_OBJECT` for CRC64NVME (which has no composite form) and to
/// `COMPOSITE` for the others.
pub(super) fn upload_checksum(
    asked: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<Option<(String, String)>> {
    let Some(asked) = asked else {
        return match kind {
            Some(_) => Err(refuse(
                S3ErrorCode::InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )),
            None => Ok(None),
        };
    };
    let name = algorithm(asked.as_str()).ok_or_else(|| {
        refuse(
            S3ErrorCode::InvalidRequest,
            format!(
                "Checksum algorithm {} is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.",
                asked.as_str()
            ),
        )
    })?;
    let full_only = name == ChecksumAlgorithm::CRC64NVME;
    let composite_only = name == ChecksumAlgorithm::SHA1 || name == ChecksumAlgorithm::SHA256;
    let kind = match kind.map(|k| k.as_str().to_ascii_uppercase()) {
        None if full_only => ChecksumType::FULL_OBJECT.to_string(),
        None => ChecksumType::COMPOSITE.to_string(),
        Some(k) if k == ChecksumType::FULL_OBJECT && !composite_only => k,
        Some(k) if k == ChecksumType::COMPOSITE && !full_only => k,
        Some(k) => {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The {k} checksum type cannot be used with the {} checksum algorithm.",
                    name.to_ascii_lowercase()
                ),
            ));
        }
    };
    Ok(Some((name.to_string(), kind)))
}

/// A part must carry its upload's algorithm, not another one.
pub(super) fn check_part_algorithm(upload: &Upload, sent: &[&str]) -> S3Result<()> {
    let Some((name, _)) = &upload.checksum else {
        return Ok(());
    };
    match sent.iter().find(|s| !s.eq_ignore_ascii_case(name)) {
        Some(other) => Err(refuse(
            S3ErrorCode::InvalidRequest,
            format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                name.to_ascii_lowercase(),
                other.to_ascii_lowercase()
            ),
        )),
        None => Ok(()),
    }
}

/// What CompleteMultipartUpload said about checksums: per listed part
/// number, the values it gave; and the object's value, if any.
#[derive(Debug, Default)]
pub(super) struct Listed {
    pub parts: BTreeMap<u32, Vec<(&'static str, String)>>,
    pub object: Vec<(&'static str, String)>,
}

impl Listed {
    /// Checks the joined object against its upload's checksum and records
    /// the object's checksum (and its parts') on `meta`. Runs on the
    /// blocking pool, with the joined file before it is published.
    pub fn seal(
        &self,
        upload: &Upload,
        parts: &[Part],
        joined: &File,
        meta: &mut Meta,
    ) -> Result<(), ObjectError> {
        let Some((name, kind)) = &upload.checksum else {
            return Ok(());
        };
        let part_values: Vec<String> = parts
            .iter()
            .map(|p| p.checksums.get(name).cloned().unwrap_or_default())
            .collect();
        let value = if kind == ChecksumType::COMPOSITE {
            let mut hasher = hasher(name);
            for value in &part_values {
                hasher.update(&STANDARD.decode(value).unwrap_or_default());
            }
            format!("{}-{}", value_of(hasher, name), parts.len())
        } else {
            full_object(joined, name)?
        };
        for (claimed_name, claimed) in &self.object {
            let same = claimed_name == name
                && (*claimed == value || value.split_once('-').is_some_and(|(v, _)| v == claimed));
            if !same {
                return Err(ObjectError::BadDigest(format!(
                    "The {} you specified did not match the calculated checksum.",
                    claimed_name.to_ascii_lowercase()
                )));
            }
        }
        for (part, stored) in parts.iter().zip(&part_values) {
            let given = self
                .parts
                .get(&part.number)
                .and_then(|values| values.iter().find(|(n, _)| n == name).map(|(_, v)| v));
            match given {
                // A full-object CRC does not need the parts' values.
                None if kind == ChecksumType::FULL_OBJECT => {}
                None => {
                    return Err(ObjectError::InvalidRequest(format!(
                        "The upload was created using a {} checksum. The complete request must \
                         include the checksum for each part. It was missing for part {} in the request.",
                        name.to_ascii_lowercase(),
                        part.number
                    )));
                }
                Some(given) if given != stored => {
                    return Err(ObjectError::InvalidPart(format!(
                        "The {} checksum given for part {} does not match the checksum of the \
                         part uploaded: complete with the checksum UploadPart returned.",
                        name.to_ascii_lowercase(),
                        part.number
                    )));
                }
                Some(_) => {}
            }
        }
        meta.checksums = BTreeMap::from([(name.clone(), value)]);
        meta.checksum_type = Some(kind.clone());
        let kept: usize = part_values.iter().map(String::len).sum();
        meta.part_checksums = if kept <= PART_CHECKSUMS_MAX_BYTES {
            part_values
        } else {
            Vec::new()
        };
        Ok(())
    }
}

/// A hasher for one algorithm.
fn hasher(name: &str) -> ChecksumHasher {
    let mut hasher = ChecksumHasher::default();
    enable(&mut hasher, name);
    hasher
}

/// Adds algorithm `name` to what `hasher` computes.
pub(super) fn enable(hasher: &mut ChecksumHasher, name: &str) {
    match name {
        ChecksumAlgorithm::CRC32 => hasher.crc32 = Some(Default::default()),
        ChecksumAlgorithm::CRC32C => hasher.crc32c = Some(Default::default()),
        ChecksumAlgorithm::CRC64NVME => hasher.crc64nvme = Some(Default::default()),
        ChecksumAlgorithm::SHA1 => hasher.sha1 = Some(Default::default()),
        _ => hasher.sha256 = Some(Default::default()),
    }
}

/// The value of algorithm `name` among computed checksums.
pub(super) fn value_in(sums: &Checksum, name: &str) -> Option<String> {
    match name {
        ChecksumAlgorithm::CRC32 => sums.checksum_crc32.clone(),
        ChecksumAlgorithm::CRC32C => sums.checksum_crc32c.clone(),
        ChecksumAlgorithm::CRC64NVME => sums.checksum_crc64nvme.clone(),
        ChecksumAlgorithm::SHA1 => sums.checksum_sha1.clone(),
        _ => sums.checksum_sha256.clone(),
    }
}

fn value_of(hasher: ChecksumHasher, name: &str) -> String {
    value_in(&hasher.finalize(), name).unwrap_or_default()
}

/// The CRC of all the bytes of `file`, read back from the page cache.
fn full_object(file: &File, name: &str) -> Result<String, ObjectError> {
    let mut hasher = hasher(name);
    let mut buffer = vec![0u8; 1 << 20];
    let mut offset = 0;
    loop {
        let read = file
            .read_at(&mut buffer, offset)
            .map_err(|source| ObjectError::Io {
                path: "the joined parts".into(),
                source,
            })?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        offset += read as u64;
    }
    Ok(value_of(hasher, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, sha256: &str) -> Part {
        Part {
            number,
            etag: String::new(),
            size: 0,
            last_modified: std::time::SystemTime::UNIX_EPOCH,
            checksums: BTreeMap::from([("SHA256".to_string(), sha256.to_string())]),
        }
    }

    #[test]
    fn upload_checksum_types_follow_s3_rules() {
        let sha = ChecksumAlgorithm::from_static(ChecksumAlgorithm::SHA256);
        let crc64 = ChecksumAlgorithm::from_static(ChecksumAlgorithm::CRC64NVME);
        let full = ChecksumType::from_static(ChecksumType::FULL_OBJECT);
        let composite = ChecksumType::from_static(ChecksumType::COMPOSITE);
        assert_eq!(
            upload_checksum(Some(&sha), None).unwrap(),
            Some(("SHA256".into(), "COMPOSITE".into()))
        );
        assert_eq!(
            upload_checksum(Some(&crc64), None).unwrap(),
            Some(("CRC64NVME".into(), "FULL_OBJECT".into()))
        );
        assert!(upload_checksum(Some(&sha), Some(&full)).is_err());
        assert!(upload_checksum(Some(&crc64), Some(&composite)).is_err());
        assert!(upload_checksum(None, Some(&full)).is_err());
    }

    /// The composite SHA-256 of one 1,024-byte part of "A"s, as s3-tests
    /// records it against S3 (test_multipart_checksum_sha256).
    #[test]
    fn a_composite_checksum_hashes_the_parts_checksums() {
        let upload = Upload {
            id: "x".into(),
            bucket: "b".into(),
            key: "k".into(),
            initiated_ns: 0,
            meta: Meta::default(),
            checksum: Some(("SHA256".into(), "COMPOSITE".into())),
        };
        let part_sum = "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=";
        let mut listed = Listed::default();
        listed
            .parts
            .insert(1, vec![("SHA256", part_sum.to_string())]);
        let file = tempfile::tempfile().unwrap();
        let mut meta = Meta::default();
        listed
            .seal(&upload, &[part(1, part_sum)], &file, &mut meta)
            .unwrap();
        assert_eq!(
            meta.checksums["SHA256"],
            "Ok6Cs5b96ux6+MWQkJO7UBT5sKPBeXBLwvj/hK89smg=-1"
        );
        listed.object = vec![("SHA256", "bad".into())];
        assert!(matches!(
            listed.seal(&upload, &[part(1, part_sum)], &file, &mut meta),
            Err(ObjectError::BadDigest(_))
        ));
    }
}
