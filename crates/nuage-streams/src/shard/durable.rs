//! What a sync makes durable (sealed segments, the open segment, the
//! directory) and the signals a finished sync publishes to waiting puts and
//! readers.

use super::*;

/// A full segment waiting to be made durable.
pub(super) struct Sealed {
    pub(super) file: fs::File,
    pub(super) path: PathBuf,
    pub(super) index: Vec<IndexEntry>,
    pub(super) next_record: u64,
    pub(super) end: u64,
}

impl Sealed {
    pub(super) fn seal(self) -> std::io::Result<()> {
        self.file.sync_data()?;
        self.write_index();
        Ok(())
    }

    /// The index file; a failure only costs a rescan at the next start.
    pub(super) fn write_index(&self) {
        if let Err(e) = write_index(
            &index_path(&self.path),
            &self.index,
            self.next_record,
            self.end,
        ) {
            tracing::warn!(
                "{}: could not write the index ({e}); it will be rebuilt at the next start",
                self.path.display()
            );
        }
    }
}

/// What one sync makes durable: the sealed segments, the open segment up to
/// `target`, and the directory if a segment file was created.
pub(super) struct Pending {
    pub(super) file: fs::File,
    pub(super) target: u64,
    pub(super) sealed: Vec<Sealed>,
    pub(super) dir_dirty: bool,
}

impl Pending {
    /// The fsyncs (blocking); returns the records now durable.
    pub(super) fn make_durable(self, dir: &Path) -> std::io::Result<u64> {
        for segment in self.sealed {
            segment.seal()?;
        }
        self.file.sync_data()?;
        if self.dir_dirty {
            fs::File::open(dir)?.sync_all()?;
        }
        Ok(self.target)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SyncState {
    pub(super) synced: u64,
    pub(super) syncing: bool,
    pub(super) failed: bool,
}

/// Shared with the sync tasks, which outlive the put that started them.
pub(super) struct Signals {
    /// Records below this number are readable; subscribers wake on changes.
    pub(super) visible: watch::Sender<u64>,
    pub(super) sync: watch::Sender<SyncState>,
    pub(super) fsyncs: AtomicU64,
}

impl Signals {
    /// Makes the records below `upto` readable and wakes who waits for them.
    pub(super) fn publish(&self, upto: u64) {
        self.visible.send_if_modified(|v| {
            let newer = upto > *v;
            *v = (*v).max(upto);
            newer
        });
    }

    pub(super) fn mark_synced(&self, upto: u64) {
        self.publish(upto);
        self.sync.send_modify(|s| s.synced = s.synced.max(upto));
    }
}
