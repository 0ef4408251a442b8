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

/// What AWS's iterators start with (the 8 bytes are their version), and
/// the shape of what follows: AWS's is a cipher text of 16-byte blocks, at
/// least 144 bytes, so nuage pads its fields with zeros to the same shape.
/// Tools that check an iterator's form find what they expect.
const PREFIX: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const MIN_BODY: usize = 144;

/// The fixed fields after the prefix: issued, epoch, shard, record,
/// segment, offset, name length.
const FIXED: usize = 8 + 8 + 4 + 8 + 8 + 8 + 1;

impl Iterator {
    pub fn encode(&self) -> String {
        let mut body = Vec::with_capacity(MIN_BODY + 64);
        body.extend_from_slice(&self.issued_ms.to_le_bytes());
        body.extend_from_slice(&self.stream_epoch_ms.to_le_bytes());
        body.extend_from_slice(&self.shard.to_le_bytes());
        body.extend_from_slice(&self.position.record.to_le_bytes());
        body.extend_from_slice(&self.position.segment.to_le_bytes());
        body.extend_from_slice(&self.position.offset.to_le_bytes());
        body.push(self.stream.len() as u8);
        body.extend_from_slice(self.stream.as_bytes());
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, &body) as u32;
        body.extend_from_slice(&crc.to_le_bytes());
        body.resize(body.len().next_multiple_of(16).max(MIN_BODY), 0);
        let mut bytes = PREFIX.to_vec();
        bytes.extend_from_slice(&body);
        STANDARD.encode(bytes)
    }

    /// `None` for anything that is not an iterator nuage made.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text).ok()?;
        let body = bytes.strip_prefix(&PREFIX)?;
        let name_len = usize::from(*body.get(FIXED - 1)?);
        let signed = body.get(..FIXED + name_len)?;
        let crc = body.get(FIXED + name_len..FIXED + name_len + 4)?;
        if crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32Iscsi, signed) as u32
            != u32::from_le_bytes(crc.try_into().ok()?)
            || body[FIXED + name_len + 4..].iter().any(|b| *b != 0)
        {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        Some(Self {
            issued_ms: u64_at(0) as i64,
            stream_epoch_ms: u64_at(8),
            shard: u32::from_le_bytes(body[16..20].try_into().ok()?),
            position: Position {
                record: u64_at(20),
                segment: u64_at(28),
                offset: u64_at(36),
            },
            stream: String::from_utf8(body[FIXED..FIXED + name_len].to_vec()).ok()?,
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
        assert_eq!(Iterator::decode(&text), Some(it.clone()));
        // The form of AWS's iterators: 8 bytes ending in 1, then 16-byte
        // blocks, 152 bytes at least.
        for name in ["s", "tolls", &"n".repeat(128)] {
            let bytes = STANDARD
                .decode(
                    Iterator {
                        stream: name.to_string(),
                        ..it.clone()
                    }
                    .encode(),
                )
                .unwrap();
            assert_eq!(bytes[..8], [0, 0, 0, 0, 0, 0, 0, 1]);
            assert!(
                bytes.len() >= 152 && (bytes.len() - 152).is_multiple_of(16),
                "{}",
                bytes.len()
            );
        }
        assert_eq!(Iterator::decode("not an iterator"), None);
        assert_eq!(Iterator::decode(""), None);
        let mut flipped = text.into_bytes();
        flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(Iterator::decode(&String::from_utf8(flipped).unwrap()), None);
    }

    proptest::proptest! {
        /// A client may send any text as a ShardIterator: never a panic.
        #[test]
        fn any_text_is_decoded_without_a_panic(text in ".{0,300}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = Iterator::decode(&text);
            let mut prefixed = PREFIX.to_vec();
            prefixed.extend_from_slice(&bytes);
            let _ = Iterator::decode(&STANDARD.encode(prefixed));
        }
    }
}
