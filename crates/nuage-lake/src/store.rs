//! [`Lake`]: turns locations into object stores, and the bucket-level
//! operations behind `nuage lake mb|ls|put|get|rm`.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use nuage_common::{Config, S3Config};

use crate::error::{LakeError, Result};
use crate::location::{Location, validate_bucket};

/// One object (or, with `is_prefix`, a common prefix) in a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub location: Location,
    pub size: u64,
    /// Seconds since the Unix epoch, UTC.
    pub last_modified: Option<i64>,
    pub is_prefix: bool,
}

/// The object stores behind `s3://` and local locations.
#[derive(Debug)]
pub struct Lake {
    lake_dir: PathBuf,
    s3: Option<S3Config>,
    local: Arc<LocalFileSystem>,
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    /// Changes of buckets with notifications, for `nuage serve`.
    journal: Arc<crate::events::Journal>,
}

impl Lake {
    /// A lake over `config`; creates `<data-dir>/lake` when the embedded store is used.
    pub fn new(config: &Config) -> Result<Self> {
        let lake_dir = config.absolute_data_dir().join("lake");
        if config.s3.is_none() {
            std::fs::create_dir_all(&lake_dir).map_err(|source| LakeError::Io {
                path: lake_dir.display().to_string(),
                source,
            })?;
        }
        Ok(Self {
            lake_dir,
            s3: config.s3.clone(),
            local: Arc::new(LocalFileSystem::new().with_automatic_cleanup(true)),
            buckets: Mutex::new(HashMap::new()),
            journal: Arc::new(crate::events::Journal::new(&config.absolute_data_dir())),
        })
    }

    /// True when `s3://` goes to a real S3-compatible service.
    pub fn is_remote(&self) -> bool {
        self.s3.is_some()
    }

    /// `<data-dir>/lake`.
    pub fn lake_dir(&self) -> &FsPath {
        &self.lake_dir
    }

    /// The store that holds the whole local file system (paths are absolute).
    pub fn local_store(&self) -> Arc<dyn ObjectStore> {
        self.local.clone()
    }

    /// The store for one bucket; keys are relative to the bucket root.
    pub fn bucket_store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        validate_bucket(bucket).map_err(|reason| LakeError::invalid(bucket, reason))?;
        let mut buckets = self.buckets.lock().expect("lake store cache poisoned");
        if let Some(store) = buckets.get(bucket) {
            return Ok(store.clone());
        }
        let store: Arc<dyn ObjectStore> = match &self.s3 {
            None => Arc::new(crate::events::JournaledStore::new(
                Arc::new(PrefixStore::new(
                    self.local.clone(),
                    self.bucket_path(bucket),
                )),
                bucket,
                self.bucket_dir(bucket),
                self.journal.clone(),
            )),
            Some(s3) => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(&s3.region);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Arc::new(builder.build()?)
            }
        };
        buckets.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    /// The store and in-store path of a location.
    pub fn store_for(&self, location: &Location) -> Result<(Arc<dyn ObjectStore>, Path)> {
        match location {
            Location::Object { bucket, key } => {
                let path = Path::parse(key.trim_end_matches('/'))
                    .map_err(|e| LakeError::invalid(&location.to_string(), e.to_string()))?;
                Ok((self.bucket_store(bucket)?, path))
            }
            Location::Local(path) => Ok((self.local_store(), local_path(path)?)),
        }
    }

    /// The folder of an embedded bucket.
    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.lake_dir.join(bucket)
    }

    fn bucket_path(&self, bucket: &str) -> Path {
        Path::from_absolute_path(self.bucket_dir(bucket)).expect("lake dir is absolute")
    }

    /// Creates a bucket (a folder in the embedded lake). Creating one that exists is fine.
    pub async fn make_bucket(&self, bucket: &str) -> Result<()> {
        validate_bucket(bucket).map_err(|reason| LakeError::invalid(bucket, reason))?;
        if self.is_remote() {
            // Buckets of a real S3 are made with that service's own tools.
            return Ok(());
        }
        let dir = self.bucket_dir(bucket);
        std::fs::create_dir_all(&dir).map_err(|source| LakeError::Io {
            path: dir.display().to_string(),
            source,
        })
    }

    /// Whether a bucket exists (always true for a remote S3: it answers for itself).
    pub fn bucket_exists(&self, bucket: &str) -> bool {
        self.is_remote() || self.bucket_dir(bucket).is_dir()
    }

    /// Buckets of the embedded lake, sorted.
    pub fn list_buckets(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.lake_dir).map_err(|source| LakeError::Io {
            path: self.lake_dir.display().to_string(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| validate_bucket(name).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn check_bucket(&self, location: &Location) -> Result<()> {
        match location.bucket() {
            Some(bucket) if !self.bucket_exists(bucket) => {
                Err(LakeError::NoSuchBucket(bucket.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Objects under `location`, like `aws s3 ls`: with `recursive` every object,
    /// otherwise the objects and common prefixes one level down.
    pub async fn list(&self, location: &Location, recursive: bool) -> Result<Vec<ObjectInfo>> {
        self.check_bucket(location)?;
        let (store, path) = self.store_for(location)?;
        let prefix = (!path.as_ref().is_empty()).then_some(&path);
        let mut out = Vec::new();
        if prefix.is_some()
            && !location.to_string().ends_with('/')
            && let Ok(meta) = store.head(&path).await
        {
            // The location names one object. (Its reported path is not always
            // relative to the bucket, so use the one asked for.)
            out.push(self.info(
                location,
                &path,
                &path,
                meta.size,
                Some(meta.last_modified.timestamp()),
                false,
            ));
            return Ok(out);
        }
        if recursive {
            let objects: Vec<_> = store
                .list(prefix)
                .try_collect()
                .await
                .or_else(not_found_is_empty)?;
            for meta in objects {
                out.push(self.info(
                    location,
                    &path,
                    &meta.location,
                    meta.size,
                    Some(meta.last_modified.timestamp()),
                    false,
                ));
            }
        } else {
            let listing = match store.list_with_delimiter(prefix).await {
                Ok(listing) => listing,
                Err(object_store::Error::NotFound { .. }) => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            for dir in listing.common_prefixes {
                out.push(self.info(location, &path, &dir, 0, None, true));
            }
            for meta in listing.objects {
                out.push(self.info(
                    location,
                    &path,
                    &meta.location,
                    meta.size,
                    Some(meta.last_modified.timestamp()),
                    false,
                ));
            }
        }
        out.sort_by_key(|o| o.location.to_string());
        Ok(out)
    }

    fn info(
        &self,
        base: &Location,
        base_path: &Path,
        found: &Path,
        size: u64,
        modified: Option<i64>,
        is_prefix: bool,
    ) -> ObjectInfo {
        let relative = found
            .as_ref()
            .strip_prefix(base_path.as_ref())
            .unwrap_or(found.as_ref())
            .trim_start_matches('/');
        let base = match base {
            Location::Object { bucket, key } => Location::Object {
                bucket: bucket.clone(),
                key: key.trim_end_matches('/').to_string(),
            },
            other => other.clone(),
        };
        let location = if relative.is_empty() {
            base
        } else {
            base.join(relative)
        };
        ObjectInfo {
            location,
            size,
            last_modified: modified,
            is_prefix,
        }
    }

    /// Copies a local file, or a folder recursively, to `to`. Returns the objects written.
    /// A destination ending in `/` (or an existing folder) receives the source's file name.
    pub async fn put_local(&self, from: &FsPath, to: &Location) -> Result<Vec<Location>> {
        self.check_bucket(to)?;
        let meta = std::fs::metadata(from).map_err(|source| LakeError::Io {
            path: from.display().to_string(),
            source,
        })?;
        let mut written = Vec::new();
        if meta.is_dir() {
            for file in walk_files(from)? {
                let relative = file.strip_prefix(from).expect("walked below root");
                let target = to.join(&relative.to_string_lossy());
                self.put_file(&file, &target).await?;
                written.push(target);
            }
        } else {
            let target = if to_is_folder(to) {
                to.join(&from.file_name().unwrap_or_default().to_string_lossy())
            } else {
                to.clone()
            };
            self.put_file(from, &target).await?;
            written.push(target);
        }
        Ok(written)
    }

    async fn put_file(&self, from: &FsPath, to: &Location) -> Result<()> {
        let bytes = tokio::fs::read(from)
            .await
            .map_err(|source| LakeError::Io {
                path: from.display().to_string(),
                source,
            })?;
        self.put_bytes(to, bytes.into()).await
    }

    /// Writes one object atomically (readers see the old or the new content).
    pub async fn put_bytes(&self, to: &Location, bytes: bytes::Bytes) -> Result<()> {
        let (store, path) = self.store_for(to)?;
        store.put(&path, PutPayload::from_bytes(bytes)).await?;
        Ok(())
    }

    /// Reads one object whole.
    pub async fn get_bytes(&self, from: &Location) -> Result<bytes::Bytes> {
        Ok(self.get_object(from).await?.bytes().await?)
    }

    /// Reads the first `max` bytes of one object (all of it when smaller),
    /// without reading the rest.
    pub async fn get_head(&self, from: &Location, max: usize) -> Result<bytes::Bytes> {
        let mut stream = self.get_object(from).await?.into_stream();
        let mut out = bytes::BytesMut::new();
        while out.len() < max {
            match stream.try_next().await? {
                Some(chunk) => out.extend_from_slice(&chunk),
                None => break,
            }
        }
        out.truncate(max);
        Ok(out.freeze())
    }

    async fn get_object(&self, from: &Location) -> Result<object_store::GetResult> {
        self.check_bucket(from)?;
        let (store, path) = self.store_for(from)?;
        match store.get(&path).await {
            Ok(result) => Ok(result),
            Err(object_store::Error::NotFound { .. }) => Err(LakeError::NotFound(from.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies an object, or every object under a prefix, to a local file or folder.
    pub async fn get_local(&self, from: &Location, to: &FsPath) -> Result<Vec<PathBuf>> {
        let objects = self.list(from, true).await?;
        let single = objects.len() == 1
            && objects[0].location.name() == from.name()
            && !from.to_string().ends_with('/');
        let mut written = Vec::new();
        if objects.is_empty() {
            return Err(LakeError::NotFound(from.to_string()));
        }
        for object in objects {
            let target = if single {
                if to.is_dir() {
                    to.join(from.name().unwrap_or_default())
                } else {
                    to.to_path_buf()
                }
            } else {
                let relative = object.location.to_string();
                let base = from.to_string();
                let relative = relative
                    .strip_prefix(base.trim_end_matches('/'))
                    .unwrap_or(&relative)
                    .trim_start_matches('/')
                    .to_string();
                to.join(relative)
            };
            let bytes = self.get_bytes(&object.location).await?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|source| LakeError::Io {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
            std::fs::write(&target, &bytes).map_err(|source| LakeError::Io {
                path: target.display().to_string(),
                source,
            })?;
            written.push(target);
        }
        Ok(written)
    }

    /// Deletes one object, or with `recursive` everything under a prefix. Returns what was deleted.
    pub async fn remove(&self, location: &Location, recursive: bool) -> Result<Vec<Location>> {
        self.check_bucket(location)?;
        let (store, path) = self.store_for(location)?;
        if !recursive {
            return match store.delete(&path).await {
                Ok(()) => Ok(vec![location.clone()]),
                Err(object_store::Error::NotFound { .. }) => {
                    Err(LakeError::NotFound(location.to_string()))
                }
                Err(e) => Err(e.into()),
            };
        }
        let objects = self.list(location, true).await?;
        for object in &objects {
            let (_, path) = self.store_for(&object.location)?;
            store.delete(&path).await.or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(e),
            })?;
        }
        Ok(objects.into_iter().map(|o| o.location).collect())
    }
}

fn to_is_folder(to: &Location) -> bool {
    match to {
        Location::Object { key, .. } => key.is_empty() || key.ends_with('/'),
        Location::Local(path) => path.is_dir(),
    }
}

fn not_found_is_empty(
    e: object_store::Error,
) -> Result<Vec<object_store::ObjectMeta>, object_store::Error> {
    match e {
        object_store::Error::NotFound { .. } => Ok(Vec::new()),
        e => Err(e),
    }
}

/// An absolute local path as an object-store path.
fn local_path(path: &FsPath) -> Result<Path> {
    Path::from_absolute_path(path)
        .map_err(|e| LakeError::invalid(&path.display().to_string(), e.to_string()))
}

/// Every regular file below `root`, sorted, skipping hidden files.
fn walk_files(root: &FsPath) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| LakeError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(&Config::default().with_data_dir(dir.path())).unwrap();
        (dir, lake)
    }

    #[tokio::test]
    async fn objects_of_a_bucket_are_files_under_the_lake_dir() {
        let (dir, lake) = lake();
        lake.make_bucket("movies").await.unwrap();
        let loc = Location::parse("s3://movies/raw/ratings.csv").unwrap();
        lake.put_bytes(&loc, bytes::Bytes::from_static(b"1,2,5\n"))
            .await
            .unwrap();
        let file = dir.path().join("lake/movies/raw/ratings.csv");
        assert_eq!(std::fs::read(&file).unwrap(), b"1,2,5\n");
        assert_eq!(lake.get_bytes(&loc).await.unwrap().as_ref(), b"1,2,5\n");
        assert_eq!(lake.list_buckets().unwrap(), vec!["movies".to_string()]);
    }

    #[tokio::test]
    async fn listing_shows_prefixes_then_everything_recursively() {
        let (_dir, lake) = lake();
        lake.make_bucket("b").await.unwrap();
        for key in ["a/1.csv", "a/2.csv", "top.csv"] {
            lake.put_bytes(
                &Location::parse(&format!("s3://b/{key}")).unwrap(),
                bytes::Bytes::from_static(b"x"),
            )
            .await
            .unwrap();
        }
        let root = Location::parse("s3://b/").unwrap();
        let names: Vec<_> = lake
            .list(&root, false)
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.location.to_string(), o.is_prefix))
            .collect();
        assert_eq!(
            names,
            vec![
                ("s3://b/a".to_string(), true),
                ("s3://b/top.csv".to_string(), false)
            ]
        );
        assert_eq!(lake.list(&root, true).await.unwrap().len(), 3);
        let removed = lake
            .remove(&Location::parse("s3://b/a/").unwrap(), true)
            .await
            .unwrap();
        assert_eq!(removed.len(), 2);
        assert_eq!(lake.list(&root, true).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_bucket_is_named_with_the_fix() {
        let (_dir, lake) = lake();
        let err = lake
            .list(&Location::parse("s3://nope/").unwrap(), false)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bucket \"nope\" does not exist; create it with `nuage lake mb s3://nope`"
        );
    }
}
