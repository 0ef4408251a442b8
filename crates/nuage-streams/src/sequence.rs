//! Sequence numbers in the layout Kinesis uses today ("version 2"), so
//! that one from another shard, another stream or an unknown version is
//! refused with AWS's words, and tools that decode them find what they
//! expect.
//!
//! A version 2 number is 47 hexadecimal digits (a 188-bit integer written
//! in decimal, 56 digits):
//!
//! | hex digits | meaning                                                  |
//! |------------|----------------------------------------------------------|
//! | 0          | `2`                                                      |
//! | 1..10      | the shard's creation time, seconds                       |
//! | 10         | the shard's index, last hex digit                        |
//! | 11..27     | the record's index in the shard (below 2^63)             |
//! | 27..29     | `00`                                                     |
//! | 29..38     | when the record arrived, seconds                         |
//! | 38..46     | the shard's index                                        |
//! | 46         | the version, `2`                                         |
//!
//! AWS's own numbers, as its documentation prints them, decode this way
//! (see the tests). The record index is what orders numbers in a shard;
//! nuage writes its ordinal there (record number + 1, 0 for the shard's
//! start). Numbers that name no record (a shard's start and end, a
//! subscription's continuation) carry the shard's creation time as their
//! arrival time.
//!
//! Older layouts are recognised as AWS recognises them: a number below
//! 2^124 is read as if 2^124 were added; from 2^124 to 2^129 it is
//! version 0 (32 or 33 hex digits); above 2^185 and below 1.5 * 2^185 (47
//! hex digits, the first a 2) the last hex digit is the version (1 and 2
//! are known); anything else is invalid.

use std::fmt;

/// A version 2 sequence number nuage gives out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceNumber {
    pub shard_created_secs: u64,
    pub shard: u32,
    /// Record number + 1; 0 names the shard's start, before any record.
    pub ordinal: u64,
    pub time_secs: u64,
}

/// What a sequence number a client sent says, in whichever layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub version: u8,
    pub shard_created_secs: u64,
    /// Signed: AWS reads an index whose first hex digit is 8 or more as
    /// negative (`shardId--02147483648`).
    pub shard: i64,
    /// The record index (version 2 only).
    pub ordinal: u64,
    /// The arrival time, seconds (versions 1 and 2).
    pub time_secs: u64,
}

/// Creation times from this many seconds on are refused, as AWS refuses
/// them (the year 2477).
const LATEST_CREATION_SECS: u64 = 16_025_175_000;

const FIELD_36: u64 = (1 << 36) - 1;

/// Decimal limbs: a number as 7 base-10^9 digits, least significant first
/// (63 decimal digits; sequence numbers have 56).
type Decimal = [u64; 7];

const BILLION: u64 = 1_000_000_000;

/// "00" to "99", to write two digits at a time.
const PAIRS: [u8; 200] = {
    let mut out = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        out[2 * i] = b'0' + (i / 10) as u8;
        out[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    out
};

/// 2^k in base 10^9, computed at compile time.
const fn pow2(k: u32) -> Decimal {
    let mut out = [0u64; 7];
    out[0] = 1;
    let mut doubled = 0;
    while doubled < k {
        let mut carry = 0;
        let mut i = 0;
        while i < 7 {
            let v = out[i] * 2 + carry;
            out[i] = v % BILLION;
            carry = v / BILLION;
            i += 1;
        }
        doubled += 1;
    }
    out
}

const POW2_148: Decimal = pow2(148);
const POW2_144: Decimal = pow2(144);
const POW2_80: Decimal = pow2(80);
const POW2_36: Decimal = pow2(36);
const POW2_4: Decimal = pow2(4);

/// The constant part: `2` as the first hex digit (2 * 2^184 = 2^185) and
/// as the version (the last).
const BASE: Decimal = {
    let mut out = pow2(185);
    out[0] += 2;
    out
};

/// `acc += value * power`, with carries, in base 10^9. Each product of
/// two limbs is below 10^18 and a limb gathers at most three of them plus
/// a carry, so u64 never overflows.
fn add(acc: &mut Decimal, value: u64, power: &Decimal) {
    let parts = [
        value % BILLION,
        value / BILLION % BILLION,
        value / BILLION / BILLION,
    ];
    for (j, part) in parts.iter().enumerate() {
        for (i, p) in power.iter().enumerate().take(7 - j) {
            acc[i + j] += part * p;
        }
    }
    for i in 0..6 {
        acc[i + 1] += acc[i] / BILLION;
        acc[i] %= BILLION;
    }
}

/// A little-endian number of `N` 32-bit limbs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Limbs<const N: usize>([u32; N]);

impl<const N: usize> Limbs<N> {
    fn zero() -> Self {
        Self([0; N])
    }

    /// Ors `width` bits (at most 64) of `value` in at bit `at`.
    fn put(&mut self, at: u32, width: u32, value: u64) {
        let value = u128::from(value) & ((1u128 << width) - 1);
        let wide = value << (at % 32);
        for k in 0..3 {
            let i = (at / 32) as usize + k;
            if i < N {
                self.0[i] |= (wide >> (32 * k)) as u32;
            }
        }
    }

    /// `width` bits (at most 64) from bit `at`.
    fn get(&self, at: u32, width: u32) -> u64 {
        let mut wide = 0u128;
        for k in 0..3 {
            let i = (at / 32) as usize + k;
            if i < N {
                wide |= u128::from(self.0[i]) << (32 * k);
            }
        }
        ((wide >> (at % 32)) & ((1u128 << width) - 1)) as u64
    }

    /// The number of significant bits.
    fn bits(&self) -> u32 {
        for (i, limb) in self.0.iter().enumerate().rev() {
            if *limb != 0 {
                return i as u32 * 32 + 32 - limb.leading_zeros();
            }
        }
        0
    }

    /// Divides in place by `d`, returning the remainder (the tests write
    /// hex as decimal with it).
    #[cfg(test)]
    fn divide(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let cur = rem << 32 | u64::from(*limb);
            *limb = (cur / u64::from(d)) as u32;
            rem = cur % u64::from(d);
        }
        rem as u32
    }

    /// `self * 10 + digit`; false when it no longer fits.
    fn push_digit(&mut self, digit: u32) -> bool {
        let mut carry = u64::from(digit);
        for limb in self.0.iter_mut() {
            let cur = u64::from(*limb) * 10 + carry;
            *limb = cur as u32;
            carry = cur >> 32;
        }
        carry == 0
    }
}

impl SequenceNumber {
    /// The number of record `record` of a shard, arrived at `arrival_ms`.
    pub fn of_record(shard_created_ms: i64, shard: u32, record: u64, arrival_ms: i64) -> Self {
        Self {
            shard_created_secs: secs(shard_created_ms),
            shard,
            ordinal: record + 1,
            time_secs: secs(arrival_ms),
        }
    }

    /// The number just before the record at `position`: the last record
    /// read when `position` is next, or the shard's start for position 0.
    pub fn before(shard_created_ms: i64, shard: u32, position: u64) -> Self {
        Self {
            shard_created_secs: secs(shard_created_ms),
            shard,
            ordinal: position,
            time_secs: secs(shard_created_ms),
        }
    }

    /// The 56 decimal digits (see [`Prefix`]).
    pub fn digits(&self) -> [u8; 56] {
        Prefix::of(self).digits(self.ordinal)
    }

    /// Where AT_SEQUENCE_NUMBER starts reading.
    pub fn at_position(ordinal: u64) -> u64 {
        ordinal.saturating_sub(1)
    }
}

/// Everything of a sequence number but its ordinal, summed once: the
/// records of one put (or of one arrival second in a read) share it, and
/// each then costs one multiplication by 2^80 and the digits.
///
/// The number is a sum of fields times powers of two (the module's
/// table); each power is a constant in base 10^9, so the digits come from
/// small multiplications and divisions by a constant, not from dividing a
/// 188-bit number (see docs/benchmarks.md for the figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    sum: Decimal,
    time_secs: u64,
}

impl Prefix {
    fn of(number: &SequenceNumber) -> Self {
        let mut sum = BASE;
        add(&mut sum, number.shard_created_secs & FIELD_36, &POW2_148);
        add(&mut sum, u64::from(number.shard) & 0xf, &POW2_144);
        add(&mut sum, number.time_secs & FIELD_36, &POW2_36);
        add(&mut sum, u64::from(number.shard), &POW2_4);
        Self {
            sum,
            time_secs: number.time_secs,
        }
    }

    /// For the records of a shard that arrived at `arrival_ms`.
    pub fn for_records(shard_created_ms: i64, shard: u32, arrival_ms: i64) -> Self {
        Self::of(&SequenceNumber::of_record(
            shard_created_ms,
            shard,
            0,
            arrival_ms,
        ))
    }

    /// The arrival second it was made for.
    pub fn time_secs(&self) -> u64 {
        self.time_secs
    }

    /// The number of record `record` (ordinal `record + 1`), as text.
    pub fn record_text(&self, record: u64) -> String {
        let digits = self.digits(record + 1);
        String::from_utf8(digits.to_vec()).expect("ASCII digits")
    }

    fn digits(&self, ordinal: u64) -> [u8; 56] {
        let mut acc = self.sum;
        add(&mut acc, ordinal & (u64::MAX >> 1), &POW2_80);
        let mut out = [b'0'; 56];
        // Limbs 0..5 hold nine digits each, limb 6 the top two.
        for (i, limb) in acc.iter().enumerate().take(6) {
            let end = 56 - 9 * i;
            let mut v = *limb;
            for k in 0..4 {
                let pair = &PAIRS[(v % 100) as usize * 2..][..2];
                out[end - 2 * k - 2..end - 2 * k].copy_from_slice(pair);
                v /= 100;
            }
            out[end - 9] = b'0' + v as u8;
        }
        out[..2].copy_from_slice(&PAIRS[acc[6] as usize * 2..][..2]);
        out
    }
}

/// Whole seconds of a time in milliseconds (0 before the epoch), as the
/// layout stores times.
pub fn secs(ms: i64) -> u64 {
    (ms.max(0) / 1000) as u64
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        f.write_str(std::str::from_utf8(&digits).expect("ASCII digits"))
    }
}

impl Parsed {
    /// The shard it encodes, named as AWS names it (`shardId--02147483648`
    /// for a negative index).
    pub fn shard_id(&self) -> String {
        if self.shard < 0 {
            format!("shardId--{:011}", self.shard.unsigned_abs())
        } else {
            format!("shardId-{:012}", self.shard)
        }
    }

    /// Reads a sequence number as AWS reads it; `None` when AWS calls it
    /// invalid (unknown version, a record index or creation time out of
    /// range). The text is digits, as the request's pattern requires.
    pub fn read(text: &str) -> Option<Self> {
        // Up to 129 digits: 429 bits.
        let mut n = Limbs::<14>::zero();
        for b in text.bytes() {
            if !b.is_ascii_digit() || !n.push_digit(u32::from(b - b'0')) {
                return None;
            }
        }
        if n.bits() <= 124 {
            n.put(124, 1, 1);
        }
        let bits = n.bits();
        let hex_digit = |at: u32| n.get(at, 4);
        if bits <= 129 {
            // Version 0: 32 or 33 hex digits, read from the first: the
            // creation time in digits 1..10, the shard in 28..32.
            let digits = bits.div_ceil(4);
            let created = n.get((digits - 10) * 4, 36);
            return (created < LATEST_CREATION_SECS).then_some(Self {
                version: 0,
                shard_created_secs: created,
                shard: n.get((digits - 32) * 4, 16) as i64,
                ordinal: 0,
                time_secs: 0,
            });
        }
        // Above 2^185 and below 1.5 * 2^185: 47 hex digits, the first a 2.
        let mut lowest = Limbs::zero();
        lowest.put(185, 1, 1);
        if bits != 186 || hex_digit(184) != 2 || n == lowest {
            return None;
        }
        let created = n.get(148, 36);
        match hex_digit(0) {
            2 => {
                let shard = n.get(4, 32);
                let shard = if hex_digit(32) > 7 {
                    -(shard as i64)
                } else {
                    shard as i64
                };
                (hex_digit(140) <= 7 && created < LATEST_CREATION_SECS).then_some(Self {
                    version: 2,
                    shard_created_secs: created,
                    shard,
                    ordinal: n.get(80, 64),
                    time_secs: n.get(36, 36),
                })
            }
            1 => Some(Self {
                version: 1,
                shard_created_secs: created,
                shard: n.get(4, 32) as i64,
                ordinal: 0,
                time_secs: n.get(100, 36),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequence numbers from AWS's documentation (the CLI's put-record
    /// example and the developer guide), and their fields as hex.
    const AWS_EXAMPLES: [(&str, u64, u32, u64, u64); 2] = [
        (
            "49590338271490256608559692538361571095921575989136588898",
            0x05bf4e5c2,
            6,
            0x67648a17,
            0x05c181eea,
        ),
        (
            "49546986683135544286507457936321625675700192471156785154",
            0x054b6fffe,
            0,
            0x1d5,
            0x054b7009a,
        ),
    ];

    #[test]
    fn aws_numbers_are_written_and_read_in_the_same_layout() {
        for (text, created, shard, ordinal, time) in AWS_EXAMPLES {
            let number = SequenceNumber {
                shard_created_secs: created,
                shard,
                ordinal,
                time_secs: time,
            };
            assert_eq!(number.to_string(), text);
            assert_eq!(
                Parsed::read(text),
                Some(Parsed {
                    version: 2,
                    shard_created_secs: created,
                    shard: i64::from(shard),
                    ordinal,
                    time_secs: time,
                })
            );
        }
    }

    /// 47 hex digits written out, as decimal text.
    fn hex(text: &str) -> String {
        let mut n = Limbs::<8>::zero();
        for (i, c) in text.chars().rev().enumerate() {
            n.put(i as u32 * 4, 4, c.to_digit(16).unwrap().into());
        }
        let mut out = Vec::new();
        while n.bits() > 0 {
            out.push(char::from_digit(n.divide(10), 10).unwrap());
        }
        out.iter().rev().collect()
    }

    /// The versions and bounds AWS enforces (as recorded against Kinesis
    /// by kinesalite's suite): unknown versions, a record index with its
    /// top bit set, a creation time past 16025175000 s are invalid.
    #[test]
    fn versions_and_bounds_are_read_as_aws_reads_them() {
        let read = |h: &str| Parsed::read(&hex(h));
        assert_eq!(
            read("20000000000000000000000000000000000000000000000"),
            None
        );
        assert_eq!(
            read("20000000000000000000000000000000000000000000004"),
            None
        );
        assert_eq!(
            read("20000000000000000000000000000000000000000000003"),
            None
        );
        assert_eq!(
            read("30000000000000000000000000000000000000000000001"),
            None
        );
        assert_eq!(
            read("1ffffffffff7fffffffffffffff000000000007fffffff2"),
            None
        );
        assert_eq!(
            read("20000000000800000000000000000000000000000000002"),
            None
        );
        assert_eq!(
            read("2ffffffffff7fffffffffffffff000000000007fffffff2"),
            None
        );
        assert_eq!(read("13bb2cc3d80000000000000000000000"), None);
        assert_eq!(
            read("20000000000000000000000000000000000000000000001").map(|p| p.version),
            Some(1)
        );
        let negative = read("20000000000000000000000000000000000000800000002").unwrap();
        assert_eq!((negative.version, negative.shard), (2, -2_147_483_648));
        assert_eq!(negative.shard_id(), "shardId--02147483648");
        // Below 2^124 a number is read as if 2^124 were added: version 0.
        assert_eq!(
            Parsed::read("0").map(|p| (p.version, p.shard)),
            Some((0, 0))
        );
        assert_eq!(Parsed::read(&"9".repeat(130)), None);
    }

    #[test]
    fn numbers_order_by_record_within_a_shard() {
        let created = 1_763_800_000_123;
        let a = SequenceNumber::of_record(created, 3, 41, created + 5000);
        let b = SequenceNumber::of_record(created, 3, 42, created + 1000);
        let start = SequenceNumber::before(created, 3, 0);
        let (ta, tb, ts) = (a.to_string(), b.to_string(), start.to_string());
        assert!(ts < ta && ta < tb, "{ts} {ta} {tb}");
        let parsed = Parsed::read(&ta).unwrap();
        assert_eq!(
            (
                parsed.shard,
                parsed.ordinal,
                parsed.shard_created_secs,
                parsed.time_secs
            ),
            (3, 42, 1_763_800_000, 1_763_800_005)
        );
        assert_eq!(SequenceNumber::at_position(parsed.ordinal), 41);
        // A prefix shared by the records of one put writes the same text.
        let prefix = Prefix::for_records(created, 3, created + 5000);
        assert_eq!(prefix.record_text(41), ta);
    }

    proptest::proptest! {
        /// Whatever digits a client sends (the request's pattern allows up
        /// to 129), reading them never panics, and what nuage writes reads
        /// back to the same fields.
        #[test]
        fn any_digits_are_read_without_a_panic(text in "[0-9]{1,129}") {
            let _ = Parsed::read(&text);
        }

        #[test]
        fn written_numbers_read_back(created in 0u64..(1 << 36), shard in 0u32..(1 << 31), ordinal in 0u64..(1 << 63), time in 0u64..(1 << 36)) {
            let number = SequenceNumber { shard_created_secs: created, shard, ordinal, time_secs: time };
            let parsed = Parsed::read(&number.to_string());
            if created < LATEST_CREATION_SECS {
                let p = parsed.unwrap();
                proptest::prop_assert_eq!((p.version, p.shard_created_secs, p.shard, p.ordinal, p.time_secs), (2, created, i64::from(shard), ordinal, time));
            } else {
                proptest::prop_assert_eq!(parsed, None);
            }
        }
    }
}
