//! Segment files and their sparse indexes: one entry per 512 KiB of
//! record number, arrival time and file offset, kept in memory and in an
//! index file beside each full segment (rebuilt by a scan when missing or
//! stale).

use super::*;

pub(super) const INDEX_EVERY: u64 = 512 * 1024;
pub(super) const INDEX_MAGIC: &[u8; 8] = b"NUAGIDX1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexEntry {
    pub(super) record: u64,
    pub(super) offset: u64,
    pub(super) ms: i64,
}

pub(super) struct Segment {
    pub(super) first_record: u64,
    pub(super) reader: SegmentReader,
    pub(super) index: RwLock<Vec<IndexEntry>>,
}

impl Segment {
    pub(super) fn first_ms(&self) -> Option<i64> {
        self.index.read().expect("index lock").first().map(|e| e.ms)
    }

    /// The offset of the indexed record at or before `record` (the segment
    /// start if none).
    pub(super) fn offset_before(&self, record: u64) -> u64 {
        let index = self.index.read().expect("index lock");
        let i = index.partition_point(|e| e.record <= record);
        match i.checked_sub(1) {
            Some(i) => index[i].offset,
            None => SegmentReader::first_offset(),
        }
    }

    /// The indexed place of the last record that arrived before `ms`.
    pub(super) fn entry_before_time(&self, ms: i64) -> u64 {
        let index = self.index.read().expect("index lock");
        let i = index.partition_point(|e| e.ms < ms);
        match i.checked_sub(1) {
            Some(i) => index[i].offset,
            None => SegmentReader::first_offset(),
        }
    }
}

pub(super) fn segment_path(dir: &Path, first_record: u64) -> PathBuf {
    dir.join(format!("{first_record:020}.seg"))
}

pub(super) fn index_path(segment: &Path) -> PathBuf {
    segment.with_extension("idx")
}

pub(super) fn corrupt(path: &Path, offset: u64, reason: &str) -> StreamError {
    StreamError::Storage(SegmentError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.to_string(),
    })
}

/// Reads a whole segment: its index, the number after its last record, the
/// arrival time of its last record, and the offset after it.
pub(super) fn scan_segment(
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

pub(super) fn write_index(
    path: &Path,
    entries: &[IndexEntry],
    next: u64,
    end: u64,
) -> std::io::Result<()> {
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
pub(super) fn read_index(path: &Path, segment_size: u64) -> Option<(Vec<IndexEntry>, u64)> {
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
