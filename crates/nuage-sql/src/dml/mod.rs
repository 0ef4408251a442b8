//! Statements that write data: LOAD DATA, INSERT, CREATE TABLE AS SELECT,
//! UPDATE, DELETE and TRUNCATE.
//!
//! UPDATE, DELETE, TRUNCATE and INSERT OVERWRITE of a managed table write the
//! table's complete new content into a fresh snapshot folder
//! (`<location>/_nuage_v<N>`) and then switch the table to it in one metastore
//! transaction. A crash before the switch leaves the old data in place (the
//! half-written folder is ignored and cleared by the next rewrite); a crash
//! after it leaves the new data. Readers never see a mix.

mod create;
mod insert;
mod load;
mod modify;

pub(crate) use create::{create_table_as, create_temporary, result_columns, storage_of};
pub(crate) use insert::{insert, insert_directory, unload};
pub(crate) use load::load_data;
pub(crate) use modify::{delete, truncate, update};

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
use crate::output::Output;
use crate::parser::{CreateTable, TableName};
use crate::query;
use crate::session::Session;
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
        session.semantics(),
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

#[cfg(test)]
mod tests {
    use super::create::column_name;
    use super::load::unique_name;
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
