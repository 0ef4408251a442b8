//! `nuage serve`: the platform's server (Kinesis, Firehose, S3, Lambda) on
//! one port.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use nuage_server::{App, ServerConfig};
use nuage_streams::{Durability, LogOptions};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:4566", env = "NUAGE_LISTEN")]
    listen: SocketAddr,
    /// fsync: acknowledge a put once it is on disk (grouped fsyncs);
    /// none: once the OS has it (survives a crash of nuage, not of the machine).
    #[arg(long, value_enum, default_value = "fsync")]
    durability: DurabilityArg,
    /// How long new streams stay CREATING, reshards UPDATING and deletes DELETING.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    state_delay_ms: i64,
    /// Largest record accepted, in bytes (AWS: 1 MiB, up to 10 MiB).
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    max_record_bytes: usize,
    /// Open shards allowed over all streams (AWS's account quota).
    #[arg(long, default_value_t = 500)]
    shard_limit: u32,
    /// Refuse what a provisioned AWS shard would: over 1,000 records or
    /// 1 MiB written, or 5 GetRecords or 2 MiB read, per shard per second
    /// (ProvisionedThroughputExceededException). Off by default.
    #[arg(long)]
    enforce_limits: bool,
    /// Region in ARNs.
    #[arg(long, default_value = "us-east-1", env = "AWS_REGION")]
    region: String,
    /// ACCESS_KEY_ID:SECRET pairs, comma-separated: requests must then be
    /// SigV4-signed with one of them (by default any request is accepted).
    /// `ID:SECRET:USER_ID[:DISPLAY_NAME]` makes the key another S3 user's
    /// (its own buckets and objects, ACL grants to it by id); the others
    /// are the lake owner's.
    #[arg(
        long,
        env = "NUAGE_ACCESS_KEYS",
        value_name = "ID:SECRET[:USER_ID[:NAME]],...",
        hide_env_values = true
    )]
    access_keys: Option<String>,
    /// Segment size before a shard starts a new segment file.
    #[arg(long, default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    segment_bytes: u64,
    /// Seconds before the retries of a failed asynchronous (Event)
    /// invocation; Lambda waits 1 minute, then 2.
    #[arg(
        long,
        default_value = "60,120",
        value_delimiter = ',',
        value_name = "SECONDS,..."
    )]
    lambda_retry_delays: Vec<f64>,
    /// Environments one function may run at once without reserved
    /// concurrency.
    #[arg(long, default_value_t = 32)]
    lambda_max_environments: usize,
    /// Seconds between passes that carry out S3 lifecycle rules (the
    /// first runs at start).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    s3_lifecycle_every: u64,
    /// How long an S3 lifecycle day lasts, in seconds (S3: 86400, and
    /// times round up to midnight UTC). Shorten it to watch rules work.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    s3_lifecycle_day: u64,
    /// Seconds between deliveries of S3 server access logs (and at stop).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    s3_access_log_every: u64,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Fsync,
    None,
}

pub async fn run(config: &nuage_common::Config, args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.max_record_bytes > 10 * 1024 * 1024 {
        anyhow::bail!("--max-record-bytes can be at most 10 MiB (10485760), as in AWS");
    }
    // The data dir's layout comes from ServerConfig::new; flags adjust it.
    let mut server = ServerConfig::new(config.clone());
    let streams = &mut server.streams;
    streams.log = LogOptions {
        durability: match args.durability {
            DurabilityArg::Fsync => Durability::Fsync,
            DurabilityArg::None => Durability::None,
        },
        segment_bytes: args.segment_bytes,
    };
    streams.state_delay_ms = args.state_delay_ms;
    streams.shard_limit = args.shard_limit;
    streams.enforce_limits = args.enforce_limits;
    streams.region = args.region.clone();
    server.deliveries.log = LogOptions {
        segment_bytes: 64 * 1024 * 1024,
        ..server.streams.log
    };
    server.deliveries.region = args.region.clone();
    server.functions.region = args.region;
    if args.lambda_retry_delays.is_empty()
        || args
            .lambda_retry_delays
            .iter()
            .any(|s| !(0.0..=3600.0).contains(s))
    {
        anyhow::bail!("--lambda-retry-delays takes seconds between 0 and 3600, e.g. 60,120");
    }
    server.functions.retry_delays = args
        .lambda_retry_delays
        .iter()
        .map(|s| std::time::Duration::from_secs_f64(*s))
        .collect();
    server.functions.max_environments = args.lambda_max_environments.max(1);
    server.limits.max_record_bytes = args.max_record_bytes;
    server.access_log_every = std::time::Duration::from_secs(args.s3_access_log_every.max(1));
    if args.s3_lifecycle_every == 0 || args.s3_lifecycle_day == 0 {
        anyhow::bail!(
            "--s3-lifecycle-every and --s3-lifecycle-day take a positive number of seconds"
        );
    }
    server.lifecycle = nuage_server::s3::lifecycle::Schedule {
        every: std::time::Duration::from_secs(args.s3_lifecycle_every),
        day: nuage_server::s3::lifecycle::Day(std::time::Duration::from_secs(
            args.s3_lifecycle_day,
        )),
    };
    server.keys = nuage_server::auth::Keys::parse(args.access_keys.as_deref().unwrap_or(""))?;
    let app = App::open(server).await?;
    let shutdown = shutdown_signal()?;
    let listener = nuage_server::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    eprintln!(
        "nuage serve: listening on http://{addr} (data dir {})",
        config.data_dir.display()
    );
    nuage_server::serve(listener, app, shutdown).await?;
    eprintln!("nuage serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight. The
/// handlers are installed before this returns, so a signal that arrives
/// once the address is printed is never the default (immediate) death.
pub(crate) fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}
