//! The per-shard throughput of a provisioned Kinesis shard, for
//! `--enforce-limits`: 1,000 records and 1 MiB written per second, 5
//! GetRecords calls and 2 MiB read per second. Token buckets that refill
//! continuously; a read may overdraw the byte bucket (AWS lets one call return
//! up to 10 MiB and then throttles the calls after it).

use std::time::Instant;

const WRITE_RECORDS: f64 = 1000.0;
const WRITE_BYTES: f64 = 1024.0 * 1024.0;
const READ_CALLS: f64 = 5.0;
const READ_BYTES: f64 = 2.0 * 1024.0 * 1024.0;

#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64, now: Instant) -> Self {
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = now;
    }
}

#[derive(Debug, Clone)]
pub struct Throttle {
    write_records: Bucket,
    write_bytes: Bucket,
    read_calls: Bucket,
    read_bytes: Bucket,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

impl Throttle {
    pub fn new(now: Instant) -> Self {
        Self {
            write_records: Bucket::new(WRITE_RECORDS, now),
            write_bytes: Bucket::new(WRITE_BYTES, now),
            read_calls: Bucket::new(READ_CALLS, now),
            read_bytes: Bucket::new(READ_BYTES, now),
        }
    }

    /// How many of these records (sizes in bytes, in put order) the shard
    /// takes now; the rest are refused.
    pub fn admit_writes(&mut self, sizes: impl Iterator<Item = usize>, now: Instant) -> usize {
        self.write_records.refill(now);
        self.write_bytes.refill(now);
        let mut admitted = 0;
        for size in sizes {
            let size = size as f64;
            if self.write_records.tokens < 1.0 || self.write_bytes.tokens < size {
                break;
            }
            self.write_records.tokens -= 1.0;
            self.write_bytes.tokens -= size;
            admitted += 1;
        }
        admitted
    }

    /// Whether a GetRecords call may run now.
    pub fn admit_read(&mut self, now: Instant) -> bool {
        self.read_calls.refill(now);
        self.read_bytes.refill(now);
        if self.read_calls.tokens < 1.0 || self.read_bytes.tokens <= 0.0 {
            return false;
        }
        self.read_calls.tokens -= 1.0;
        true
    }

    /// Charges the bytes a GetRecords call returned.
    pub fn charge_read(&mut self, bytes: usize) {
        self.read_bytes.tokens -= bytes as f64;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn writes_and_reads_are_limited_per_second() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(t0);
        assert_eq!(
            throttle.admit_writes(std::iter::repeat_n(10, 1500), t0),
            1000
        );
        assert_eq!(throttle.admit_writes(std::iter::repeat_n(10, 10), t0), 0);
        let half = t0 + Duration::from_millis(500);
        assert_eq!(
            throttle.admit_writes(std::iter::repeat_n(10, 1000), half),
            500
        );
        // 1 MiB/s by bytes: two 600 KB records, one gets in.
        let mut fresh = Throttle::new(t0);
        assert_eq!(fresh.admit_writes([600_000, 600_000].into_iter(), t0), 1);
        // 5 calls per second, and a big read costs the calls after it.
        let mut reads = Throttle::new(t0);
        assert!((0..5).all(|_| reads.admit_read(t0)));
        assert!(!reads.admit_read(t0));
        let later = t0 + Duration::from_secs(1);
        assert!(reads.admit_read(later));
        reads.charge_read(10 * 1024 * 1024);
        assert!(!reads.admit_read(later + Duration::from_secs(2)));
        assert!(reads.admit_read(later + Duration::from_secs(5)));
    }
}
