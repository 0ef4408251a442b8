//! A stream record as stored in a segment frame, and sequence numbers.
//!
//! Frame payload: `[u64 record number][i64 arrival ms][u16 key length][key][data]`,
//! little-endian. The record number counts the records of a shard from 0; the
//! sequence number a client sees is made of the stream's creation time, the
//! shard and that number, so it is unique in a stream (and across streams
//! re-created under the same name) and increases within a shard.

use std::fmt;

use bytes::Bytes;

pub const HEADER: usize = 18;

/// One record read back from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub number: u64,
    pub arrival_ms: i64,
    pub partition_key: String,
    pub data: Bytes,
}

/// The fixed part of a frame payload; the key and data follow it.
pub fn header(number: u64, arrival_ms: i64, key_len: usize) -> [u8; HEADER] {
    let mut out = [0u8; HEADER];
    out[0..8].copy_from_slice(&number.to_le_bytes());
    out[8..16].copy_from_slice(&arrival_ms.to_le_bytes());
    out[16..18].copy_from_slice(&(key_len as u16).to_le_bytes());
    out
}

/// The record number of a frame payload without decoding the rest.
pub fn number_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(payload.get(0..8)?.try_into().ok()?))
}

/// Decodes a frame payload; `None` if it is not a record (the frame passed its
/// checksum, so this means a bug or a foreign file, reported by the caller).
pub fn decode(bytes: &Bytes) -> Option<Record> {
    if bytes.len() < HEADER {
        return None;
    }
    let number = u64::from_le_bytes(bytes[0..8].try_into().ok()?);
    let arrival_ms = i64::from_le_bytes(bytes[8..16].try_into().ok()?);
    let key_len = u16::from_le_bytes(bytes[16..18].try_into().ok()?) as usize;
    let key = bytes.get(HEADER..HEADER + key_len)?;
    Some(Record {
        number,
        arrival_ms,
        partition_key: String::from_utf8(key.to_vec()).ok()?,
        data: bytes.slice(HEADER + key_len..),
    })
}

/// A sequence number: 56 decimal digits, `49`, the stream's creation time in
/// ms (16 digits), the shard index (10) and an ordinal (28).
///
/// The ordinal counts records from 1 (record number + 1), so that ordinal 0
/// names the shard's start, before any record: it is the shard's
/// StartingSequenceNumber, and the ContinuationSequenceNumber of a
/// subscription that has seen nothing yet, which AFTER_SEQUENCE_NUMBER then
/// resumes from the first record, as on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SequenceNumber {
    pub stream_epoch_ms: u64,
    pub shard: u32,
    pub ordinal: u64,
}

/// Writes `value` as exactly `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl SequenceNumber {
    /// The 56 digits (formatted by hand: GetRecords and PutRecords make one
    /// per record, and `format!` with padding was a measurable share).
    pub fn digits(&self) -> [u8; 56] {
        let mut out = [b'0'; 56];
        out[0] = b'4';
        out[1] = b'9';
        put_digits(&mut out[2..18], self.stream_epoch_ms);
        put_digits(&mut out[18..28], u64::from(self.shard));
        put_digits(&mut out[28..56], self.ordinal);
        out
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        f.write_str(std::str::from_utf8(&digits).expect("ASCII digits"))
    }
}

impl SequenceNumber {
    /// The number of record `record`.
    pub fn of_record(stream_epoch_ms: u64, shard: u32, record: u64) -> Self {
        Self {
            stream_epoch_ms,
            shard,
            ordinal: record + 1,
        }
    }

    /// The number just before the record at `position`: the last record
    /// read when `position` is next, or the shard's start for position 0.
    pub fn before(stream_epoch_ms: u64, shard: u32, position: u64) -> Self {
        Self {
            stream_epoch_ms,
            shard,
            ordinal: position,
        }
    }

    /// Where AT_SEQUENCE_NUMBER starts reading.
    pub fn at_position(&self) -> u64 {
        self.ordinal.saturating_sub(1)
    }

    /// Where AFTER_SEQUENCE_NUMBER starts reading.
    pub fn after_position(&self) -> u64 {
        self.ordinal
    }

    /// Parses one of ours; `None` for anything else (the caller says why).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 56 || !text.starts_with("49") || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(Self {
            stream_epoch_ms: text[2..18].parse().ok()?,
            shard: text[18..28].parse().ok()?,
            ordinal: text[28..56].parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut bytes = header(7, 1_700_000_000_123, 3).to_vec();
        bytes.extend_from_slice(b"car");
        bytes.extend_from_slice(b"{\"amount\": 3.5}");
        let record = decode(&Bytes::from(bytes)).unwrap();
        assert_eq!(record.number, 7);
        assert_eq!(record.arrival_ms, 1_700_000_000_123);
        assert_eq!(record.partition_key, "car");
        assert_eq!(&record.data[..], b"{\"amount\": 3.5}");
        assert_eq!(decode(&Bytes::from_static(b"short")), None);
    }

    #[test]
    fn sequence_numbers_have_56_digits_and_order_within_a_shard() {
        let a = SequenceNumber::of_record(1_763_800_000_000, 3, 41);
        let b = SequenceNumber::of_record(1_763_800_000_000, 3, 42);
        let (ta, tb) = (a.to_string(), b.to_string());
        assert_eq!(ta.len(), 56);
        assert_eq!(
            ta,
            format!("49{:016}{:010}{:028}", a.stream_epoch_ms, a.shard, 42)
        );
        assert_eq!((a.at_position(), a.after_position()), (41, 42));
        let start = SequenceNumber::before(1_763_800_000_000, 3, 0);
        assert!(start < a);
        assert_eq!((start.at_position(), start.after_position()), (0, 0));
        assert!(ta < tb);
        assert_eq!(SequenceNumber::parse(&ta), Some(a));
        assert_eq!(SequenceNumber::parse("12"), None);
        assert_eq!(SequenceNumber::parse(&ta.replace('4', "x")), None);
    }
}
