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
pub mod keys;
mod list;
pub mod meta;
mod multipart;
mod write;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use error::ObjectError;
pub use keys::{KeyPath, Place};
pub use list::{Entry, ListQuery, Listing};
pub use meta::Meta;

pub use multipart::{Part, Upload};
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

#[derive(Debug)]
struct Dirs {
    lake: PathBuf,
    staging: PathBuf,
    uploads: PathBuf,
}

impl Objects {
    /// Opens the lake at `lake_dir`, emptying the staging folder: what is
    /// there was never acknowledged.
    pub fn open(lake_dir: &Path) -> Result<Self> {
        let internal = lake_dir.join(keys::RESERVED_PREFIX);
        let staging = internal.join("tmp");
        let uploads = internal.join("uploads");
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| ObjectError::io(&staging, e))?;
        }
        for dir in [&staging, &uploads] {
            std::fs::create_dir_all(dir).map_err(|e| ObjectError::io(dir, e))?;
        }
        let objects = Self {
            dirs: Arc::new(Dirs {
                lake: lake_dir.to_path_buf(),
                staging,
                uploads,
            }),
            conditional: (0..64)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
        };
        objects.sweep_uploads()?;
        Ok(objects)
    }

    /// The key's turn for a conditional write, once `condition` holds for
    /// the object there now (none without a condition). The caller
    /// publishes while holding it, inside its blocking work, so a request
    /// dropped half-way does not let another conditional write in before
    /// the rename.
    pub(crate) async fn hold(
        &self,
        bucket: &str,
        key: &str,
        condition: &WriteCondition,
    ) -> Result<Option<tokio::sync::OwnedMutexGuard<()>>> {
        if condition.is_empty() {
            return Ok(None);
        }
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (bucket, key).hash(&mut hasher);
        let lock = &self.conditional[hasher.finish() as usize % self.conditional.len()];
        let turn = lock.clone().lock_owned().await;
        let current = match self.open_object(bucket, key).await {
            Ok(opened) => Some(opened.info.meta),
            Err(ObjectError::NoSuchKey(_)) => None,
            Err(e) => return Err(e),
        };
        condition.check(key, current.as_ref())?;
        Ok(Some(turn))
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        let dir = self.dirs.lake.join(bucket);
        if validate_bucket(bucket).is_err() || !dir.is_dir() {
            return Err(ObjectError::NoSuchBucket(bucket.to_string()));
        }
        Ok(dir)
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
        let name = bucket.to_string();
        blocking(move || {
            if list::bucket_has_objects(&dir)? {
                return Err(ObjectError::BucketNotEmpty(name));
            }
            std::fs::remove_dir_all(&dir).map_err(|e| ObjectError::io(&dir, e))?;
            write::sync_dir(&lake)
        })
        .await
    }

    /// A bucket's setting `name` (its CORS rules, ...), as stored.
    pub async fn bucket_setting(&self, bucket: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let dir = self.bucket_dir(bucket)?;
        let attribute = format!("user.nuage.s3.{name}");
        blocking(move || match xattr::get(&dir, &attribute) {
            Ok(value) => Ok(value),
            Err(e) => Err(ObjectError::io(&dir, e)),
        })
        .await
    }

    /// Stores (or, with `None`, removes) a bucket's setting durably.
    pub async fn set_bucket_setting(
        &self,
        bucket: &str,
        name: &str,
        value: Option<Vec<u8>>,
    ) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let attribute = format!("user.nuage.s3.{name}");
        blocking(move || {
            let done = match &value {
                Some(value) => xattr::set(&dir, &attribute, value),
                None => match xattr::remove(&dir, &attribute) {
                    Err(e) if e.raw_os_error() == Some(61) => Ok(()), // ENODATA: none set
                    other => other,
                },
            };
            done.map_err(|e| ObjectError::io(&dir, e))?;
            write::sync_dir(&dir)
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

    /// Opens an object for reading.
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<Opened> {
        let dir = self.bucket_dir(bucket)?;
        let key = key.to_string();
        blocking(move || open_in(&dir, &key)).await
    }

    /// Deletes an object; deleting one that does not exist succeeds, as in S3.
    /// Folders it leaves empty go too.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let place = match Place::of(key) {
            Ok(place) => place,
            Err(ObjectError::KeyTooLong { .. }) | Err(ObjectError::InvalidKey { .. }) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let key = key.to_string();
        blocking(move || {
            if let Place::File(path) = &place {
                write::delete(&dir, path)?;
            }
            // A key whose path was taken when it was written lives hidden.
            write::delete_hidden(&dir, &key)
        })
        .await
    }

    /// Replaces an object's tags (the object's bytes and ETag are unchanged).
    pub async fn set_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        self.update_meta(bucket, key, move |meta| meta.tags = tags)
            .await
    }

    /// Changes an object's record in place.
    async fn update_meta(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut Meta) + Send + 'static,
    ) -> Result<()> {
        let dir = self.bucket_dir(bucket)?;
        let key = key.to_string();
        blocking(move || {
            let opened = open_in(&dir, &key)?;
            let mut meta = opened.info.meta;
            change(&mut meta);
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

/// Opens `key` inside the bucket folder `dir`: at its path, else hidden.
fn open_in(dir: &Path, key: &str) -> Result<Opened> {
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
