//! Listing a bucket in S3's order (keys by UTF-8 bytes) by walking its
//! folders. Inside one folder a subfolder sorts as its name plus `/`, so the
//! walk meets keys in key order (`a-c` before `a/b`). Subtrees that lie
//! wholly before the start key, outside the prefix, or inside one common
//! prefix are skipped without being read.

use std::path::Path;

use crate::objects::keys::RESERVED_PREFIX;
use crate::objects::{ObjectError, ObjectInfo, Result, meta, modified};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List only what sorts after this (StartAfter, marker, continuation).
    pub after: Option<String>,
    pub max: usize,
}

/// One entry of a listing.
#[derive(Debug, Clone)]
pub enum Entry {
    Object(ObjectInfo),
    /// A common prefix: every key under it rolled into one entry.
    Prefix(String),
}

impl Entry {
    /// The key or prefix: what a continuation starts after.
    pub fn name(&self) -> &str {
        match self {
            Entry::Object(info) => &info.key,
            Entry::Prefix(prefix) => prefix,
        }
    }
}

#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// More entries follow the last one.
    pub truncated: bool,
}

struct Walk<'a> {
    query: &'a ListQuery,
    listing: Listing,
}

pub(crate) fn list(bucket_dir: &Path, query: &ListQuery) -> Result<Listing> {
    let mut walk = Walk {
        query,
        listing: Listing::default(),
    };
    walk.folder(bucket_dir, "")?;
    Ok(walk.listing)
}

/// The entries of one folder, sorted as their keys sort.
fn sorted_entries(dir: &Path) -> Result<Vec<(String, bool)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // Removed by a concurrent delete: nothing to list.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ObjectError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let is_dir = kind.is_dir() || (kind.is_symlink() && entry.path().is_dir());
        names.push((if is_dir { format!("{name}/") } else { name }, is_dir));
    }
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(names)
}

impl Walk<'_> {
    /// Walks `dir` whose keys start with `dir_key` ("" or ending in '/').
    /// Returns false once the listing is full.
    fn folder(&mut self, dir: &Path, dir_key: &str) -> Result<bool> {
        let prefix = self.query.prefix.as_str();
        let after = self.query.after.as_deref().unwrap_or("");
        for (name, is_dir) in sorted_entries(dir)? {
            let full = format!("{dir_key}{name}");
            let in_prefix = full.starts_with(prefix);
            if !(in_prefix || is_dir && prefix.starts_with(&full)) {
                continue;
            }
            let path = dir.join(name.trim_end_matches('/'));
            if let Some(common) = self.common_prefix(&full) {
                // The whole entry rolls into one common prefix.
                if common.as_str() <= after || self.last_is(&common) {
                    continue;
                }
                if (!is_dir || has_objects(&path)?) && !self.push(Entry::Prefix(common)) {
                    return Ok(false);
                }
                continue;
            }
            if !is_dir {
                if full.as_str() <= after {
                    continue;
                }
                let Some(info) = file_info(&path, full)? else {
                    continue;
                };
                if !self.push(Entry::Object(info)) {
                    return Ok(false);
                }
                continue;
            }
            // Every key below sorts after `full`; all of them come before
            // `after` unless `after` is inside this folder.
            if after > full.as_str() && !after.starts_with(&full) {
                continue;
            }
            if in_prefix
                && full.as_str() > after
                && let Some(info) = folder_info(&path, &full)
                && !self.push(Entry::Object(info))
            {
                return Ok(false);
            }
            if !self.folder(&path, &full)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The common prefix everything under `full` rolls into, if any: the
    /// prefix, then up to and including the first delimiter after it.
    fn common_prefix(&self, full: &str) -> Option<String> {
        let delimiter = self.query.delimiter.as_deref().filter(|d| !d.is_empty())?;
        let prefix = self.query.prefix.as_str();
        let rest = full.strip_prefix(prefix)?;
        let at = rest.find(delimiter)?;
        let end = prefix.len() + at + delimiter.len();
        // For a folder `full` ends in '/': the prefix must not reach past
        // it, or keys below could differ inside it.
        (end <= full.len()).then(|| full[..end].to_string())
    }

    fn last_is(&self, common: &str) -> bool {
        matches!(self.listing.entries.last(), Some(Entry::Prefix(p)) if p == common)
    }

    /// Adds an entry; false when the listing already had `max` entries (it
    /// is then marked truncated).
    fn push(&mut self, entry: Entry) -> bool {
        if self.listing.entries.len() >= self.query.max {
            self.listing.truncated = true;
            return false;
        }
        self.listing.entries.push(entry);
        true
    }
}

fn file_info(path: &Path, key: String) -> Result<Option<ObjectInfo>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ObjectError::io(path, e)),
    };
    let (meta, stat) = meta::read_or_compute(&file, path)?;
    Ok(Some(ObjectInfo {
        key,
        last_modified: modified(&meta, &stat),
        meta,
    }))
}

fn folder_info(path: &Path, key: &str) -> Option<ObjectInfo> {
    let meta = meta::read_folder(path)?;
    let stat = std::fs::metadata(path).ok()?;
    Some(ObjectInfo {
        key: key.to_string(),
        last_modified: modified(&meta, &stat),
        meta,
    })
}

/// Whether a folder holds at least one object (a file, or a folder object).
pub(crate) fn has_objects(dir: &Path) -> Result<bool> {
    for (name, is_dir) in sorted_entries(dir)? {
        let path = dir.join(name.trim_end_matches('/'));
        if !is_dir || meta::read_folder(&path).is_some() || has_objects(&path)? {
            return Ok(true);
        }
    }
    Ok(false)
}
