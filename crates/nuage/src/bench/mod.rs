//! `nuage bench streams|firehose|s3|functions|flow`: load generators for a running `nuage
//! serve` (or any Kinesis or S3 endpoint, for streams and s3). They print records/s, MB/s
//! and request latencies.
//!
//! They send pre-built JSON bodies without signing them (see
//! [`crate::client`]), so the figures are the server's, not an SDK's.

mod firehose;
mod flow;
mod functions;
mod latency;
mod s3;
mod streams;

use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// PutRecords and GetRecords load against a Kinesis endpoint.
    Streams(streams::StreamsBench),
    /// PutRecordBatch into a delivery stream of a `nuage serve` on the same
    /// data dir: throughput into JSON or Parquet objects, and freshness in SQL.
    Firehose(firehose::FirehoseBench),
    /// PUT and GET of small objects (objects/s, latency) and of one large
    /// object (MB/s) against an S3 endpoint.
    S3(s3::S3Bench),
    /// Lambda: warm and cold invocation latency of a no-op Python handler,
    /// event-source mapping throughput (records/s), and the delay from a
    /// file written into the lake to its bucket notification's call.
    Functions(functions::FunctionsBench),
    /// Continuous SQL: a 30-minute tumbling count per station joined with
    /// a minimums table, over events already in a stream (events/s), and
    /// the delay from a window's end to its committed row.
    Flow(flow::FlowBench),
}

pub async fn run(config: &nuage_common::Config, args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        BenchWhat::Streams(b) => streams::run(b).await,
        BenchWhat::Firehose(b) => firehose::run(config, b).await,
        BenchWhat::S3(b) => s3::run(b).await,
        BenchWhat::Functions(b) => functions::run(config, b).await,
        BenchWhat::Flow(b) => flow::run(config, b).await,
    }
}
