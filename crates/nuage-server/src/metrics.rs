//! Prometheus metrics for `GET /metrics`: requests and their latencies by
//! operation and outcome, records and bytes in and out per stream and shard,
//! iterator age (how far the last GetRecords of a shard was behind its tip),
//! and the bytes each shard keeps on disk.

use std::time::Duration;

use nuage_streams::Streams;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub records_in: IntCounterVec,
    pub bytes_in: IntCounterVec,
    pub records_out: IntCounterVec,
    pub bytes_out: IntCounterVec,
    pub iterator_age: IntGaugeVec,
    disk_bytes: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let shard = ["stream", "shard"];
        let requests = counter(
            "nuage_requests_total",
            "API requests by service, operation and outcome (ok or the AWS error type)",
            &["service", "operation", "outcome"],
        );
        let records_in = counter("nuage_stream_records_in_total", "Records stored", &shard);
        let bytes_in = counter(
            "nuage_stream_bytes_in_total",
            "Record data bytes stored",
            &shard,
        );
        let records_out = counter(
            "nuage_stream_records_out_total",
            "Records returned by GetRecords",
            &shard,
        );
        let bytes_out = counter(
            "nuage_stream_bytes_out_total",
            "Record data bytes returned by GetRecords",
            &shard,
        );
        let iterator_age = gauge(
            "nuage_stream_iterator_age_milliseconds",
            "MillisBehindLatest of the last GetRecords on the shard",
            &shard,
        );
        let disk_bytes = gauge(
            "nuage_stream_disk_bytes",
            "Bytes of segment files kept",
            &shard,
        );
        let latency = HistogramVec::new(
            HistogramOpts::new("nuage_request_duration_seconds", "API request latency")
                .buckets(prometheus::exponential_buckets(0.0001, 2.0, 18).expect("buckets")),
            &["service", "operation"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(latency.clone()))
            .expect("unique metric");
        Self {
            registry,
            requests,
            latency,
            records_in,
            bytes_in,
            records_out,
            bytes_out,
            iterator_age,
            disk_bytes,
        }
    }

    pub fn request(&self, service: &str, operation: &str, outcome: &str, took: Duration) {
        self.requests
            .with_label_values(&[service, operation, outcome])
            .inc();
        self.latency
            .with_label_values(&[service, operation])
            .observe(took.as_secs_f64());
    }

    /// The text exposition format, with disk usage read now.
    /// Counts what a GetRecords call or a subscription event hands out.
    pub fn count_out(&self, out: &nuage_streams::RecordsOut) {
        let labels = [
            out.stream.as_str(),
            &nuage_streams::meta::shard_id(out.shard),
        ];
        self.records_out
            .with_label_values(&labels)
            .inc_by(out.records.len() as u64);
        self.bytes_out
            .with_label_values(&labels)
            .inc_by(out.records.iter().map(|(r, _)| r.data.len() as u64).sum());
        self.iterator_age
            .with_label_values(&labels)
            .set(out.millis_behind);
    }

    pub fn render(&self, streams: &Streams) -> String {
        self.disk_bytes.reset();
        for (stream, shard, log) in streams.shard_stats() {
            self.disk_bytes
                .with_label_values(&[stream.as_str(), shard.as_str()])
                .set(log.disk_bytes() as i64);
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return format!("# error: {e}\n");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
