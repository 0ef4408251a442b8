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
mod sample;

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use nuage_catalog::{
    Column, Database, FileFormat, HiveType, Metastore, OPENX_JSON_SERDE, Partition, StorageFormat,
    Table, TableKind, unescape_partition_value,
};
use nuage_lake::{Lake, Location};
use object_store::ObjectMeta;

pub use sample::{FileSchema, HeaderChoice, Layout};

use crate::error::invalid;
pub use crate::error::{CrawlError, Result};
use infer::{table_name, widen_opt};
use nuage_format::compression::Codec;
use nuage_format::files::list_data_files;

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

/// The table folders under `folder` (at `path`), deepest-first only when the
/// whole subtree does not form one table.
fn find_tables(
    folder: &Folder,
    path: &mut Vec<String>,
    sampled: &[Sampled],
    found: &mut Vec<Found>,
    report: &mut CrawlReport,
) {
    let files = folder.all_files();
    if files.is_empty() {
        return;
    }
    let depth = sampled[files[0]].relative.len() - 1 - path.len();
    let same_depth = files
        .iter()
        .all(|&i| sampled[i].relative.len() - 1 - path.len() == depth);
    let leaf = folder.children.is_empty();
    if same_depth && let Some((schema, merged)) = merge_all(&files, sampled, leaf) {
        found.push(Found {
            folder: path.clone(),
            files,
            schema,
            merged,
        });
        return;
    }
    if leaf {
        report.skipped.extend(files.iter().map(|&i| {
            (
                sampled[i].relative.join("/"),
                format!(
                    "the files of {}/ do not share one schema and delimited files cannot be merged (columns are read by position); move each schema to its own folder and crawl again",
                    path.join("/")
                ),
            )
        }));
        return;
    }
    for &i in &folder.files {
        report.skipped.push((
            sampled[i].relative.join("/"),
            "lies next to folders of other schemas, so no table location holds it alone; move it into a folder of its own".into(),
        ));
    }
    for (name, child) in &folder.children {
        path.push(name.clone());
        find_tables(child, path, sampled, found, report);
        path.pop();
    }
}

/// The schema of all the files, if they share one (see the module docs);
/// `force` merges self-describing formats that differ. The flag says whether
/// differing schemas were merged.
fn merge_all(files: &[usize], sampled: &[Sampled], force: bool) -> Option<(FileSchema, bool)> {
    let mut schemas = files.iter().map(|&i| {
        sampled[i]
            .schema
            .as_ref()
            .expect("only sampled files are in the tree")
    });
    let mut merged = schemas.next()?.clone();
    let mut differed = false;
    for schema in schemas {
        let similar = similar(&merged, schema);
        if !similar {
            differed = true;
            let self_describing = matches!(schema.layout, Layout::Json | Layout::Parquet);
            if !(force && self_describing && schema.layout == merged.layout) {
                return None;
            }
        }
        merge_into(&mut merged, schema);
    }
    Some((merged, differed))
}

/// Same layout, and columns that line up (by name: 70% of the smaller set; by
/// position: no conflicting types).
fn similar(a: &FileSchema, b: &FileSchema) -> bool {
    let same_layout = match (&a.layout, &b.layout) {
        (
            Layout::Delimited {
                delimiter: da,
                header: ha,
                ..
            },
            Layout::Delimited {
                delimiter: db,
                header: hb,
                ..
            },
        ) => da == db && ha == hb,
        (x, y) => x == y,
    };
    if !same_layout {
        return false;
    }
    if let Layout::Delimited { header: true, .. } = a.layout {
        // Named by the header but read by position: one header must extend the other.
        return a
            .columns
            .iter()
            .zip(&b.columns)
            .all(|((x, _), (y, _))| x == y);
    }
    if a.layout.named_columns() {
        let names_a: BTreeSet<&str> = a.columns.iter().map(|(n, _)| n.as_str()).collect();
        let names_b: BTreeSet<&str> = b.columns.iter().map(|(n, _)| n.as_str()).collect();
        let common = names_a.intersection(&names_b).count();
        let smaller = names_a.len().min(names_b.len()).max(1);
        common * 10 >= smaller * 7
    } else {
        a.columns
            .iter()
            .zip(&b.columns)
            .all(|((_, x), (_, y))| match (x, y) {
                (Some(x), Some(y)) => {
                    x == y || infer::widen(x.clone(), y.clone()) != HiveType::String
                }
                _ => true,
            })
    }
}

fn merge_into(merged: &mut FileSchema, other: &FileSchema) {
    if let (
        Layout::Delimited { quoted, .. },
        Layout::Delimited {
            quoted: other_quoted,
            ..
        },
    ) = (&mut merged.layout, &other.layout)
    {
        *quoted |= *other_quoted;
    }
    if merged.codec != other.codec {
        // Mixed codecs are fine for reading (each file by its extension).
        merged.codec = Codec::NONE;
    }
    let by_name = merged.layout.named_columns();
    for (i, (name, ty)) in other.columns.iter().enumerate() {
        let slot = if by_name {
            merged.columns.iter_mut().find(|(n, _)| n == name)
        } else {
            merged.columns.get_mut(i)
        };
        match slot {
            Some((_, existing)) => *existing = widen_opt(existing.take(), ty.clone()),
            None => merged.columns.push((name.clone(), ty.clone())),
        }
    }
}

fn folder_display(root: &Location, folder: &[String]) -> String {
    let mut location = root.clone();
    for part in folder {
        location = location.join(part);
    }
    location.to_string().trim_end_matches('/').to_string()
}

/// Partition columns and each file's partition values, from the folders
/// between the table folder and the files.
fn partitioning(
    found: &Found,
    sampled: &[Sampled],
) -> (Vec<String>, BTreeMap<Vec<String>, String>) {
    let start = found.folder.len();
    let levels: Vec<Vec<&str>> = found
        .files
        .iter()
        .map(|&i| {
            let rel = &sampled[i].relative;
            rel[start..rel.len() - 1]
                .iter()
                .map(String::as_str)
                .collect()
        })
        .collect();
    let depth = levels.first().map_or(0, Vec::len);
    let keys: Vec<String> = (0..depth)
        .map(|level| {
            let named: BTreeSet<Option<String>> = levels
                .iter()
                .map(|l| {
                    l[level]
                        .split_once('=')
                        .map(|(k, _)| infer::column_name(k, level))
                })
                .collect();
            match named.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(key)] => key.clone(),
                _ => format!("partition_{level}"),
            }
        })
        .collect();
    let mut partitions = BTreeMap::new();
    if depth == 0 {
        return (keys, partitions);
    }
    for l in &levels {
        let values: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(level, folder)| match folder.split_once('=') {
                Some((_, value)) if !keys[level].starts_with("partition_") => {
                    unescape_partition_value(value)
                }
                _ => folder.to_string(),
            })
            .collect();
        partitions.insert(values, l.join("/"));
    }
    (keys, partitions)
}

/// Creates or updates the catalog table of one found folder.
fn apply(
    shared: &Shared<'_>,
    root: &Location,
    database: &str,
    name: &str,
    found: &Found,
    sampled: &[Sampled],
    options: &CrawlOptions,
) -> Result<TableReport> {
    let location = folder_display(root, &found.folder);
    let (keys, partition_folders) = partitioning(found, sampled);
    let mut notes = Vec::new();
    if found.merged {
        notes.push(
            "its files have different columns; merged them (a column a file lacks reads as NULL)"
                .to_string(),
        );
    }
    let mut columns = Vec::new();
    for (column, ty) in &found.schema.columns {
        if keys.contains(column) {
            notes.push(format!(
                "column {column} is also a partition key; the partition folder's value is used"
            ));
            continue;
        }
        let ty = ty.clone().unwrap_or(HiveType::String);
        let column = Column::new(column, &ty.to_string())
            .or_else(|_| Column::new(column, "string"))
            .map_err(|e| invalid!("column {column}: {e}"))?;
        columns.push(column);
    }
    let partition_columns: Vec<Column> = keys
        .iter()
        .map(|k| Column::new(k, "string").expect("string is a type"))
        .collect();
    let size: u64 = found.files.iter().map(|&i| sampled[i].meta.size).sum();
    let mut storage = storage_of(&found.schema);
    let malformed = sampled
        .iter()
        .any(|f| f.schema.is_err() && f.relative.starts_with(&found.folder));
    if malformed && found.schema.layout == Layout::Json {
        // Queries would stop at the malformed lines the crawl skipped.
        storage
            .serde_properties
            .insert("ignore.malformed.json".into(), "true".into());
        notes.push(
            "some files are not valid JSON lines; set 'ignore.malformed.json'='true' so their bad lines read as NULL rows"
                .into(),
        );
    }
    let mut table = Table::new(
        database,
        name,
        TableKind::External,
        location.clone(),
        storage,
        &options.owner,
    );
    table.columns = columns;
    table.partition_columns = partition_columns;
    let props = &mut table.properties;
    props.insert(
        "classification".into(),
        found.schema.layout.classification().into(),
    );
    props.insert(
        "compressionType".into(),
        codec_name(found.schema.codec).into(),
    );
    props.insert("objectCount".into(), found.files.len().to_string());
    props.insert("sizeKey".into(), size.to_string());
    props.insert("UPDATED_BY_CRAWLER".into(), "nuage".into());
    if let Layout::Delimited { header: true, .. } = found.schema.layout {
        props.insert("skip.header.line.count".into(), "1".into());
    }
    let partitions: Vec<Partition> = partition_folders
        .iter()
        .map(|(values, folder)| Partition::new(values.clone(), format!("{location}/{folder}")))
        .collect();

    let mut report = TableReport {
        name: format!("{database}.{name}"),
        location: location.clone(),
        action: Action::Created,
        format: format_description(&found.schema),
        columns: table.columns.clone(),
        partition_columns: table.partition_columns.clone(),
        files: found.files.len(),
        partitions: partitions.len(),
        partitions_added: partitions.len(),
        notes,
    };
    let existing = shared.metastore.get_table(database, name)?;
    let Some(existing) = existing else {
        if !options.dry_run {
            shared.metastore.create_table(&table, false)?;
            if !partitions.is_empty() {
                shared
                    .metastore
                    .add_partitions(database, name, &partitions, true)?;
            }
        }
        return Ok(report);
    };

    // An existing table: same place and shape, then only additions.
    if existing.location.trim_end_matches('/') != location.trim_end_matches('/') {
        report.action = Action::Conflict(format!(
            "a table {database}.{name} already exists at {}; crawl with --table or --table-prefix to name this one differently",
            existing.location
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    let existing_keys: Vec<&str> = existing
        .partition_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if existing_keys != keys.iter().map(String::as_str).collect::<Vec<_>>() {
        report.action = Action::Conflict(format!(
            "the folders now give partition keys ({}) but the table has ({}); nuage never changes partition keys of an existing table",
            keys.join(", "),
            existing_keys.join(", ")
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    if existing.storage.format != table.storage.format {
        report.action = Action::Conflict(format!(
            "the files are now {} but the table reads {}; nuage never changes the format of an existing table",
            table.storage.format.as_str(),
            existing.storage.format.as_str()
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    let mut updated = existing.clone();
    let mut changes = Vec::new();
    for column in &table.columns {
        match updated.columns.iter_mut().find(|c| c.name == column.name) {
            None => {
                changes.push(format!("added column {} {}", column.name, column.data_type));
                updated.columns.push(column.clone());
            }
            Some(old) if old.data_type != column.data_type => {
                let wide = infer::widen(old.hive_type(), column.hive_type());
                if wide.to_string() != old.data_type {
                    changes.push(format!(
                        "column {} {} -> {}",
                        column.name, old.data_type, wide
                    ));
                    old.data_type = wide.to_string();
                }
            }
            Some(_) => {}
        }
    }
    for key in ["objectCount", "sizeKey"] {
        updated
            .properties
            .insert(key.into(), table.properties[key].clone());
    }
    let known: BTreeSet<Vec<String>> = shared
        .metastore
        .list_partitions(database, name)?
        .into_iter()
        .map(|p| p.values)
        .collect();
    let new_partitions: Vec<Partition> = partitions
        .into_iter()
        .filter(|p| !known.contains(&p.values))
        .collect();
    report.partitions_added = new_partitions.len();
    report.partitions = known.len() + new_partitions.len();
    report.columns = updated.columns.clone();
    if !changes.is_empty() {
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        updated.properties.insert(
            "nuage.crawler.last_change".into(),
            format!("{stamp}: {}", changes.join("; ")),
        );
    }
    if !options.dry_run {
        shared.metastore.update_table(&updated)?;
        if !new_partitions.is_empty() {
            shared
                .metastore
                .add_partitions(database, name, &new_partitions, true)?;
        }
    }
    report.action = if changes.is_empty() {
        Action::Unchanged
    } else {
        Action::Updated(changes)
    };
    Ok(report)
}

/// The serde a file layout needs: LazySimpleSerDe for plain delimited text,
/// OpenCSVSerde once fields are quoted, OpenX for JSON (as Glue picks).
fn storage_of(schema: &FileSchema) -> StorageFormat {
    match &schema.layout {
        Layout::Delimited {
            delimiter, quoted, ..
        } => {
            let delimiter = (*delimiter as char).to_string();
            // StorageFormat::new gives OpenCSVSerde for Csv and LazySimpleSerDe for Text.
            let (format, properties) = if *quoted {
                (
                    FileFormat::Csv,
                    vec![("separatorChar", delimiter), ("quoteChar", "\"".into())],
                )
            } else {
                (FileFormat::Text, vec![("field.delim", delimiter)])
            };
            let mut storage = StorageFormat::new(format);
            for (key, value) in properties {
                storage.serde_properties.insert(key.into(), value);
            }
            storage
        }
        Layout::Json => {
            let mut storage = StorageFormat::new(FileFormat::Json);
            storage.serde = OPENX_JSON_SERDE.into();
            storage
        }
        Layout::Parquet => StorageFormat::new(FileFormat::Parquet),
    }
}

fn codec_name(codec: Codec) -> &'static str {
    use datafusion_datasource::file_compression_type::FileCompressionType as C;
    match codec {
        Codec::Snappy => "snappy",
        Codec::Streaming(c) if c == C::GZIP => "gzip",
        Codec::Streaming(c) if c == C::ZSTD => "zstd",
        Codec::Streaming(c) if c == C::BZIP2 => "bzip2",
        Codec::Streaming(c) if c == C::XZ => "xz",
        Codec::Streaming(_) => "none",
    }
}

fn format_description(schema: &FileSchema) -> String {
    let mut text = match &schema.layout {
        Layout::Delimited {
            delimiter, header, ..
        } => {
            let d = match delimiter {
                b'\t' => "\\t".to_string(),
                d => (*d as char).to_string(),
            };
            format!(
                "csv ('{d}', {})",
                if *header { "header" } else { "no header" }
            )
        }
        Layout::Json => "json".into(),
        Layout::Parquet => "parquet".into(),
    };
    let codec = codec_name(schema.codec);
    if codec != "none" {
        text.push_str(&format!(", {codec}"));
    }
    text
}
