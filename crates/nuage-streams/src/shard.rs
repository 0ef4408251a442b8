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

const INDEX_EVERY: u64 = 512 * 1024;
const READ_CHUNK: usize = 1024 * 1024;
const INDEX_MAGIC: &[u8; 8] = b"NUAGIDX1";

type Result<T> = std::result::Result<T, StreamError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    record: u64,
    offset: u64,
    ms: i64,
}

struct Segment {
    first_record: u64,
    reader: SegmentReader,
    index: RwLock<Vec<IndexEntry>>,
}

impl Segment {
    fn first_ms(&self) -> Option<i64> {
        self.index.read().expect("index lock").first().map(|e| e.ms)
    }

    /// The offset of the indexed record at or before `record` (the segment
    /// start if none).
    fn offset_before(&self, record: u64) -> u64 {
        let index = self.index.read().expect("index lock");
        let i = index.partition_point(|e| e.record <= record);
        match i.checked_sub(1) {
            Some(i) => index[i].offset,
            None => SegmentReader::first_offset(),
        }
    }

    /// The indexed place of the last record that arrived before `ms`.
    fn entry_before_time(&self, ms: i64) -> u64 {
        let index = self.index.read().expect("index lock");
        let i = index.partition_point(|e| e.ms < ms);
        match i.checked_sub(1) {
            Some(i) => index[i].offset,
            None => SegmentReader::first_offset(),
        }
    }
}

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

/// A full segment waiting to be made durable.
struct Sealed {
    file: fs::File,
    path: PathBuf,
    index: Vec<IndexEntry>,
    next_record: u64,
    end: u64,
}

impl Sealed {
    fn seal(self) -> std::io::Result<()> {
        self.file.sync_data()?;
        self.write_index();
        Ok(())
    }

    /// The index file; a failure only costs a rescan at the next start.
    fn write_index(&self) {
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
struct Pending {
    file: fs::File,
    target: u64,
    sealed: Vec<Sealed>,
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

impl Pending {
    /// The fsyncs (blocking); returns the records now durable.
    fn make_durable(self, dir: &Path) -> std::io::Result<u64> {
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
struct SyncState {
    synced: u64,
    syncing: bool,
    failed: bool,
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

/// Shared with the sync tasks, which outlive the put that started them.
struct Signals {
    /// Records below this number are readable; subscribers wake on changes.
    visible: watch::Sender<u64>,
    sync: watch::Sender<SyncState>,
    fsyncs: AtomicU64,
}

impl Signals {
    /// Makes the records below `upto` readable and wakes who waits for them.
    fn publish(&self, upto: u64) {
        self.visible.send_if_modified(|v| {
            let newer = upto > *v;
            *v = (*v).max(upto);
            newer
        });
    }

    fn mark_synced(&self, upto: u64) {
        self.publish(upto);
        self.sync.send_modify(|s| s.synced = s.synced.max(upto));
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> StreamError + '_ {
    move |source| {
        StreamError::Storage(SegmentError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn segment_path(dir: &Path, first_record: u64) -> PathBuf {
    dir.join(format!("{first_record:020}.seg"))
}

fn index_path(segment: &Path) -> PathBuf {
    segment.with_extension("idx")
}

fn corrupt(path: &Path, offset: u64, reason: &str) -> StreamError {
    StreamError::Storage(SegmentError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.to_string(),
    })
}

/// Reads a whole segment: its index, the number after its last record, the
/// arrival time of its last record, and the offset after it.
fn scan_segment(
    reader: &SegmentReader,
    first_record: u64,
) -> Result<(Vec<IndexEntry>, u64, Option<i64>, u64)> {
    let mut index = Vec::new();
    let mut next = first_record;
    let mut last_ms = None;
    let mut offset = SegmentReader::first_offset();
    let mut since_index = INDEX_EVERY;
    loop {
        let chunk = reader.read_frames(offset, 4 * READ_CHUNK)?;
        if chunk.frames.is_empty() {
            return Ok((index, next, last_ms, offset));
        }
        for (at, range) in &chunk.frames {
            let record = record::decode(&chunk.bytes.slice(range.clone()))
                .ok_or_else(|| corrupt(reader.path(), *at, "not a stream record"))?;
            if record.number != next {
                return Err(corrupt(
                    reader.path(),
                    *at,
                    &format!("record {} where {next} was expected", record.number),
                ));
            }
            if since_index >= INDEX_EVERY {
                index.push(IndexEntry {
                    record: next,
                    offset: *at,
                    ms: record.arrival_ms,
                });
                since_index = 0;
            }
            since_index += range.len() as u64 + 8;
            next += 1;
            last_ms = Some(record.arrival_ms);
        }
        offset = chunk.end;
    }
}

fn write_index(path: &Path, entries: &[IndexEntry], next: u64, end: u64) -> std::io::Result<()> {
    let mut bytes = INDEX_MAGIC.to_vec();
    bytes.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        bytes.extend_from_slice(&e.record.to_le_bytes());
        bytes.extend_from_slice(&e.offset.to_le_bytes());
        bytes.extend_from_slice(&e.ms.to_le_bytes());
    }
    bytes.extend_from_slice(&next.to_le_bytes());
    bytes.extend_from_slice(&end.to_le_bytes());
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &bytes) as u32;
    bytes.extend_from_slice(&crc.to_le_bytes());
    let tmp = path.with_extension("idx.tmp");
    fs::File::create(&tmp)?.write_all(&bytes)?;
    fs::rename(tmp, path)
}

/// A sealed segment's index file, if present, intact and matching the
/// segment's size: (entries, next record, last arrival ms).
fn read_index(path: &Path, segment_size: u64) -> Option<(Vec<IndexEntry>, u64)> {
    let bytes = fs::read(path).ok()?;
    let body = bytes.get(..bytes.len().checked_sub(4)?)?;
    let crc = u32::from_le_bytes(bytes[body.len()..].try_into().ok()?);
    if &body[..8] != INDEX_MAGIC
        || crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, body) as u32 != crc
    {
        return None;
    }
    let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let count = u64_at(8) as usize;
    if body.len() != 16 + count * 24 + 16 {
        return None;
    }
    let entries = (0..count)
        .map(|i| {
            let at = 16 + i * 24;
            IndexEntry {
                record: u64_at(at),
                offset: u64_at(at + 8),
                ms: u64_at(at + 16) as i64,
            }
        })
        .collect();
    let next = u64_at(16 + count * 24);
    let end = u64_at(16 + count * 24 + 8);
    (end == segment_size).then_some((entries, next))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|i| (format!("key-{i}"), vec![b'a' + (i % 26) as u8; size]))
            .collect()
    }

    fn append_all(log: &ShardLog, records: &[(String, Vec<u8>)], ms: i64) -> u64 {
        let batch: Vec<Entry<'_>> = records
            .iter()
            .map(|(k, d)| Entry {
                partition_key: k,
                data: d,
            })
            .collect();
        log.append(&batch, ms).unwrap().0
    }

    fn read_all(log: &ShardLog, from: u64) -> Vec<Record> {
        let mut out = Vec::new();
        let mut pos = Position::at(from);
        loop {
            let batch = log.read(pos, 1000, 1 << 20).unwrap();
            if batch.records.is_empty() {
                return out;
            }
            pos = batch.next;
            out.extend(batch.records);
        }
    }

    #[tokio::test]
    async fn appends_read_back_across_segments_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes: 100_000,
            ..LogOptions::default()
        };
        let log = ShardLog::open(dir.path(), options).unwrap();
        let records = entries(5000, 100);
        for (i, part) in records.chunks(500).enumerate() {
            let first = append_all(&log, part, 1000 + i as i64);
            assert_eq!(first, i as u64 * 500);
            log.commit(first + part.len() as u64).await.unwrap();
        }
        assert_eq!(log.end(), 5000);
        let segments = log.segments.read().unwrap().len();
        assert!(segments >= 5, "{segments} segments");
        let back = read_all(&log, 0);
        assert_eq!(back.len(), 5000);
        assert!(back.iter().enumerate().all(|(i, r)| r.number == i as u64
            && r.partition_key == records[i].0
            && r.data[..] == records[i].1[..]));
        // From the middle, by record number and by time.
        assert_eq!(read_all(&log, 4321)[0].number, 4321);
        assert_eq!(log.position_at_time(1005).unwrap().record, 2500);
        assert_eq!(log.position_at_time(99_999).unwrap().record, 5000);
        drop(log);

        let log = ShardLog::open(dir.path(), options).unwrap();
        assert_eq!(log.end(), 5000);
        assert_eq!(read_all(&log, 0).len(), 5000);
        let first = append_all(&log, &entries(1, 10), 2000);
        assert_eq!(first, 5000);
    }

    #[tokio::test]
    async fn uncommitted_records_are_invisible_and_retention_drops_whole_segments() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes: 50_000,
            ..LogOptions::default()
        };
        let log = ShardLog::open(dir.path(), options).unwrap();
        let first = append_all(&log, &entries(10, 100), 10);
        assert_eq!(read_all(&log, 0).len(), 0, "not synced yet");
        log.commit(first + 10).await.unwrap();
        assert_eq!(read_all(&log, 0).len(), 10);
        for ms in 11..20 {
            let first = append_all(&log, &entries(500, 100), ms);
            log.commit(first + 500).await.unwrap();
        }
        let before = log.segments.read().unwrap().len();
        let removed = log.trim(15).unwrap();
        assert!(removed > 0 && removed < before);
        let horizon = log.trim_horizon();
        assert!(horizon > 0);
        let back = read_all(&log, 0);
        assert_eq!(back[0].number, horizon, "reads start at the trim horizon");
        assert_eq!(back.last().unwrap().number, log.end() - 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_puts_share_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(ShardLog::open(dir.path(), LogOptions::default()).unwrap());
        let (writers, rounds) = (16, 50);
        let mut tasks = Vec::new();
        for t in 0..writers {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..rounds {
                    let records = entries(10, 50);
                    let first = append_all(&log, &records, t);
                    log.commit(first + 10).await.unwrap();
                    assert!(log.end() >= first + 10);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(read_all(&log, 0).len(), writers as usize * rounds * 10);
        // 800 acknowledged puts; with one fsync each this would be 800.
        let puts = writers as u64 * rounds as u64;
        assert!(
            log.fsyncs() <= puts / 2,
            "{} fsyncs for {puts} concurrent puts: group commit is not grouping",
            log.fsyncs()
        );
    }

    /// A put dropped while its fsync runs (the client hung up) must not stall
    /// the next put on the shard, whatever moment it was dropped at.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_commit_never_stalls_the_next_one() {
        use futures::FutureExt;
        let dir = tempfile::tempdir().unwrap();
        let log = ShardLog::open(dir.path(), LogOptions::default()).unwrap();
        let mut dropped_while_pending = 0;
        for round in 0..200 {
            let first = append_all(&log, &entries(1, 10), round);
            // Polled once, then dropped: it started the sync and went away.
            if log.commit(first + 1).now_or_never().is_none() {
                dropped_while_pending += 1;
            }
            let first = append_all(&log, &entries(1, 10), round);
            tokio::time::timeout(std::time::Duration::from_secs(10), log.commit(first + 1))
                .await
                .expect("a put after a dropped one is acknowledged")
                .unwrap();
        }
        assert!(dropped_while_pending > 0, "no commit was dropped mid-sync");
    }

    /// Sealing full segments happens inside the grouped sync: every record
    /// stays readable across many small segments, before and after a
    /// restart, and the index files of the full ones are written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_segments_are_sealed_by_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes: 4096,
            ..LogOptions::default()
        };
        let log = ShardLog::open(dir.path(), options).unwrap();
        for round in 0..40 {
            let first = append_all(&log, &entries(10, 100), round);
            log.commit(first + 10).await.unwrap();
        }
        assert_eq!(read_all(&log, 0).len(), 400);
        let count = |extension: &str| {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == extension)
                })
                .count()
        };
        // ~1.2 KB a round into 4 KiB segments: about ten of them, every one
        // but the open one sealed with its index.
        assert!(count("seg") >= 8, "{} segments", count("seg"));
        assert_eq!(count("idx"), count("seg") - 1);
        drop(log);
        let reopened = ShardLog::open(dir.path(), options).unwrap();
        assert_eq!(read_all(&reopened, 0).len(), 400);
    }

    /// Random damage to segment files (flipped bytes, cuts, garbage appended,
    /// ranges overwritten): opening either fails with a report or recovers,
    /// and every record read back is exactly the one that was written.
    #[tokio::test]
    async fn damaged_files_never_yield_wrong_records() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            segment_bytes: 20_000,
            ..LogOptions::default()
        };
        let log = ShardLog::open(dir.path(), options).unwrap();
        let written = entries(2000, 40);
        for part in written.chunks(100) {
            let first = append_all(&log, part, 5);
            log.commit(first + part.len() as u64).await.unwrap();
        }
        drop(log);
        let files: Vec<PathBuf> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let (mut refused, mut recovered) = (0, 0);
        for _ in 0..200 {
            let copy = tempfile::tempdir().unwrap();
            for f in &files {
                fs::copy(f, copy.path().join(f.file_name().unwrap())).unwrap();
            }
            let segments: Vec<&PathBuf> = files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "seg"))
                .collect();
            let victim = copy.path().join(
                segments[next() as usize % segments.len()]
                    .file_name()
                    .unwrap(),
            );
            let mut bytes = fs::read(&victim).unwrap();
            let at = next() as usize % bytes.len();
            match next() % 4 {
                0 => bytes[at] ^= 1 << (next() % 8),
                1 => bytes.truncate(at),
                2 => bytes.extend((0..next() % 100).map(|_| next() as u8)),
                _ => {
                    let end = (at + 1 + next() as usize % 64).min(bytes.len());
                    for b in &mut bytes[at..end] {
                        *b = next() as u8;
                    }
                }
            }
            fs::write(&victim, &bytes).unwrap();
            let Ok(log) = ShardLog::open(copy.path(), options) else {
                refused += 1;
                continue;
            };
            recovered += 1;
            let mut pos = Position::at(0);
            while let Ok(batch) = log.read(pos, 500, 1 << 20) {
                if batch.records.is_empty() {
                    break;
                }
                for r in &batch.records {
                    let (key, data) = &written[r.number as usize];
                    assert_eq!((&r.partition_key, &r.data[..]), (key, &data[..]));
                }
                pos = batch.next;
            }
        }
        assert!(
            refused > 0 && recovered > 0,
            "{refused} refused, {recovered} recovered"
        );
    }
}
