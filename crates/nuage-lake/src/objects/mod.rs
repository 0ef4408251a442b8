//! [`Objects`]: the embedded lake as S3 sees it. Buckets are the folders of
//! `<data-dir>/lake`, objects are their files (see [`keys`]), and what S3
//! keeps besides the bytes rides on each file ([`meta`]). Writes are staged
//! in `<lake>/.nuage-s3/tmp` and published by one rename once the bytes and
//! metadata are on disk ([`write`]); multipart uploads keep their parts in
//! `<lake>/.nuage-s3/uploads` until completed or aborted ([`multipart`]).
//! Listings walk the folders in S3's key order ([`list`]).
//!
//! ```text
//!   PUT a/b.csv ─► .nuage-s3/tmp/<uuid>  (write, xattr, fsync)
//!                        │ rename
//!                        ▼
//!                  <bucket>/a/b.csv      (fsync folder) ─► 200 OK
//! ```
//!
//! Everything here is blocking file-system work; the async methods run it on
//! tokio's blocking pool.

mod error;
mod expire;
pub mod keys;
mod list;
pub mod meta;
mod multipart;
mod settings_cache;
mod versions;
mod write;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use error::ObjectError;
pub use keys::{KeyPath, Place};
pub use list::{Entry, ListQuery, Listing};
pub use meta::{CustomerKeyed, Encryption, Meta, Retention};

pub use multipart::{Part, Upload};
pub use versions::{
    Deleted, NULL as NULL_VERSION, Version, VersionEntry, VersionListing, VersionQuery, Versioning,
};
pub use write::Written;

use crate::location::validate_bucket;

pub type Result<T, E = ObjectError> = std::result::Result<T, E>;

/// One object as S3 describes it.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub key: String,
    pub meta: Meta,
    pub last_modified: SystemTime,
}

/// An object opened for reading: its description and its bytes (`None` for
/// a folder object, which is empty).
#[derive(Debug)]
pub struct Opened {
    pub info: ObjectInfo,
    pub file: Option<File>,
    /// The file or folder that holds it.
    pub location: PathBuf,
}

/// The S3 view of an embedded lake directory.
#[derive(Debug, Clone)]
pub struct Objects {
    dirs: Arc<Dirs>,
    /// Conditional writes of one key take turns (by the key's hash): the
    /// condition is checked and the object published under the lock.
    conditional: Arc<[Arc<tokio::sync::Mutex<()>>]>,
    /// Bucket settings read while their folder is unchanged.
    settings: Arc<settings_cache::SettingsCache>,
}

/// What a conditional write asks of the object it replaces: S3's
/// If-Match (an ETag, or `*`: any object) and If-None-Match (`*`: no
/// object, or an ETag it must not have).
#[derive(Debug, Clone, Default)]
pub struct WriteCondition {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl WriteCondition {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Whether a write of `key` may replace `current`: with If-Match and
    /// no object, NoSuchKey (as S3 answers); otherwise PreconditionFailed.
    fn check(&self, key: &str, current: Option<&Meta>) -> Result<()> {
        let same =
            |wanted: &str, meta: &Meta| wanted == "*" || wanted.trim_matches('"') == meta.etag;
        let holds = match current {
            None if self.if_match.is_some() => return Err(ObjectError::NoSuchKey(key.to_string())),
            None => true,
            Some(meta) => {
                self.if_match.as_deref().is_none_or(|m| same(m, meta))
                    && !self.if_none_match.as_deref().is_some_and(|n| same(n, meta))
            }
        };
        if holds {
            Ok(())
        } else {
            Err(ObjectError::PreconditionFailed(key.to_string()))
        }
    }
}

/// The largest bucket setting kept in an extended attribute itself.
pub const INLINE_SETTING: usize = 2048;

/// A bucket's hidden folder for larger settings (hidden from listings,
/// SQL and the crawler like every `.nuage-s3` name).
const SETTINGS_DIR: &str = ".nuage-s3-settings";

/// The attribute value that says a setting is in its file.
const SETTING_IN_FILE: &[u8] = b"\0nuage: in .nuage-s3-settings";

#[derive(Debug)]
struct Dirs {
    lake: PathBuf,
    staging: PathBuf,
    uploads: PathBuf,
    /// Older versions and delete markers ([`versions`]).
    versions: PathBuf,
}

impl Objects {
    /// Opens the lake at `lake_dir`, emptying the staging folder: what is
    /// there was never acknowledged.
    pub fn open(lake_dir: &Path) -> Result<Self> {
        let internal = lake_dir.join(keys::RESERVED_PREFIX);
        let staging = internal.join("tmp");
        let uploads = internal.join("uploads");
        let versions = internal.join("versions");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| ObjectError::io(&staging, e))?;
        }
        for dir in [&staging, &uploads, &versions] {
            std::fs::create_dir_all(dir).map_err(|e| ObjectError::io(dir, e))?;
        }
        let objects = Self {
            dirs: Arc::new(Dirs {
                lake: lake_dir.to_path_buf(),
                staging,
                uploads,
                versions,
            }),
            conditional: (0..64)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
            settings: Arc::default(),
        };
        objects.sweep_uploads()?;
        Ok(objects)
    }

    /// The key's turn for a conditional write, once `condition` holds for
    /// the object there now, or for any write of a `versioned` bucket (none
    /// otherwise). The caller publishes while holding it, inside its
    /// blocking work, so a request dropped half-way does not let another
    /// conditional write in before the rename.
    pub(crate) async fn hold(
        &self,
        bucket: &str,
        key: &str,
        condition: &WriteCondition,
        versioned: bool,
    ) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>> {
        if condition.is_empty() && !versioned {
            return Ok(None);
        }
        let turn = self.turn(bucket, key).await;
        if condition.is_empty() {
            return Ok(Some(turn));
        }
        let current = match self.open_object(bucket, key).await {
            Ok(opened) => Some(opened.info.meta),
            // A delete marker is no object: If-None-Match holds.
            Err(ObjectError::NoSuchKey(_) | ObjectError::DeleteMarker { .. }) => None,
            Err(e) => return Err(e),
        };
        condition.check(key, current.as_ref())?;
        Ok(Some(turn))
    }

    /// The bucket's versioning state, and the key's turn for
    /// a write into it ([`Self::hold`]).
    pub(crate) async fn write_turn(
        &self,
        bucket: &str,
        key: &str,
        condition: &WriteCondition,
    ) -> Result<(Versioning, Option<tokio::sync::OwnedMutexGuard<()>>)> {
        let mode = self.versioning(bucket)?;
        let turn = self
            .hold(bucket, key, condition, mode != Versioning::Unversioned)
            .await?;
        Ok((mode, turn))
    }

    /// The folder where bodies are staged before they are objects; what
    /// is left there at the next start was never acknowledged.
    pub fn staging_dir(&self) -> &Path {
        &self.dirs.staging
    }

    /// The versions of `key` in the bucket folder `dir`.
    pub(crate) fn versions_of(&self, bucket: &str, dir: &Path, key: &str) -> versions::KeyVersions {
        versions::KeyVersions::new(&self.dirs.versions, bucket, dir, key)
    }

    /// The key's turn, whatever the bucket.
    async fn turn(&self, bucket: &str, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (bucket, key).hash(&mut hasher);
        let lock = &self.conditional[hasher.finish() as usize % self.conditional.len()];
        lock.clone().lock_owned().await
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        self.bucket_stat(bucket).map(|(dir, _)| dir)
    }

    /// A bucket's folder and what `stat` says of it (NoSuchBucket when
    /// there is none).
    fn bucket_stat(&self, bucket: &str) -> Result<(PathBuf, std::fs::Metadata)> {
        let missing = || ObjectError::NoSuchBucket(bucket.to_string());
        validate_bucket(bucket).map_err(|_| missing())?;
        let dir = self.dirs.lake.join(bucket);
        match std::fs::metadata(&dir) {
            Ok(stat) if stat.is_dir() => Ok((dir, stat)),
            _ => Err(missing()),
        }
    }

    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.bucket_dir(bucket).is_ok()
    }

    /// Creates a bucket's folder durably.
    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        validate_bucket(bucket).map_err(|reason| ObjectError::InvalidBucketName {
            name: bucket.to_string(),
            reason,
        })?;
        let dir = self.dirs.lake.join(bucket);
        let lake = self.dirs.lake.clone();
        let name = bucket.to_string();
        blocking(move || match std::fs::create_dir(&dir) {
            Ok(()) => write::sync_dir(&lake),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(ObjectError::BucketAlreadyExists(name))
            }
            Err(e) => Err(ObjectError::io(&dir, e)),
        })
        .await
    }

    /// Deletes an empty bucket (folders left without objects do not count).
    pub async fn delete_bucket(&self, bucket: &str) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let lake = self.dirs.lake.clone();
        let dirs = self.dirs.clone();
        let name = bucket.to_string();
        self.settings.forget(bucket);
        blocking(move || {
            if list::bucket_has_objects(&dir)? || versions::any_kept(&dirs.versions, &name) {
                return Err(ObjectError::BucketNotEmpty(name));
            }
            std::fs::remove_dir_all(&dir).map_err(|e| ObjectError::io(&dir, e))?;
            let kept = versions::bucket_root(&dirs.versions, &name);
            if kept.exists() {
                std::fs::remove_dir_all(&kept).map_err(|e| ObjectError::io(&kept, e))?;
            }
            write::sync_dir(&lake)
        })
        .await
    }

    /// A bucket's setting `name` (its CORS rules, ...), as stored.
    pub async fn bucket_setting(&self, bucket: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let this = self.clone();
        let (bucket, name) = (bucket.to_string(), name.to_string());
        blocking(move || this.bucket_setting_now(&bucket, &name)).await
    }

    /// [`Self::bucket_setting`] on the calling thread: one small attribute
    /// read, for settings every write consults (default encryption).
    /// Served from memory while the bucket's folder is unchanged
    /// ([`settings_cache`]).
    pub fn bucket_setting_now(&self, bucket: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let (dir, stat) = self.bucket_stat(bucket)?;
        let stamp = settings_cache::Stamp::of(&stat);
        let generation = match self.settings.get(bucket, stamp, name) {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let value = xattr::get(&dir, format!("user.nuage.s3.{name}"))
            .map_err(|e| ObjectError::io(&dir, e))?;
        let value = match value {
            Some(value) if value == SETTING_IN_FILE => {
                let file = dir.join(SETTINGS_DIR).join(name);
                Some(std::fs::read(&file).map_err(|e| ObjectError::io(&file, e))?)
            }
            other => other,
        };
        self.settings.put(bucket, stamp, generation, name, &value);
        Ok(value)
    }

    /// A setting kept as JSON, if the bucket has it and it reads as `T`.
    pub fn json_setting<T: serde::de::DeserializeOwned>(
        &self,
        bucket: &str,
        name: &str,
    ) -> Option<T> {
        let stored = self.bucket_setting_now(bucket, name).ok()??;
        serde_json::from_slice(&stored).ok()
    }

    /// Stores (or, with `None`, removes) a bucket's setting durably: on
    /// the bucket folder as an extended attribute, or, past
    /// [`INLINE_SETTING`] bytes (ext4 keeps an attribute within one 4 KB
    /// block), in a file of the bucket's hidden settings folder that the
    /// attribute points to. Either way it goes with the bucket.
    pub async fn set_bucket_setting(
        &self,
        bucket: &str,
        name: &str,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let attribute = format!("user.nuage.s3.{name}");
        let file = dir.join(SETTINGS_DIR).join(name);
        let (settings, bucket) = (self.settings.clone(), bucket.to_string());
        blocking(move || {
            settings.forget(&bucket);
            let io = |path: &Path| {
                let path = path.to_path_buf();
                move |e| ObjectError::io(&path, e)
            };
            let inline = match &value {
                Some(value) if value.len() > INLINE_SETTING => {
                    write::replace_file(&file, value)?;
                    Some(SETTING_IN_FILE.to_vec())
                }
                other => other.clone(),
            };
            match inline {
                Some(inline) => xattr::set(&dir, &attribute, &inline).map_err(io(&dir))?,
                None => match xattr::remove(&dir, &attribute) {
                    Err(e) if e.raw_os_error() == Some(61) => {} // ENODATA: none set
                    other => other.map_err(io(&dir))?,
                },
            }
            if value.as_ref().is_none_or(|v| v.len() <= INLINE_SETTING) {
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    other => other.map_err(io(&file))?,
                }
            }
            let synced = write::sync_dir(&dir);
            // Reads that raced the write may have kept the old value.
            settings.forget(&bucket);
            synced
        })
        .await
    }

    /// Buckets by name, with their creation times.
    pub fn list_buckets(&self) -> Result<Vec<(String, SystemTime)>> {
        let lake = &self.dirs.lake;
        let entries = std::fs::read_dir(lake).map_err(|e| ObjectError::io(lake, e))?;
        let mut buckets: Vec<(String, SystemTime)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stat = e.metadata().ok()?;
                (stat.is_dir() && validate_bucket(&name).is_ok()).then(|| {
                    let created = stat.created().or_else(|_| stat.modified());
                    (name, created.unwrap_or(SystemTime::UNIX_EPOCH))
                })
            })
            .collect();
        buckets.sort();
        Ok(buckets)
    }

    /// Opens an object for reading. With no object, a delete marker as its
    /// latest version is the error.
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<Opened> {
        let dir = self.bucket_dir(bucket)?;
        let key = key.to_string();
        let dirs = self.dirs.clone();
        let bucket = bucket.to_string();
        blocking(move || match open_in(&dir, &key) {
            Err(ObjectError::NoSuchKey(missing)) => {
                let marker = versions::KeyVersions::new(&dirs.versions, &bucket, &dir, &key)
                    .latest_marker()?;
                Err(marker.unwrap_or(ObjectError::NoSuchKey(missing)))
            }
            other => other,
        })
        .await
    }

    /// Opens one version of an object (`None`: the current one).
    pub async fn open_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Opened> {
        let Some(id) = version_id else {
            return self.open_object(bucket, key).await;
        };
        if !versions::valid_id(id) {
            return Err(ObjectError::InvalidVersionId(id.to_string()));
        }
        let dir = self.bucket_dir(bucket)?;
        let (dirs, bucket, key, id) = (
            self.dirs.clone(),
            bucket.to_string(),
            key.to_string(),
            id.to_string(),
        );
        blocking(move || versions::KeyVersions::new(&dirs.versions, &bucket, &dir, &key).open(&id))
            .await
    }

    /// A bucket's versioning state.
    pub fn versioning(&self, bucket: &str) -> Result<Versioning> {
        let stored = self.bucket_setting_now(bucket, versions::SETTING)?;
        Ok(Versioning::parse(stored.as_deref()))
    }

    /// Enables or suspends versioning (a bucket never returns to
    /// unversioned, and one with Object Lock stays Enabled).
    pub async fn set_versioning(&self, bucket: &str, state: Versioning) -> Result<()> {
        let value = state.as_str().map(|s| s.as_bytes().to_vec());
        if value.is_none() {
            return Err(ObjectError::InvalidRequest(
                "a bucket's versioning can be Enabled or Suspended, not turned off".into(),
            ));
        }
        if state == Versioning::Suspended
            && self.bucket_setting(bucket, LOCK_SETTING).await?.is_some()
        {
            return Err(ObjectError::InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.".into(),
            ));
        }
        self.set_bucket_setting(bucket, versions::SETTING, value)
            .await
    }

    /// Deletes an object, or with a version id one version of it, for
    /// good. Deleting what does not exist succeeds, as in S3. In a
    /// versioned bucket, a delete without a version id adds a delete marker
    /// and keeps the object as an older version. Folders a removal leaves
    /// empty go too.
    ///
    /// A version kept by Object Lock (a legal hold, a COMPLIANCE retention,
    /// or a GOVERNANCE one without `bypass_governance`) is refused.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        bypass_governance: bool,
    ) -> Result<Deleted> {
        let dir = self.bucket_dir(bucket)?;
        if let Some(id) = version_id
            && !versions::valid_id(id)
        {
            return Err(ObjectError::InvalidVersionId(id.to_string()));
        }
        match Place::of(key) {
            Ok(_) => {}
            Err(ObjectError::KeyTooLong { .. }) | Err(ObjectError::InvalidKey { .. }) => {
                return Ok(Deleted::default());
            }
            Err(e) => return Err(e),
        }
        let versions = self.versions_of(bucket, &dir, key);
        let mode = self.versioning(bucket)?;
        if mode == Versioning::Unversioned && version_id.is_none_or(|id| id == versions::NULL) {
            let asked = version_id.map(str::to_string);
            return blocking(move || {
                versions::remove_current(&dir, &versions.key)?;
                Ok(Deleted {
                    version_id: asked,
                    ..Deleted::default()
                })
            })
            .await;
        }
        let turn = self.turn(bucket, key).await;
        let staging = self.staging_path();
        let id = version_id.map(str::to_string);
        blocking(move || {
            let _turn = turn;
            match id {
                Some(id) => versions.delete_version(&id, &staging, bypass_governance),
                None => versions.delete_latest(mode),
            }
        })
        .await
    }

    /// Versions and common prefixes of a bucket, in key order and each
    /// key's newest first (S3's ListObjectVersions).
    pub async fn list_versions(&self, bucket: &str, query: VersionQuery) -> Result<VersionListing> {
        let dir = self.bucket_dir(bucket)?;
        let (dirs, bucket) = (self.dirs.clone(), bucket.to_string());
        blocking(move || {
            if versions::state(&dir) == Versioning::Unversioned {
                return unversioned_listing(&dir, &query);
            }
            versions::list_versions(&dirs.versions, &bucket, &dir, &query)
        })
        .await
    }

    /// Replaces an object's tags (the object's bytes and ETag are unchanged).
    pub async fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        self.update_meta(bucket, key, version_id, move |meta| {
            meta.tags = tags;
            Ok(())
        })
        .await
    }

    /// Changes the record of an object (of one version) in place, under
    /// the key's turn; `change` may refuse.
    pub async fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: impl FnOnce(&mut Meta) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let turn = self.turn(bucket, key).await;
        let opened = self.open_version(bucket, key, version_id).await?;
        blocking(move || {
            let _turn = turn;
            let mut meta = opened.info.meta;
            change(&mut meta)?;
            match opened.file {
                Some(file) => {
                    meta::write(&file, &meta)?;
                    file.sync_all()
                        .map_err(|e| ObjectError::io(&opened.location, e))
                }
                None => {
                    meta::write_folder(&opened.location, &meta)?;
                    write::sync_dir(&opened.location)
                }
            }
        })
        .await
    }

    /// Objects and common prefixes of a bucket in key order.
    pub async fn list(&self, bucket: &str, query: ListQuery) -> Result<Listing> {
        let dir = self.bucket_dir(bucket)?;
        blocking(move || list::list(&dir, &query)).await
    }
}

/// The bucket setting that holds its Object Lock configuration (present:
/// Object Lock is enabled).
pub const LOCK_SETTING: &str = "object-lock";

/// An unversioned bucket's listing as versions: each object is its only,
/// null, version.
fn unversioned_listing(dir: &Path, query: &VersionQuery) -> Result<VersionListing> {
    let listing = list::list(
        dir,
        &ListQuery {
            prefix: query.prefix.clone(),
            delimiter: query.delimiter.clone(),
            after: query.key_marker.clone().filter(|m| !m.is_empty()),
            max: query.max,
        },
    )?;
    let entries: Vec<VersionEntry> = listing
        .entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Object(info) => VersionEntry::Version(Box::new(Version {
                info: *info,
                latest: true,
            })),
            Entry::Prefix(prefix) => VersionEntry::Prefix(prefix),
        })
        .collect();
    let last = entries.last().map(|e| match e {
        VersionEntry::Version(v) => (v.info.key.clone(), Some(versions::NULL.to_string())),
        VersionEntry::Prefix(p) => (p.clone(), None),
    });
    Ok(VersionListing {
        entries,
        truncated: listing.truncated,
        next_key_marker: last.as_ref().map(|(k, _)| k.clone()),
        next_version_id_marker: last.and_then(|(_, v)| v),
    })
}

/// Opens `key` inside the bucket folder `dir`: at its path, else hidden.
pub(crate) fn open_in(dir: &Path, key: &str) -> Result<Opened> {
    let missing = || ObjectError::NoSuchKey(key.to_string());
    match Place::of(key) {
        Ok(Place::File(path)) => match open_path(dir, &path, key) {
            Err(ObjectError::NoSuchKey(_)) => open_hidden(dir, key)?.ok_or_else(missing),
            other => other,
        },
        Ok(Place::Hidden(_)) => open_hidden(dir, key)?.ok_or_else(missing),
        Err(ObjectError::InvalidKey { .. }) => Err(missing()),
        Err(e) => Err(e),
    }
}

fn open_path(dir: &Path, path: &KeyPath, key: &str) -> Result<Opened> {
    let full = dir.join(&path.relative);
    let missing = || ObjectError::NoSuchKey(key.to_string());
    if path.is_folder {
        let meta = meta::read_folder(&full)
            .filter(|_| full.is_dir())
            .ok_or_else(missing)?;
        return Ok(Opened {
            info: ObjectInfo {
                key: key.to_string(),
                last_modified: meta.last_modified(),
                meta,
            },
            file: None,
            location: full,
        });
    }
    let Some((info, file)) = open_file(&full, key)? else {
        return Err(missing());
    };
    Ok(Opened {
        info,
        file: Some(file),
        location: full,
    })
}

/// The object kept for `key` in the hidden folder, if any.
fn open_hidden(dir: &Path, key: &str) -> Result<Option<Opened>> {
    let Place::Hidden(relative) = Place::hidden(key) else {
        unreachable!("Place::hidden is hidden")
    };
    let full = dir.join(relative);
    let Some((info, file)) = open_file(&full, key)? else {
        return Ok(None);
    };
    // The file names the key's hash: check it is this key.
    if info.meta.key.as_deref() != Some(key) {
        return Ok(None);
    }
    Ok(Some(Opened {
        info,
        file: Some(file),
        location: full,
    }))
}

/// Opens a regular file as the object `key`; `None` when there is none.
fn open_file(full: &Path, key: &str) -> Result<Option<(ObjectInfo, File)>> {
    let file = match File::open(full) {
        Ok(file) => file,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.kind() == std::io::ErrorKind::NotADirectory =>
        {
            return Ok(None);
        }
        Err(e) => return Err(ObjectError::io(full, e)),
    };
    let stat = file.metadata().map_err(|e| ObjectError::io(full, e))?;
    if !stat.is_file() {
        return Ok(None);
    }
    let meta = meta::read_or_compute(&file, full, &stat)?;
    Ok(Some((
        ObjectInfo {
            key: key.to_string(),
            last_modified: meta.last_modified(),
            meta,
        },
        file,
    )))
}

/// Runs file-system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(ObjectError::Io {
            path: "blocking task".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests;
