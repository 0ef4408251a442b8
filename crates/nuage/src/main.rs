//! `nuage`: the one binary. `nuage sql` runs HiveQL like `hive -f`,
//! `nuage lake` moves files in and out of the lake like `hadoop dfs`,
//! `nuage serve` runs the server (Kinesis streams, Firehose delivery).

/// mimalloc instead of glibc's malloc: under `bench/streams.sh` glibc's
/// malloc and free (with their arena locks and consolidation) were about
/// 8% of the server's CPU samples (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod bench;
mod client;
mod crawl_cmd;
mod firehose_cmd;
mod flow_cmd;
mod functions_cmd;
mod lake_cmd;
mod print;
mod serve_cmd;
mod sql_cmd;
mod stream_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nuage",
    version,
    about = "The AWS big-data stack as one self-hosted program"
)]
struct Cli {
    /// Where nuage keeps the lake and the catalog.
    #[arg(
        long,
        global = true,
        env = "NUAGE_DATA_DIR",
        default_value = "nuage-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run HiveQL: a script (-f), a statement (-e), or an interactive shell.
    Sql(sql_cmd::SqlArgs),
    /// Buckets and objects of the lake: mb, ls, put, get, rm.
    Lake(lake_cmd::LakeArgs),
    /// Tables from folders of files: formats, columns, types and partitions, like a Glue crawler.
    Crawl(crawl_cmd::CrawlArgs),
    /// The platform's server: Kinesis, Firehose, S3 and Lambda on one port (127.0.0.1:4566).
    Serve(serve_cmd::ServeArgs),
    /// Kinesis streams for people: create, list, describe, put, get, tail, delete (through `nuage serve`).
    Stream(stream_cmd::StreamArgs),
    /// Firehose delivery streams for people: create, list, describe, put, delete (through `nuage serve`).
    Firehose(firehose_cmd::FirehoseArgs),
    /// Tail log files into streams or delivery streams, like the Kinesis Agent (`--config agent.json`).
    Agent(agent::AgentArgs),
    /// Load generators that print throughput and latency (`nuage bench streams|firehose|s3|functions`).
    Bench(bench::BenchArgs),
    /// Lambda functions of this data dir: `logs NAME [--follow]`.
    Functions(functions_cmd::FunctionsArgs),
}

fn main() -> ExitCode {
    // s3s logs every refused client request as an error; nuage logs its own
    // failures, so s3s speaks only when NUAGE_LOG asks for it.
    let filter = std::env::var("NUAGE_LOG").unwrap_or_else(|_| "error,s3s=off".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = nuage_common::Config::from_env().with_data_dir(&cli.data_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sql(args) => sql_cmd::run(&config, args).await,
            Command::Lake(args) => lake_cmd::run(&config, args).await,
            Command::Crawl(args) => crawl_cmd::run(&config, args).await,
            Command::Serve(args) => serve_cmd::run(&config, args).await,
            Command::Bench(args) => bench::run(&config, args).await,
            Command::Stream(args) => stream_cmd::run(args).await,
            Command::Firehose(args) => firehose_cmd::run(args).await,
            Command::Agent(args) => agent::run(&config, args).await,
            Command::Functions(args) => functions_cmd::run(&config, args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
