//! Parsing of the location strings users write in LOCATION clauses, LOAD DATA
//! and `nuage lake` commands.

use std::fmt;
use std::path::PathBuf;

use crate::error::{LakeError, Result};

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// `s3://bucket/key`; `key` has no leading slash and may be empty (the bucket root).
    Object { bucket: String, key: String },
    /// An absolute local path.
    Local(PathBuf),
}

impl Location {
    /// Parses `s3://b/k`, `s3a://b/k`, `s3n://b/k`, `file:///p`, `/p` or a relative path
    /// (made absolute against the current directory).
    pub fn parse(text: &str) -> Result<Location> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LakeError::invalid(text, "the location is empty"));
        }
        for scheme in ["s3://", "s3a://", "s3n://"] {
            if let Some(rest) = strip_prefix_ignore_case(text, scheme) {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                validate_bucket(bucket).map_err(|reason| LakeError::invalid(text, reason))?;
                let key = normalize_key(text, key)?;
                return Ok(Location::Object {
                    bucket: bucket.to_string(),
                    key,
                });
            }
        }
        if let Some(rest) = strip_prefix_ignore_case(text, "file://") {
            if !rest.starts_with('/') {
                return Err(LakeError::invalid(
                    text,
                    "a file:// location needs an absolute path, like file:///data/movies",
                ));
            }
            return Ok(local(rest));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(LakeError::invalid(
                text,
                format!("scheme {scheme}:// is not supported; use s3://bucket/key or a local path"),
            ));
        }
        Ok(local(text))
    }

    /// The bucket, for object locations.
    pub fn bucket(&self) -> Option<&str> {
        match self {
            Location::Object { bucket, .. } => Some(bucket),
            Location::Local(_) => None,
        }
    }

    /// A location below this one (`child` is a relative key such as `a/b.csv`).
    pub fn join(&self, child: &str) -> Location {
        let child = child.trim_matches('/');
        match self {
            Location::Object { bucket, key } => Location::Object {
                bucket: bucket.clone(),
                key: join_key(key, child),
            },
            Location::Local(path) => Location::Local(path.join(child)),
        }
    }

    /// The last path segment (file or folder name), if any.
    pub fn name(&self) -> Option<String> {
        match self {
            Location::Object { key, .. } => key
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            Location::Local(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()),
        }
    }

    /// The parent folder, if any.
    pub fn parent(&self) -> Option<Location> {
        match self {
            Location::Object { bucket, key } => {
                let key = key.trim_end_matches('/');
                if key.is_empty() {
                    return None;
                }
                let parent = key.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                Some(Location::Object {
                    bucket: bucket.clone(),
                    key: parent.to_string(),
                })
            }
            Location::Local(path) => path.parent().map(|p| Location::Local(p.to_path_buf())),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Object { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Local(path) => write!(f, "file://{}", path.display()),
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn local(path: &str) -> Location {
    let path = PathBuf::from(path);
    if path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        // `..` is fine for local paths but resolve it so the catalog stores a clean path.
        let absolute = nuage_common::absolute(&path);
        let mut clean = PathBuf::new();
        for part in absolute.components() {
            match part {
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        return Location::Local(clean);
    }
    Location::Local(nuage_common::absolute(&path))
}

/// Removes duplicate slashes and refuses keys that would escape their bucket.
fn normalize_key(text: &str, key: &str) -> Result<String> {
    let mut parts = Vec::new();
    for part in key.split('/') {
        match part {
            "" => continue,
            "." | ".." => {
                return Err(LakeError::invalid(
                    text,
                    "keys may not contain `.` or `..` segments (they would escape the bucket)",
                ));
            }
            other => parts.push(other),
        }
    }
    let mut key = parts.join("/");
    if text.ends_with('/') && !key.is_empty() {
        key.push('/');
    }
    Ok(key)
}

fn join_key(key: &str, child: &str) -> String {
    let key = key.trim_end_matches('/');
    match (key.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (false, true) => key.to_string(),
        (false, false) => format!("{key}/{child}"),
    }
}

/// Checks S3's bucket naming rules (3 to 63 characters of lowercase letters,
/// digits, dots and hyphens, starting and ending with a letter or digit).
/// Underscores are accepted too, as older Hadoop setups used them.
pub fn validate_bucket(bucket: &str) -> std::result::Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is empty; write s3://bucket/key".to_string());
    }
    if bucket.len() > 63 {
        return Err(format!(
            "bucket name {bucket:?} is longer than 63 characters"
        ));
    }
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c);
    if let Some(bad) = bucket.chars().find(|c| !valid_char(*c)) {
        return Err(format!(
            "bucket name {bucket:?} contains {bad:?}; use lowercase letters, digits, '.' and '-'"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Err(format!(
            "bucket name {bucket:?} must start and end with a letter or digit"
        ));
    }
    if bucket.contains("..") {
        return Err(format!("bucket name {bucket:?} may not contain \"..\""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_locations_in_hadoop_spellings() {
        for text in [
            "s3://movies/raw/ratings.csv",
            "s3a://movies/raw/ratings.csv",
            "S3N://movies//raw/ratings.csv",
        ] {
            assert_eq!(
                Location::parse(text).unwrap(),
                Location::Object {
                    bucket: "movies".into(),
                    key: "raw/ratings.csv".into()
                },
                "{text}"
            );
        }
        assert_eq!(
            Location::parse("s3://movies").unwrap(),
            Location::Object {
                bucket: "movies".into(),
                key: "".into()
            }
        );
        assert_eq!(
            Location::parse("s3://movies/raw/").unwrap(),
            Location::Object {
                bucket: "movies".into(),
                key: "raw/".into()
            }
        );
    }

    #[test]
    fn refuses_keys_that_escape_the_bucket() {
        let err = Location::parse("s3://movies/../etc/passwd").unwrap_err();
        assert!(err.to_string().contains("escape the bucket"), "{err}");
        let err = Location::parse("s3://movies/a/./b").unwrap_err();
        assert!(err.to_string().contains("escape the bucket"), "{err}");
    }

    #[test]
    fn refuses_bad_bucket_names_and_schemes() {
        assert!(
            Location::parse("s3://Movies/x")
                .unwrap_err()
                .to_string()
                .contains("contains 'M'")
        );
        assert!(
            Location::parse("s3:///x")
                .unwrap_err()
                .to_string()
                .contains("bucket name is empty")
        );
        assert!(
            Location::parse("hdfs://nn/x")
                .unwrap_err()
                .to_string()
                .contains("not supported")
        );
        assert!(Location::parse("file://relative").is_err());
    }

    #[test]
    fn local_paths_become_absolute() {
        assert_eq!(
            Location::parse("/data/x").unwrap(),
            Location::Local("/data/x".into())
        );
        assert_eq!(
            Location::parse("file:///data/x").unwrap(),
            Location::Local("/data/x".into())
        );
        assert_eq!(
            Location::parse("/data/a/../x").unwrap(),
            Location::Local("/data/x".into())
        );
        let Location::Local(path) = Location::parse("rel/dir").unwrap() else {
            panic!()
        };
        assert!(path.is_absolute() && path.ends_with("rel/dir"));
    }

    #[test]
    fn join_parent_and_name() {
        let loc = Location::parse("s3://b/warehouse/t/").unwrap();
        assert_eq!(
            loc.join("k=v/part-0").to_string(),
            "s3://b/warehouse/t/k=v/part-0"
        );
        assert_eq!(loc.name().as_deref(), Some("t"));
        assert_eq!(loc.parent().unwrap().to_string(), "s3://b/warehouse");
        assert_eq!(Location::parse("s3://b").unwrap().parent(), None);
    }
}
