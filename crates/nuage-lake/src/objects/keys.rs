//! Object keys as paths inside a bucket's folder.
//!
//! A key is a file at the same relative path (`raw/2024/ratings.csv` is the
//! file `<bucket>/raw/2024/ratings.csv`), so SQL, the crawler and S3 see one
//! lake. A key that ends in `/` (a "folder" object, as consoles and pyarrow
//! make them) is the folder itself, marked as an object. A key that cannot
//! be a path (empty segments, `.` or `..`, a segment longer than a file name
//! may be, nuage's own hidden names), or whose path is taken (`a/b` when
//! `a` is an object), is kept whole in the bucket's hidden folder
//! `.nuage-s3-keys`, named by its SHA-256: S3 clients see it like any other
//! object, SQL does not. No key reaches outside the bucket's folder.

use std::path::PathBuf;

use crate::objects::ObjectError;

/// S3's limit on a key's length, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest file name the local file systems nuage runs on accept.
const MAX_SEGMENT_BYTES: usize = 255;

/// Names nuage keeps for itself inside the lake (staging, uploads).
pub const RESERVED_PREFIX: &str = ".nuage-s3";

/// The folder, inside a bucket, of objects whose keys are not paths.
pub const HIDDEN_DIR: &str = ".nuage-s3-keys";

/// Where an object of a key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// At the key's own path.
    File(KeyPath),
    /// In the hidden folder (the path relative to the bucket's folder).
    Hidden(PathBuf),
}

impl Place {
    /// The place of `key`: its path when it can be one, else hidden. Refuses
    /// keys S3 refuses too (empty, over 1024 bytes) and NUL, which S3's XML
    /// cannot carry.
    pub fn of(key: &str) -> Result<Place, ObjectError> {
        if key.is_empty() {
            return Err(ObjectError::InvalidKey {
                key: String::new(),
                reason: "a key must have at least one character".into(),
            });
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(ObjectError::KeyTooLong {
                key: key.to_string(),
                bytes: key.len(),
            });
        }
        if key.contains('\0') {
            return Err(ObjectError::InvalidKey {
                key: key.to_string(),
                reason: "a key may not contain the NUL character".into(),
            });
        }
        Ok(match KeyPath::parse(key) {
            Ok(path) => Place::File(path),
            Err(_) => Place::hidden(key),
        })
    }

    /// The hidden place of `key`.
    pub fn hidden(key: &str) -> Place {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        Place::Hidden(PathBuf::from(HIDDEN_DIR).join(crate::objects::meta::hex(&digest)))
    }
}

/// Where a key lives in its bucket's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    /// Relative to the bucket's folder; never empty, never with `..`.
    pub relative: PathBuf,
    /// A key ending in `/`: the folder itself is the object.
    pub is_folder: bool,
}

impl KeyPath {
    /// The key's path, or why this key cannot be stored.
    pub fn parse(key: &str) -> Result<KeyPath, ObjectError> {
        let refuse = |reason: String| ObjectError::InvalidKey {
            key: key.to_string(),
            reason,
        };
        if key.is_empty() {
            return Err(refuse("a key must have at least one character".into()));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(ObjectError::KeyTooLong {
                key: key.to_string(),
                bytes: key.len(),
            });
        }
        if key.contains('\0') {
            return Err(refuse("a key may not contain the NUL character".into()));
        }
        let (body, is_folder) = match key.strip_suffix('/') {
            Some(body) => (body, true),
            None => (key, false),
        };
        let mut relative = PathBuf::new();
        for segment in body.split('/') {
            match segment {
                "" => {
                    return Err(refuse(
                        "nuage stores objects as files, so a key may not start with '/' \
                         or contain '//'; remove the empty segment"
                            .into(),
                    ));
                }
                "." | ".." => {
                    return Err(refuse(format!(
                        "nuage stores objects as files, so a key may not have a {segment:?} segment"
                    )));
                }
                _ if segment.len() > MAX_SEGMENT_BYTES => {
                    return Err(refuse(format!(
                        "nuage stores objects as files, so each '/'-separated segment \
                         of a key may have at most {MAX_SEGMENT_BYTES} bytes (this one has {})",
                        segment.len()
                    )));
                }
                _ if segment.starts_with(RESERVED_PREFIX) => {
                    return Err(refuse(format!(
                        "names starting with {RESERVED_PREFIX:?} are nuage's own"
                    )));
                }
                _ => relative.push(segment),
            }
        }
        Ok(KeyPath {
            relative,
            is_folder,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_paths_inside_the_bucket() {
        let path = KeyPath::parse("raw/2024/ratings.csv").unwrap();
        assert_eq!(path.relative, PathBuf::from("raw/2024/ratings.csv"));
        assert!(!path.is_folder);
        let folder = KeyPath::parse("raw/2024/").unwrap();
        assert_eq!(folder.relative, PathBuf::from("raw/2024"));
        assert!(folder.is_folder);
        let unicode = KeyPath::parse("données/été 2024/ç?#&=+.csv").unwrap();
        assert_eq!(
            unicode.relative,
            PathBuf::from("données/été 2024/ç?#&=+.csv")
        );
    }

    #[test]
    fn keys_that_cannot_be_paths_are_refused_never_escape() {
        for key in [
            "",
            "/etc/passwd",
            "a//b",
            "../x",
            "a/../../x",
            "a/./b",
            "/",
            "a\0b",
            ".nuage-s3/tmp/x",
        ] {
            assert!(
                matches!(KeyPath::parse(key), Err(ObjectError::InvalidKey { .. })),
                "{key:?}"
            );
        }
        // Kept whole in the hidden folder instead.
        for key in ["a//b", "../x", "/lead"] {
            assert!(matches!(Place::of(key), Ok(Place::Hidden(_))), "{key:?}");
        }
        assert!(Place::of("").is_err());
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            KeyPath::parse(&long),
            Err(ObjectError::KeyTooLong { bytes: 1025, .. })
        ));
        let segment = format!("a/{}", "s".repeat(256));
        assert!(KeyPath::parse(&segment).is_err());
        // Dots inside a name are just a name.
        assert!(KeyPath::parse("a/..b/c..").is_ok());
    }
}
