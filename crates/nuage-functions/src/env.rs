//! One execution environment: a process of the function's runtime with its
//! own Runtime API port, reused warm for invocation after invocation, one
//! at a time. Its stdout and stderr are one pipe; nuage's runtime clients
//! mark the end of each invocation's output on it, so each invocation's
//! log holds exactly what it printed.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use crate::lock;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::runtime::Launch;
use crate::runtime::api::{Invocation, Outcome, RuntimeApi};

/// The marker nuage's bootstraps write after each invocation's output.
const END_MARK: &[u8] = b"\x01nuage-invocation-end\n";

/// How long an invocation's output may trail its response.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// What starts an environment.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub launch: Launch,
    pub code: PathBuf,
    pub vars: Vec<(String, String)>,
    pub marks_output: bool,
}

/// How one invocation in an environment ended.
#[derive(Debug)]
pub(crate) enum Ended {
    Answered(Outcome),
    TimedOut,
    /// The process exited (or was killed) before answering.
    Exited(String),
}

pub(crate) struct Run {
    pub ended: Ended,
    /// What the process printed for this invocation (and, the first time,
    /// while starting).
    pub output: Vec<u8>,
    pub max_memory_mb: u64,
    /// The environment's start-up time, reported with its first invocation.
    pub init: Option<Duration>,
}

/// The pipe's content not yet taken, and how many end marks it has seen
/// (`u64::MAX` once the process closed it).
struct Output {
    buffer: Mutex<Vec<u8>>,
    marks: watch::Sender<u64>,
    /// When the first mark (the runtime's init done) was read.
    initialized: Mutex<Option<Instant>>,
}

pub(crate) struct Environment {
    child: Child,
    api: RuntimeApi,
    output: Arc<Output>,
    marks_output: bool,
    handled: u64,
    started: Instant,
    pub last_used: Instant,
    /// A warning to put in the first invocation's log.
    warning: Option<String>,
}

impl Environment {
    pub(crate) async fn start(spec: &Spec) -> std::io::Result<Self> {
        let api = RuntimeApi::start().await?;
        let (reader, writer) = std::io::pipe()?;
        let mut command = Command::new(&spec.launch.program);
        command
            .args(&spec.launch.args)
            .current_dir(&spec.code)
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME" || k == "LANG"))
            .envs(spec.vars.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer.try_clone()?))
            .stderr(Stdio::from(writer))
            .kill_on_drop(true);
        let child = command.spawn()?;
        // The parent's copies of the write end went with `command`.
        drop(command);
        let output = Arc::new(Output {
            buffer: Mutex::new(Vec::new()),
            marks: watch::channel(0).0,
            initialized: Mutex::new(None),
        });
        let reading = output.clone();
        std::thread::Builder::new()
            .name("nuage-fn-output".into())
            .spawn(move || read_output(reader, &reading))?;
        Ok(Self {
            child,
            api,
            output,
            marks_output: spec.marks_output,
            handled: 0,
            started: Instant::now(),
            last_used: Instant::now(),
            warning: spec.launch.warning.clone(),
        })
    }

    /// Runs one invocation; `None` in `timeout` would wait forever.
    pub(crate) async fn invoke(&mut self, invocation: Invocation, timeout: Duration) -> Run {
        let first = self.handled == 0;
        let answer = self.api.send(invocation);
        let ended = tokio::select! {
            outcome = answer => match outcome {
                Ok(outcome) => Ended::Answered(outcome),
                Err(_) => Ended::Exited("the runtime API stopped".into()),
            },
            status = self.child.wait() => Ended::Exited(match status {
                Ok(status) => exit_text(status),
                Err(e) => e.to_string(),
            }),
            _ = tokio::time::sleep(timeout) => Ended::TimedOut,
        };
        let max_memory_mb = self.child.id().map(peak_memory_mb).unwrap_or(0);
        self.handled += 1;
        self.last_used = Instant::now();
        let healthy = matches!(
            ended,
            Ended::Answered(Outcome::Response(_) | Outcome::Error(_))
        );
        if !healthy {
            let _ = self.child.start_kill();
        }
        // The init mark, then one per invocation.
        let expected = if self.marks_output && healthy {
            self.handled + 1
        } else {
            u64::MAX
        };
        let mut marks = self.output.marks.subscribe();
        let _ = tokio::time::timeout(OUTPUT_GRACE, marks.wait_for(|m| *m >= expected)).await;
        let mut output = std::mem::take(&mut *lock(&self.output.buffer));
        if first && let Some(warning) = self.warning.take() {
            output.splice(0..0, format!("{warning}\n").into_bytes());
        }
        Run {
            ended,
            output,
            max_memory_mb,
            // Init: until the runtime said it was ready (nuage's runtime
            // clients), else until this first invocation ended.
            init: first.then(|| {
                lock(&self.output.initialized)
                    .map_or_else(|| self.started.elapsed(), |t| t - self.started)
            }),
        }
    }

    /// Whether the process still runs (a crash or kill ends its reuse).
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Copies the pipe into the buffer, counting end marks, until the process
/// and its children close it.
fn read_output(mut reader: std::io::PipeReader, output: &Output) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut pending = Vec::new();
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&chunk[..n]);
        let mut marks = 0;
        let mut start = 0;
        {
            let mut buffer = lock(&output.buffer);
            while let Some(at) = find(&pending[start..], END_MARK) {
                buffer.extend_from_slice(&pending[start..start + at]);
                start += at + END_MARK.len();
                marks += 1;
            }
            // Keep a possible mark's beginning for the next read.
            let keep = partial_mark(&pending[start..]);
            let end = pending.len() - keep;
            buffer.extend_from_slice(&pending[start..end]);
            pending.drain(..end);
        }
        if marks > 0 {
            lock(&output.initialized).get_or_insert_with(Instant::now);
            output.marks.send_modify(|m| *m += marks);
        }
    }
    lock(&output.buffer).extend_from_slice(&pending);
    output.marks.send_replace(u64::MAX);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How many trailing bytes of `bytes` could begin an end mark.
fn partial_mark(bytes: &[u8]) -> usize {
    (1..END_MARK.len())
        .rev()
        .find(|&n| bytes.len() >= n && bytes[bytes.len() - n..] == END_MARK[..n])
        .unwrap_or(0)
}

/// `exit status 1` / `signal: killed`, as Lambda words a runtime's exit.
fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_string(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The process's peak resident memory (VmHWM), in MB.
fn peak_memory_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb.div_ceil(1024))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_split_across_reads_are_found() {
        assert_eq!(partial_mark(b"abc\x01nuage"), 6);
        assert_eq!(partial_mark(b"abc"), 0);
        assert_eq!(partial_mark(b"\x01"), 1);
    }
}
