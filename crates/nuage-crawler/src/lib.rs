//! The crawler: turns folders of files into catalog tables, as a Glue crawler.
//!
//! ```text
//!  list every file under the root ──> sample each (format, columns, types)
//!      ──> folder tree ──> tables: the highest folder whose files all share a
//!          schema and sit at one depth; the folders between it and the files
//!          are partitions (`key=value` names them, else partition_0, _1, ...)
//!      ──> catalog: create, or add new columns and partitions (never drop)
//! ```
//!
//! Schemas are "shared" as Glue decides: same format (and delimiter and
//! header), and for JSON and Parquet at least 70% of the smaller file's
//! columns are in the other. Delimited files are read by position, so their
//! headers must agree column by column (one may add columns at the end). Files in one folder that still differ are
//! merged when their format is self-describing (JSON, Parquet: a column a file
//! lacks reads as NULL); delimited files read by position cannot be merged, so
//! such a folder gets no table and the report names its files.

mod error;
mod infer;
mod register;
mod sample;
mod tables;

use std::collections::BTreeMap;

use futures::StreamExt;
use nuage_catalog::{Column, Database, Metastore};
use nuage_lake::{Lake, Location};
use object_store::ObjectMeta;

pub use sample::{FileSchema, HeaderChoice, Layout};

use crate::error::invalid;
pub use crate::error::{CrawlError, Result};
use infer::table_name;
use nuage_format::files::list_data_files;
use register::apply;
use tables::{find_tables, folder_display};

/// What to crawl into where.
#[derive(Debug, Clone, Default)]
pub struct CrawlOptions {
    pub database: String,
    /// The name of the table, when the crawl finds exactly one.
    pub table: Option<String>,
    /// Put before every table name (Glue's table prefix).
    pub table_prefix: String,
    pub header: HeaderChoice,
    /// Report what would change without changing the catalog.
    pub dry_run: bool,
    /// Who runs the crawl (the tables' owner).
    pub owner: String,
}

/// What happened to one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Created,
    /// Changed: the list says how (new columns, widened types).
    Updated(Vec<String>),
    Unchanged,
    /// Not created or updated; the reason.
    Conflict(String),
}

#[derive(Debug, Clone)]
pub struct TableReport {
    pub name: String,
    pub location: String,
    pub action: Action,
    /// `csv (',' header, gzip)`, `json`, `parquet`.
    pub format: String,
    pub columns: Vec<Column>,
    pub partition_columns: Vec<Column>,
    pub files: usize,
    pub partitions: usize,
    pub partitions_added: usize,
    /// Remarks: merged schemas, columns dropped for partition keys.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CrawlReport {
    pub tables: Vec<TableReport>,
    /// Files not used, with the reason.
    pub skipped: Vec<(String, String)>,
    pub files_read: usize,
    pub database_created: bool,
}

impl CrawlReport {
    pub fn count(&self, pick: fn(&Action) -> bool) -> usize {
        self.tables.iter().filter(|t| pick(&t.action)).count()
    }

    pub fn partitions_added(&self) -> usize {
        self.tables.iter().map(|t| t.partitions_added).sum()
    }
}

/// One sampled file: its path relative to the crawl root, and what it holds.
struct Sampled {
    relative: Vec<String>,
    meta: ObjectMeta,
    schema: std::result::Result<FileSchema, String>,
}

/// Folders with the files directly in them (indexes into the sampled files).
#[derive(Default)]
struct Folder {
    files: Vec<usize>,
    children: BTreeMap<String, Folder>,
}

impl Folder {
    fn all_files(&self) -> Vec<usize> {
        let mut out = self.files.clone();
        for child in self.children.values() {
            out.extend(child.all_files());
        }
        out
    }
}

/// Where the crawl reads files and registers tables.
struct Shared<'a> {
    lake: &'a Lake,
    metastore: &'a dyn Metastore,
}

/// A table the crawl found: a folder (relative to the root), its files and schema.
struct Found {
    folder: Vec<String>,
    files: Vec<usize>,
    schema: FileSchema,
    merged: bool,
}

/// Crawls `root` (a folder of the lake or a local folder) into `options.database`.
/// `progress(done, total)` is called as files are sampled.
pub async fn crawl(
    lake: &Lake,
    metastore: &dyn Metastore,
    root: &str,
    options: &CrawlOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CrawlReport> {
    let shared = &Shared { lake, metastore };
    let root = Location::parse(root)?;
    let (store, prefix) = shared.lake.store_for(&root)?;
    let base = prefix.as_ref().to_string();
    // The files a query of a table here would read (hidden and marker files skipped).
    let (_, listed) = list_data_files(shared.lake, &root.to_string()).await?;
    let mut report = CrawlReport::default();
    let mut files: Vec<(Vec<String>, ObjectMeta)> = Vec::new();
    for meta in listed {
        let relative = meta
            .location
            .as_ref()
            .strip_prefix(base.as_str())
            .unwrap_or(meta.location.as_ref())
            .trim_start_matches('/')
            .to_string();
        let parts: Vec<String> = relative.split('/').map(str::to_string).collect();
        if meta.size == 0 {
            report.skipped.push((relative, "empty file".into()));
            continue;
        }
        files.push((parts, meta));
    }
    if files.is_empty() {
        return Err(invalid!(
            "no data files under {root}; crawl a folder that holds CSV, JSON lines or Parquet files (check the path with `nuage lake ls`)"
        ));
    }
    let total = files.len();
    let header = options.header;
    // Each sample is its own task, so parsing runs on every core.
    let sampled: Vec<Sampled> = futures::stream::iter(files)
        .map(|(relative, meta)| {
            let store = store.clone();
            let task_meta = meta.clone();
            let task =
                tokio::spawn(async move { sample::sample(&store, &task_meta, header).await });
            async move {
                let schema = task
                    .await
                    .unwrap_or_else(|e| Err(format!("sampling failed: {e}")));
                Sampled {
                    relative,
                    meta,
                    schema,
                }
            }
        })
        .buffered(32)
        .enumerate()
        .map(|(i, sampled)| {
            progress(i + 1, total);
            sampled
        })
        .collect()
        .await;
    report.files_read = sampled.len();

    let mut tree = Folder::default();
    for (i, file) in sampled.iter().enumerate() {
        match &file.schema {
            Ok(_) => {
                let mut folder = &mut tree;
                for part in &file.relative[..file.relative.len() - 1] {
                    folder = folder.children.entry(part.clone()).or_default();
                }
                folder.files.push(i);
            }
            Err(reason) => report
                .skipped
                .push((file.relative.join("/"), reason.clone())),
        }
    }
    let mut found = Vec::new();
    find_tables(&tree, &mut Vec::new(), &sampled, &mut found, &mut report);

    if options.table.is_some() && found.len() > 1 {
        return Err(invalid!(
            "the crawl found {} tables ({}); --table names one table, use --table-prefix for several",
            found.len(),
            found
                .iter()
                .map(|f| folder_display(&root, &f.folder))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let database = options.database.to_lowercase();
    if shared.metastore.get_database(&database)?.is_none() {
        report.database_created = true;
        if !options.dry_run {
            let location = format!("s3://{}/{database}.db", nuage_catalog::WAREHOUSE_BUCKET);
            shared.metastore.create_database(
                &Database {
                    name: database.clone(),
                    comment: Some("created by nuage crawl".into()),
                    location,
                    properties: Default::default(),
                    created_at: chrono::Utc::now().timestamp(),
                },
                true,
            )?;
        }
    }
    for table in found {
        let name = match &options.table {
            Some(name) => name.to_lowercase(),
            None => {
                let folder = table
                    .folder
                    .last()
                    .cloned()
                    .or_else(|| root.name())
                    .or_else(|| root.bucket().map(str::to_string))
                    .unwrap_or_else(|| "crawled".into());
                format!(
                    "{}{}",
                    options.table_prefix.to_lowercase(),
                    table_name(&folder)
                )
            }
        };
        let outcome = apply(shared, &root, &database, &name, &table, &sampled, options)?;
        report.tables.push(outcome);
    }
    Ok(report)
}
