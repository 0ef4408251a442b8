//! Statements that write data: LOAD DATA, INSERT, CREATE TABLE AS SELECT,
//! UPDATE, DELETE and TRUNCATE.
//!
//! UPDATE, DELETE, TRUNCATE and INSERT OVERWRITE of a managed table write the
//! table's complete new content into a fresh snapshot folder
//! (`<location>/_nuage_v<N>`) and then switch the table to it in one metastore
//! transaction. A crash before the switch leaves the old data in place (the
//! half-written folder is ignored and cleared by the next rewrite); a crash
//! after it leaves the new data. Readers never see a mix.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{Expr as DfExpr, lit};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{Expr, Query, Statement};
use futures::StreamExt;
use nuage_catalog::{
    Column, FileFormat, Partition, SNAPSHOT_PROPERTY, StorageFormat, Table, TableKind, column_list,
    partition_spec,
};
use nuage_lake::{LakeError, Location};
use object_store::ObjectStoreExt;

use crate::error::{Result, SqlError, semantic};
use crate::parser::{CreateTable, TableName};
use crate::query;
use crate::session::{Output, Session};
use nuage_format::files::list_data_files;
use nuage_format::types::hive_type;
use nuage_format::write::{TableWriter, WrittenFile};

/// Plans SQL that nuage generated itself (standard quoting, not Hive escapes).
async fn plan_sql(session: &Session, sql: &str) -> Result<LogicalPlan> {
    // Parse first: the parser is not Send and must not live across the await.
    let query = crate::dialect::standard_parser(sql)?.parse_query()?;
    plan_query(session, query).await
}

async fn plan_query(session: &Session, query: Box<Query>) -> Result<LogicalPlan> {
    query::plan_statement(
        session.context(),
        &session.shared,
        &session.database,
        Statement::Query(query),
    )
    .await
}

/// Runs a plan and writes every row with `writer`.
async fn write_plan(
    session: &Session,
    plan: LogicalPlan,
    mut writer: TableWriter,
) -> Result<Vec<WrittenFile>> {
    let frame = session.context().execute_logical_plan(plan).await?;
    let mut stream = frame.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let written = match batch {
            Ok(batch) => writer.write(&batch).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            writer.abort().await;
            return Err(e.into());
        }
    }
    Ok(writer.finish().await?)
}

fn rows_of(files: &[WrittenFile]) -> u64 {
    files.iter().map(|f| f.rows).sum()
}

fn parse_location(text: &str) -> Result<Location> {
    Ok(Location::parse(text)?)
}

/// The catalog partitions a set of written files belongs to (none for an
/// unpartitioned table).
fn partitions_of(table: &Table, files: &[WrittenFile]) -> Vec<Partition> {
    if !table.is_partitioned() {
        return Vec::new();
    }
    let folders: BTreeMap<&Vec<String>, &Location> =
        files.iter().map(|f| (&f.partition, &f.dir)).collect();
    folders
        .into_iter()
        .map(|(values, dir)| Partition::new(values.clone(), dir.to_string()))
        .collect()
}

fn register_partitions(session: &Session, table: &Table, files: &[WrittenFile]) -> Result<()> {
    let partitions = partitions_of(table, files);
    session
        .shared
        .metastore
        .add_partitions(&table.database, &table.name, &partitions, true)?;
    Ok(())
}

/// Deletes the data files in `dir` that are not in `keep`.
async fn clear_dir(session: &Session, dir: &Location, keep: &BTreeSet<String>) -> Result<()> {
    let (url, files) = list_data_files(&session.shared.lake, &dir.to_string()).await?;
    let _ = url;
    let (store, _) = session.shared.lake.store_for(dir)?;
    for meta in files {
        let location = match dir {
            Location::Object { bucket, .. } => Location::Object {
                bucket: bucket.clone(),
                key: meta.location.to_string(),
            },
            Location::Local(_) => {
                Location::Local(std::path::PathBuf::from(format!("/{}", meta.location)))
            }
        };
        if !keep.contains(&location.to_string()) {
            store.delete(&meta.location).await?;
        }
    }
    Ok(())
}

fn require_not_view(table: &Table) -> Result<()> {
    if table.kind == TableKind::View {
        return Err(semantic!(
            "{} is a view; views cannot be written to",
            table.qualified_name()
        ));
    }
    Ok(())
}

fn require_managed(table: &Table, what: &str) -> Result<()> {
    require_not_view(table)?;
    if table.kind != TableKind::Managed {
        return Err(semantic!(
            "{what} works on managed tables only and {name} is EXTERNAL (its files belong to someone else); \
             make a managed copy with CREATE TABLE {name}_managed AS SELECT * FROM {name}, \
             or take ownership with ALTER TABLE {name} SET TBLPROPERTIES ('EXTERNAL'='FALSE')",
            name = table.qualified_name()
        ));
    }
    Ok(())
}

/// The next snapshot folder name of a managed table.
fn next_snapshot(table: &Table) -> String {
    let current = table
        .properties
        .get(SNAPSHOT_PROPERTY)
        .and_then(|s| s.strip_prefix("_nuage_v"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    format!("_nuage_v{}", current + 1)
}

fn ignore_missing(result: std::result::Result<Vec<Location>, LakeError>) -> Result<()> {
    match result {
        Ok(_) | Err(LakeError::NotFound(_)) | Err(LakeError::NoSuchBucket(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Replaces the whole content of a managed table with the rows of `plan`
/// (data columns then partition columns), atomically. Returns the rows written.
async fn replace_table_data(session: &Session, table: &Table, plan: LogicalPlan) -> Result<u64> {
    let lake = &session.shared.lake;
    let root = parse_location(&table.location)?;
    let snapshot = next_snapshot(table);
    let new_dir = root.join(&snapshot);
    // A crashed attempt may have left a half-written folder of the same name.
    ignore_missing(lake.remove(&new_dir, true).await)?;
    let writer = TableWriter::new(
        lake.clone(),
        table,
        new_dir,
        vec![None; table.partition_columns.len()],
    );
    let files = write_plan(session, plan, writer).await?;

    let mut new_table = table.clone();
    new_table
        .properties
        .insert(SNAPSHOT_PROPERTY.to_string(), snapshot.clone());
    let partitions = partitions_of(table, &files);
    session
        .shared
        .metastore
        .commit_table_data(&new_table, &partitions)?;

    // Everything under the table's root but the new snapshot is garbage now.
    let keep_prefix = root.join(&snapshot).to_string();
    let everything = match lake.list(&root, true).await {
        Ok(objects) => objects,
        Err(LakeError::NoSuchBucket(_)) | Err(LakeError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    for object in everything {
        let text = object.location.to_string();
        if !text.starts_with(&format!("{keep_prefix}/")) {
            ignore_missing(lake.remove(&object.location, false).await)?;
        }
    }
    Ok(rows_of(&files))
}

/// `LOAD DATA [LOCAL] INPATH ... [OVERWRITE] INTO TABLE t [PARTITION (...)]`.
pub async fn load_data(
    session: &mut Session,
    local: bool,
    path: &str,
    overwrite: bool,
    name: &TableName,
    partition: &[(String, String)],
) -> Result<Output> {
    let table = session.table(name)?;
    require_not_view(&table)?;
    let values = static_values(
        &table,
        &partition
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect::<Vec<_>>(),
    )?;
    if values.iter().any(Option::is_none) {
        return Err(semantic!(
            "table {} is partitioned by {}; name the partition: LOAD DATA ... INTO TABLE {} PARTITION ({})",
            table.qualified_name(),
            column_list(&table.partition_columns),
            table.name,
            table
                .partition_columns
                .iter()
                .map(|c| format!("{}='...'", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let values: Vec<String> = values.into_iter().flatten().collect();
    let source = parse_location(path)?;
    if local && !matches!(source, Location::Local(_)) {
        return Err(semantic!(
            "LOAD DATA LOCAL reads a local path, not {path}; drop LOCAL to load from the lake"
        ));
    }
    let lake = session.shared.lake.clone();
    let (_, files) = list_data_files(&lake, &source.to_string()).await?;
    if files.is_empty() {
        return Err(semantic!(
            "no files to load at {path}: the path does not exist or holds no data files"
        ));
    }
    let (source_store, _) = lake.store_for(&source)?;

    // Where the files go.
    let existing = if table.is_partitioned() {
        session
            .shared
            .metastore
            .list_partitions(&table.database, &table.name)?
            .into_iter()
            .find(|p| p.values == values)
    } else {
        None
    };
    let dest = match (&existing, table.is_partitioned()) {
        (Some(p), _) => parse_location(&p.location)?,
        (None, true) => parse_location(&table.data_location())?
            .join(&partition_spec(&table.partition_columns, &values)),
        (None, false) => parse_location(&table.data_location())?,
    };
    let (dest_store, _) = lake.store_for(&dest)?;
    let (_, before) = list_data_files(&lake, &dest.to_string()).await?;
    let mut taken: BTreeSet<String> = before
        .iter()
        .filter_map(|m| m.location.filename().map(str::to_string))
        .collect();

    let mut loaded = BTreeSet::new();
    for meta in &files {
        let file_name = meta.location.filename().unwrap_or("data").to_string();
        let target_name = unique_name(&file_name, &taken);
        taken.insert(target_name.clone());
        let target = dest.join(&target_name);
        let (_, target_path) = lake.store_for(&target)?;
        // Stream the bytes (files may be larger than memory), then remove the source when moving.
        let mut upload = object_store::buffered::BufWriter::new(dest_store.clone(), target_path);
        let mut stream = source_store.get(&meta.location).await?.into_stream();
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = stream.next().await {
            upload
                .write_all(&chunk?)
                .await
                .map_err(|source| SqlError::Io {
                    path: target.to_string(),
                    source,
                })?;
        }
        upload.shutdown().await.map_err(|source| SqlError::Io {
            path: target.to_string(),
            source,
        })?;
        loaded.insert(target.to_string());
        if !local {
            source_store.delete(&meta.location).await?;
        }
    }
    if overwrite {
        clear_dir(session, &dest, &loaded).await?;
    }
    if table.is_partitioned() && existing.is_none() {
        let partition = Partition::new(values, dest.to_string());
        session.shared.metastore.add_partitions(
            &table.database,
            &table.name,
            &[partition],
            true,
        )?;
    }
    Ok(Output::Done(Some(format!(
        "Loading data to table {}",
        table.qualified_name()
    ))))
}

/// `name`, or `name_copy_N` when taken (Hive's rule for LOAD DATA).
fn unique_name(name: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (1..)
        .map(|n| format!("{stem}_copy_{n}{ext}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some name is free")
}

/// One entry per partition column: the static value, or None when the rows give it.
fn static_values(table: &Table, spec: &[(String, Option<String>)]) -> Result<Vec<Option<String>>> {
    if !table.is_partitioned() {
        if !spec.is_empty() {
            return Err(semantic!(
                "table {} is not partitioned; remove the PARTITION clause",
                table.qualified_name()
            ));
        }
        return Ok(Vec::new());
    }
    for (key, _) in spec {
        if !table.partition_columns.iter().any(|c| &c.name == key) {
            return Err(semantic!(
                "{key} is not a partition column of {}; its partition columns are {}",
                table.qualified_name(),
                column_list(&table.partition_columns)
            ));
        }
    }
    Ok(table
        .partition_columns
        .iter()
        .map(|c| {
            spec.iter()
                .find(|(k, _)| k == &c.name)
                .and_then(|(_, v)| v.clone())
        })
        .collect())
}

/// `INSERT INTO|OVERWRITE TABLE t [PARTITION (...)] [(cols)] SELECT ...|VALUES ...`.
pub async fn insert(
    session: &mut Session,
    overwrite: bool,
    name: &TableName,
    spec: &[(String, Option<String>)],
    columns: &[String],
    source: Box<Query>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_not_view(&table)?;
    let static_partition = static_values(&table, spec)?;
    let dynamic = static_partition.iter().filter(|v| v.is_none()).count();
    let plan = plan_query(session, source).await?;
    let plan = shape_insert(session, &table, plan, columns, dynamic).await?;
    let lake = session.shared.lake.clone();

    if overwrite && table.kind == TableKind::Managed && !table.is_partitioned() {
        let rows = replace_table_data(session, &table, plan).await?;
        return Ok(Output::Done(Some(format!(
            "{rows} rows loaded to {}",
            table.qualified_name()
        ))));
    }
    let existing: BTreeMap<Vec<String>, Location> = if table.is_partitioned() {
        session
            .shared
            .metastore
            .list_partitions(&table.database, &table.name)?
            .into_iter()
            .map(|p| Ok((p.values, parse_location(&p.location)?)))
            .collect::<Result<_>>()?
    } else {
        BTreeMap::new()
    };
    let data_dir = parse_location(&table.data_location())?;
    let writer = TableWriter::new(lake, &table, data_dir.clone(), static_partition.clone())
        .with_partition_dirs(existing.clone());
    let files = write_plan(session, plan, writer).await?;
    if overwrite {
        // Replace what was in each folder that received rows (and a fully static partition even if none came).
        let keep: BTreeSet<String> = files.iter().map(|f| f.location.to_string()).collect();
        let mut dirs: BTreeSet<String> = files.iter().map(|f| f.dir.to_string()).collect();
        if !table.is_partitioned() {
            dirs.insert(data_dir.to_string());
        } else if dynamic == 0 {
            let values: Vec<String> = static_partition.iter().flatten().cloned().collect();
            let dir = existing.get(&values).cloned().unwrap_or_else(|| {
                data_dir.join(&partition_spec(&table.partition_columns, &values))
            });
            dirs.insert(dir.to_string());
        }
        for dir in dirs {
            clear_dir(session, &parse_location(&dir)?, &keep).await?;
        }
    }
    register_partitions(session, &table, &files)?;
    Ok(Output::Done(Some(format!(
        "{} rows loaded to {}",
        rows_of(&files),
        table.qualified_name()
    ))))
}

/// `CREATE TEMPORARY TABLE t (cols)` or `... AS SELECT`: an in-memory table for
/// this session only, shadowing a catalog table of the same name.
pub async fn create_temporary(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let key = (session.database_of(&name), name.name.clone());
    if session
        .shared
        .temporary
        .lock()
        .expect("temporary tables poisoned")
        .contains_key(&key)
    {
        if create.if_not_exists {
            return Ok(Output::Done(None));
        }
        return Err(semantic!(
            "temporary table {}.{} already exists",
            key.0,
            key.1
        ));
    }
    let (schema, batches) = match create.query.clone() {
        Some(query) => {
            let plan = plan_query(session, query).await?;
            let columns = result_columns(&plan)?;
            let frame = session.context().execute_logical_plan(plan).await?;
            let batches = frame.collect().await?;
            let schema = nuage_format::types::schema_of(&columns);
            let batches = batches
                .into_iter()
                .map(|b| {
                    let columns = b
                        .columns()
                        .iter()
                        .zip(schema.fields())
                        .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                        schema.clone(),
                        columns,
                    )?)
                })
                .collect::<Result<Vec<_>>>()?;
            (schema, batches)
        }
        None => {
            let columns = create
                .columns
                .iter()
                .map(|c| {
                    Column::new(&c.name, &c.data_type)
                        .map_err(|e| semantic!("column {}: {e}", c.name))
                })
                .collect::<Result<Vec<_>>>()?;
            (nuage_format::types::schema_of(&columns), Vec::new())
        }
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
    session
        .shared
        .temporary
        .lock()
        .expect("temporary tables poisoned")
        .insert(key.clone(), std::sync::Arc::new(table));
    Ok(Output::Done(Some(format!(
        "{rows} rows in temporary table {}.{}",
        key.0, key.1
    ))))
}

/// `INSERT OVERWRITE [LOCAL] DIRECTORY 'path' ... SELECT ...`: the rows as files
/// in a folder (text with `\001` between fields unless ROW FORMAT / STORED AS
/// say otherwise). Files already there are replaced once the new ones are written.
pub async fn insert_directory(
    session: &mut Session,
    local: bool,
    path: &str,
    format: CreateTable,
    source: Box<Query>,
) -> Result<Output> {
    let dir = parse_location(path)?;
    if local && !matches!(dir, Location::Local(_)) {
        return Err(semantic!(
            "INSERT OVERWRITE LOCAL DIRECTORY writes a local path, not {path}; drop LOCAL to write to the lake"
        ));
    }
    let plan = plan_query(session, source).await?;
    let columns = result_columns(&plan)?;
    // The folder is written like the data of an external table with these columns.
    let mut table = Table::new(
        &session.database,
        "directory",
        TableKind::External,
        dir.to_string(),
        storage_of(&format, FileFormat::Text)?,
        &session.user,
    );
    table.columns = columns;
    let writer = TableWriter::new(session.shared.lake.clone(), &table, dir.clone(), Vec::new());
    let files = write_plan(session, plan, writer).await?;
    let keep: BTreeSet<String> = files.iter().map(|f| f.location.to_string()).collect();
    clear_dir(session, &dir, &keep).await?;
    Ok(Output::Done(Some(format!(
        "{} rows written to {dir}",
        rows_of(&files)
    ))))
}

/// Athena's `UNLOAD (query) TO 'folder' WITH (format = ..., compression = ...,
/// field_delimiter = ..., partitioned_by = ARRAY[...])`: the rows as files, no
/// table. As in Athena the folder must be empty, and partition columns come
/// last in the SELECT list.
pub async fn unload(
    session: &mut Session,
    query: Box<Query>,
    to: &str,
    options: BTreeMap<String, String>,
) -> Result<Output> {
    let dir = parse_location(to)?;
    let Some(format) = options.get("format") else {
        return Err(semantic!(
            "UNLOAD needs WITH (format = 'PARQUET' | 'JSON' | 'TEXTFILE' | 'CSV')"
        ));
    };
    let (_, existing) = list_data_files(&session.shared.lake, &dir.to_string()).await?;
    if !existing.is_empty() {
        return Err(semantic!(
            "UNLOAD writes only to an empty location, and {dir} holds {} file(s); remove them (dfs -rm -r {dir}) or pick another folder",
            existing.len()
        ));
    }
    let mut create = CreateTable {
        with_options: options.clone(),
        ..Default::default()
    };
    if format.eq_ignore_ascii_case("csv") {
        // Athena's UNLOAD CSV is delimited text with commas.
        create
            .with_options
            .insert("format".into(), "TEXTFILE".into());
        create
            .with_options
            .entry("field_delimiter".into())
            .or_insert_with(|| ",".into());
    }
    let plan = plan_query(session, query).await?;
    let columns = result_columns(&plan)?;
    let partition_names = options
        .get("partitioned_by")
        .map(|p| name_list(p))
        .unwrap_or_default();
    let (data, partitions) = split_partition_columns(&columns, &partition_names)?;
    let mut table = Table::new(
        &session.database,
        "unload",
        TableKind::External,
        dir.to_string(),
        storage_of(&create, FileFormat::Parquet)?,
        &session.user,
    );
    table.columns = data.to_vec();
    table.partition_columns = partitions.to_vec();
    if let Some(c) = options.get("compression") {
        table
            .properties
            .insert("write.compression".into(), c.clone());
    }
    let writer = TableWriter::new(
        session.shared.lake.clone(),
        &table,
        dir.clone(),
        vec![None; partitions.len()],
    );
    let files = write_plan(session, plan, writer).await?;
    Ok(Output::Done(Some(format!(
        "{} rows unloaded to {dir} in {} file(s)",
        rows_of(&files),
        files.len()
    ))))
}

/// Athena's `partitioned_by = ARRAY['a', 'b']`, kept as "a,b": lowercase names.
fn name_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A query's columns as (data, partition) columns: Hive and Athena want the
/// partition columns last, in the order they are declared.
fn split_partition_columns<'a>(
    columns: &'a [Column],
    partition_names: &[String],
) -> Result<(&'a [Column], &'a [Column])> {
    let split = columns.len().saturating_sub(partition_names.len());
    let (data, partitions) = columns.split_at(split);
    if partitions
        .iter()
        .map(|c| &c.name)
        .ne(partition_names.iter())
    {
        return Err(semantic!(
            "partition columns ({}) must come last in the SELECT list, in the same order",
            partition_names.join(", ")
        ));
    }
    Ok((data, partitions))
}

/// Hive columns for a query's result (`_cN` for unnamed expressions).
pub(crate) fn result_columns(plan: &LogicalPlan) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::new();
    for (i, field) in plan.schema().fields().iter().enumerate() {
        let name = column_name(field.name(), i);
        let ty = hive_type(field.data_type()).map_err(|e| semantic!("column {name}: {e}"))?;
        if columns.iter().any(|c| c.name == name) {
            return Err(semantic!(
                "the query returns column {name} twice; give each column a distinct alias"
            ));
        }
        columns.push(Column {
            name,
            data_type: ty.to_string(),
            comment: None,
        });
    }
    Ok(columns)
}

/// Orders the query's columns as the table's data columns (filling unnamed ones
/// with NULL when a column list is given), followed by the dynamic partition columns.
async fn shape_insert(
    session: &Session,
    table: &Table,
    plan: LogicalPlan,
    columns: &[String],
    dynamic: usize,
) -> Result<LogicalPlan> {
    let width = plan.schema().fields().len();
    let targets = if columns.is_empty() {
        table.columns.len()
    } else {
        columns.len()
    };
    if width != targets + dynamic {
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        return Err(semantic!(
            "cannot insert into {}: the query returns {width} columns but the table needs {}{} ({}{})",
            table.qualified_name(),
            targets + dynamic,
            if dynamic > 0 {
                format!(" ({targets} data + {dynamic} dynamic partition)")
            } else {
                String::new()
            },
            if columns.is_empty() {
                names.join(", ")
            } else {
                columns.join(", ")
            },
            if dynamic > 0 {
                ", then the partition values"
            } else {
                ""
            }
        ));
    }
    if columns.is_empty() {
        return Ok(plan);
    }
    for c in columns {
        if !table.columns.iter().any(|t| &t.name == c) {
            return Err(semantic!(
                "table {} has no column {c}; columns are: {}",
                table.qualified_name(),
                column_list(&table.columns)
            ));
        }
    }
    let frame = session.context().execute_logical_plan(plan).await?;
    let source: Vec<DfExpr> = frame
        .schema()
        .columns()
        .into_iter()
        .map(DfExpr::Column)
        .collect();
    let mut exprs: Vec<DfExpr> = table
        .columns
        .iter()
        .map(|c| match columns.iter().position(|n| n == &c.name) {
            Some(i) => source[i].clone().alias(&c.name),
            None => lit(ScalarValue::Null).alias(&c.name),
        })
        .collect();
    exprs.extend(source[columns.len()..].iter().cloned());
    Ok(frame.select(exprs)?.into_unoptimized_plan())
}

/// `UPDATE t SET c = expr, ... [WHERE cond]` on a managed table.
pub async fn update(
    session: &mut Session,
    name: &TableName,
    assignments: Vec<(String, Expr)>,
    selection: Option<Expr>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "UPDATE")?;
    for (column, _) in &assignments {
        if table.partition_columns.iter().any(|c| &c.name == column) {
            return Err(semantic!("partition column {column} cannot be updated"));
        }
        if !table.columns.iter().any(|c| &c.name == column) {
            return Err(semantic!(
                "table {} has no column {column}; columns are: {}",
                table.qualified_name(),
                column_list(&table.columns)
            ));
        }
    }
    let select: Vec<String> = table
        .columns
        .iter()
        .chain(&table.partition_columns)
        .map(|c| match assignments.iter().find(|(n, _)| n == &c.name) {
            Some((_, value)) => match &selection {
                Some(cond) => format!(
                    "CASE WHEN ({cond}) THEN ({value}) ELSE `{0}` END AS `{0}`",
                    c.name
                ),
                None => format!("({value}) AS `{}`", c.name),
            },
            None => format!("`{}`", c.name),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM `{}`.`{}`",
        select.join(", "),
        table.database,
        table.name
    );
    let plan = plan_sql(session, &sql).await?;
    let rows = replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(Some(format!(
        "{} rewritten ({rows} rows)",
        table.qualified_name()
    ))))
}

/// `DELETE FROM t [WHERE cond]` on a managed table.
pub async fn delete(
    session: &mut Session,
    name: &TableName,
    selection: Option<Expr>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "DELETE")?;
    let filter = match &selection {
        Some(cond) => format!("WHERE NOT coalesce(({cond}), false)"),
        None => "WHERE false".to_string(),
    };
    let sql = format!(
        "SELECT * FROM `{}`.`{}` {filter}",
        table.database, table.name
    );
    let plan = plan_sql(session, &sql).await?;
    let rows = replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(Some(format!(
        "{} rewritten ({rows} rows kept)",
        table.qualified_name()
    ))))
}

/// `TRUNCATE TABLE t`: a managed table keeps its definition and loses its rows.
pub async fn truncate(session: &mut Session, name: &TableName) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "TRUNCATE")?;
    let sql = format!(
        "SELECT * FROM `{}`.`{}` WHERE false",
        table.database, table.name
    );
    let plan = plan_sql(session, &sql).await?;
    replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(None))
}

/// Storage of a new table from STORED AS, ROW FORMAT and Athena's WITH (format = ...).
pub fn storage_of(create: &CreateTable, default: FileFormat) -> Result<StorageFormat> {
    let mut format = None;
    if let Some(f) = create.with_options.get("format") {
        format = Some(FileFormat::parse(f).ok_or_else(|| {
            semantic!("format {f:?} is not supported; use PARQUET, JSON or TEXTFILE")
        })?);
    }
    if let Some(stored) = &create.stored_as {
        let parsed = FileFormat::parse(stored).ok_or_else(|| {
            semantic!("STORED AS {stored} is not supported; nuage stores TEXTFILE, PARQUET and JSONFILE (ORC, AVRO and SEQUENCEFILE are not read)")
        })?;
        // STORED AS TEXTFILE with a JSON or CSV serde keeps the serde's format.
        if format.is_none()
            && !(parsed == FileFormat::Text
                && create
                    .row_format
                    .as_ref()
                    .is_some_and(|r| r.serde.is_some()))
        {
            format = Some(parsed);
        }
    }
    let mut storage = match &create.row_format {
        Some(row) => match &row.serde {
            Some(serde) => {
                let serde_format = StorageFormat::format_of_serde(serde).ok_or_else(|| {
                    semantic!(
                        "serde {serde} is not supported; nuage reads LazySimpleSerDe, OpenCSVSerde, \
                         org.apache.hive.hcatalog.data.JsonSerDe, org.openx.data.jsonserde.JsonSerDe and ParquetHiveSerDe"
                    )
                })?;
                let mut storage = StorageFormat::new(format.unwrap_or(serde_format));
                if format.is_none() || format == Some(serde_format) {
                    storage.serde = serde.clone();
                }
                storage
            }
            None => StorageFormat::new(format.unwrap_or(FileFormat::Text)),
        },
        None => StorageFormat::new(format.unwrap_or(default)),
    };
    if let Some(row) = &create.row_format {
        storage.serde_properties.extend(row.properties.clone());
    }
    if let Some(delim) = create.with_options.get("field_delimiter") {
        storage
            .serde_properties
            .insert("field.delim".into(), delim.clone());
    }
    Ok(storage)
}

/// `CREATE TABLE t [...] AS SELECT ...` (Hive) and `CREATE TABLE t WITH (...) AS SELECT ...` (Athena).
pub async fn create_table_as(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let database = session.database_of(&name);
    let Some(db) = session.shared.metastore.get_database(&database)? else {
        return Err(semantic!(
            "database {database} does not exist; SHOW DATABASES lists the ones that do"
        ));
    };
    if session
        .shared
        .metastore
        .get_table(&database, &name.name)?
        .is_some()
    {
        if create.if_not_exists {
            return Ok(Output::Done(None));
        }
        return Err(semantic!("table {database}.{} already exists", name.name));
    }
    let athena = !create.with_options.is_empty();
    let storage = storage_of(
        &create,
        if athena {
            FileFormat::Parquet
        } else {
            FileFormat::Text
        },
    )?;
    let partition_names: Vec<String> = if let Some(p) = create.with_options.get("partitioned_by") {
        name_list(p)
    } else {
        create
            .partitioned_by
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    let plan = plan_query(session, create.query.clone().expect("CTAS has a query")).await?;
    let columns = result_columns(&plan)?;
    let (data, partitions) = split_partition_columns(&columns, &partition_names)?;
    let external = create.external || create.with_options.contains_key("external_location");
    let location = match create
        .with_options
        .get("external_location")
        .or(create.location.as_ref())
    {
        Some(l) => parse_location(l)?.to_string(),
        None => format!("{}/{}", db.location.trim_end_matches('/'), name.name),
    };
    let (_, existing) = list_data_files(&session.shared.lake, &location).await?;
    if !existing.is_empty() {
        return Err(semantic!(
            "location {location} already holds {} file(s); CREATE TABLE AS SELECT writes a new table, so choose an empty location",
            existing.len()
        ));
    }
    let kind = if external {
        TableKind::External
    } else {
        TableKind::Managed
    };
    let mut table = Table::new(
        &database,
        &name.name,
        kind,
        location,
        storage,
        &session.user,
    );
    table.columns = data.to_vec();
    table.partition_columns = partitions.to_vec();
    table.properties = create.properties.clone();
    if let Some(c) = create.with_options.get("write_compression") {
        table
            .properties
            .insert("write.compression".into(), c.clone());
    }
    table.comment = create.comment.clone();
    let data_dir = parse_location(&table.data_location())?;
    let writer = TableWriter::new(
        session.shared.lake.clone(),
        &table,
        data_dir.clone(),
        vec![None; table.partition_columns.len()],
    );
    let files = match write_plan(session, plan, writer).await {
        Ok(files) => files,
        Err(e) => {
            let _ = session.shared.lake.remove(&data_dir, true).await;
            return Err(e);
        }
    };
    session.shared.metastore.create_table(&table, false)?;
    register_partitions(session, &table, &files)?;
    Ok(Output::Done(Some(format!(
        "{} rows loaded to {}",
        rows_of(&files),
        table.qualified_name()
    ))))
}

/// Hive's name for a result column: the alias, or `_cN` for an unnamed expression.
pub fn column_name(name: &str, index: usize) -> String {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty();
    if plain {
        name.to_lowercase()
    } else {
        format!("_c{index}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_data_renames_like_hive() {
        let taken: BTreeSet<String> = ["a.csv".to_string(), "a_copy_1.csv".to_string()].into();
        assert_eq!(unique_name("a.csv", &taken), "a_copy_2.csv");
        assert_eq!(unique_name("b.csv", &taken), "b.csv");
    }

    #[test]
    fn unnamed_columns_are_numbered() {
        assert_eq!(column_name("movieId", 0), "movieid");
        assert_eq!(column_name("count(*)", 2), "_c2");
    }
}
