//! Listing a bucket in S3's order (keys by UTF-8 bytes) by walking its
//! folders. Inside one folder a subfolder sorts as its name plus `/`, so the
//! walk meets keys in key order (`a-c` before `a/b`). Subtrees that lie
//! wholly before the start key, outside the prefix, or inside one common
//! prefix are skipped without being read.

use std::path::Path;

use crate::objects::keys::{HIDDEN_DIR, RESERVED_PREFIX};
use crate::objects::{ObjectError, ObjectInfo, Result, meta};

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
    Object(Box<ObjectInfo>),
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
    // S3 answers max-keys=0 with an empty, untruncated page.
    if query.max == 0 {
        return Ok(walk.listing);
    }
    walk.folder(bucket_dir, "")?;
    let hidden = hidden_entries(bucket_dir, query)?;
    if hidden.is_empty() {
        return Ok(walk.listing);
    }
    // The walk's entries are the first `max` of the keys that are paths;
    // merged with every hidden one, the first `max` are the listing's.
    let walked = std::mem::take(&mut walk.listing.entries);
    let mut merged: Vec<Entry> = Vec::with_capacity(walked.len() + hidden.len());
    let (mut a, mut b) = (walked.into_iter().peekable(), hidden.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.name().as_bytes() <= y.name().as_bytes() => a.next(),
            (Some(_), Some(_)) | (None, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        let Some(entry) = next else { break };
        let repeat =
            matches!((&entry, merged.last()), (Entry::Prefix(p), Some(Entry::Prefix(q))) if p == q);
        if !repeat {
            merged.push(entry);
        }
    }
    let truncated = walk.listing.truncated || merged.len() > query.max;
    merged.truncate(query.max);
    Ok(Listing {
        entries: merged,
        truncated,
    })
}

/// The objects of the hidden folder that belong in this listing (rolled
/// into common prefixes as the walk rolls them), in key order.
fn hidden_entries(bucket_dir: &Path, query: &ListQuery) -> Result<Vec<Entry>> {
    let dir = bucket_dir.join(HIDDEN_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ObjectError::io(&dir, e)),
    };
    let after = query.after.as_deref().unwrap_or("");
    let probe = Walk {
        query,
        listing: Listing::default(),
    };
    let mut found: Vec<Entry> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(_) => continue,
        };
        let stat = file.metadata().map_err(|e| ObjectError::io(&path, e))?;
        let meta = meta::read_or_compute(&file, &path, &stat)?;
        let Some(key) = meta.key.clone() else {
            continue;
        };
        if !key.starts_with(&query.prefix) {
            continue;
        }
        if let Some(common) = probe.common_prefix(&key) {
            if common.as_str() > after {
                found.push(Entry::Prefix(common));
            }
            continue;
        }
        if key.as_str() > after {
            found.push(Entry::Object(Box::new(ObjectInfo {
                key,
                last_modified: meta.last_modified(),
                meta,
            })));
        }
    }
    found.sort_by(|x, y| x.name().as_bytes().cmp(y.name().as_bytes()));
    found.dedup_by(|x, y| matches!((x, y), (Entry::Prefix(p), Entry::Prefix(q)) if p == q));
    Ok(found)
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
                if !self.push(Entry::Object(Box::new(info))) {
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
                && !self.push(Entry::Object(Box::new(info)))
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
    let stat = file.metadata().map_err(|e| ObjectError::io(path, e))?;
    let meta = meta::read_or_compute(&file, path, &stat)?;
    Ok(Some(ObjectInfo {
        key,
        last_modified: meta.last_modified(),
        meta,
    }))
}

fn folder_info(path: &Path, key: &str) -> Option<ObjectInfo> {
    let meta = meta::read_folder(path)?;
    Some(ObjectInfo {
        key: key.to_string(),
        last_modified: meta.last_modified(),
        meta,
    })
}

/// Whether a bucket holds at least one object.
pub(crate) fn bucket_has_objects(bucket_dir: &Path) -> Result<bool> {
    let hidden = bucket_dir.join(HIDDEN_DIR);
    let any_hidden = std::fs::read_dir(&hidden).is_ok_and(|mut e| e.next().is_some());
    Ok(any_hidden || has_objects(bucket_dir)?)
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
