//! `nuage bench streams|firehose`: load generators for a running `nuage
//! serve` (or any Kinesis endpoint, for streams). They print records/s, MB/s
//! and request latencies.
//!
//! They send pre-built JSON bodies without signing them (see
//! [`crate::client`]), so the figures are the server's, not an SDK's.

mod firehose;
mod latency;
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
}

pub async fn run(config: &nuage_common::Config, args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        BenchWhat::Streams(b) => streams::run(b).await,
        BenchWhat::Firehose(b) => firehose::run(config, b).await,
    }
}
