//! `nuage agent --config agent.json`: the Kinesis Agent's job. Each flow
//! tails the files of a `filePattern` and sends their lines to a Kinesis
//! stream (PutRecords) or a delivery stream (PutRecordBatch) of a nuage
//! server, with the agent's configuration format.
//!
//! A flow follows one file at a time, known by device and inode. When that
//! file is renamed (rotation by rename) the flow reads it to the end, waits
//! until nothing has been written to it for a second (a writer may not have
//! reopened yet), then moves to the next newer file of the pattern. When it
//! shrinks below the offset (rotation by copy and truncation) the flow
//! reads it again from the beginning; the copy, which keeps the rotated
//! name, is never read. A multi-line record ends at the next line that
//! matches `multiLineStartPattern`, at rotation, or after five seconds
//! without new lines.
//! Offsets are checkpointed (temp file, fsync, rename) after the server
//! acknowledged the records, so a restart goes on where the last
//! acknowledged batch ended. A `kill -9` between an acknowledgement and its
//! checkpoint sends that one batch again; a graceful stop (SIGTERM, Ctrl-C)
//! sends what is buffered and checkpoints first.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

mod flow;
mod processing;

use flow::Flow;
use processing::Processing;

#[derive(Args)]
pub struct AgentArgs {
    /// The agent's configuration (the Kinesis Agent's agent.json format).
    #[arg(long)]
    config: PathBuf,
    /// The nuage server, unless the configuration names
    /// `kinesis.endpoint` / `firehose.endpoint`.
    #[arg(long, env = "NUAGE_ENDPOINT", default_value = "http://127.0.0.1:4566")]
    endpoint: String,
}

#[derive(Debug, Deserialize)]
struct AgentConfig {
    #[serde(rename = "checkpointFile")]
    checkpoint_file: Option<PathBuf>,
    #[serde(rename = "kinesis.endpoint")]
    kinesis_endpoint: Option<String>,
    #[serde(rename = "firehose.endpoint")]
    firehose_endpoint: Option<String>,
    flows: Vec<FlowConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowConfig {
    file_pattern: String,
    kinesis_stream: Option<String>,
    delivery_stream: Option<String>,
    #[serde(default)]
    partition_key_option: Option<String>,
    #[serde(default)]
    initial_position: Option<String>,
    #[serde(default = "default_buffer_age_millis")]
    max_buffer_age_millis: u64,
    #[serde(default = "default_buffer_size_records")]
    max_buffer_size_records: usize,
    #[serde(default = "default_buffer_size_bytes")]
    max_buffer_size_bytes: usize,
    multi_line_start_pattern: Option<String>,
    #[serde(default)]
    data_processing_options: Vec<Map<String, Value>>,
}

// The Kinesis Agent's defaults.
fn default_buffer_age_millis() -> u64 {
    60_000
}

fn default_buffer_size_records() -> usize {
    500
}

fn default_buffer_size_bytes() -> usize {
    4 * 1024 * 1024
}

/// Where a flow is: the file it follows (by the name it had when the flow
/// started following it) and how far it has sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Checkpoint {
    path: PathBuf,
    dev: u64,
    ino: u64,
    offset: u64,
}

/// A flow's name in the checkpoint file.
fn flow_key(config: &FlowConfig) -> String {
    match (&config.kinesis_stream, &config.delivery_stream) {
        (Some(s), _) => format!("{} -> kinesis:{s}", config.file_pattern),
        (_, Some(s)) => format!("{} -> firehose:{s}", config.file_pattern),
        _ => config.file_pattern.clone(),
    }
}

fn save_checkpoints(path: &Path, checkpoints: &BTreeMap<String, Checkpoint>) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(checkpoints)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    // The rename is durable once the directory is.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub async fn run(config: &nuage_common::Config, args: AgentArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.display()))?;
    let agent: AgentConfig = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}: not an agent configuration: {e}", args.config.display())
    })?;
    anyhow::ensure!(
        !agent.flows.is_empty(),
        "{}: no flows",
        args.config.display()
    );
    let checkpoint_file = agent
        .checkpoint_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("agent").join("checkpoints.json"));
    if let Some(dir) = checkpoint_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut checkpoints: BTreeMap<String, Checkpoint> = match std::fs::read(&checkpoint_file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!("{}: damaged checkpoints: {e}", checkpoint_file.display())
        })?,
        Err(_) => BTreeMap::new(),
    };
    let mut flows = Vec::new();
    for flow in &agent.flows {
        let endpoint = match (
            &flow.kinesis_stream,
            &agent.kinesis_endpoint,
            &agent.firehose_endpoint,
        ) {
            (Some(_), Some(e), _) | (None, _, Some(e)) => e.clone(),
            _ => args.endpoint.clone(),
        };
        let at = checkpoints.get(&flow_key(flow)).cloned();
        flows.push(Flow::new(flow.clone(), &endpoint, at).await?);
    }
    eprintln!(
        "nuage agent: {} flow(s), checkpoints in {}",
        flows.len(),
        checkpoint_file.display()
    );
    let mut stop = Box::pin(crate::serve_cmd::shutdown_signal()?);
    let mut stopping = false;
    loop {
        if !stopping {
            stopping = futures::FutureExt::now_or_never(stop.as_mut()).is_some();
        }
        let mut busy = false;
        for flow in &mut flows {
            busy |= flow.poll()?;
            if stopping && flow.partial.is_some() {
                flow.finish_partial();
                flow.pending = flow.at.clone();
            }
            if flow.due(stopping) {
                flow.send().await?;
            }
            if flow.buffer.is_empty()
                && let Some(at) = flow.pending.take()
            {
                checkpoints.insert(flow.key.clone(), at);
                save_checkpoints(&checkpoint_file, &checkpoints)?;
            }
        }
        if stopping {
            let sent: u64 = flows.iter().map(|f| f.sent).sum();
            eprintln!("nuage agent: stopped after sending {sent} records");
            return Ok(ExitCode::SUCCESS);
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.as_mut() => stopping = true,
            }
        }
    }
}
