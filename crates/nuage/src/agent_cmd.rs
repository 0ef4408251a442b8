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

use crate::client::Connection;

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

/// How lines become records.
#[derive(Debug)]
enum Processing {
    SingleLine,
    CsvToJson {
        fields: Vec<String>,
        delimiter: char,
    },
    LogToJson {
        pattern: regex::Regex,
        fields: Vec<String>,
    },
}

impl Processing {
    fn parse(option: &Map<String, Value>) -> anyhow::Result<Processing> {
        let text = |k: &str| option.get(k).and_then(Value::as_str);
        let fields = |k: &str| -> Vec<String> {
            option
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        match text("optionName") {
            Some("SINGLELINE") => Ok(Processing::SingleLine),
            Some("CSVTOJSON") => {
                let fields = fields("customFieldNames");
                anyhow::ensure!(!fields.is_empty(), "CSVTOJSON needs customFieldNames");
                let delimiter = text("delimiter").unwrap_or(",");
                let mut chars = delimiter.chars();
                let (Some(delimiter), None) = (chars.next(), chars.next()) else {
                    anyhow::bail!("CSVTOJSON delimiter must be one character, not {delimiter:?}");
                };
                Ok(Processing::CsvToJson { fields, delimiter })
            }
            Some("LOGTOJSON") => {
                let (pattern, default_fields): (String, &[&str]) =
                    match (text("matchPattern"), text("logFormat")) {
                        (Some(p), _) => (p.to_string(), &[]),
                        (None, Some("COMMONAPACHELOG")) => (
                            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\S+) (\S+)"#.into(),
                            &["host", "ident", "authuser", "datetime", "request", "response", "bytes"],
                        ),
                        (None, Some("COMBINEDAPACHELOG")) => (
                            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\S+) (\S+) "([^"]*)" "([^"]*)""#.into(),
                            &[
                                "host", "ident", "authuser", "datetime", "request", "response",
                                "bytes", "referer", "agent",
                            ],
                        ),
                        (None, Some("SYSLOG" | "RFC3164SYSLOG")) => (
                            r"^(\w{3}\s+\d+ \d{2}:\d{2}:\d{2}) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$".into(),
                            &["timestamp", "hostname", "program", "processid", "message"],
                        ),
                        (None, other) => anyhow::bail!(
                            "LOGTOJSON logFormat {other:?} is not supported by nuage; use COMMONAPACHELOG, COMBINEDAPACHELOG, SYSLOG or a matchPattern with customFieldNames"
                        ),
                    };
                let pattern = regex::Regex::new(&pattern)
                    .map_err(|e| anyhow::anyhow!("LOGTOJSON matchPattern: {e}"))?;
                let mut fields = fields("customFieldNames");
                if fields.is_empty() {
                    fields = default_fields.iter().map(|f| f.to_string()).collect();
                }
                anyhow::ensure!(
                    fields.len() == pattern.captures_len() - 1,
                    "LOGTOJSON has {} field names for {} groups of its pattern",
                    fields.len(),
                    pattern.captures_len() - 1
                );
                Ok(Processing::LogToJson { pattern, fields })
            }
            other => anyhow::bail!(
                "dataProcessingOptions optionName {other:?} is not one of SINGLELINE, CSVTOJSON, LOGTOJSON"
            ),
        }
    }

    /// One record's text (without its final newline), transformed.
    fn apply(&self, text: &str) -> String {
        match self {
            Processing::SingleLine => text.lines().map(str::trim).collect::<Vec<_>>().join(""),
            Processing::CsvToJson { fields, delimiter } => {
                let values: Vec<&str> = text.split(*delimiter).collect();
                let object: Map<String, Value> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let v = values.get(i).map_or(Value::Null, |v| Value::from(*v));
                        (f.clone(), v)
                    })
                    .collect();
                Value::Object(object).to_string()
            }
            Processing::LogToJson { pattern, fields } => match pattern.captures(text) {
                Some(groups) => {
                    let object: Map<String, Value> = fields
                        .iter()
                        .enumerate()
                        .filter_map(|(i, f)| {
                            groups
                                .get(i + 1)
                                .map(|m| (f.clone(), Value::from(m.as_str())))
                        })
                        .collect();
                    Value::Object(object).to_string()
                }
                // The agent sends lines that do not match as they are.
                None => text.to_string(),
            },
        }
    }
}

/// One flow at work.
struct Flow {
    config: FlowConfig,
    key: String,
    dir: PathBuf,
    /// The file-name part of filePattern (`*`, `?`, `[...]`), as a glob.
    name_pattern: globset::GlobMatcher,
    processing: Vec<Processing>,
    start: Option<regex::Regex>,
    endpoint: String,
    conn: Connection,
    at: Option<Checkpoint>,
    /// Records read but not sent yet, and the checkpoint once they are.
    buffer: Vec<Vec<u8>>,
    buffered_bytes: usize,
    buffer_since: Option<Instant>,
    pending: Option<Checkpoint>,
    /// A multi-line record still collecting lines, and when it got its
    /// last one.
    partial: Option<String>,
    partial_since: Instant,
    /// Where in the followed file the partial record starts.
    partial_offset: u64,
    counter: u64,
    sent: u64,
}

/// A connection speaking the flow's service (Kinesis or Firehose).
async fn connect(endpoint: &str, config: &FlowConfig) -> anyhow::Result<Connection> {
    let conn = Connection::open(endpoint).await?;
    Ok(match config.delivery_stream {
        Some(_) => conn.firehose(),
        None => conn,
    })
}

/// A file of a flow's pattern, as listed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LogFile {
    modified: u128,
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
}

impl LogFile {
    fn is(&self, at: &Checkpoint) -> bool {
        (self.dev, self.ino) == (at.dev, at.ino)
    }
}

impl Checkpoint {
    /// The start of `file`, or its end.
    fn at(file: &LogFile, offset: u64) -> Checkpoint {
        Checkpoint {
            path: file.path.clone(),
            dev: file.dev,
            ino: file.ino,
            offset,
        }
    }
}

/// The Agent's wildcards in a file name: `*` for any run of characters
/// (dots too), `?` for one.
fn name_matcher(name: &str) -> anyhow::Result<globset::GlobMatcher> {
    Ok(globset::GlobBuilder::new(name)
        .literal_separator(true)
        .build()
        .map_err(|e| anyhow::anyhow!("filePattern {name}: {e}"))?
        .compile_matcher())
}

impl Flow {
    async fn new(
        config: FlowConfig,
        endpoint: &str,
        at: Option<Checkpoint>,
    ) -> anyhow::Result<Flow> {
        let pattern = Path::new(&config.file_pattern);
        let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
            anyhow::bail!("filePattern {} names no file", config.file_pattern);
        };
        anyhow::ensure!(
            !dir.to_string_lossy().contains(['*', '?']),
            "filePattern {}: wildcards are allowed in the file name only",
            config.file_pattern
        );
        anyhow::ensure!(
            config.kinesis_stream.is_some() != config.delivery_stream.is_some(),
            "flow {}: give exactly one of kinesisStream and deliveryStream",
            config.file_pattern
        );
        let conn = connect(endpoint, &config).await?;
        let processing = config
            .data_processing_options
            .iter()
            .map(Processing::parse)
            .collect::<anyhow::Result<_>>()?;
        let start = config
            .multi_line_start_pattern
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| anyhow::anyhow!("multiLineStartPattern: {e}"))?;
        Ok(Flow {
            key: flow_key(&config),
            dir: dir.to_path_buf(),
            name_pattern: name_matcher(&name.to_string_lossy())?,
            processing,
            start,
            endpoint: endpoint.to_string(),
            conn,
            at,
            buffer: Vec::new(),
            buffered_bytes: 0,
            buffer_since: None,
            pending: None,
            partial: None,
            partial_since: Instant::now(),
            partial_offset: 0,
            counter: 0,
            sent: 0,
            config,
        })
    }

    /// The files of the pattern, oldest first.
    fn files(&self) -> Vec<LogFile> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .filter(|e| self.name_pattern.is_match(e.file_name()))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let modified = meta
                    .modified()
                    .ok()?
                    .duration_since(UNIX_EPOCH)
                    .ok()?
                    .as_nanos();
                meta.is_file().then(|| LogFile {
                    modified,
                    path: e.path(),
                    dev: meta.dev(),
                    ino: meta.ino(),
                    size: meta.len(),
                })
            })
            .collect();
        files.sort();
        files
    }

    /// Reads what is new; true if anything was.
    fn poll(&mut self) -> anyhow::Result<bool> {
        let files = self.files();
        let Some(newest) = files.last() else {
            return Ok(false);
        };
        let mut at = match &self.at {
            Some(at) => at.clone(),
            // First start: the newest file, from its start or its end.
            None => match self.config.initial_position.as_deref() {
                Some("END_OF_FILE") => Checkpoint::at(newest, newest.size),
                _ => Checkpoint::at(newest, 0),
            },
        };
        let mut read_any = false;
        let next = match files.iter().find(|f| f.is(&at)) {
            Some(current) => {
                if current.size < at.offset {
                    tracing::info!(
                        "{}: truncated; reading it again from the start",
                        current.path.display()
                    );
                    self.finish_partial();
                    at.offset = 0;
                }
                read_any = self.read(&current.path, &mut at)?;
                let quiet = now_nanos().saturating_sub(current.modified) > 1_000_000_000;
                if read_any || !quiet {
                    None
                } else {
                    rotated_to(&files, current, &at)
                }
            }
            // The file is gone (deleted): go on with the newest file from
            // its start.
            None => Some(newest),
        };
        if let Some(next) = next {
            self.finish_partial();
            at = Checkpoint::at(next, 0);
            read_any |= self.read(&next.path, &mut at)?;
        }
        if self.partial.is_some()
            && !read_any
            && self.partial_since.elapsed() >= Duration::from_secs(5)
        {
            self.finish_partial();
            self.pending = Some(at.clone());
        }
        self.at = Some(at);
        Ok(read_any)
    }

    /// Reads complete lines of the file at `path` from `at` on, moving it.
    /// What to checkpoint once the buffer is sent becomes `pending`: the
    /// end of the last complete record.
    fn read(&mut self, path: &Path, at: &mut Checkpoint) -> anyhow::Result<bool> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(_) => return Ok(false),
        };
        file.seek(SeekFrom::Start(at.offset))?;
        let mut bytes = Vec::new();
        file.take(8 * 1024 * 1024).read_to_end(&mut bytes)?;
        let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Ok(false);
        };
        let mut offset = at.offset;
        for line in bytes[..=end].split_inclusive(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let text = text.trim_end_matches(['\n', '\r']);
            match &self.start {
                Some(start) if !start.is_match(text) && self.partial.is_some() => {
                    let partial = self.partial.as_mut().expect("checked");
                    partial.push('\n');
                    partial.push_str(text);
                }
                Some(_) => {
                    self.finish_partial();
                    self.partial = Some(text.to_string());
                    self.partial_offset = offset;
                }
                None => self.push(text),
            }
            offset += line.len() as u64;
        }
        self.partial_since = Instant::now();
        at.offset = offset;
        // A record still collecting lines is read again after a restart.
        let complete = match self.partial {
            Some(_) => self.partial_offset,
            None => offset,
        };
        self.pending = Some(Checkpoint {
            offset: complete,
            ..at.clone()
        });
        Ok(true)
    }

    fn finish_partial(&mut self) {
        if let Some(text) = self.partial.take() {
            self.push(&text);
        }
    }

    fn push(&mut self, text: &str) {
        let mut text = text.to_string();
        for p in &self.processing {
            text = p.apply(&text);
        }
        text.push('\n');
        self.buffered_bytes += text.len();
        self.buffer.push(text.into_bytes());
        self.buffer_since.get_or_insert_with(Instant::now);
    }

    fn due(&self, stopping: bool) -> bool {
        let age = Duration::from_millis(self.config.max_buffer_age_millis);
        !self.buffer.is_empty()
            && (stopping
                || self.buffer.len() >= self.config.max_buffer_size_records
                || self.buffered_bytes >= self.config.max_buffer_size_bytes
                || self.buffer_since.is_some_and(|t| t.elapsed() >= age))
    }

    /// Sends the buffer (retrying until the server takes every record).
    async fn send(&mut self) -> anyhow::Result<()> {
        let max = self.config.max_buffer_size_records.clamp(1, 500);
        let mut records = std::mem::take(&mut self.buffer);
        let mut backoff = Duration::from_millis(100);
        while !records.is_empty() {
            let batch: Vec<Vec<u8>> = records.drain(..records.len().min(max)).collect();
            let mut left = batch;
            while !left.is_empty() {
                match self.put(&left).await {
                    Ok(failed) if failed.is_empty() => {
                        self.sent += left.len() as u64;
                        left.clear();
                        backoff = Duration::from_millis(100);
                    }
                    Ok(failed) => {
                        self.sent += (left.len() - failed.len()) as u64;
                        left = failed.into_iter().map(|i| left[i].clone()).collect();
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                    Err(e) => {
                        tracing::warn!("flow {}: {e}; retrying in {backoff:?}", self.key);
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        if let Ok(conn) = connect(&self.endpoint, &self.config).await {
                            self.conn = conn;
                        }
                    }
                }
            }
        }
        self.buffered_bytes = 0;
        self.buffer_since = None;
        Ok(())
    }

    /// One call; the indexes of the records the server refused.
    async fn put(&mut self, records: &[Vec<u8>]) -> anyhow::Result<Vec<usize>> {
        let (operation, body, results) = if let Some(stream) = &self.config.kinesis_stream {
            let deterministic =
                self.config.partition_key_option.as_deref() == Some("DETERMINISTIC");
            let mut entries = Vec::with_capacity(records.len());
            for r in records {
                self.counter += 1;
                let key = if deterministic {
                    format!("{:032x}", md5_of(r))
                } else {
                    // RANDOM: spread over the shards.
                    format!("{:016x}", self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                };
                entries.push(json!({"Data": STANDARD.encode(r), "PartitionKey": key}));
            }
            let body = json!({"StreamName": stream, "Records": entries});
            ("PutRecords", body, "Records")
        } else {
            let stream = self.config.delivery_stream.clone().unwrap_or_default();
            let entries: Vec<Value> = records
                .iter()
                .map(|r| json!({"Data": STANDARD.encode(r)}))
                .collect();
            let body = json!({"DeliveryStreamName": stream, "Records": entries});
            ("PutRecordBatch", body, "RequestResponses")
        };
        let reply = self.conn.json(operation, body).await?;
        Ok(reply[results]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, r)| r["ErrorCode"].is_string())
            .map(|(i, _)| i)
            .collect())
    }
}

/// Where the log went after `current`, read to its end and unchanged for
/// a second. After a rename, to the file that took its name (or else the
/// oldest one as new as it); when it kept its name, to a newer file that is
/// not a copy of it (logrotate's copytruncate copies, then truncates).
fn rotated_to<'a>(files: &'a [LogFile], current: &LogFile, at: &Checkpoint) -> Option<&'a LogFile> {
    let mut others = files.iter().filter(|f| !f.is(at));
    if current.path != at.path {
        others
            .clone()
            .find(|f| f.path == at.path)
            .or_else(|| others.find(|f| f.modified >= current.modified))
    } else {
        others.find(|f| f.modified > current.modified && !same_head(&current.path, &f.path))
    }
}

/// Whether two files start with the same bytes (one is a copy of the
/// other, or of its beginning).
fn same_head(a: &Path, b: &Path) -> bool {
    let head = |p: &Path| -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Ok(file) = File::open(p) {
            let _ = file.take(1024).read_to_end(&mut bytes);
        }
        bytes
    };
    let (a, b) = (head(a), head(b));
    let n = a.len().min(b.len());
    n > 0 && a[..n] == b[..n]
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn md5_of(bytes: &[u8]) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(bytes).into())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn processing(option: Value) -> Processing {
        Processing::parse(option.as_object().unwrap()).unwrap()
    }

    #[test]
    fn file_name_wildcards() {
        let matches = |pattern: &str, name: &str| name_matcher(pattern).unwrap().is_match(name);
        assert!(matches("app.log*", "app.log"));
        assert!(matches("app.log*", "app.log.1"));
        assert!(matches("*.csv", "tolls.csv"));
        assert!(matches("app-?.log", "app-3.log"));
        assert!(!matches("app-?.log", "app-10.log"));
        assert!(!matches("*.csv", "tolls.csv.gz"));
        // Many stars against a long name: linear, not exponential backtracking.
        assert!(!matches(&"*a".repeat(20), &"b".repeat(64)));
        assert!(!matches(&format!("{}b", "*a".repeat(20)), &"a".repeat(64)));
    }

    #[test]
    fn csv_lines_become_json_objects() {
        let p = processing(json!({"optionName": "CSVTOJSON",
            "customFieldNames": ["car", "amount", "lane"], "delimiter": "\t"}));
        let got: Value = serde_json::from_str(&p.apply("a42\t3.5")).unwrap();
        assert_eq!(got, json!({"car": "a42", "amount": "3.5", "lane": null}));
    }

    #[test]
    fn apache_and_syslog_lines_become_json_objects() {
        let p = processing(json!({"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG"}));
        let line =
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#;
        let got: Value = serde_json::from_str(&p.apply(line)).unwrap();
        assert_eq!(got["host"], "127.0.0.1");
        assert_eq!(got["authuser"], "frank");
        assert_eq!(got["request"], "GET /a.gif HTTP/1.0");
        assert_eq!(got["bytes"], "2326");

        let p = processing(json!({"optionName": "LOGTOJSON", "logFormat": "SYSLOG"}));
        let line = "Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages";
        let got: Value = serde_json::from_str(&p.apply(line)).unwrap();
        assert_eq!(got["program"], "rcd");
        assert_eq!(got["processid"], "308");
        assert_eq!(got["message"], "Loaded 12 packages");

        // A line the pattern does not match goes as it is.
        assert_eq!(p.apply("not syslog"), "not syslog");
    }

    #[test]
    fn unknown_options_are_refused_with_the_supported_ones() {
        let option = json!({"optionName": "ADDEC2METADATA"});
        let err = Processing::parse(option.as_object().unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("SINGLELINE, CSVTOJSON, LOGTOJSON"),
            "{err}"
        );
        let option = json!({"optionName": "LOGTOJSON", "matchPattern": "^(\\w+) (\\w+)$",
            "customFieldNames": ["only-one"]});
        let err = Processing::parse(option.as_object().unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("1 field names for 2 groups"),
            "{err}"
        );
    }

    #[test]
    fn single_line_joins_a_multi_line_record() {
        let p = processing(json!({"optionName": "SINGLELINE"}));
        assert_eq!(
            p.apply("{\n  \"a\": 1,\n  \"b\": 2\n}"),
            "{\"a\": 1,\"b\": 2}"
        );
    }
}
