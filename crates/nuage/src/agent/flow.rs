//! One flow: the file it follows (by device and inode), rotation by rename
//! or copytruncate, multi-line records, and the buffer sent to the server.

use super::*;
use crate::client::Connection;

/// One flow at work.
pub(super) struct Flow {
    pub(super) config: FlowConfig,
    pub(super) key: String,
    pub(super) dir: PathBuf,
    /// The file-name part of filePattern (`*`, `?`, `[...]`), as a glob.
    pub(super) name_pattern: globset::GlobMatcher,
    pub(super) processing: Vec<Processing>,
    pub(super) start: Option<regex::Regex>,
    pub(super) endpoint: String,
    pub(super) conn: Connection,
    pub(super) at: Option<Checkpoint>,
    /// Records read but not sent yet, and the checkpoint once they are.
    pub(super) buffer: Vec<Vec<u8>>,
    pub(super) buffered_bytes: usize,
    pub(super) buffer_since: Option<Instant>,
    pub(super) pending: Option<Checkpoint>,
    /// A multi-line record still collecting lines, and when it got its
    /// last one.
    pub(super) partial: Option<String>,
    pub(super) partial_since: Instant,
    /// Where in the followed file the partial record starts.
    pub(super) partial_offset: u64,
    pub(super) counter: u64,
    pub(super) sent: u64,
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
    pub(super) async fn new(
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
    pub(super) fn poll(&mut self) -> anyhow::Result<bool> {
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

    pub(super) fn finish_partial(&mut self) {
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

    pub(super) fn due(&self, stopping: bool) -> bool {
        let age = Duration::from_millis(self.config.max_buffer_age_millis);
        !self.buffer.is_empty()
            && (stopping
                || self.buffer.len() >= self.config.max_buffer_size_records
                || self.buffered_bytes >= self.config.max_buffer_size_bytes
                || self.buffer_since.is_some_and(|t| t.elapsed() >= age))
    }

    /// Sends the buffer (retrying until the server takes every record).
    pub(super) async fn send(&mut self) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
