//! The two hottest answers, GetRecords' records and PutRecords' results,
//! written as JSON by hand. Their strings are sequence numbers (digits),
//! shard ids and base64 data, which never need escaping; serde_json scans
//! every byte of every string for escapes, and that scan was 10-13% of the
//! server's CPU under `bench/streams.sh`. Partition keys and error messages
//! (any text) still go through serde_json. CBOR answers keep serde.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nuage_streams::{PutOutcome, Record};

use crate::wire::{ErrorCode, Timestamp};

/// A string known to need no JSON escaping (digits, base64, shard ids).
fn plain(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Any text, escaped by serde_json.
fn text(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// `[{"SequenceNumber":..,"ApproximateArrivalTimestamp":..,"Data":..,
/// "PartitionKey":..(,"EncryptionType":"KMS")}, ...]`, as
/// [`super::WireRecord`] serializes.
pub(super) fn records(out: &mut Vec<u8>, records: &[(Record, String)], encrypted: bool) {
    out.push(b'[');
    for (i, (record, seq)) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"SequenceNumber\":");
        plain(out, seq);
        out.extend_from_slice(b",\"ApproximateArrivalTimestamp\":");
        serde_json::to_writer(&mut *out, &Timestamp(record.arrival_ms))
            .expect("writing to a Vec cannot fail");
        out.extend_from_slice(b",\"Data\":\"");
        let start = out.len();
        out.resize(
            start + base64::encoded_len(record.data.len(), true).unwrap_or(0),
            0,
        );
        STANDARD
            .encode_slice(&record.data, &mut out[start..])
            .expect("sized for the encoding");
        out.extend_from_slice(b"\",\"PartitionKey\":");
        text(out, &record.partition_key);
        if encrypted {
            out.extend_from_slice(b",\"EncryptionType\":\"KMS\"");
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// PutRecords' whole answer.
pub(super) fn put_records(outcomes: &[PutOutcome], encryption: &str) -> Vec<u8> {
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, PutOutcome::Failed { .. }))
        .count();
    let mut out = Vec::with_capacity(64 + outcomes.len() * 110);
    out.extend_from_slice(format!("{{\"FailedRecordCount\":{failed},\"Records\":[").as_bytes());
    for (i, outcome) in outcomes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match outcome {
            PutOutcome::Stored {
                shard_id,
                sequence_number,
            } => {
                out.extend_from_slice(b"{\"ShardId\":");
                plain(&mut out, shard_id);
                out.extend_from_slice(b",\"SequenceNumber\":");
                plain(&mut out, sequence_number);
            }
            PutOutcome::Failed { reason, message } => {
                out.extend_from_slice(b"{\"ErrorCode\":");
                plain(&mut out, ErrorCode::from(*reason).as_str());
                out.extend_from_slice(b",\"ErrorMessage\":");
                text(&mut out, message);
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"EncryptionType\":");
    plain(&mut out, encryption);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use nuage_streams::PutFailure;
    use serde_json::json;

    use super::*;

    /// The hand-written JSON reads back as the same document serde_json
    /// makes of the same answer, escapes included.
    #[test]
    fn hand_written_answers_are_the_json_serde_writes() {
        let record = |key: &str, data: &'static [u8], ms: i64| {
            (
                Record {
                    number: 0,
                    arrival_ms: ms,
                    partition_key: key.to_string(),
                    data: Bytes::from_static(data),
                },
                "49590338271490256608559692538361571095921575989136588898".to_string(),
            )
        };
        let list = vec![
            record(
                "a \"quoted\"\\ key\n\u{1}é",
                b"\x00\xffhello",
                1_764_800_000_123,
            ),
            record("", b"", 1_764_800_000_000),
        ];
        for encrypted in [false, true] {
            let mut out = Vec::new();
            records(&mut out, &list, encrypted);
            let read: serde_json::Value = serde_json::from_slice(&out).unwrap();
            let expected: Vec<_> = list
                .iter()
                .map(|(r, seq)| {
                    let mut one = json!({
                        "SequenceNumber": seq,
                        "ApproximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0,
                        "Data": STANDARD.encode(&r.data),
                        "PartitionKey": r.partition_key,
                    });
                    if encrypted {
                        one["EncryptionType"] = json!("KMS");
                    }
                    one
                })
                .collect();
            assert_eq!(read, json!(expected));
        }
        let outcomes = vec![
            PutOutcome::Stored {
                shard_id: "shardId-000000000001".into(),
                sequence_number: "49546986683135544286507457936321625675700192471156785154".into(),
            },
            PutOutcome::Failed {
                reason: PutFailure::Throughput,
                message: "Rate exceeded for shard \"x\"".into(),
            },
        ];
        let read: serde_json::Value =
            serde_json::from_slice(&put_records(&outcomes, "NONE")).unwrap();
        assert_eq!(
            read,
            json!({
                "FailedRecordCount": 1,
                "Records": [
                    {"ShardId": "shardId-000000000001", "SequenceNumber": "49546986683135544286507457936321625675700192471156785154"},
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard \"x\""},
                ],
                "EncryptionType": "NONE",
            })
        );
    }
}
