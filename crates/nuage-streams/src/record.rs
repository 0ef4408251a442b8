//! A stream record as stored in a segment frame, and sequence numbers.
//!
//! Frame payload: `[u64 record number][i64 arrival ms][u16 key length][key][data]`,
//! little-endian. The record number counts the records of a shard from 0; the
//! sequence number a client sees is made of it (see [`crate::sequence`]).

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
}
