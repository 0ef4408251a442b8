//! `nuage crawl PATH --database DB`: tables from folders of files, as a Glue crawler.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nuage_common::Config;
use nuage_crawler::{Action, CrawlOptions, HeaderChoice, crawl};
use nuage_sql::Session;

#[derive(Args)]
pub struct CrawlArgs {
    /// The folder to crawl: s3://bucket/prefix/ or a local path
    path: String,
    /// The database the tables go to (created if missing)
    #[arg(long, default_value = "default")]
    database: String,
    /// Name of the table, when the crawl finds one table
    #[arg(long)]
    table: Option<String>,
    /// Put before every table name
    #[arg(long, default_value = "")]
    table_prefix: String,
    /// CSV files have a header row
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
    /// CSV files have no header row (default: detect, as Glue does)
    #[arg(long)]
    no_header: bool,
    /// Show what would change; change nothing
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(config: &Config, args: CrawlArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let session = Session::open(config)
        .await
        .context("opening the data directory")?;
    let options = CrawlOptions {
        database: args.database.clone(),
        table: args.table.clone(),
        table_prefix: args.table_prefix.clone(),
        header: match (args.header, args.no_header) {
            (true, _) => HeaderChoice::Yes,
            (_, true) => HeaderChoice::No,
            _ => HeaderChoice::Detect,
        },
        dry_run: args.dry_run,
        owner: std::env::var("USER").unwrap_or_else(|_| "nuage".into()),
    };
    // Drawn only on a terminal, and only once a crawl is big enough to wait for.
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("sampling {pos}/{len} files {wide_bar} {eta}")
            .expect("a valid template"),
    );
    let progress = |done: usize, total: usize| {
        if total >= 500 && bar.is_hidden() && done == 1 {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let shared = session.shared();
    let report = crawl(
        &shared.lake,
        shared.metastore.as_ref(),
        &args.path,
        &options,
        &progress,
    )
    .await?;
    bar.finish_and_clear();

    let verb = |action: &Action| match (action, args.dry_run) {
        (Action::Created, false) => "created",
        (Action::Created, true) => "would create",
        (Action::Updated(_), false) => "updated",
        (Action::Updated(_), true) => "would update",
        (Action::Unchanged, _) => "unchanged",
        (Action::Conflict(_), _) => "not changed",
    };
    if report.database_created {
        let verb = if args.dry_run {
            "would create"
        } else {
            "created"
        };
        println!("{verb} database {}", options.database.to_lowercase());
    }
    for table in &report.tables {
        println!(
            "{} {}  {}  {}  {} file(s), {} partition(s), {} new",
            verb(&table.action),
            table.name,
            table.location,
            table.format,
            table.files,
            table.partitions,
            table.partitions_added
        );
        let columns = |cols: &[nuage_catalog::Column]| {
            cols.iter()
                .map(|c| format!("{} {}", c.name, c.data_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("  columns: {}", columns(&table.columns));
        if !table.partition_columns.is_empty() {
            println!("  partitioned by: {}", columns(&table.partition_columns));
        }
        match &table.action {
            Action::Updated(changes) => {
                for change in changes {
                    println!("  change: {change}");
                }
            }
            Action::Conflict(reason) => println!("  conflict: {reason}"),
            _ => {}
        }
        for note in &table.notes {
            println!("  note: {note}");
        }
    }
    for (file, reason) in &report.skipped {
        eprintln!("skipped {file}: {reason}");
    }
    let conflicts = report.count(|a| matches!(a, Action::Conflict(_)));
    eprintln!(
        "Crawl {} in {:.2} s: {} table(s) created, {} updated, {} unchanged{}; {} partition(s) added; {} file(s) read, {} skipped{}",
        if args.dry_run {
            "planned (dry run, nothing changed)"
        } else {
            "finished"
        },
        started.elapsed().as_secs_f64(),
        report.count(|a| matches!(a, Action::Created)),
        report.count(|a| matches!(a, Action::Updated(_))),
        report.count(|a| matches!(a, Action::Unchanged)),
        if conflicts > 0 {
            format!(", {conflicts} in conflict")
        } else {
            String::new()
        },
        report.partitions_added(),
        report.files_read,
        report.skipped.len(),
        if report.tables.is_empty() {
            "; no table found"
        } else {
            ""
        },
    );
    Ok(if report.tables.is_empty() || conflicts > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
