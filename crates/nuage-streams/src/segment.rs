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
use std::path::{Path, PathBuf};

use crc_fast::{CrcAlgorithm, checksum};

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
                out: BufWriter::with_capacity(256 * 1024, file),
                len,
            },
            recovery,
        ))
    }

    /// Appends one record; returns its offset in the segment.
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        if payload.len() > MAX_RECORD as usize {
            return Err(SegmentError::TooLarge(payload.len()));
        }
        let offset = self.len;
        let io = |source| SegmentError::Io {
            path: self.path.clone(),
            source,
        };
        self.out
            .write_all(&(payload.len() as u32).to_le_bytes())
            .map_err(io)?;
        self.out
            .write_all(&crc(payload).to_le_bytes())
            .map_err(io)?;
        self.out.write_all(payload).map_err(io)?;
        self.len += FRAME_HEADER + payload.len() as u64;
        Ok(offset)
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

/// Reads records of a segment by offset, independently of its writer.
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

    /// The record at `offset` and the offset of the next one; None at the end
    /// of what has been written (a frame not yet complete counts as the end).
    pub fn read_at(&mut self, offset: u64) -> Result<Option<(Vec<u8>, u64)>> {
        let io = |source| SegmentError::Io {
            path: self.path.clone(),
            source,
        };
        let size = self.file.metadata().map_err(io)?.len();
        if offset + FRAME_HEADER > size {
            return Ok(None);
        }
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut header = [0u8; FRAME_HEADER as usize];
        self.file.read_exact(&mut header).map_err(io)?;
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let expected = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            return Err(SegmentError::Corrupt {
                path: self.path.clone(),
                offset,
                reason: format!("frame length {len} is over the limit"),
            });
        }
        if offset + FRAME_HEADER + u64::from(len) > size {
            return Ok(None);
        }
        let mut payload = vec![0u8; len as usize];
        self.file.read_exact(&mut payload).map_err(io)?;
        if crc(&payload) != expected {
            return Err(SegmentError::Corrupt {
                path: self.path.clone(),
                offset,
                reason: "checksum mismatch".into(),
            });
        }
        Ok(Some((payload, offset + FRAME_HEADER + u64::from(len))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(path: &Path) -> Vec<Vec<u8>> {
        let mut reader = SegmentReader::open(path).unwrap();
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
        let mut reader = SegmentReader::open(&path).unwrap();
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
        let mut reader = SegmentReader::open(&path).unwrap();
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
