//! An `ObjectStore` wrapper that counts what is read through it.
//!
//! SQL statements report "Data scanned" the way Athena bills: the bytes fetched
//! from storage, not the bytes of the files that merely exist.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Bytes and files read since the last [`ScanCounter::reset`]; shared by every
/// [`CountingStore`] of one SQL session.
#[derive(Debug, Default, Clone)]
pub struct ScanCounter {
    inner: Arc<CounterInner>,
}

#[derive(Debug, Default)]
struct CounterInner {
    bytes: AtomicU64,
    files: Mutex<HashSet<String>>,
}

impl ScanCounter {
    pub fn reset(&self) {
        self.inner.bytes.store(0, Ordering::Relaxed);
        self.inner
            .files
            .lock()
            .expect("scan counter poisoned")
            .clear();
    }

    /// Bytes fetched from storage.
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Distinct objects that were read from.
    pub fn files(&self) -> u64 {
        self.inner
            .files
            .lock()
            .expect("scan counter poisoned")
            .len() as u64
    }

    fn record(&self, store: &str, path: &Path, bytes: u64) {
        self.inner.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.inner
            .files
            .lock()
            .expect("scan counter poisoned")
            .insert(format!("{store}/{path}"));
    }
}

/// Forwards every call to `inner` and records the bytes of each read in `counter`.
#[derive(Debug)]
pub struct CountingStore {
    name: String,
    inner: Arc<dyn ObjectStore>,
    counter: ScanCounter,
}

impl CountingStore {
    pub fn new(name: impl Into<String>, inner: Arc<dyn ObjectStore>, counter: ScanCounter) -> Self {
        Self {
            name: name.into(),
            inner,
            counter,
        }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            self.counter
                .record(&self.name, location, result.range.end - result.range.start);
        }
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let parts = self.inner.get_ranges(location, ranges).await?;
        let bytes = parts.iter().map(|b| b.len() as u64).sum();
        self.counter.record(&self.name, location, bytes);
        Ok(parts)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
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
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn counts_bytes_and_files_read_not_written() {
        let counter = ScanCounter::default();
        let store = CountingStore::new("mem", Arc::new(InMemory::new()), counter.clone());
        store
            .put(&Path::from("a.csv"), PutPayload::from_static(b"1,2\n3,4\n"))
            .await
            .unwrap();
        store
            .put(&Path::from("b.csv"), PutPayload::from_static(b"5,6\n"))
            .await
            .unwrap();
        assert_eq!(counter.bytes(), 0);

        store
            .get(&Path::from("a.csv"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        store.get_range(&Path::from("b.csv"), 0..2).await.unwrap();
        assert_eq!(counter.bytes(), 8 + 2);
        assert_eq!(counter.files(), 2);

        counter.reset();
        assert_eq!((counter.bytes(), counter.files()), (0, 0));
    }
}
