//! `nuage functions`: what a function printed, in CloudWatch's words
//! (`START` / `END` / `REPORT` around each invocation), read from
//! `<data-dir>/functions/<name>/log`; no server needed.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

#[derive(Args)]
pub struct FunctionsArgs {
    #[command(subcommand)]
    what: FunctionsWhat,
}

#[derive(Subcommand)]
enum FunctionsWhat {
    /// Print a function's log (the last --lines lines), and with --follow
    /// keep printing what it writes.
    Logs {
        name: String,
        /// Lines to show from the end (0: the whole log).
        #[arg(long, default_value_t = 50)]
        lines: usize,
        #[arg(long, short)]
        follow: bool,
    },
}

pub async fn run(config: &nuage_common::Config, args: FunctionsArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        FunctionsWhat::Logs {
            name,
            lines,
            follow,
        } => logs(&config.data_dir.join("functions"), &name, lines, follow).await,
    }
}

async fn logs(
    functions: &Path,
    name: &str,
    lines: usize,
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let dir = functions.join(name);
    if !dir.join("function.json").is_file() {
        anyhow::bail!(
            "no function {name} in {}: create it with `aws lambda create-function` against nuage serve",
            functions.display()
        );
    }
    let path = dir.join("log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = if lines == 0 {
        0
    } else {
        all.len().saturating_sub(lines)
    };
    let mut out = std::io::stdout().lock();
    for line in &all[start..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    drop(out);
    if !follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Follow: new bytes as they come; a rotated (shorter) log from its start.
    let mut at = text.len() as u64;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let size = file.metadata()?.len();
        if size < at {
            at = 0;
        }
        if size == at {
            continue;
        }
        file.seek(SeekFrom::Start(at))?;
        let mut fresh = Vec::new();
        file.read_to_end(&mut fresh)?;
        at += fresh.len() as u64;
        let mut out = std::io::stdout().lock();
        out.write_all(&fresh)?;
        out.flush()?;
    }
}
