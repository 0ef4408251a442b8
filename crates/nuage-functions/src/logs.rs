//! Each function's log, `<data-dir>/functions/<name>/log`, in CloudWatch's
//! words: what the function printed framed by `START`, `END` and `REPORT`
//! lines, one invocation's block written whole so concurrent ones do not
//! interleave. Past 64 MiB the file is rotated to `log.1`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const ROTATE_AT: u64 = 64 * 1024 * 1024;

/// What a REPORT line states.
pub(crate) struct Report<'a> {
    pub request_id: &'a str,
    pub version: &'a str,
    pub duration: Duration,
    pub memory_size: u32,
    pub max_memory_mb: u64,
    pub init: Option<Duration>,
    /// `timeout` or `error` (Lambda's `Status:` field), none when it ran.
    pub status: Option<&'a str>,
    /// A line of Lambda's own before END (the timeout notice).
    pub notice: Option<String>,
}

/// The block one invocation adds to its function's log.
pub(crate) fn block(output: &[u8], report: &Report<'_>) -> String {
    let id = report.request_id;
    let mut text = format!("START RequestId: {id} Version: {}\n", report.version);
    let printed = String::from_utf8_lossy(output);
    text.push_str(&printed);
    if !printed.is_empty() && !printed.ends_with('\n') {
        text.push('\n');
    }
    if let Some(notice) = &report.notice {
        let _ = writeln!(text, "{notice}");
    }
    let ms = report.duration.as_secs_f64() * 1000.0;
    let _ = write!(
        text,
        "END RequestId: {id}\nREPORT RequestId: {id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\t\
         Memory Size: {} MB\tMax Memory Used: {} MB\t",
        ms.ceil() as u64,
        report.memory_size,
        report.max_memory_mb,
    );
    if let Some(init) = report.init {
        let _ = write!(
            text,
            "Init Duration: {:.2} ms\t",
            init.as_secs_f64() * 1000.0
        );
    }
    if let Some(status) = report.status {
        let _ = write!(text, "Status: {status}");
    }
    text.push('\n');
    text
}

/// The last 4 KB of a block, as `LogType: Tail` returns it.
pub(crate) fn tail(block: &str) -> &str {
    let mut start = block.len().saturating_sub(4096);
    while !block.is_char_boundary(start) {
        start += 1;
    }
    &block[start..]
}

/// Open log files, one per function.
#[derive(Default)]
pub(crate) struct Logs {
    files: Mutex<HashMap<String, File>>,
}

impl Logs {
    pub(crate) fn append(&self, path: &Path, text: &str) {
        let key = path.to_string_lossy().into_owned();
        let mut files = crate::lock(&self.files);
        if !files.contains_key(&key) {
            match OpenOptions::new().create(true).append(true).open(path) {
                Ok(file) => {
                    files.insert(key.clone(), file);
                }
                Err(e) => {
                    tracing::warn!("{}: cannot open the log: {e}", path.display());
                    return;
                }
            }
        }
        let file = files.get_mut(&key).expect("inserted above");
        if let Err(e) = file.write_all(text.as_bytes()) {
            tracing::warn!("{}: cannot write the log: {e}", path.display());
        }
        if file.metadata().is_ok_and(|m| m.len() > ROTATE_AT) {
            files.remove(&key);
            let _ = std::fs::rename(path, path.with_extension("1"));
        }
    }

    /// Forgets a deleted function's file.
    pub(crate) fn close(&self, path: &Path) {
        let mut files = crate::lock(&self.files);
        files.remove(&*path.to_string_lossy());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_frames_the_output_as_cloudwatch_shows_it() {
        let report = Report {
            request_id: "r1",
            version: "$LATEST",
            duration: Duration::from_micros(1500),
            memory_size: 128,
            max_memory_mb: 20,
            init: None,
            status: None,
            notice: None,
        };
        let text = block(b"hello", &report);
        assert_eq!(
            text,
            "START RequestId: r1 Version: $LATEST\nhello\nEND RequestId: r1\nREPORT RequestId: r1\t\
             Duration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB\t\n"
        );
        let long = "é".repeat(3000);
        assert!(tail(&long).len() <= 4096);
    }
}
