//! Statements about the catalog: databases, tables, views, partitions, and
//! what SHOW and DESCRIBE print.

mod alter;
mod create;
mod describe;

use alter::{alter, msck_repair};
use create::{columns_of, create_table};
use describe::{describe, show_create};

use std::collections::{BTreeMap, BTreeSet};

use nuage_catalog::{
    Column, Database, FileFormat, Partition, SNAPSHOT_PROPERTY, Table, TableKind, column_list,
    partition_spec, unescape_partition_value,
};
use nuage_lake::{LakeError, Location};

use crate::dml::storage_of;
use crate::error::{Result, semantic};
use crate::output::{Output, rows_output};
use crate::parser::{AlterTable, ColumnDef, CreateTable, HiveStatement, TableName};
use crate::session::Session;
use nuage_format::files::list_data_files;

pub async fn execute(session: &mut Session, statement: HiveStatement) -> Result<Output> {
    let metastore = session.shared.metastore.clone();
    match statement {
        HiveStatement::CreateDatabase {
            name,
            if_not_exists,
            comment,
            location,
            properties,
        } => {
            let location = match location {
                Some(l) => Location::parse(&l)?.to_string(),
                None => format!("s3://{}/{name}.db", crate::session::WAREHOUSE_BUCKET),
            };
            let database = Database {
                name,
                comment,
                location,
                properties,
                created_at: chrono::Utc::now().timestamp(),
            };
            metastore.create_database(&database, if_not_exists)?;
            Ok(Output::Done(None))
        }
        HiveStatement::DropDatabase {
            name,
            if_exists,
            cascade,
        } => {
            if name == "default" {
                return Err(semantic!("the default database cannot be dropped"));
            }
            if metastore.get_database(&name)?.is_none() {
                return if if_exists {
                    Ok(Output::Done(None))
                } else {
                    Err(semantic!("database {name} does not exist"))
                };
            }
            let dropped = metastore.drop_database(&name, cascade)?;
            for table in dropped {
                delete_managed_data(session, &table).await?;
            }
            if session.database == name {
                session.use_database("default")?;
            }
            Ok(Output::Done(None))
        }
        HiveStatement::ShowDatabases { like } => {
            let names = metastore.list_databases()?.into_iter().map(|d| d.name);
            let rows = filter_like(names.into_iter(), like.as_deref())
                .into_iter()
                .map(|n| vec![n])
                .collect();
            Ok(rows_output(&["database_name"], rows))
        }
        HiveStatement::DescribeDatabase(name) => {
            let db = metastore
                .get_database(&name)?
                .ok_or_else(|| semantic!("database {name} does not exist"))?;
            Ok(rows_output(
                &[
                    "db_name",
                    "comment",
                    "location",
                    "owner_name",
                    "owner_type",
                    "parameters",
                ],
                vec![vec![
                    db.name,
                    db.comment.unwrap_or_default(),
                    db.location,
                    session.user.clone(),
                    "USER".into(),
                    String::new(),
                ]],
            ))
        }
        HiveStatement::CreateTable(create) => create_table(session, *create).await,
        HiveStatement::CreateView {
            name,
            or_replace,
            if_not_exists,
            text,
            comment,
        } => {
            let database = session.database_of(&name);
            // Plan once now, so a broken view fails at CREATE time, not at first use.
            let plan = crate::query::plan_view(&session.shared, &database, &text).await?;
            let columns = crate::dml::result_columns(&plan)?;
            let mut view = Table::new(
                &database,
                &name.name,
                TableKind::View,
                String::new(),
                nuage_catalog::StorageFormat::new(FileFormat::Text),
                &session.user,
            );
            view.columns = columns;
            view.comment = comment;
            view.view_text = Some(text.clone());
            view.view_expanded = Some(text);
            match metastore.get_table(&database, &name.name)? {
                Some(existing) if or_replace && existing.kind == TableKind::View => {
                    metastore.update_table(&view)?
                }
                Some(existing) if existing.kind != TableKind::View => {
                    return Err(semantic!("{database}.{} is a table, not a view", name.name));
                }
                Some(_) if if_not_exists => {}
                Some(_) => {
                    return Err(semantic!(
                        "view {database}.{} already exists; use CREATE OR REPLACE VIEW",
                        name.name
                    ));
                }
                None => {
                    metastore.create_table(&view, false)?;
                }
            }
            Ok(Output::Done(None))
        }
        HiveStatement::DropTable {
            name,
            if_exists,
            view,
        } => {
            let database = session.database_of(&name);
            let key = (database.clone(), name.name.clone());
            if session
                .shared
                .temporary
                .lock()
                .expect("temporary tables poisoned")
                .remove(&key)
                .is_some()
            {
                return Ok(Output::Done(None));
            }
            let Some(table) = metastore.get_table(&database, &name.name)? else {
                return if if_exists {
                    Ok(Output::Done(None))
                } else {
                    Err(crate::query::table_not_found(
                        &session.shared,
                        &database,
                        &name.name,
                    ))
                };
            };
            if view && table.kind != TableKind::View {
                return Err(semantic!(
                    "{} is a table; use DROP TABLE",
                    table.qualified_name()
                ));
            }
            if !view && table.kind == TableKind::View {
                return Err(semantic!(
                    "{} is a view; use DROP VIEW",
                    table.qualified_name()
                ));
            }
            metastore.drop_table(&database, &name.name)?;
            delete_managed_data(session, &table).await?;
            Ok(Output::Done(None))
        }
        HiveStatement::Alter { name, op } => alter(session, &name, op).await,
        HiveStatement::ShowTables {
            database,
            like,
            views,
        } => {
            let database = database.unwrap_or_else(|| session.database.clone());
            let names: Vec<String> = if database == crate::system::SYSTEM {
                crate::system::TABLES
                    .iter()
                    .map(|t| t.to_string())
                    .collect()
            } else {
                metastore
                    .list_tables(&database)?
                    .into_iter()
                    .filter(|t| !views || t.kind == TableKind::View)
                    .map(|t| t.name)
                    .collect()
            };
            let rows = filter_like(names.into_iter(), like.as_deref())
                .into_iter()
                .map(|n| vec![n])
                .collect();
            Ok(rows_output(&["tab_name"], rows))
        }
        HiveStatement::ShowPartitions(name, filter) => {
            let table = session.table(&name)?;
            if !table.is_partitioned() {
                return Err(semantic!(
                    "table {} is not a partitioned table",
                    table.qualified_name()
                ));
            }
            for (key, _) in &filter {
                if !table.partition_columns.iter().any(|c| &c.name == key) {
                    return Err(semantic!(
                        "{key} is not a partition column of {}; its partition columns are {}",
                        table.qualified_name(),
                        column_list(&table.partition_columns)
                    ));
                }
            }
            let matches = |values: &[String]| {
                filter.iter().all(|(key, value)| {
                    let i = table.partition_columns.iter().position(|c| &c.name == key);
                    i.is_some_and(|i| values.get(i) == Some(value))
                })
            };
            let rows = metastore
                .list_partitions(&table.database, &table.name)?
                .into_iter()
                .filter(|p| matches(&p.values))
                .map(|p| vec![partition_spec(&table.partition_columns, &p.values)])
                .collect();
            Ok(rows_output(&["partition"], rows))
        }
        HiveStatement::ShowCreateTable(name) => {
            let table = session.table(&name)?;
            let rows = show_create(&table)
                .lines()
                .map(|l| vec![l.to_string()])
                .collect();
            Ok(rows_output(&["createtab_stmt"], rows))
        }
        HiveStatement::ShowColumns(name) => {
            let table = session.table(&name)?;
            let rows = table
                .columns
                .iter()
                .chain(&table.partition_columns)
                .map(|c| vec![c.name.clone()])
                .collect();
            Ok(rows_output(&["field"], rows))
        }
        HiveStatement::ShowTblProperties(name, key) => {
            let table = session.table(&name)?;
            let rows = match key {
                Some(key) => vec![vec![table.properties.get(&key).cloned().unwrap_or_else(
                    || {
                        format!(
                            "Table {} does not have property: {key}",
                            table.qualified_name()
                        )
                    },
                )]],
                None => table
                    .properties
                    .iter()
                    .map(|(k, v)| vec![k.clone(), v.clone()])
                    .collect(),
            };
            Ok(rows_output(&["prpt_name", "prpt_value"], rows))
        }
        HiveStatement::ShowFunctions => {
            let state = session.context().state();
            let mut names: Vec<String> = state.scalar_functions().keys().cloned().collect();
            names.extend(state.aggregate_functions().keys().cloned());
            names.extend(state.window_functions().keys().cloned());
            names.sort();
            names.dedup();
            Ok(rows_output(
                &["tab_name"],
                names.into_iter().map(|n| vec![n]).collect(),
            ))
        }
        HiveStatement::Describe {
            name,
            extended,
            formatted,
        } => {
            let table = session.table(&name)?;
            let partitions = if (extended || formatted) && table.is_partitioned() {
                metastore
                    .list_partitions(&table.database, &table.name)?
                    .len()
            } else {
                0
            };
            Ok(rows_output(
                &["col_name", "data_type", "comment"],
                describe(&table, extended || formatted, partitions),
            ))
        }
        HiveStatement::MsckRepair(name) => msck_repair(session, &name).await,
        HiveStatement::Analyze(name) => {
            let table = session.table(&name)?;
            Ok(Output::Done(Some(format!(
                "ANALYZE TABLE {}: nothing to do, nuage reads file statistics when it plans",
                table.qualified_name()
            ))))
        }
        other => Err(semantic!("statement not handled here: {other:?}")),
    }
}

/// Deletes a managed table's files (the whole root, including snapshots).
async fn delete_managed_data(session: &Session, table: &Table) -> Result<()> {
    if table.kind != TableKind::Managed || table.location.is_empty() {
        return Ok(());
    }
    let root = Location::parse(&table.location)?;
    match session.shared.lake.remove(&root, true).await {
        Ok(_) | Err(LakeError::NotFound(_)) | Err(LakeError::NoSuchBucket(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Hive's SHOW ... LIKE pattern: `*` is any text, `|` separates alternatives, case-insensitive.
fn filter_like(names: impl Iterator<Item = String>, pattern: Option<&str>) -> Vec<String> {
    let Some(pattern) = pattern else {
        return names.collect();
    };
    let alternatives: Vec<String> = pattern
        .split('|')
        .map(|p| {
            let escaped: String = p
                .trim()
                .chars()
                .map(|c| match c {
                    '*' | '%' => ".*".to_string(),
                    '_' if pattern.contains('%') => ".".to_string(),
                    c => regex::escape(&c.to_string()),
                })
                .collect();
            format!("^(?i){escaped}$")
        })
        .collect();
    let regexes: Vec<regex::Regex> = alternatives
        .iter()
        .filter_map(|a| regex::Regex::new(a).ok())
        .collect();
    names
        .filter(|n| regexes.iter().any(|r| r.is_match(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        let names = || ["movies", "ratings", "users"].into_iter().map(String::from);
        assert_eq!(filter_like(names(), Some("m*|u*")), vec!["movies", "users"]);
        assert_eq!(filter_like(names(), Some("RAT*")), vec!["ratings"]);
    }
}
