//! Durable, all-or-nothing writes. A body is staged in `.nuage-s3/tmp`
//! (written in 4 MiB blocks on the blocking pool while the next block
//! arrives and is hashed), its metadata is set on the staged file, the file
//! is fsynced, renamed over the key's path and the folder fsynced: only then
//! does the caller answer. A reader sees the old object or the new one,
//! never a mix; of concurrent writers of one key, one whole version stays.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};

use crate::objects::keys::{KeyPath, Place};
use crate::objects::meta::{self, Meta};
use crate::objects::{ObjectError, ObjectInfo, Objects, Result, blocking};

/// Bytes gathered before a block goes to disk; bodies smaller than this
/// are written, synced and published in one trip to the blocking pool.
const BLOCK: usize = 4 << 20;

/// What a staged body turned out to be.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub size: u64,
    pub md5: [u8; 16],
}

/// A body on its way to disk. Dropped before it is published, its file goes.
pub(crate) struct Staged {
    path: PathBuf,
    file: Option<File>,
    tail: Vec<u8>,
    pub written: Written,
    published: bool,
}

impl Staged {
    /// A file already written in the staging folder (a completed upload).
    pub(crate) fn from_file(path: PathBuf, file: File, size: u64) -> Self {
        Staged {
            path,
            file: Some(file),
            tail: Vec::new(),
            written: Written { size, md5: [0; 16] },
            published: false,
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.published && self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Objects {
    pub(crate) fn staging_path(&self) -> PathBuf {
        self.dirs
            .staging
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Reads a body into a staged file, hashing it on the way.
    pub(crate) async fn stage<S, E>(&self, mut body: S) -> Result<Staged>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut staged = Staged {
            path: self.staging_path(),
            file: None,
            tail: Vec::new(),
            written: Written {
                size: 0,
                md5: [0; 16],
            },
            published: false,
        };
        let mut md5 = Md5::new();
        let mut pending: Option<tokio::task::JoinHandle<std::io::Result<File>>> = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ObjectError::IncompleteBody(e.to_string()))?;
            md5.update(&chunk);
            staged.written.size += chunk.len() as u64;
            staged.tail.extend_from_slice(&chunk);
            if staged.tail.len() < BLOCK {
                continue;
            }
            let file = match pending.take() {
                Some(write) => join(write)
                    .await
                    .map_err(|e| ObjectError::io(&staged.path, e))?,
                None => {
                    let path = staged.path.clone();
                    blocking(move || File::create_new(&path).map_err(|e| ObjectError::io(&path, e)))
                        .await?
                }
            };
            // The file exists from here on: dropping `staged` removes it.
            if staged.file.is_none() {
                staged.file = Some(
                    file.try_clone()
                        .map_err(|e| ObjectError::io(&staged.path, e))?,
                );
            }
            let block = std::mem::replace(&mut staged.tail, Vec::with_capacity(BLOCK));
            let mut file = file;
            pending = Some(tokio::task::spawn_blocking(move || {
                file.write_all(&block)?;
                Ok(file)
            }));
        }
        if let Some(write) = pending {
            join(write)
                .await
                .map_err(|e| ObjectError::io(&staged.path, e))?;
        }
        staged.written.md5 = md5.finalize().into();
        Ok(staged)
    }

    /// Writes a body as `key`, durably. `check` sees the body's size and MD5
    /// before anything is published (Content-MD5, checksums) and may add to
    /// the metadata; an error from it, or from the body, or a `condition`
    /// that does not hold for the object there when the new one would
    /// replace it, leaves the old object as it was.
    pub async fn put<S, E>(
        &self,
        bucket: &str,
        key: &str,
        body: S,
        mut meta: Meta,
        condition: &super::WriteCondition,
        check: impl FnOnce(&Written, &mut Meta) -> Result<()>,
    ) -> Result<ObjectInfo>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let dir = self.bucket_dir(bucket)?;
        let place = Place::of(key)?;
        let staged = self.stage(body).await?;
        check(&staged.written, &mut meta)?;
        meta.etag = meta::hex(&staged.written.md5);
        let (mode, turn) = self.write_turn(bucket, key, condition).await?;
        let versions = self.versions_of(bucket, &dir, key);
        blocking(move || {
            let _turn = turn;
            meta.version_id = versions.make_room(mode)?;
            place_object(&dir, place, &versions.key, staged, meta)
        })
        .await
    }
}

/// Publishes a staged body as `key` in the bucket folder `dir`: at its
/// path, or hidden when the path is taken (`a/b` while `a` is an object,
/// `a` while `a/...` objects exist) or the key is a folder with a body.
pub(crate) fn place_object(
    dir: &Path,
    place: Place,
    key: &str,
    staged: Staged,
    mut meta: Meta,
) -> Result<ObjectInfo> {
    let place = match place {
        Place::File(path) if path.is_folder && staged.written.size > 0 => {
            delete(dir, &path)?;
            Place::hidden(key)
        }
        Place::File(path) if path_taken(dir, &path) => Place::hidden(key),
        other => other,
    };
    let relative = match place {
        Place::File(path) if path.is_folder => {
            let info = publish_folder(dir, &path, key, staged, meta)?;
            delete_hidden(dir, key)?;
            return Ok(info);
        }
        Place::File(path) => path.relative,
        Place::Hidden(relative) => {
            meta.key = Some(key.to_string());
            relative
        }
    };
    let hidden = meta.key.is_some();
    let meta = publish(staged, dir, &relative, meta, key)?;
    if !hidden {
        // An older version kept hidden while the path was taken.
        delete_hidden(dir, key)?;
    }
    Ok(ObjectInfo {
        key: key.to_string(),
        last_modified: meta.last_modified(),
        meta,
    })
}

/// Whether the path of `path` is held by something else: a file where a
/// folder must be, or a folder where the object's file must be.
fn path_taken(dir: &Path, path: &KeyPath) -> bool {
    let parts: Vec<_> = path.relative.components().collect();
    let mut current = dir.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        current.push(part);
        let Ok(stat) = std::fs::metadata(&current) else {
            return false;
        };
        let last = i + 1 == parts.len();
        // A folder is needed everywhere but at the end of an object's path.
        if stat.is_dir() == (last && !path.is_folder) {
            return true;
        }
    }
    false
}

/// Removes the hidden object of `key`, if there is one.
pub(crate) fn delete_hidden(dir: &Path, key: &str) -> Result<()> {
    let Place::Hidden(relative) = Place::hidden(key) else {
        return Ok(());
    };
    let full = dir.join(relative);
    match std::fs::remove_file(&full) {
        Ok(()) => sync_dir(full.parent().unwrap_or(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ObjectError::io(&full, e)),
    }
}

async fn join(write: tokio::task::JoinHandle<std::io::Result<File>>) -> std::io::Result<File> {
    write
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Finishes a staged body and renames it to `relative` inside `base`,
/// creating the folders on the way. Returns the record written on it.
pub(crate) fn publish(
    mut staged: Staged,
    base: &Path,
    relative: &Path,
    mut meta: Meta,
    key: &str,
) -> Result<Meta> {
    let path = staged.path.clone();
    let io = |e| ObjectError::io(&path, e);
    let mut file = match staged.file.take() {
        Some(file) => file,
        None => File::create_new(&path).map_err(io)?,
    };
    // From here the file exists whatever happens; `staged` still owns its removal.
    staged.file = Some(file.try_clone().map_err(io)?);
    file.write_all(&staged.tail).map_err(io)?;
    let stat = file.metadata().map_err(io)?;
    meta.size = stat.len();
    meta.mtime_ns = meta::mtime_ns(&stat);
    meta::write(&file, &meta)?;
    file.sync_all().map_err(io)?;
    let target = base.join(relative);
    // A concurrent delete may remove a folder we just made: make it again.
    let mut attempts = 0;
    loop {
        make_parents(base, relative, key)?;
        // A lifecycle expiry checks and removes under this lock.
        let renamed = {
            let _lock = super::expire::path_lock(&target);
            std::fs::rename(&path, &target)
        };
        match renamed {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(e)
                if e.kind() == std::io::ErrorKind::IsADirectory
                    || e.kind() == std::io::ErrorKind::DirectoryNotEmpty
                    || e.raw_os_error() == Some(21)
                    || e.raw_os_error() == Some(39) =>
            {
                return Err(ObjectError::KeyConflict {
                    key: key.to_string(),
                    reason: "other objects have keys that start with this key and '/', and \
                             nuage keeps objects as files, so this key is a folder; \
                             choose another key"
                        .into(),
                });
            }
            Err(e) => return Err(ObjectError::io(&target, e)),
        }
    }
    staged.published = true;
    sync_dir(target.parent().unwrap_or(base))?;
    Ok(meta)
}

/// A key ending in '/' is its folder, marked as an object.
fn publish_folder(
    dir: &Path,
    path: &KeyPath,
    key: &str,
    staged: Staged,
    mut meta: Meta,
) -> Result<ObjectInfo> {
    if staged.written.size > 0 {
        return Err(ObjectError::InvalidKey {
            key: key.to_string(),
            reason: "a key ending in '/' is a folder in nuage's lake and must have an empty body"
                .into(),
        });
    }
    make_parents(dir, &path.relative.join("x"), key)?;
    let folder = dir.join(&path.relative);
    let stat = std::fs::metadata(&folder).map_err(|e| ObjectError::io(&folder, e))?;
    meta.size = 0;
    meta.mtime_ns = meta::mtime_ns(&stat).max(meta::now_ns());
    meta::write_folder(&folder, &meta)?;
    sync_dir(&folder)?;
    Ok(ObjectInfo {
        key: key.to_string(),
        last_modified: meta.last_modified(),
        meta,
    })
}

/// Creates the folders of `relative`'s parent inside `base`, each one
/// durably (its parent fsynced).
fn make_parents(base: &Path, relative: &Path, key: &str) -> Result<()> {
    let Some(parent) = relative.parent() else {
        return Ok(());
    };
    let mut dir = base.to_path_buf();
    for part in parent.components() {
        let next = dir.join(part);
        match std::fs::create_dir(&next) {
            Ok(()) => sync_dir(&dir)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && next.is_dir() => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    || e.kind() == std::io::ErrorKind::NotADirectory =>
            {
                let taken = next.strip_prefix(base).unwrap_or(&next).display();
                return Err(ObjectError::KeyConflict {
                    key: key.to_string(),
                    reason: format!(
                        "{taken:?} is an object, and nuage keeps objects as files, so it cannot \
                         also be a folder of other objects; choose another key"
                    ),
                });
            }
            Err(e) => return Err(ObjectError::io(&next, e)),
        }
        dir = next;
    }
    Ok(())
}

/// Replaces the small file `path` with `bytes` whole or not at all
/// (written beside it, fsynced, renamed over it, its folder fsynced),
/// creating its folder if needed.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a file has a folder");
    std::fs::create_dir_all(dir).map_err(|e| ObjectError::io(dir, e))?;
    let staged = path.with_extension("staged");
    let written = File::create(&staged).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    written.map_err(|e| ObjectError::io(&staged, e))?;
    std::fs::rename(&staged, path).map_err(|e| ObjectError::io(path, e))?;
    sync_dir(dir)
}

/// Makes a folder's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ObjectError::io(dir, e))
}

/// Removes `path` inside the bucket folder `dir`, then the folders it
/// leaves empty (but not folder objects).
pub(crate) fn delete(dir: &Path, path: &KeyPath) -> Result<()> {
    let full = dir.join(&path.relative);
    if path.is_folder {
        if !full.is_dir() || !meta::remove_folder(&full) {
            return Ok(());
        }
        sync_dir(&full)?;
        if std::fs::remove_dir(&full).is_ok() {
            sync_dir(full.parent().unwrap_or(dir))?;
        }
    } else {
        match std::fs::remove_file(&full) {
            Ok(()) => sync_dir(full.parent().unwrap_or(dir))?,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.kind() == std::io::ErrorKind::NotADirectory
                    || e.kind() == std::io::ErrorKind::IsADirectory
                    || e.raw_os_error() == Some(21) =>
            {
                return Ok(());
            }
            Err(e) => return Err(ObjectError::io(&full, e)),
        }
    }
    let mut folder = full.parent();
    while let Some(current) = folder {
        if current == dir || meta::read_folder(current).is_some() {
            break;
        }
        if std::fs::remove_dir(current).is_err() {
            break;
        }
        sync_dir(current.parent().unwrap_or(dir))?;
        folder = current.parent();
    }
    Ok(())
}
