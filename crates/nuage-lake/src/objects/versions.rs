//! Versioning, as S3 keeps it (Enabled or Suspended per bucket, never
//! back to unversioned).
//!
//! The current version of a key stays its object in the bucket's folder,
//! so SQL, the crawler and Firehose see the current data and nothing else.
//! Older versions and delete markers are kept in
//! `<lake>/.nuage-s3/versions/<bucket>/<sha256(key)>/`, beside a file `key`
//! that names the key, one file per version named `<sequence>-<version id>`
//! (the newest has the largest sequence):
//!
//! ```text
//!   PUT k (Enabled) ─► link <bucket>/k  →  versions/<bucket>/<h>/<seq>-<old id>
//!                      rename the new body over <bucket>/k   (id: new)
//!   DELETE k        ─► link <bucket>/k as above, remove it,
//!                      add versions/<bucket>/<h>/<seq>-<new id> (a delete marker)
//!   DELETE k?versionId=<current> ─► remove <bucket>/k, move the newest
//!                      older object (not a marker) back to <bucket>/k
//! ```
//!
//! An older version is a hard link to the file that was current, so it
//! keeps its bytes and record without a copy. Every change to a key of a
//! versioned bucket holds the key's turn. A crash between the link and the
//! rename leaves the version both current and kept; the kept copy is
//! skipped wherever versions are read, and not linked twice.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use crate::objects::keys::Place;
use crate::objects::meta::{self, Meta, Retention};
use crate::objects::write::{self, Staged};
use crate::objects::{Entry, ListQuery, ObjectError, ObjectInfo, Opened, Result, list, open_in};

/// The version id S3 gives objects written while versioning was not enabled.
pub const NULL: &str = "null";

/// The bucket setting that holds the state.
pub(crate) const SETTING: &str = "versioning";

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    /// As S3 names it (`Enabled`, `Suspended`); `None` for a bucket that
    /// was never versioned.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }

    pub(crate) fn parse(stored: Option<&[u8]>) -> Versioning {
        match stored {
            Some(b"Enabled") => Versioning::Enabled,
            Some(b"Suspended") => Versioning::Suspended,
            _ => Versioning::Unversioned,
        }
    }

    /// The id a version written now gets.
    fn new_id(self) -> Option<String> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(uuid::Uuid::new_v4().simple().to_string()),
            Versioning::Suspended => Some(NULL.to_string()),
        }
    }
}

/// The state of the bucket folder `dir`.
pub(crate) fn state(dir: &Path) -> Versioning {
    let attribute = format!("user.nuage.s3.{SETTING}");
    Versioning::parse(xattr::get(dir, attribute).ok().flatten().as_deref())
}

/// An object's version id (`null` when it was written unversioned).
pub fn id_of(meta: &Meta) -> &str {
    meta.version_id.as_deref().unwrap_or(NULL)
}

/// Whether `id` could be a version id nuage gave.
pub fn valid_id(id: &str) -> bool {
    id == NULL || (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a delete did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The version removed, or the id of the delete marker added.
    pub version_id: Option<String>,
    /// A delete marker was added, or the version removed was one.
    pub delete_marker: bool,
}

/// One version of a key, as ListObjectVersions shows it.
#[derive(Debug, Clone)]
pub struct Version {
    /// The key, the record (`meta.delete_marker` for a marker) and its time.
    pub info: ObjectInfo,
    pub latest: bool,
}

impl Version {
    pub fn id(&self) -> &str {
        id_of(&self.info.meta)
    }
}

/// What ListObjectVersions asks for.
#[derive(Debug, Clone, Default)]
pub struct VersionQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
    pub max: usize,
}

/// One entry of a version listing.
#[derive(Debug, Clone)]
pub enum VersionEntry {
    Version(Box<Version>),
    Prefix(String),
}

#[derive(Debug, Default)]
pub struct VersionListing {
    pub entries: Vec<VersionEntry>,
    pub truncated: bool,
    /// Where the next page starts: a key, and in it a version id.
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

/// A kept (not current) version's file, named `<sequence>-<version id>`:
/// its id is read from the name, its record only when needed.
struct Kept {
    path: PathBuf,
    id: String,
}

impl Kept {
    /// Its record; `None` if the file went meanwhile.
    fn meta(&self) -> Result<Option<Meta>> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ObjectError::io(&self.path, e)),
        };
        let stat = file
            .metadata()
            .map_err(|e| ObjectError::io(&self.path, e))?;
        meta::read_or_compute(&file, &self.path, &stat).map(Some)
    }
}

/// The versions of one key of one bucket.
pub(crate) struct KeyVersions {
    bucket_dir: PathBuf,
    pub(crate) key: String,
    /// `versions/<bucket>/<sha256(key)>`.
    kept_dir: PathBuf,
}

/// `versions/<bucket>` under the lake's internal folder.
pub(crate) fn bucket_root(versions: &Path, bucket: &str) -> PathBuf {
    versions.join(bucket)
}

impl KeyVersions {
    pub(crate) fn new(versions: &Path, bucket: &str, bucket_dir: &Path, key: &str) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(key.as_bytes());
        KeyVersions {
            bucket_dir: bucket_dir.to_path_buf(),
            key: key.to_string(),
            kept_dir: bucket_root(versions, bucket).join(meta::hex(&digest)),
        }
    }

    fn current(&self) -> Result<Option<Opened>> {
        match open_in(&self.bucket_dir, &self.key) {
            Ok(opened) => Ok(Some(opened)),
            Err(ObjectError::NoSuchKey(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The kept versions, newest first (their names only).
    fn kept(&self) -> Result<Vec<Kept>> {
        let entries = match std::fs::read_dir(&self.kept_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ObjectError::io(&self.kept_dir, e)),
        };
        let mut kept: Vec<Kept> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (_, id) = name.split_once('-')?;
                Some(Kept {
                    id: id.to_string(),
                    path: e.path(),
                })
            })
            .collect();
        kept.sort_unstable_by(|a, b| b.path.cmp(&a.path));
        Ok(kept)
    }

    /// The kept version `id` and its record.
    fn find(&self, id: &str) -> Result<Option<(Kept, Meta)>> {
        let Some(kept) = self.kept()?.into_iter().find(|k| k.id == id) else {
            return Ok(None);
        };
        Ok(kept.meta()?.map(|meta| (kept, meta)))
    }

    /// Every version, newest first, the latest marked.
    pub(crate) fn all(&self) -> Result<Vec<Version>> {
        let current = self.current()?;
        let current_id = current.as_ref().map(|c| id_of(&c.info.meta).to_string());
        let mut versions: Vec<Version> = current
            .map(|c| Version {
                info: c.info,
                latest: true,
            })
            .into_iter()
            .collect();
        for kept in self.kept()? {
            if current_id.as_deref() == Some(kept.id.as_str()) {
                continue;
            }
            let Some(meta) = kept.meta()? else { continue };
            // With no current object, a newest marker is the latest version.
            let latest = versions.is_empty() && meta.delete_marker;
            versions.push(Version {
                info: self.info(meta),
                latest,
            });
        }
        Ok(versions)
    }

    fn info(&self, meta: Meta) -> ObjectInfo {
        ObjectInfo {
            key: self.key.clone(),
            last_modified: meta.last_modified(),
            meta,
        }
    }

    /// Makes room for a new current version written with `mode`: keeps the
    /// current one as S3 would, and gives the id the new one gets.
    pub(crate) fn make_room(&self, mode: Versioning) -> Result<Option<String>> {
        if mode == Versioning::Unversioned {
            return Ok(None);
        }
        self.make_room_after(self.current()?.as_ref(), mode)
    }

    /// [`Self::make_room`] with the current object already opened.
    fn make_room_after(
        &self,
        current: Option<&Opened>,
        mode: Versioning,
    ) -> Result<Option<String>> {
        match mode {
            Versioning::Unversioned => {}
            Versioning::Enabled => {
                if let Some(current) = current {
                    self.keep(current)?;
                }
            }
            Versioning::Suspended => {
                // The null version, current or kept, is replaced.
                if let Some(current) = current
                    && id_of(&current.info.meta) != NULL
                {
                    self.keep(current)?;
                }
                self.remove_kept_null()?;
            }
        }
        Ok(mode.new_id())
    }

    /// A DELETE without a version id in a versioned bucket: the current
    /// object becomes an older version and a delete marker the latest.
    pub(crate) fn delete_latest(&self, mode: Versioning) -> Result<Deleted> {
        let current = self.current()?;
        let id = self
            .make_room_after(current.as_ref(), mode)?
            .unwrap_or_else(|| NULL.to_string());
        if current.is_some() {
            remove_current(&self.bucket_dir, &self.key)?;
        }
        self.add_marker(&id)?;
        Ok(Deleted {
            version_id: Some(id),
            delete_marker: true,
        })
    }

    /// Removes one version for good. When it was the current object, the
    /// newest older object (unless a marker is newer) becomes current.
    pub(crate) fn delete_version(
        &self,
        id: &str,
        staging: &Path,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        let current = self.current()?;
        let removed = |delete_marker| Deleted {
            version_id: Some(id.to_string()),
            delete_marker,
        };
        if let Some(c) = current.as_ref().filter(|c| id_of(&c.info.meta) == id) {
            check_unlocked(&c.info.meta, bypass_governance)?;
            remove_current(&self.bucket_dir, &self.key)?;
            self.settle(staging)?;
            return Ok(removed(false));
        }
        let Some((kept, meta)) = self.find(id)? else {
            // S3 answers a version that is not there as deleted.
            return Ok(removed(false));
        };
        check_unlocked(&meta, bypass_governance)?;
        self.remove_kept(&kept)?;
        if current.is_none() {
            self.settle(staging)?;
        }
        Ok(removed(meta.delete_marker))
    }

    /// The version `id`: the current object, or a kept one.
    pub(crate) fn open(&self, id: &str) -> Result<Opened> {
        if let Some(current) = self.current()?
            && id_of(&current.info.meta) == id
        {
            return Ok(current);
        }
        let Some((kept, meta)) = self.find(id)? else {
            return Err(ObjectError::NoSuchVersion {
                key: self.key.clone(),
                version_id: id.to_string(),
            });
        };
        if meta.delete_marker {
            return Err(ObjectError::DeleteMarker {
                key: self.key.clone(),
                version_id: id.to_string(),
                last_modified: meta.last_modified(),
                asked: true,
            });
        }
        let file = File::open(&kept.path).map_err(|e| ObjectError::io(&kept.path, e))?;
        Ok(Opened {
            info: self.info(meta),
            file: Some(file),
            location: kept.path,
        })
    }

    /// Why there is no current object: a delete marker is the latest.
    pub(crate) fn latest_marker(&self) -> Result<Option<ObjectError>> {
        let Some(newest) = self.kept()?.into_iter().next() else {
            return Ok(None);
        };
        Ok(newest
            .meta()?
            .filter(|meta| meta.delete_marker)
            .map(|meta| ObjectError::DeleteMarker {
                key: self.key.clone(),
                version_id: newest.id,
                last_modified: meta.last_modified(),
                asked: false,
            }))
    }

    /// Keeps the current object as an older version.
    fn keep(&self, current: &Opened) -> Result<()> {
        let meta = &current.info.meta;
        let id = id_of(meta);
        if self.kept()?.iter().any(|k| k.id == id) {
            return Ok(()); // kept before a crash
        }
        let target = self.prepare(id)?;
        match &current.file {
            Some(_) => std::fs::hard_link(&current.location, &target)
                .map_err(|e| ObjectError::io(&target, e))?,
            // A folder object: an empty file carries its record.
            None => write_record_file(&target, meta)?,
        }
        write::sync_dir(&self.kept_dir)
    }

    fn add_marker(&self, id: &str) -> Result<()> {
        let target = self.prepare(id)?;
        let marker = Meta {
            delete_marker: true,
            version_id: Some(id.to_string()),
            key: Some(self.key.clone()),
            mtime_ns: meta::now_ns(),
            ..Meta::default()
        };
        write_record_file(&target, &marker)?;
        write::sync_dir(&self.kept_dir)
    }

    /// The path a new kept version `id` takes (its folder made first).
    fn prepare(&self, id: &str) -> Result<PathBuf> {
        if !self.kept_dir.is_dir() {
            std::fs::create_dir_all(&self.kept_dir)
                .map_err(|e| ObjectError::io(&self.kept_dir, e))?;
            let named = self.kept_dir.join("key");
            std::fs::write(&named, &self.key).map_err(|e| ObjectError::io(&named, e))?;
            File::open(&named)
                .and_then(|f| f.sync_all())
                .map_err(|e| ObjectError::io(&named, e))?;
            write::sync_dir(&self.kept_dir)?;
            if let Some(parent) = self.kept_dir.parent() {
                write::sync_dir(parent)?;
            }
        }
        Ok(self.kept_dir.join(format!("{:020}-{id}", next_sequence())))
    }

    fn remove_kept(&self, kept: &Kept) -> Result<()> {
        std::fs::remove_file(&kept.path).map_err(|e| ObjectError::io(&kept.path, e))?;
        write::sync_dir(&self.kept_dir)?;
        if self.kept()?.is_empty() {
            // Nothing left: the folder goes, so the bucket may be deleted.
            let _ = std::fs::remove_dir_all(&self.kept_dir);
        }
        Ok(())
    }

    fn remove_kept_null(&self) -> Result<()> {
        for kept in self.kept()? {
            if kept.id == NULL {
                self.remove_kept(&kept)?;
            }
        }
        Ok(())
    }

    /// With no current object, the newest kept one becomes current unless
    /// a delete marker is newer.
    fn settle(&self, staging: &Path) -> Result<()> {
        if self.current()?.is_some() {
            return Ok(());
        }
        let Some(newest) = self.kept()?.into_iter().next() else {
            return Ok(());
        };
        let Some(meta) = newest.meta()? else {
            return Ok(());
        };
        if meta.delete_marker {
            return Ok(());
        }
        // Published from a link in staging: a failure leaves the kept file.
        std::fs::hard_link(&newest.path, staging).map_err(|e| ObjectError::io(staging, e))?;
        let file = File::open(staging).map_err(|e| ObjectError::io(staging, e))?;
        let staged = Staged::from_file(staging.to_path_buf(), file, meta.size);
        let place = Place::of(&self.key)?;
        write::place_object(&self.bucket_dir, place, &self.key, staged, meta)?;
        self.remove_kept(&newest)
    }
}

/// Refuses to remove a version Object Lock keeps.
fn check_unlocked(meta: &Meta, bypass_governance: bool) -> Result<()> {
    if meta.legal_hold {
        return Err(ObjectError::Locked(
            "this version of the object has a legal hold; remove it (PutObjectLegalHold OFF) first"
                .into(),
        ));
    }
    match &meta.retention {
        Some(r) if r.active() && (r.mode != Retention::GOVERNANCE || !bypass_governance) => {
            Err(ObjectError::Locked(format!(
                "this version of the object is under {} retention until it expires{}",
                r.mode,
                if r.mode == Retention::GOVERNANCE {
                    " (or send x-amz-bypass-governance-retention: true)"
                } else {
                    ""
                }
            )))
        }
        _ => Ok(()),
    }
}

/// Removes the current object of `key` (at its path, or hidden).
pub(crate) fn remove_current(bucket_dir: &Path, key: &str) -> Result<()> {
    if let Ok(Place::File(path)) = Place::of(key) {
        write::delete(bucket_dir, &path)?;
    }
    write::delete_hidden(bucket_dir, key)
}

/// An empty file that carries `meta` (its time set to the record's).
fn write_record_file(path: &Path, meta: &Meta) -> Result<()> {
    let io = |e| ObjectError::io(path, e);
    let file = File::create_new(path).map_err(io)?;
    file.set_modified(meta::time_of(meta.mtime_ns))
        .map_err(io)?;
    let stat = file.metadata().map_err(io)?;
    let mut meta = meta.clone();
    meta.size = 0;
    meta.mtime_ns = meta::mtime_ns(&stat);
    meta::write(&file, &meta)?;
    file.sync_all().map_err(io)
}

/// Increasing across the process, close to the time in ns.
fn next_sequence() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = meta::now_ns();
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Whether a bucket keeps older versions or markers.
pub(crate) fn any_kept(versions: &Path, bucket: &str) -> bool {
    std::fs::read_dir(bucket_root(versions, bucket)).is_ok_and(|mut e| e.next().is_some())
}

/// The keys with kept versions in a bucket, under `prefix`.
fn kept_keys(versions: &Path, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let root = bucket_root(versions, bucket);
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ObjectError::io(&root, e)),
    };
    let mut keys = Vec::new();
    for entry in entries.flatten() {
        if let Ok(key) = std::fs::read_to_string(entry.path().join("key"))
            && key.starts_with(prefix)
        {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// ListObjectVersions of a versioned bucket: keys (and common prefixes)
/// after the key marker in key order, current or kept, each key's versions
/// newest first. Keys come a page at a time: the bucket's walk from the
/// marker on, merged with the keys that have kept versions.
pub(crate) fn list_versions(
    versions: &Path,
    bucket: &str,
    bucket_dir: &Path,
    query: &VersionQuery,
) -> Result<VersionListing> {
    let mut page = VersionListing::default();
    // S3 answers max-keys=0 with an empty, untruncated page.
    if query.max == 0 {
        return Ok(page);
    }
    let marker = query.key_marker.clone().filter(|m| !m.is_empty());
    let version_marker = query.version_id_marker.as_deref().filter(|v| !v.is_empty());
    let kept = kept_names(versions, bucket, query)?;
    let mut after = marker.clone();
    // The marker's own key, from its version on.
    if let (Some(key), Some(id)) = (&marker, version_marker)
        && common_prefix(query, key).is_none()
    {
        let all = KeyVersions::new(versions, bucket, bucket_dir, key).all()?;
        let start = all
            .iter()
            .position(|x| x.id() == id)
            .map_or(all.len(), |i| i + 1);
        if !push_versions(&mut page, query, key, all.into_iter().skip(start)) {
            return Ok(page);
        }
    }
    loop {
        let wanted = query.max - page.entries.len() + 1;
        let names = next_names(bucket_dir, query, &kept, after.as_deref(), wanted)?;
        if names.is_empty() {
            return Ok(page);
        }
        for (name, is_prefix) in names {
            if is_prefix {
                if page.entries.len() == query.max {
                    page.truncated = true;
                    return Ok(page);
                }
                page.next_key_marker = Some(name.clone());
                page.next_version_id_marker = None;
                page.entries.push(VersionEntry::Prefix(name.clone()));
            } else {
                let all = KeyVersions::new(versions, bucket, bucket_dir, &name).all()?;
                if !push_versions(&mut page, query, &name, all.into_iter()) {
                    return Ok(page);
                }
            }
            after = Some(name);
        }
    }
}

/// Adds a key's versions to the page; false once the page is full and
/// more remain (the page is then truncated).
fn push_versions(
    page: &mut VersionListing,
    query: &VersionQuery,
    key: &str,
    versions: impl Iterator<Item = Version>,
) -> bool {
    for version in versions {
        if page.entries.len() == query.max {
            page.truncated = true;
            return false;
        }
        page.next_key_marker = Some(key.to_string());
        page.next_version_id_marker = Some(version.id().to_string());
        page.entries.push(VersionEntry::Version(Box::new(version)));
    }
    true
}

/// The keys with kept versions, as names of the listing (a key, or the
/// common prefix it rolls into), in order, each once.
fn kept_names(versions: &Path, bucket: &str, query: &VersionQuery) -> Result<Vec<(String, bool)>> {
    let mut names: Vec<(String, bool)> = kept_keys(versions, bucket, &query.prefix)?
        .into_iter()
        .map(|key| match common_prefix(query, &key) {
            Some(common) => (common, true),
            None => (key, false),
        })
        .collect();
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    names.dedup();
    Ok(names)
}

/// Up to `limit` names after `after`: the bucket's walk merged with the
/// kept keys' names.
fn next_names(
    bucket_dir: &Path,
    query: &VersionQuery,
    kept: &[(String, bool)],
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, bool)>> {
    let walk = list::list(
        bucket_dir,
        &ListQuery {
            prefix: query.prefix.clone(),
            delimiter: query.delimiter.clone(),
            after: after.map(str::to_string),
            max: limit,
        },
    )?;
    let passed = |name: &str| {
        after.is_some_and(|a| name <= a || (a.ends_with(delimiter(query)) && name.starts_with(a)))
    };
    let mut names: Vec<(String, bool)> = walk
        .entries
        .into_iter()
        .map(|e| match e {
            Entry::Object(info) => (info.key, false),
            Entry::Prefix(prefix) => (prefix, true),
        })
        .chain(kept.iter().filter(|(n, _)| !passed(n)).cloned())
        .collect();
    names.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    names.dedup();
    names.truncate(limit);
    Ok(names)
}

fn delimiter(query: &VersionQuery) -> &str {
    query
        .delimiter
        .as_deref()
        .filter(|d| !d.is_empty())
        .unwrap_or("\0")
}

fn common_prefix(query: &VersionQuery, key: &str) -> Option<String> {
    let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty())?;
    let rest = key.strip_prefix(&query.prefix)?;
    let at = rest.find(delimiter)?;
    Some(format!("{}{}", query.prefix, &rest[..at + delimiter.len()]))
}
