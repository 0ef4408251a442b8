//! Shard iterators: opaque to clients, but just a position and the time the
//! iterator was made, checksummed and base64-encoded. Nothing is kept on the
//! server, so iterators survive restarts (until they expire).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::shard::Position;

/// How long an iterator stays valid (AWS: 5 minutes).
pub const ITERATOR_TTL_MS: i64 = 300_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iterator {
    pub issued_ms: i64,
    pub stream: String,
    pub stream_epoch_ms: u64,
    pub shard: u32,
    pub position: Position,
}

const VERSION: u8 = 1;

impl Iterator {
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(64 + self.stream.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.issued_ms.to_le_bytes());
        bytes.extend_from_slice(&self.stream_epoch_ms.to_le_bytes());
        bytes.extend_from_slice(&self.shard.to_le_bytes());
        bytes.extend_from_slice(&self.position.record.to_le_bytes());
        bytes.extend_from_slice(&self.position.segment.to_le_bytes());
        bytes.extend_from_slice(&self.position.offset.to_le_bytes());
        bytes.push(self.stream.len() as u8);
        bytes.extend_from_slice(self.stream.as_bytes());
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &bytes) as u32;
        bytes.extend_from_slice(&crc.to_le_bytes());
        STANDARD.encode(bytes)
    }

    /// `None` for anything that is not an iterator nuage made.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text).ok()?;
        let (body, crc) = bytes.split_at(bytes.len().checked_sub(4)?);
        if crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, body) as u32
            != u32::from_le_bytes(crc.try_into().ok()?)
            || body.first() != Some(&VERSION)
            || body.len() < 46
        {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        let name_len = body[45] as usize;
        let stream = String::from_utf8(body.get(46..46 + name_len)?.to_vec()).ok()?;
        if body.len() != 46 + name_len {
            return None;
        }
        Some(Self {
            issued_ms: u64_at(1) as i64,
            stream_epoch_ms: u64_at(9),
            shard: u32::from_le_bytes(body[17..21].try_into().ok()?),
            position: Position {
                record: u64_at(21),
                segment: u64_at(29),
                offset: u64_at(37),
            },
            stream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_round_trip_and_reject_garbage() {
        let it = Iterator {
            issued_ms: 1_763_800_000_000,
            stream: "tolls".into(),
            stream_epoch_ms: 1_763_700_000_000,
            shard: 2,
            position: Position {
                record: 42,
                segment: 40,
                offset: 1234,
            },
        };
        let text = it.encode();
        assert_eq!(Iterator::decode(&text), Some(it));
        assert_eq!(Iterator::decode("not an iterator"), None);
        assert_eq!(Iterator::decode(""), None);
        let mut flipped = text.into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(Iterator::decode(&String::from_utf8(flipped).unwrap()), None);
    }
}
