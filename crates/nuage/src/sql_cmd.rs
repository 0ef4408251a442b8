//! `nuage sql`: the Hive CLI's flags (`-e`, `-f`, `-i`, `--hiveconf`,
//! `--hivevar`, `--database`), its output (rows on stdout; `OK` and
//! `Time taken` on stderr) and its interactive shell.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, StreamExt};
use nuage_common::Config;
use nuage_sql::{Output, Session, split_statements};

use crate::print::{Format, Printer};

#[derive(Args)]
pub struct SqlArgs {
    /// Run one or more statements given on the command line
    #[arg(short = 'e', value_name = "SQL", conflicts_with = "file")]
    execute: Option<String>,
    /// Run a script file
    #[arg(short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,
    /// Run this script first (may repeat)
    #[arg(short = 'i', value_name = "FILE")]
    init: Vec<PathBuf>,
    /// Set a variable read by ${hiveconf:k}, as SET k=v does
    #[arg(long = "hiveconf", value_name = "K=V")]
    hiveconf: Vec<String>,
    /// Set a variable read by ${hivevar:k} or ${k}
    #[arg(long = "hivevar", alias = "define", short = 'd', value_name = "K=V")]
    hivevar: Vec<String>,
    /// Start in this database
    #[arg(long)]
    database: Option<String>,
    /// Print column names before the rows
    #[arg(long)]
    header: bool,
    /// How result rows are printed
    #[arg(long, value_enum, default_value = "tsv")]
    output: Format,
    /// Silent mode: no OK / Time taken lines on stderr
    #[arg(short = 'S', long)]
    silent: bool,
    /// How each statement's cost goes to stderr: `text` (Hive's OK and
    /// Time taken lines) or `json` (one object per statement, for machines)
    #[arg(long, value_enum, default_value = "text")]
    stats: StatsFormat,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub enum StatsFormat {
    Text,
    Json,
}

fn key_value(text: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
        None => bail!("expected KEY=VALUE, got {text:?}"),
    }
}

pub async fn run(config: &Config, args: SqlArgs) -> Result<ExitCode> {
    let mut session = Session::open(config)
        .await
        .context("opening the data directory")?;
    for kv in &args.hiveconf {
        let (k, v) = key_value(kv)?;
        session.execute(&format!("SET {k}={v}")).await?;
    }
    for kv in &args.hivevar {
        let (k, v) = key_value(kv)?;
        session.vars.hivevar.insert(k, v);
    }
    if let Some(db) = &args.database {
        session.use_database(db)?;
    }
    let mut runner = Runner {
        data_dir: config.data_dir.clone(),
        printer: Printer::new(std::io::stdout().lock(), args.output),
        header: args.header,
        silent: args.silent,
        stats: args.stats,
    };
    for init in &args.init {
        let text =
            std::fs::read_to_string(init).with_context(|| format!("reading {}", init.display()))?;
        if !runner
            .script(&mut session, &text, &init.display().to_string())
            .await
        {
            return Ok(ExitCode::FAILURE);
        }
    }
    let ok = if let Some(sql) = &args.execute {
        runner.script(&mut session, sql, "-e").await
    } else if let Some(file) = &args.file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        runner
            .script(&mut session, &text, &file.display().to_string())
            .await
    } else {
        return shell(&mut session, runner).await;
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Runner<W: Write> {
    /// Where `nuage serve` notes its endpoint (continuous jobs run there).
    data_dir: PathBuf,
    printer: Printer<W>,
    /// `--header` on the command line.
    header: bool,
    silent: bool,
    stats: StatsFormat,
}

impl<W: Write> Runner<W> {
    /// Runs every statement of a script; stops at the first failure (returns false).
    /// `quit;` and `exit;` end the script; `source FILE;` runs another script in place.
    async fn script(&mut self, session: &mut Session, text: &str, source: &str) -> bool {
        for statement in split_statements(text) {
            let lower = statement.text.to_ascii_lowercase();
            if matches!(lower.as_str(), "quit" | "exit") {
                return true;
            }
            if let Some(file) = lower
                .strip_prefix("source ")
                .map(|_| statement.text[7..].trim())
            {
                let file = session.vars.substitute(file);
                let ok = match std::fs::read_to_string(&file) {
                    Ok(text) => Box::pin(self.script(session, &text, &file)).await,
                    Err(e) => {
                        eprintln!("FAILED: cannot read {file}: {e}");
                        false
                    }
                };
                if !ok {
                    eprintln!("  in statement at line {} of {source}", statement.line);
                    return false;
                }
                continue;
            }
            if let Err(e) = self.statement(session, &statement.text).await {
                eprintln!("FAILED: {e}");
                eprintln!("  in statement at line {} of {source}", statement.line);
                return false;
            }
        }
        true
    }

    /// Runs one statement; a panic inside it (a bug in nuage or a library)
    /// fails that statement with an internal error instead of ending the
    /// process, so a shell or a script's error handling goes on.
    async fn statement(&mut self, session: &mut Session, text: &str) -> Result<()> {
        match AssertUnwindSafe(self.unguarded(session, text))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(panic) => bail!(
                "internal error in nuage (please report it): {}",
                nuage_common::panic_message(&*panic)
            ),
        }
    }

    async fn unguarded(&mut self, session: &mut Session, text: &str) -> Result<()> {
        let started = Instant::now();
        let header = session.print_header();
        let output = match crate::flow_cmd::statement(session, &self.data_dir, text).await? {
            Some(output) => output,
            None => session.execute(text).await?,
        };
        let mut rows = 0usize;
        match output {
            Output::Rows(mut stream) => {
                let schema = stream.schema();
                self.printer.set_header(self.header || header);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    self.printer.batch(&batch)?;
                }
                self.printer.finish(&schema)?;
                self.report(session, text, started, Some(rows));
            }
            Output::Done(note) => {
                if let Some(note) = note
                    && !self.silent
                {
                    eprintln!("{note}");
                }
                self.report(session, text, started, None);
            }
        }
        Ok(())
    }

    /// The statement's cost on stderr: Hive's `OK` and `Time taken` line with
    /// what was scanned, or one JSON object.
    fn report(&self, session: &Session, text: &str, started: Instant, rows: Option<usize>) {
        let stats = session.scan_stats();
        let seconds = started.elapsed().as_secs_f64();
        if self.stats == StatsFormat::Json {
            let line = serde_json::json!({
                "statement": text,
                "seconds": seconds,
                "rows": rows,
                "bytes_scanned": stats.bytes,
                "files_scanned": stats.files,
                "files_pruned": stats.files_pruned,
                "partitions_read": stats.partitions_read,
                "partitions_total": stats.partitions_total,
            });
            eprintln!("{line}");
            return;
        }
        if self.silent {
            return;
        }
        let fetched = rows.map_or(String::new(), |n| format!("Fetched: {n} row(s), "));
        let partitions = if stats.partitions_total > 0 {
            format!(
                ", Partitions: {} of {}",
                stats.partitions_read, stats.partitions_total
            )
        } else {
            String::new()
        };
        let files = if stats.files + stats.files_pruned > 0 {
            format!(
                ", Files scanned: {}, Files pruned: {}",
                stats.files, stats.files_pruned
            )
        } else {
            String::new()
        };
        eprintln!("OK");
        eprintln!(
            "Time taken: {seconds:.3} seconds, {fetched}Data scanned: {} bytes{files}{partitions}",
            stats.bytes
        );
    }
}

/// The interactive shell: multi-line statements end with `;`, `\q` or `quit;` leaves.
async fn shell<W: Write>(session: &mut Session, mut runner: Runner<W>) -> Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".nuage_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            format!("nuage ({})> ", session.database())
        } else {
            "    > ".to_string()
        };
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && matches!(trimmed, "\\q" | "quit" | "exit" | "quit;" | "exit;") {
            break;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim());
        let text = std::mem::take(&mut buffer);
        for statement in split_statements(&text) {
            if let Err(e) = runner.statement(session, &statement.text).await {
                eprintln!("FAILED: {e}");
                break;
            }
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}
