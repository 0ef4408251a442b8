//! Request latencies of a load generator: an HDR histogram of microseconds
//! with 3 significant digits, so memory stays constant however long a run
//! is, and the writers' histograms add up.

use std::time::Duration;

use hdrhistogram::Histogram;

pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Self {
        // 1 µs to 1 hour; longer calls are counted as 1 hour.
        Self(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
    }

    pub fn record(&mut self, latency: Duration) {
        self.0
            .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn add(&mut self, other: &Latencies) {
        self.0
            .add(&other.0)
            .expect("histograms with the same bounds");
    }

    /// Calls recorded.
    pub fn calls(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0.5 for the median), in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1e3
    }
}
