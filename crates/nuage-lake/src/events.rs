//! The embedded lake's change journal: how a bucket's notification
//! configuration hears about objects that other processes write.
//!
//! `nuage lake put`, `nuage sql` writes (INSERT, CTAS, LOAD, DELETE, ...)
//! and Firehose all write through [`Lake::bucket_store`]; for a bucket that
//! has a notification configuration (the folder's attribute
//! `user.nuage.s3.notification`) that store appends each change to a
//! journal file of its process, `<data-dir>/lake-events/<pid>-<id>.jsonl`,
//! one JSON line per change. The process holds a shared lock on its file
//! while it lives. `nuage serve` tails every file ([`Tail`]), sends the
//! events, keeps how far it has read in `offsets.json`, and deletes a file
//! once it has read all of it and no process holds it.
//!
//! Writes through the S3 API do not come here: that API notifies itself.
//! A journal line is written (not fsynced) after the change succeeded: a
//! `kill -9` of the writer keeps it; a power loss may drop it with the
//! change's own unsynced bytes.
//!
//! [`Lake::bucket_store`]: crate::Lake::bucket_store

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};
use serde::{Deserialize, Serialize};

/// The bucket attribute that holds its notification rules.
pub const NOTIFICATION_ATTRIBUTE: &str = "user.nuage.s3.notification";

/// S3's event names for the changes the journal records.
pub const PUT: &str = "ObjectCreated:Put";
pub const COPY: &str = "ObjectCreated:Copy";
pub const MULTIPART: &str = "ObjectCreated:CompleteMultipartUpload";
pub const DELETE: &str = "ObjectRemoved:Delete";

/// One change of an object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub bucket: String,
    pub key: String,
    /// One of [`PUT`], [`COPY`], [`MULTIPART`], [`DELETE`].
    pub event: String,
}

/// This process's journal file, opened on its first change.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    file: Mutex<Option<File>>,
}

impl Journal {
    pub(crate) fn new(data_dir: &FsPath) -> Journal {
        Journal {
            dir: data_dir.join("lake-events"),
            file: Mutex::new(None),
        }
    }

    fn record(&self, change: Change) {
        let mut line = serde_json::to_vec(&change).expect("a change serializes");
        line.push(b'\n');
        let mut file = self.file.lock().expect("journal poisoned");
        let written = (|| {
            if file.is_none() {
                std::fs::create_dir_all(&self.dir)?;
                let name = format!("{}-{}.jsonl", std::process::id(), uuid::Uuid::new_v4());
                let opened = File::options()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(name))?;
                opened.lock_shared()?;
                *file = Some(opened);
            }
            file.as_mut().expect("opened").write_all(&line)
        })();
        if let Err(e) = written {
            tracing::warn!(
                "lake events: cannot record {} of s3://{}/{} in {}: {e}; its bucket \
                 notification is lost",
                change.event,
                change.bucket,
                change.key,
                self.dir.display()
            );
        }
    }
}

/// A bucket's store that records the changes made through it in the
/// journal, when the bucket has a notification configuration.
#[derive(Debug, Clone)]
pub(crate) struct JournaledStore {
    inner: Arc<dyn ObjectStore>,
    bucket: String,
    bucket_dir: PathBuf,
    journal: Arc<Journal>,
}

impl JournaledStore {
    pub(crate) fn new(
        inner: Arc<dyn ObjectStore>,
        bucket: &str,
        bucket_dir: PathBuf,
        journal: Arc<Journal>,
    ) -> JournaledStore {
        JournaledStore {
            inner,
            bucket: bucket.to_string(),
            bucket_dir,
            journal,
        }
    }

    fn record(&self, key: &Path, event: &str) {
        let key = key.as_ref();
        // nuage's own files (the S3 API's metadata and staging) are not objects.
        if key.split('/').any(|segment| segment.starts_with('.')) {
            return;
        }
        let watched = matches!(
            xattr::get(&self.bucket_dir, NOTIFICATION_ATTRIBUTE),
            Ok(Some(_))
        );
        if watched {
            self.journal.record(Change {
                bucket: self.bucket.clone(),
                key: key.to_string(),
                event: event.to_string(),
            });
        }
    }
}

impl fmt::Display for JournaledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Journaled({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for JournaledStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let put = self.inner.put_opts(location, payload, opts).await?;
        self.record(location, PUT);
        Ok(put)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(JournaledUpload {
            upload,
            location: location.clone(),
            store: self.clone(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let store = self.clone();
        self.inner
            .delete_stream(locations)
            .inspect(move |deleted| {
                if let Ok(path) = deleted {
                    store.record(path, DELETE);
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        self.record(to, COPY);
        Ok(())
    }

    /// A rename is S3's copy and delete.
    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        self.record(to, COPY);
        self.record(from, DELETE);
        Ok(())
    }
}

/// A multipart upload whose completion is recorded.
#[derive(Debug)]
struct JournaledUpload {
    upload: Box<dyn MultipartUpload>,
    location: Path,
    store: JournaledStore,
}

#[async_trait]
impl MultipartUpload for JournaledUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    /// Object stores' buffered writers upload any file over their buffer
    /// this way; to S3's notifications it is one PUT of the file.
    async fn complete(&mut self) -> Result<PutResult> {
        let done = self.upload.complete().await?;
        self.store.record(&self.location, PUT);
        Ok(done)
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}

/// The journal as `nuage serve` reads it: every process's file, from
/// where it had read.
pub struct Tail {
    dir: PathBuf,
    /// Bytes read per file, saved.
    committed: BTreeMap<String, u64>,
    /// Bytes read per file, not saved yet.
    read: BTreeMap<String, u64>,
}

const OFFSETS: &str = "offsets.json";
/// Changes handed out by one [`Tail::read`] at most.
const READ_CHANGES: usize = 10_000;
/// Bytes read from one journal file by one [`Tail::read`] at most (lines
/// are under 2 KB: keys have at most 1024 bytes).
const READ_BYTES: u64 = 4 << 20;

impl Tail {
    pub fn open(data_dir: &FsPath) -> Tail {
        let dir = data_dir.join("lake-events");
        let committed: BTreeMap<String, u64> = std::fs::read(dir.join(OFFSETS))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Tail {
            dir,
            read: committed.clone(),
            committed,
        }
    }

    /// The changes written since the last read (whole lines only).
    pub fn read(&mut self) -> std::io::Result<Vec<Change>> {
        let mut changes = Vec::new();
        for name in self.files()? {
            if changes.len() >= READ_CHANGES {
                break;
            }
            let at = self.read.get(&name).copied().unwrap_or(0);
            let mut file = match File::open(self.dir.join(&name)) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if file.metadata()?.len() <= at {
                continue;
            }
            file.seek(SeekFrom::Start(at))?;
            // A bounded read: a journal grown large (a bulk write into a
            // watched bucket) is read a piece per round, not whole each time.
            let mut bytes = Vec::new();
            file.take(READ_BYTES).read_to_end(&mut bytes)?;
            let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
                continue;
            };
            let mut used = 0;
            for line in bytes[..end].split(|b| *b == b'\n') {
                used += line.len() + 1;
                match serde_json::from_slice::<Change>(line) {
                    Ok(change) => changes.push(change),
                    Err(e) => tracing::warn!("lake events: {name}: a line that is no change ({e})"),
                }
                if changes.len() >= READ_CHANGES {
                    break;
                }
            }
            self.read.insert(name, at + used as u64);
        }
        Ok(changes)
    }

    /// Saves how far the changes handed out were read (they were sent),
    /// and deletes the files read to their end whose process is gone.
    pub fn commit(&mut self) -> std::io::Result<()> {
        let mut finished = Vec::new();
        for name in self.files()? {
            let path = self.dir.join(&name);
            let Ok(mut file) = File::open(&path) else {
                continue;
            };
            let len = file.metadata()?.len();
            let read = self.read.get(&name).copied().unwrap_or(0);
            // Read to its end, or to a torn line a killed writer left (no
            // newline after it; lines are short, so 4 KB tells).
            let whole = read == len || {
                let mut rest = Vec::new();
                file.seek(SeekFrom::Start(read))?;
                (&mut file).take(4096).read_to_end(&mut rest)?;
                !rest.contains(&b'\n')
            };
            if whole && file.try_lock().is_ok() {
                finished.push(name);
            }
        }
        for name in &finished {
            std::fs::remove_file(self.dir.join(name))?;
            self.read.remove(name);
        }
        if self.read != self.committed || !finished.is_empty() {
            let bytes = serde_json::to_vec(&self.read).expect("offsets serialize");
            nuage_common::durable::write_file(&self.dir.join(OFFSETS), &bytes)?;
            self.committed = self.read.clone();
        }
        Ok(())
    }

    /// The journal files, oldest first.
    fn files(&self) -> std::io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".jsonl") {
                let modified = entry.metadata()?.modified()?;
                files.push((modified, name));
            }
        }
        files.sort();
        Ok(files.into_iter().map(|(_, name)| name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::local::LocalFileSystem;

    fn journaled(dir: &FsPath) -> (JournaledStore, Arc<Journal>) {
        let bucket = dir.join("lake/raw");
        std::fs::create_dir_all(&bucket).unwrap();
        let journal = Arc::new(Journal::new(dir));
        let inner = Arc::new(LocalFileSystem::new_with_prefix(&bucket).unwrap());
        (
            JournaledStore::new(inner, "raw", bucket, journal.clone()),
            journal,
        )
    }

    #[tokio::test]
    async fn changes_of_a_watched_bucket_reach_the_tail_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, journal) = journaled(dir.path());
        // Not watched yet: nothing recorded.
        store
            .put(&Path::from("a.csv"), PutPayload::from_static(b"1\n"))
            .await
            .unwrap();
        xattr::set(dir.path().join("lake/raw"), NOTIFICATION_ATTRIBUTE, b"[]").unwrap();
        store
            .put(&Path::from("b.csv"), PutPayload::from_static(b"2\n"))
            .await
            .unwrap();
        store
            .put(&Path::from(".nuage-s3/x"), PutPayload::from_static(b"3\n"))
            .await
            .unwrap();
        store
            .rename(&Path::from("b.csv"), &Path::from("c.csv"))
            .await
            .unwrap();
        store.delete(&Path::from("a.csv")).await.unwrap();
        let mut tail = Tail::open(dir.path());
        let change = |key: &str, event: &str| Change {
            bucket: "raw".into(),
            key: key.into(),
            event: event.into(),
        };
        assert_eq!(
            tail.read().unwrap(),
            [
                change("b.csv", PUT),
                change("c.csv", COPY),
                change("b.csv", DELETE),
                change("a.csv", DELETE),
            ]
        );
        tail.commit().unwrap();
        assert!(tail.read().unwrap().is_empty());
        // The writer lives: its file stays; once it is gone, the file goes.
        assert_eq!(Tail::open(dir.path()).read().unwrap().len(), 0);
        assert_eq!(tail.files().unwrap().len(), 1);
        drop(store);
        drop(journal);
        tail.commit().unwrap();
        assert!(tail.files().unwrap().is_empty());
    }
}
