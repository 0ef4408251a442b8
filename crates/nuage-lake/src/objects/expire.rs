//! Expiring an object for a lifecycle rule, only if it is still the object
//! the rule judged: a write that lands between the listing and the expiry
//! keeps its object.
//!
//! In a versioned bucket every write takes the key's turn, and so does an
//! expiry. In an unversioned one plain writes take no turn (it would cost
//! every PUT); they publish with one rename, taken under the target path's
//! lock ([`path_lock`]), and the expiry checks and removes the file under
//! the same lock.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::objects::keys::Place;
use crate::objects::versions::Versioning;
use crate::objects::{Deleted, Meta, ObjectError, Objects, Result, blocking, open_in, write};

/// Locks taken, by path hash, around a publishing rename and around an
/// expiry's check-and-remove of an unversioned object; held microseconds.
static PATH_LOCKS: [Mutex<()>; 64] = [const { Mutex::new(()) }; 64];

/// The lock of one object path.
pub(crate) fn path_lock(path: &Path) -> MutexGuard<'static, ()> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut hasher);
    let lock = &PATH_LOCKS[hasher.finish() as usize % PATH_LOCKS.len()];
    // A panic while holding it left no state behind to repair.
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether two records are the same version of an object.
fn same(a: &Meta, b: &Meta) -> bool {
    a.etag == b.etag && a.mtime_ns == b.mtime_ns && a.version_id == b.version_id
}

impl Objects {
    /// Expires `key`'s current object if it is still `seen`: removes it in
    /// an unversioned bucket, or puts a delete marker over it in a
    /// versioned one (S3's lifecycle Expiration). `None`: the object
    /// changed or went meanwhile, and nothing was done.
    pub async fn expire_current(
        &self,
        bucket: &str,
        key: &str,
        seen: &Meta,
    ) -> Result<Option<Deleted>> {
        let dir = self.bucket_dir(bucket)?;
        let mode = self.versioning(bucket)?;
        let seen = seen.clone();
        if mode == Versioning::Unversioned {
            let key = key.to_string();
            return blocking(move || expire_unversioned(&dir, &key, &seen)).await;
        }
        let turn = self.turn(bucket, key).await;
        let current = match self.open_object(bucket, key).await {
            Ok(opened) => opened.info.meta,
            Err(ObjectError::NoSuchKey(_) | ObjectError::DeleteMarker { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !same(&current, &seen) {
            return Ok(None);
        }
        let versions = self.versions_of(bucket, &dir, key);
        blocking(move || {
            let _turn = turn;
            versions.delete_latest(mode).map(Some)
        })
        .await
    }
}

fn expire_unversioned(dir: &Path, key: &str, seen: &Meta) -> Result<Option<Deleted>> {
    let found = match open_in(dir, key) {
        Ok(opened) => opened.location,
        Err(ObjectError::NoSuchKey(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let _lock = path_lock(&found);
    let opened = match open_in(dir, key) {
        Ok(opened) => opened,
        Err(ObjectError::NoSuchKey(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if opened.location != found || !same(&opened.info.meta, seen) {
        return Ok(None);
    }
    drop(opened.file);
    match Place::of(key)? {
        Place::File(path) if dir.join(&path.relative) == found => write::delete(dir, &path)?,
        _ => write::delete_hidden(dir, key)?,
    }
    Ok(Some(Deleted::default()))
}
