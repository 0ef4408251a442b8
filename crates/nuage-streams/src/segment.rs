//! Segment files: an 8-byte magic, then records framed as
//! `[u32 length][u32 CRC-32C of the payload][payload]` (little-endian).
//!
//! Opening a segment for writing recovers it: a torn tail — a frame cut
//! short, or a last frame whose checksum fails because the crash came
//! mid-write — is truncated away; nothing before it is touched. A frame that
//! fails its checksum with valid data after it is not a torn write but
//! damage, and is reported instead of "repaired" (truncating there would
//! drop acknowledged records that follow). Readers check every checksum and
//! never return bytes that fail it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use std::path::{Path, PathBuf};

use crc_fast::{CrcAlgorithm, Digest, checksum};

const MAGIC: &[u8; 8] = b"NUAGSEG1";
const FRAME_HEADER: u64 = 8;
/// Larger than any record a stream accepts (10 MiB) with room for its fields.
pub const MAX_RECORD: u32 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: corrupt record at byte {offset}: {reason}; the bytes after it are intact, so nuage will not truncate the segment — restore it from a backup or move it aside"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{path} is not a nuage segment file (bad magic)")]
    NotASegment { path: PathBuf },
    #[error("a record of {0} bytes is larger than the {MAX_RECORD}-byte limit of a segment frame")]
    TooLarge(usize),
}

type Result<T> = std::result::Result<T, SegmentError>;

fn crc(payload: &[u8]) -> u32 {
    checksum(CrcAlgorithm::Crc32Iscsi, payload) as u32
}

/// What opening a segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Complete records in the segment.
    pub records: u64,
    /// Bytes of a torn tail that were cut off.
    pub truncated_bytes: u64,
}

/// The end of the valid frames of a segment, scanning from the start.
fn scan(path: &Path, file: &mut File) -> Result<(u64, Recovery)> {
    let io = |source| SegmentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = file.metadata().map_err(io)?.len();
    let mut bytes = Vec::with_capacity(size as usize);
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SegmentError::NotASegment {
            path: path.to_path_buf(),
        });
    }
    let mut pos = MAGIC.len();
    let mut records = 0;
    while pos < bytes.len() {
        let torn = |pos: usize| -> Result<(u64, Recovery)> {
            // A torn write is the last thing in the file: a whole frame after
            // the bad bytes means damage, and cutting would lose that frame.
            if let Some(after) = valid_frame_after(&bytes, pos) {
                return Err(SegmentError::Corrupt {
                    path: path.to_path_buf(),
                    offset: pos as u64,
                    reason: format!("unreadable frame, yet a valid one starts at byte {after}"),
                });
            }
            Ok((
                pos as u64,
                Recovery {
                    records,
                    truncated_bytes: (bytes.len() - pos) as u64,
                },
            ))
        };
        let Some(header) = bytes.get(pos..pos + FRAME_HEADER as usize) else {
            return torn(pos);
        };
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let expected = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let start = pos + FRAME_HEADER as usize;
        if len == 0 && bytes[pos..].iter().all(|b| *b == 0) {
            // Zeros the file system left after the last write.
            return torn(pos);
        }
        if len > MAX_RECORD || start + len as usize > bytes.len() {
            return torn(pos);
        }
        let end = start + len as usize;
        if crc(&bytes[start..end]) != expected {
            if end == bytes.len() {
                return torn(pos);
            }
            return Err(SegmentError::Corrupt {
                path: path.to_path_buf(),
                offset: pos as u64,
                reason: "checksum mismatch".into(),
            });
        }
        records += 1;
        pos = end;
    }
    Ok((
        pos as u64,
        Recovery {
            records,
            truncated_bytes: 0,
        },
    ))
}

/// The first position after `pos` where a complete frame with a matching
/// checksum starts, if any.
fn valid_frame_after(bytes: &[u8], pos: usize) -> Option<usize> {
    (pos + 1..bytes.len().saturating_sub(FRAME_HEADER as usize)).find(|&p| {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().expect("4 bytes"));
        let expected = u32::from_le_bytes(bytes[p + 4..p + 8].try_into().expect("4 bytes"));
        let start = p + FRAME_HEADER as usize;
        len > 0
            && len <= MAX_RECORD
            && start + len as usize <= bytes.len()
            && crc(&bytes[start..start + len as usize]) == expected
    })
}

/// Appends records to one segment. Writes are buffered; [`SegmentWriter::sync`]
/// makes everything appended so far durable (the caller acknowledges after it).
pub struct SegmentWriter {
    path: PathBuf,
    out: BufWriter<File>,
    len: u64,
}

impl SegmentWriter {
    /// Creates the segment, or opens and recovers an existing one.
    pub fn open(path: &Path) -> Result<(Self, Recovery)> {
        let io = |source| SegmentError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let (len, recovery) = if file.metadata().map_err(io)?.len() == 0 {
            file.write_all(MAGIC).map_err(io)?;
            file.sync_all().map_err(io)?;
            (MAGIC.len() as u64, Recovery::default())
        } else {
            scan(path, &mut file)?
        };
        if recovery.truncated_bytes > 0 {
            file.set_len(len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(len)).map_err(io)?;
        Ok((
            Self {
                path: path.to_path_buf(),
                out: BufWriter::with_capacity(64 * 1024, file),
                len,
            },
            recovery,
        ))
    }

    /// Appends one record; returns its offset in the segment.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        self.append_parts(&[payload])
    }

    /// Appends one record given in pieces (written back to back, checksummed
    /// as one payload, without first copying them together).
    pub fn append_parts(&mut self, parts: &[&[u8]]) -> Result<u64> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > MAX_RECORD as usize {
            return Err(SegmentError::TooLarge(len));
        }
        let mut digest = Digest::new(CrcAlgorithm::Crc32Iscsi);
        for part in parts {
            digest.update(part);
        }
        let offset = self.len;
        let io = |source| SegmentError::Io {
            path: self.path.clone(),
            source,
        };
        self.out
            .write_all(&(len as u32).to_le_bytes())
            .map_err(io)?;
        self.out
            .write_all(&(digest.finalize() as u32).to_le_bytes())
            .map_err(io)?;
        for part in parts {
            self.out.write_all(part).map_err(io)?;
        }
        self.len += FRAME_HEADER + len as u64;
        Ok(offset)
    }

    /// Hands the buffered bytes to the operating system (readers see them;
    /// a process crash keeps them, a power cut may not).
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| SegmentError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes and returns a second handle to the file, so the caller can
    /// fsync it without holding the writer.
    pub fn sync_handle(&mut self) -> Result<File> {
        self.flush()?;
        self.out
            .get_ref()
            .try_clone()
            .map_err(|source| SegmentError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Writes out the buffer and fsyncs the file's data.
    pub fn sync(&mut self) -> Result<()> {
        let io = |source| SegmentError::Io {
            path: self.path.clone(),
            source,
        };
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_data().map_err(io)
    }

    /// Bytes in the segment, counting what is still buffered.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == MAGIC.len() as u64
    }
}

/// Complete, checked frames read in one go from a segment.
pub struct Chunk {
    pub bytes: Bytes,
    /// (offset of the frame in the segment, its payload within `bytes`)
    pub frames: Vec<(u64, Range<usize>)>,
    /// The offset after the last complete frame.
    pub end: u64,
}

/// Reads records of a segment by offset, independently of its writer and of
/// other readers (positioned reads, no shared cursor).
pub struct SegmentReader {
    path: PathBuf,
    file: File,
}

impl SegmentReader {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| SegmentError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The offset of the first record.
    pub fn first_offset() -> u64 {
        MAGIC.len() as u64
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> SegmentError {
        SegmentError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Bytes in the file now (a frame still being written may be cut).
    pub fn size(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(|e| self.io(e))?.len())
    }

    /// The complete frames in about `max` bytes from `offset` (at least the
    /// first frame, whatever its size). A frame not yet completely written
    /// ends the chunk; a frame that fails its checksum is an error.
    pub fn read_frames(&self, offset: u64, max: usize) -> Result<Chunk> {
        let size = self.size()?;
        let available = size.saturating_sub(offset);
        let mut want = available.min(max.max(FRAME_HEADER as usize) as u64) as usize;
        let mut buf = vec![0u8; want];
        self.read_exact_at(&mut buf, offset)?;
        // A first frame larger than `max`: read exactly that frame.
        if buf.len() >= FRAME_HEADER as usize {
            let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
            let whole = FRAME_HEADER as usize + len as usize;
            if len <= MAX_RECORD && whole > want && whole as u64 <= available {
                want = whole;
                buf = vec![0u8; want];
                self.read_exact_at(&mut buf, offset)?;
            }
        }
        let mut frames = Vec::new();
        let mut pos = 0usize;
        while pos + FRAME_HEADER as usize <= buf.len() {
            let len = u32::from_le_bytes(buf[pos..pos + 4].try_into().expect("4 bytes"));
            let expected = u32::from_le_bytes(buf[pos + 4..pos + 8].try_into().expect("4 bytes"));
            if len > MAX_RECORD {
                return Err(SegmentError::Corrupt {
                    path: self.path.clone(),
                    offset: offset + pos as u64,
                    reason: format!("frame length {len} is over the limit"),
                });
            }
            let start = pos + FRAME_HEADER as usize;
            let end = start + len as usize;
            if end > buf.len() {
                break;
            }
            if crc(&buf[start..end]) != expected {
                return Err(SegmentError::Corrupt {
                    path: self.path.clone(),
                    offset: offset + pos as u64,
                    reason: "checksum mismatch".into(),
                });
            }
            frames.push((offset + pos as u64, start..end));
            pos = end;
        }
        Ok(Chunk {
            bytes: Bytes::from(buf),
            frames,
            end: offset + pos as u64,
        })
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        self.file.read_exact_at(buf, offset).map_err(|e| self.io(e))
    }

    /// The record at `offset` and the offset of the next one; None at the end
    /// of what has been written (a frame not yet complete counts as the end).
    pub fn read_at(&self, offset: u64) -> Result<Option<(Vec<u8>, u64)>> {
        let chunk = self.read_frames(offset, 0)?;
        Ok(chunk.frames.first().map(|(_, range)| {
            (
                chunk.bytes[range.clone()].to_vec(),
                offset + FRAME_HEADER + range.len() as u64,
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(path: &Path) -> Vec<Vec<u8>> {
        let reader = SegmentReader::open(path).unwrap();
        let mut offset = SegmentReader::first_offset();
        let mut out = Vec::new();
        while let Some((payload, next)) = reader.read_at(offset).unwrap() {
            out.push(payload);
            offset = next;
        }
        out
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.seg");
        let (mut w, _) = SegmentWriter::open(&path).unwrap();
        let offsets: Vec<u64> = (0..100)
            .map(|i| w.append(format!("record {i}").as_bytes()).unwrap())
            .collect();
        w.sync().unwrap();
        drop(w);
        let (w, recovery) = SegmentWriter::open(&path).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                records: 100,
                truncated_bytes: 0
            }
        );
        assert!(!w.is_empty());
        let records = all(&path);
        assert_eq!(records.len(), 100);
        assert_eq!(records[42], b"record 42");
        let reader = SegmentReader::open(&path).unwrap();
        assert_eq!(reader.read_at(offsets[7]).unwrap().unwrap().0, b"record 7");
    }

    #[test]
    fn a_torn_tail_is_cut_and_nothing_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.seg");
        let (mut w, _) = SegmentWriter::open(&path).unwrap();
        for i in 0..10 {
            w.append(format!("r{i}").as_bytes()).unwrap();
        }
        w.sync().unwrap();
        let good = w.len();
        drop(w);
        // A crash mid-append: half a frame, then zeros the file system left.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[200, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let (w, recovery) = SegmentWriter::open(&path).unwrap();
        assert_eq!(
            recovery,
            Recovery {
                records: 10,
                truncated_bytes: 6
            }
        );
        assert_eq!(w.len(), good);
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0u8; 4096]).unwrap();
        drop(f);
        let (mut w, recovery) = SegmentWriter::open(&path).unwrap();
        assert_eq!(recovery.truncated_bytes, 4096);
        w.append(b"after").unwrap();
        w.sync().unwrap();
        let records = all(&path);
        assert_eq!(records.len(), 11);
        assert_eq!(records[10], b"after");
    }

    #[test]
    fn damage_in_the_middle_is_reported_never_returned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.seg");
        let (mut w, _) = SegmentWriter::open(&path).unwrap();
        let second = {
            w.append(b"first record").unwrap();
            let second = w.append(b"second record").unwrap();
            w.append(b"third record").unwrap();
            second
        };
        w.sync().unwrap();
        drop(w);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[second as usize + 10] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let reader = SegmentReader::open(&path).unwrap();
        assert!(matches!(
            reader.read_at(second),
            Err(SegmentError::Corrupt { .. })
        ));
        let err = SegmentWriter::open(&path).err().unwrap();
        assert!(err.to_string().contains("will not truncate"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut");

        // A damaged length looks like a torn frame, but a valid frame follows.
        bytes[second as usize + 10] ^= 0xff;
        bytes[second as usize + 3] = 0x7f;
        std::fs::write(&path, &bytes).unwrap();
        let err = SegmentWriter::open(&path).err().unwrap();
        assert!(err.to_string().contains("a valid one starts"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut");
    }

    #[test]
    fn not_a_segment_and_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"hello world").unwrap();
        assert!(matches!(
            SegmentWriter::open(&path),
            Err(SegmentError::NotASegment { .. })
        ));
        let (mut w, _) = SegmentWriter::open(&dir.path().join("y")).unwrap();
        assert!(matches!(
            w.append(&vec![0u8; MAX_RECORD as usize + 1]),
            Err(SegmentError::TooLarge(_))
        ));
    }
}
