//! One shard's log: a folder of segment files named by the number of their
//! first record, a sparse in-memory index per segment (record number and
//! arrival time to file offset, one entry per 512 KiB), group commit, and
//! retention by whole segments.
//!
//! Writers append under a short lock; with [`Durability::Fsync`] a put waits
//! in [`ShardLog::commit`] until one fdatasync covers its records — whoever
//! finds no sync running starts the next one, everyone who appended meanwhile
//! rides on it. The sync runs on tokio's blocking pool and publishes its own
//! outcome, so a put whose future is dropped (a client hung up, a timeout
//! fired) never leaves the others waiting. Sealing a full segment (fsync,
//! index file, directory entry) is part of that same sync, never done on an
//! async worker. Readers use positioned reads on their own file handles and
//! only ever see records below the `visible` mark (synced, or flushed with
//! [`Durability::None`]), so they neither block writers nor see records that
//! a crash could take back.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use crate::error::StreamError;
use crate::record::{self, Record};
use crate::segment::{SegmentError, SegmentReader, SegmentWriter};

mod durable;
mod index;
#[cfg(test)]
mod tests;

use durable::{Pending, Sealed, Signals, SyncState};
use index::*;

/// How a put becomes durable before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fdatasync (grouped across concurrent puts) before acknowledging.
    #[default]
    Fsync,
    /// Acknowledge once the operating system has the bytes: survives a crash
    /// of nuage, not of the machine.
    None,
}

#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    pub durability: Durability,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            segment_bytes: 64 * 1024 * 1024,
        }
    }
}

const READ_CHUNK: usize = 1024 * 1024;

type Result<T> = std::result::Result<T, StreamError>;

struct Writer {
    out: SegmentWriter,
    current: Arc<Segment>,
    next_record: u64,
    last_ms: Option<i64>,
    since_index: u64,
    closed: bool,
    /// Full segments whose fsync and index file the next sync writes.
    sealed: Vec<Sealed>,
    /// A segment file was created since the last sync: the directory needs
    /// an fsync too, or a crash could forget the file.
    dir_dirty: bool,
}

impl Writer {
    fn take_pending(&mut self) -> Result<Pending> {
        Ok(Pending {
            file: self.out.sync_handle()?,
            target: self.next_record,
            sealed: std::mem::take(&mut self.sealed),
            dir_dirty: std::mem::take(&mut self.dir_dirty),
        })
    }
}

/// Where a reader is: the next record number, and where that record is on
/// disk if known (`offset` 0 means "look it up").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub record: u64,
    pub segment: u64,
    pub offset: u64,
}

impl Position {
    pub fn at(record: u64) -> Self {
        Self {
            record,
            segment: 0,
            offset: 0,
        }
    }
}

/// What one read returned.
#[derive(Debug)]
pub struct Batch {
    pub records: Vec<Record>,
    pub next: Position,
    pub bytes: usize,
}

/// A record to append: partition key and data.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub partition_key: &'a str,
    pub data: &'a [u8],
}

pub struct ShardLog {
    dir: PathBuf,
    options: LogOptions,
    writer: Mutex<Writer>,
    segments: RwLock<Vec<Arc<Segment>>>,
    /// What a sync running on the blocking pool updates when it is done.
    signals: Arc<Signals>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StreamError + '_ {
    move |source| {
        StreamError::Storage(SegmentError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl ShardLog {
    /// Opens (or creates) the shard in `dir`, recovering its last segment.
    pub fn open(dir: &Path, options: LogOptions) -> Result<Self> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut firsts: Vec<u64> = fs::read_dir(dir)
            .map_err(io_error(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        firsts.sort_unstable();
        if firsts.is_empty() {
            firsts.push(0);
        }
        let last = *firsts.last().expect("one segment");
        let mut segments = Vec::new();
        let mut next_record = firsts[0];
        let mut last_ms = None;
        for &first in &firsts[..firsts.len() - 1] {
            let path = segment_path(dir, first);
            let reader = SegmentReader::open(&path)?;
            let (index, next) = match read_index(&index_path(&path), reader.size()?) {
                Some(found) => found,
                None => {
                    let (index, next, _, end) = scan_segment(&reader, first)?;
                    let _ = write_index(&index_path(&path), &index, next, end);
                    (index, next)
                }
            };
            if first != next_record && !segments.is_empty() {
                return Err(corrupt(
                    &path,
                    0,
                    &format!(
                        "segment starts at record {first} but the one before it ends at {next_record}"
                    ),
                ));
            }
            next_record = next;
            segments.push(Arc::new(Segment {
                first_record: first,
                reader,
                index: RwLock::new(index),
            }));
        }
        let path = segment_path(dir, last);
        let (out, recovery) = SegmentWriter::open(&path)?;
        if recovery.truncated_bytes > 0 {
            tracing::warn!(
                "{}: cut a torn tail of {} bytes (a write the crash interrupted; it was never acknowledged)",
                path.display(),
                recovery.truncated_bytes
            );
        }
        let reader = SegmentReader::open(&path)?;
        let (index, next, ms, _) = scan_segment(&reader, last)?;
        if !segments.is_empty() && last != next_record {
            return Err(corrupt(
                &path,
                0,
                &format!(
                    "segment starts at record {last} but the one before it ends at {next_record}"
                ),
            ));
        }
        next_record = next;
        if ms.is_some() {
            last_ms = ms;
        } else if let Some(previous) = segments.last() {
            last_ms = previous
                .index
                .read()
                .expect("index lock")
                .last()
                .map(|e| e.ms);
        }
        let current = Arc::new(Segment {
            first_record: last,
            reader,
            index: RwLock::new(index),
        });
        segments.push(current.clone());
        // What recovery found is on disk now, whatever the last run's mode was.
        let mut out = out;
        out.sync_handle()?.sync_all().map_err(io_error(&path))?;
        let (sync, _) = watch::channel(SyncState {
            synced: next_record,
            ..SyncState::default()
        });
        Ok(Self {
            dir: dir.to_path_buf(),
            options,
            writer: Mutex::new(Writer {
                out,
                current,
                next_record,
                last_ms,
                since_index: if next_record == last { INDEX_EVERY } else { 0 },
                closed: false,
                sealed: Vec::new(),
                dir_dirty: false,
            }),
            segments: RwLock::new(segments),
            signals: Arc::new(Signals {
                visible: watch::channel(next_record).0,
                sync,
                fsyncs: AtomicU64::new(0),
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The number the next record will get; every record below it is readable.
    pub fn end(&self) -> u64 {
        *self.signals.visible.borrow()
    }

    /// How many fsync rounds this log has run (each covers every put that
    /// was waiting when it started).
    pub fn fsyncs(&self) -> u64 {
        self.signals.fsyncs.load(Ordering::Relaxed)
    }

    /// The oldest record still kept.
    pub fn trim_horizon(&self) -> u64 {
        self.segments.read().expect("segments lock")[0].first_record
    }

    /// When the newest record arrived.
    pub fn last_arrival_ms(&self) -> Option<i64> {
        self.writer.lock().expect("writer lock").last_ms
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        let segments = self.segments.read().expect("segments lock");
        segments.iter().map(|s| s.reader.size().unwrap_or(0)).sum()
    }

    /// Appends records in order; returns the number of the first one and
    /// their arrival time. They are readable once [`ShardLog::commit`]
    /// returns (at once with [`Durability::None`]).
    pub fn append(&self, entries: &[Entry<'_>], now_ms: i64) -> Result<(u64, i64)> {
        let mut w = self.writer.lock().expect("writer lock");
        if w.closed {
            return Err(StreamError::ShardClosed);
        }
        if self.signals.sync.borrow().failed {
            return Err(StreamError::SyncFailed);
        }
        if w.out.len() >= self.options.segment_bytes {
            self.roll(&mut w)?;
        }
        let ms = w.last_ms.map_or(now_ms, |last| last.max(now_ms));
        let first = w.next_record;
        for entry in entries {
            let number = w.next_record;
            let header = record::header(number, ms, entry.partition_key.len());
            let offset =
                w.out
                    .append_parts(&[&header, entry.partition_key.as_bytes(), entry.data])?;
            let size = (record::HEADER + entry.partition_key.len() + entry.data.len()) as u64;
            if w.since_index >= INDEX_EVERY {
                w.current
                    .index
                    .write()
                    .expect("index lock")
                    .push(IndexEntry {
                        record: number,
                        offset,
                        ms,
                    });
                w.since_index = 0;
            }
            w.since_index += size + 8;
            w.next_record += 1;
        }
        w.last_ms = Some(ms);
        if self.options.durability == Durability::None {
            w.out.flush()?;
            self.signals.publish(w.next_record);
        }
        Ok((first, ms))
    }

    /// Starts the next segment. The full one is handed to the next sync
    /// (fsync, then its index file); with [`Durability::None`] its index is
    /// written now, with no fsync, as for every other write in that mode.
    fn roll(&self, w: &mut Writer) -> Result<()> {
        let path = segment_path(&self.dir, w.current.first_record);
        let sealed = Sealed {
            file: w.out.sync_handle()?,
            path,
            index: w.current.index.read().expect("index lock").clone(),
            next_record: w.next_record,
            end: w.out.len(),
        };
        let next_path = segment_path(&self.dir, w.next_record);
        let (out, _) = SegmentWriter::open(&next_path)?;
        let current = Arc::new(Segment {
            first_record: w.next_record,
            reader: SegmentReader::open(&next_path)?,
            index: RwLock::new(Vec::new()),
        });
        self.segments
            .write()
            .expect("segments lock")
            .push(current.clone());
        w.out = out;
        w.current = current;
        w.since_index = INDEX_EVERY;
        match self.options.durability {
            Durability::Fsync => {
                w.sealed.push(sealed);
                w.dir_dirty = true;
            }
            Durability::None => sealed.write_index(),
        }
        Ok(())
    }

    /// Resolves once the record at `position` is readable, or something
    /// else changed (the shard closed); callers read again either way.
    pub async fn readable(&self, position: u64) {
        let mut rx = self.signals.visible.subscribe();
        if *rx.borrow_and_update() > position {
            return;
        }
        let _ = rx.changed().await;
    }

    /// Waits until every record below `upto` is durable (and readable).
    ///
    /// Cancel-safe: the sync runs as a blocking-pool task that publishes its
    /// own outcome, so dropping this future (a client that hung up) never
    /// stalls the puts waiting on the same sync.
    pub async fn commit(&self, upto: u64) -> Result<()> {
        if self.options.durability == Durability::None {
            return Ok(());
        }
        let sync = &self.signals.sync;
        let mut rx = sync.subscribe();
        loop {
            let mut lead = false;
            let mut state = SyncState::default();
            sync.send_if_modified(|s| {
                state = *s;
                if s.synced < upto && !s.syncing && !s.failed {
                    s.syncing = true;
                    lead = true;
                    return true;
                }
                false
            });
            if state.synced >= upto {
                return Ok(());
            }
            if state.failed {
                return Err(StreamError::SyncFailed);
            }
            if lead {
                self.start_sync();
            }
            let _ = rx
                .wait_for(|s| s.synced >= upto || s.failed || !s.syncing)
                .await;
        }
    }

    /// Takes what the sync must cover under the writer lock, then runs the
    /// fsyncs on the blocking pool; the task itself marks the records synced
    /// (or the shard failed) and ends the `syncing` state.
    fn start_sync(&self) {
        let signals = self.signals.clone();
        let pending = self.writer.lock().expect("writer lock").take_pending();
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let result = pending
                .map_err(std::io::Error::other)
                .and_then(|p| p.make_durable(&dir));
            signals.fsyncs.fetch_add(1, Ordering::Relaxed);
            match result {
                Ok(target) => {
                    signals.publish(target);
                    signals.sync.send_modify(|s| {
                        s.syncing = false;
                        s.synced = s.synced.max(target);
                    });
                }
                Err(e) => {
                    tracing::error!(
                        "{}: fsync failed: {e}; the shard refuses writes until nuage restarts",
                        dir.display()
                    );
                    signals.sync.send_modify(|s| {
                        s.syncing = false;
                        s.failed = true;
                    });
                }
            }
        });
    }

    /// Closes the shard for writing (resharding); returns its record count.
    pub fn close(&self) -> Result<u64> {
        let mut w = self.writer.lock().expect("writer lock");
        if !w.closed {
            w.take_pending()?
                .make_durable(&self.dir)
                .map_err(io_error(&self.dir))?;
            w.closed = true;
        }
        let end = w.next_record;
        drop(w);
        self.signals.mark_synced(end);
        self.signals.visible.send_modify(|_| {});
        Ok(end)
    }

    /// Marks a shard closed at open time (it was closed before a restart).
    pub fn set_closed(&self) {
        self.writer.lock().expect("writer lock").closed = true;
    }

    /// The position of the first record that arrived at or after `ms`, or
    /// the end if none did.
    pub fn position_at_time(&self, ms: i64) -> Result<Position> {
        let end = self.end();
        let segments: Vec<Arc<Segment>> = self.segments.read().expect("segments lock").clone();
        let after = segments.partition_point(|s| s.first_ms().is_some_and(|first| first < ms));
        let start = after.saturating_sub(1);
        for segment in &segments[start..] {
            let mut offset = segment.entry_before_time(ms);
            loop {
                let chunk = segment.reader.read_frames(offset, READ_CHUNK)?;
                if chunk.frames.is_empty() {
                    break;
                }
                for (at, range) in &chunk.frames {
                    let payload = chunk.bytes.slice(range.clone());
                    let record = record::decode(&payload).ok_or_else(|| {
                        corrupt(segment.reader.path(), *at, "not a stream record")
                    })?;
                    if record.number >= end {
                        return Ok(Position::at(end));
                    }
                    if record.arrival_ms >= ms {
                        return Ok(Position {
                            record: record.number,
                            segment: segment.first_record,
                            offset: *at,
                        });
                    }
                }
                offset = chunk.end;
            }
        }
        Ok(Position::at(end))
    }

    /// Up to `limit` records and about `max_bytes` of data from `from` (at
    /// least one record if there is one). A position older than the trim
    /// horizon reads from the trim horizon.
    pub fn read(&self, from: Position, limit: usize, max_bytes: usize) -> Result<Batch> {
        let end = self.end();
        let segments: Vec<Arc<Segment>> = self.segments.read().expect("segments lock").clone();
        let horizon = segments[0].first_record;
        let mut want = from.record.max(horizon);
        let mut batch = Batch {
            records: Vec::new(),
            next: Position {
                record: want,
                ..from
            },
            bytes: 0,
        };
        if want >= end || limit == 0 {
            return Ok(batch);
        }
        // Where to start: the hint if it is still there, else the index.
        let hinted = (from.offset != 0 && from.record >= horizon)
            .then(|| segments.iter().position(|s| s.first_record == from.segment))
            .flatten();
        let (mut si, mut offset) = match hinted {
            Some(si) => (si, from.offset),
            None => {
                let si = segments.partition_point(|s| s.first_record <= want) - 1;
                (si, segments[si].offset_before(want))
            }
        };
        let chunk_size = READ_CHUNK.min((limit * 512).max(64 * 1024));
        'segments: loop {
            let segment = &segments[si];
            loop {
                let chunk = segment.reader.read_frames(offset, chunk_size)?;
                if chunk.frames.is_empty() {
                    if si + 1 < segments.len() {
                        si += 1;
                        offset = SegmentReader::first_offset();
                        continue 'segments;
                    }
                    break 'segments;
                }
                for (at, range) in &chunk.frames {
                    let number = record::number_of(&chunk.bytes[range.clone()]).unwrap_or(u64::MAX);
                    if number < want {
                        continue;
                    }
                    if number >= end {
                        break 'segments;
                    }
                    if number != want {
                        if hinted.is_some() && batch.records.is_empty() {
                            // A stale hint: look the record up instead.
                            return self.read(Position::at(from.record), limit, max_bytes);
                        }
                        return Err(corrupt(
                            segment.reader.path(),
                            *at,
                            &format!("record {number} where {want} was expected"),
                        ));
                    }
                    let record =
                        record::decode(&chunk.bytes.slice(range.clone())).ok_or_else(|| {
                            corrupt(segment.reader.path(), *at, "not a stream record")
                        })?;
                    batch.bytes += record.data.len() + record.partition_key.len();
                    batch.records.push(record);
                    want += 1;
                    batch.next = Position {
                        record: want,
                        segment: segment.first_record,
                        offset: at + 8 + range.len() as u64,
                    };
                    if batch.records.len() >= limit || batch.bytes >= max_bytes || want >= end {
                        break 'segments;
                    }
                }
                offset = chunk.end;
            }
        }
        Ok(batch)
    }

    /// Deletes whole segments all of whose records arrived before
    /// `cutoff_ms`; the segment being written is always kept.
    pub fn trim(&self, cutoff_ms: i64) -> Result<usize> {
        self.trim_while(|next| next.first_ms().is_some_and(|ms| ms <= cutoff_ms))
    }

    /// Deletes whole segments all of whose records are below `record` (a
    /// consumer has them elsewhere now); the segment being written is kept.
    pub fn trim_below(&self, record: u64) -> Result<usize> {
        self.trim_while(|next| next.first_record <= record)
    }

    /// Drops the oldest segment while `next_done(segment after it)` says
    /// the oldest is no longer needed.
    fn trim_while(&self, next_done: impl Fn(&Segment) -> bool) -> Result<usize> {
        let mut segments = self.segments.write().expect("segments lock");
        let mut removed = 0;
        while segments.len() > 1 && next_done(&segments[1]) {
            let old = segments.remove(0);
            let path = old.reader.path().to_path_buf();
            fs::remove_file(&path).map_err(io_error(&path))?;
            let _ = fs::remove_file(index_path(&path));
            removed += 1;
        }
        Ok(removed)
    }
}
