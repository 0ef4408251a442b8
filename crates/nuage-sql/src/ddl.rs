//! Statements about the catalog: databases, tables, views, partitions, and
//! what SHOW and DESCRIBE print.

use std::collections::{BTreeMap, BTreeSet};

use nuage_catalog::{
    Column, Database, FileFormat, Partition, SNAPSHOT_PROPERTY, Table, TableKind, column_list,
    partition_spec, unescape_partition_value,
};
use nuage_lake::{LakeError, Location};

use crate::dml::storage_of;
use crate::error::{Result, semantic};
use crate::parser::{AlterTable, ColumnDef, CreateTable, HiveStatement, TableName};
use crate::session::{Output, Session, rows_output};
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

fn columns_of(defs: &[ColumnDef]) -> Result<Vec<Column>> {
    defs.iter()
        .map(|d| {
            let mut column = Column::new(&d.name, &d.data_type)
                .map_err(|e| semantic!("column {}: {e}", d.name))?;
            column.comment = d.comment.clone();
            Ok(column)
        })
        .collect()
}

async fn create_table(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let database = session.database_of(&name);
    let metastore = session.shared.metastore.clone();
    let Some(db) = metastore.get_database(&database)? else {
        return Err(semantic!(
            "database {database} does not exist; SHOW DATABASES lists the ones that do"
        ));
    };
    let default_location = format!("{}/{}", db.location.trim_end_matches('/'), name.name);
    let table = if let Some(like) = &create.like {
        let source = session.table(like)?;
        if source.kind == TableKind::View {
            return Err(semantic!(
                "CREATE TABLE LIKE needs a table, and {} is a view",
                source.qualified_name()
            ));
        }
        let kind = if create.external {
            TableKind::External
        } else {
            TableKind::Managed
        };
        let location = match &create.location {
            Some(l) => Location::parse(l)?.to_string(),
            None => default_location,
        };
        let mut table = Table::new(
            &database,
            &name.name,
            kind,
            location,
            source.storage,
            &session.user,
        );
        table.columns = source.columns;
        table.partition_columns = source.partition_columns;
        table.properties = source.properties;
        table.properties.remove(SNAPSHOT_PROPERTY);
        table.comment = source.comment;
        table
    } else {
        if create.columns.is_empty() {
            return Err(semantic!(
                "CREATE TABLE {} needs columns: CREATE TABLE {} (name type, ...), or AS SELECT",
                name,
                name
            ));
        }
        let storage = storage_of(&create, FileFormat::Text)?;
        let mut kind = if create.external {
            TableKind::External
        } else {
            TableKind::Managed
        };
        let mut properties = create.properties.clone();
        if properties
            .get("EXTERNAL")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            kind = TableKind::External;
        }
        properties.remove("EXTERNAL");
        let location = match create
            .location
            .as_ref()
            .or(create.with_options.get("external_location"))
        {
            Some(l) => Location::parse(l)?.to_string(),
            None => default_location,
        };
        if create.partitioned_by.iter().any(|c| c.data_type.is_empty()) {
            return Err(semantic!(
                "PARTITIONED BY needs a type for each column, as in PARTITIONED BY (year STRING)"
            ));
        }
        let mut table = Table::new(
            &database,
            &name.name,
            kind,
            location,
            storage,
            &session.user,
        );
        table.columns = columns_of(&create.columns)?;
        table.partition_columns = columns_of(&create.partitioned_by)?;
        table.properties = properties;
        table.comment = create.comment.clone();
        table
    };
    // A table that exists already is fine with IF NOT EXISTS; the metastore says which.
    metastore.create_table(&table, create.if_not_exists)?;
    Ok(Output::Done(None))
}

async fn alter(session: &mut Session, name: &TableName, op: AlterTable) -> Result<Output> {
    let metastore = session.shared.metastore.clone();
    let mut table = session.table(name)?;
    match op {
        AlterTable::AddColumns(defs) => {
            for column in columns_of(&defs)? {
                if table.column(&column.name).is_some() {
                    return Err(semantic!(
                        "table {} already has a column {}",
                        table.qualified_name(),
                        column.name
                    ));
                }
                table.columns.push(column);
            }
            metastore.update_table(&table)?;
        }
        AlterTable::ReplaceColumns(defs) => {
            table.columns = columns_of(&defs)?;
            metastore.update_table(&table)?;
        }
        AlterTable::ChangeColumn { old, new } => {
            let mut column =
                Column::new(&new.name, &new.data_type).map_err(|e| semantic!("{e}"))?;
            column.comment = new.comment;
            let Some(slot) = table.columns.iter_mut().find(|c| c.name == old) else {
                return Err(semantic!(
                    "table {} has no column {old}",
                    table.qualified_name()
                ));
            };
            *slot = column;
            metastore.update_table(&table)?;
        }
        AlterTable::RenameTo(new) => {
            let new_database = new
                .database
                .clone()
                .unwrap_or_else(|| table.database.clone());
            metastore.rename_table(&table.database, &table.name, &new_database, &new.name)?;
        }
        AlterTable::AddPartitions {
            if_not_exists,
            partitions,
        } => {
            let mut added = Vec::new();
            for (spec, location) in partitions {
                let values = full_partition(&table, &spec)?;
                let location = match location {
                    Some(l) => Location::parse(&l)?.to_string(),
                    None => format!(
                        "{}/{}",
                        table.data_location().trim_end_matches('/'),
                        partition_spec(&table.partition_columns, &values)
                    ),
                };
                added.push(Partition::new(values, location));
            }
            metastore.add_partitions(&table.database, &table.name, &added, if_not_exists)?;
        }
        AlterTable::DropPartitions {
            if_exists,
            partitions,
        } => {
            let values: Vec<Vec<String>> = partitions
                .iter()
                .map(|spec| full_partition(&table, spec))
                .collect::<Result<_>>()?;
            let dropped = metastore.drop_partitions(&table.database, &table.name, &values)?;
            if dropped.len() < values.len() && !if_exists {
                return Err(semantic!(
                    "some of the partitions do not exist in {}; SHOW PARTITIONS lists them (or use IF EXISTS)",
                    table.qualified_name()
                ));
            }
            if table.kind == TableKind::Managed {
                for partition in dropped {
                    let _ = session
                        .shared
                        .lake
                        .remove(&Location::parse(&partition.location)?, true)
                        .await;
                }
            }
        }
        AlterTable::SetProperties(props) => {
            for (k, v) in props {
                if k.eq_ignore_ascii_case("EXTERNAL") {
                    table.kind = if v.eq_ignore_ascii_case("true") {
                        TableKind::External
                    } else {
                        TableKind::Managed
                    };
                } else {
                    table.properties.insert(k, v);
                }
            }
            metastore.update_table(&table)?;
        }
        AlterTable::SetSerdeProperties(props) => {
            table.storage.serde_properties.extend(props);
            metastore.update_table(&table)?;
        }
        AlterTable::SetLocation(location) => {
            table.location = Location::parse(&location)?.to_string();
            table.properties.remove(SNAPSHOT_PROPERTY);
            metastore.update_table(&table)?;
        }
    }
    Ok(Output::Done(None))
}

/// Values for every partition column from a `PARTITION (k='v', ...)` spec.
fn full_partition(table: &Table, spec: &[(String, String)]) -> Result<Vec<String>> {
    if !table.is_partitioned() {
        return Err(semantic!(
            "table {} is not partitioned",
            table.qualified_name()
        ));
    }
    table
        .partition_columns
        .iter()
        .map(|c| {
            spec.iter()
                .find(|(k, _)| k == &c.name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    semantic!(
                        "partition spec must give every partition column of {} ({})",
                        table.qualified_name(),
                        column_list(&table.partition_columns)
                    )
                })
        })
        .collect()
}

/// `MSCK REPAIR TABLE t`: registers partition folders (`k=v/...`) found under the table.
async fn msck_repair(session: &mut Session, name: &TableName) -> Result<Output> {
    let table = session.table(name)?;
    if !table.is_partitioned() {
        return Ok(Output::Done(None));
    }
    let root = Location::parse(&table.data_location())?;
    let (_, files) = list_data_files(&session.shared.lake, &root.to_string()).await?;
    let (_, root_path) = session.shared.lake.store_for(&root)?;
    let known: BTreeSet<Vec<String>> = session
        .shared
        .metastore
        .list_partitions(&table.database, &table.name)?
        .into_iter()
        .map(|p| p.values)
        .collect();
    let depth = table.partition_columns.len();
    let mut found: BTreeMap<Vec<String>, String> = BTreeMap::new();
    for meta in files {
        let relative = meta
            .location
            .as_ref()
            .strip_prefix(root_path.as_ref())
            .unwrap_or(meta.location.as_ref())
            .trim_start_matches('/');
        let parts: Vec<&str> = relative.split('/').collect();
        if parts.len() <= depth {
            continue;
        }
        let values: Option<Vec<String>> = table
            .partition_columns
            .iter()
            .zip(&parts)
            .map(|(column, part)| {
                let (key, value) = part.split_once('=')?;
                key.eq_ignore_ascii_case(&column.name)
                    .then(|| unescape_partition_value(value))
            })
            .collect();
        if let Some(values) = values {
            found
                .entry(values)
                .or_insert_with(|| root.join(&parts[..depth].join("/")).to_string());
        }
    }
    let missing: Vec<Partition> = found
        .into_iter()
        .filter(|(values, _)| !known.contains(values))
        .map(|(values, location)| Partition::new(values, location))
        .collect();
    let names: Vec<String> = missing
        .iter()
        .map(|p| {
            format!(
                "{}:{}",
                table.name,
                partition_spec(&table.partition_columns, &p.values)
            )
        })
        .collect();
    session
        .shared
        .metastore
        .add_partitions(&table.database, &table.name, &missing, true)?;
    if names.is_empty() {
        return Ok(Output::Done(None));
    }
    let mut rows = vec![vec![format!(
        "Partitions not in metastore:\t{}",
        names.join("\t")
    )]];
    rows.extend(
        names
            .iter()
            .map(|n| vec![format!("Repair: Added partition to metastore {n}")]),
    );
    Ok(rows_output(&["result"], rows))
}

fn describe(table: &Table, detailed: bool, partitions: usize) -> Vec<Vec<String>> {
    let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
    let mut rows: Vec<Vec<String>> = Vec::new();
    if detailed {
        rows.push(row("# col_name", "data_type", "comment"));
    }
    for c in &table.columns {
        rows.push(row(
            &c.name,
            &c.data_type,
            c.comment.as_deref().unwrap_or(""),
        ));
    }
    for c in &table.partition_columns {
        rows.push(row(
            &c.name,
            &c.data_type,
            c.comment.as_deref().unwrap_or(""),
        ));
    }
    if table.is_partitioned() {
        rows.push(row("", "", ""));
        rows.push(row("# Partition Information", "", ""));
        rows.push(row("# col_name", "data_type", "comment"));
        for c in &table.partition_columns {
            rows.push(row(
                &c.name,
                &c.data_type,
                c.comment.as_deref().unwrap_or(""),
            ));
        }
    }
    if !detailed {
        return rows;
    }
    let created = chrono::DateTime::from_timestamp(table.created_at, 0)
        .map(|d| d.format("%a %b %d %H:%M:%S UTC %Y").to_string())
        .unwrap_or_default();
    rows.push(row("", "", ""));
    rows.push(row("# Detailed Table Information", "", ""));
    rows.push(row("Database:", &table.database, ""));
    rows.push(row("Owner:", &table.owner, ""));
    rows.push(row("CreateTime:", &created, ""));
    if table.kind != TableKind::View {
        rows.push(row("Location:", &table.location, ""));
        if table.properties.contains_key(SNAPSHOT_PROPERTY) {
            rows.push(row("Data Location:", &table.data_location(), ""));
        }
    }
    rows.push(row("Table Type:", table.kind.as_str(), ""));
    rows.push(row("Table Parameters:", "", ""));
    if table.kind == TableKind::External {
        rows.push(row("", "EXTERNAL", "TRUE"));
    }
    if let Some(comment) = &table.comment {
        rows.push(row("", "comment", comment));
    }
    if table.is_partitioned() {
        rows.push(row("", "numPartitions", &partitions.to_string()));
    }
    for (k, v) in &table.properties {
        rows.push(row("", k, v));
    }
    if table.kind == TableKind::View {
        rows.push(row("", "", ""));
        rows.push(row("# View Information", "", ""));
        rows.push(row(
            "View Original Text:",
            table.view_text.as_deref().unwrap_or(""),
            "",
        ));
        return rows;
    }
    rows.push(row("", "", ""));
    rows.push(row("# Storage Information", "", ""));
    rows.push(row("SerDe Library:", &table.storage.serde, ""));
    rows.push(row("InputFormat:", table.storage.input_format(), ""));
    rows.push(row("OutputFormat:", table.storage.output_format(), ""));
    rows.push(row("Storage Desc Params:", "", ""));
    for (k, v) in &table.storage.serde_properties {
        rows.push(row("", k, &printable(v)));
    }
    rows
}

/// Control characters as Hive shows them (`\t`, `\u0001`).
fn printable(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '\t' => "\\t".to_string(),
            '\n' => "\\n".to_string(),
            c if c.is_control() => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

fn quote(value: &str) -> String {
    format!("'{}'", printable(value).replace('\'', "\\'"))
}

/// The DDL that recreates a table, in Hive's layout.
pub fn show_create(table: &Table) -> String {
    if table.kind == TableKind::View {
        return format!(
            "CREATE VIEW `{}`.`{}` AS {}",
            table.database,
            table.name,
            table.view_text.as_deref().unwrap_or("")
        );
    }
    let column = |c: &Column| match &c.comment {
        Some(comment) => format!("  `{}` {} COMMENT {}", c.name, c.data_type, quote(comment)),
        None => format!("  `{}` {}", c.name, c.data_type),
    };
    let mut out = format!(
        "CREATE {}TABLE `{}`.`{}`(\n{})\n",
        if table.kind == TableKind::External {
            "EXTERNAL "
        } else {
            ""
        },
        table.database,
        table.name,
        table
            .columns
            .iter()
            .map(column)
            .collect::<Vec<_>>()
            .join(",\n")
    );
    if let Some(comment) = &table.comment {
        out.push_str(&format!("COMMENT {}\n", quote(comment)));
    }
    if table.is_partitioned() {
        out.push_str(&format!(
            "PARTITIONED BY (\n{})\n",
            table
                .partition_columns
                .iter()
                .map(column)
                .collect::<Vec<_>>()
                .join(",\n")
        ));
    }
    out.push_str(&format!(
        "ROW FORMAT SERDE\n  {}\n",
        quote(&table.storage.serde)
    ));
    if !table.storage.serde_properties.is_empty() {
        let props: Vec<String> = table
            .storage
            .serde_properties
            .iter()
            .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
            .collect();
        out.push_str(&format!("WITH SERDEPROPERTIES (\n{})\n", props.join(",\n")));
    }
    out.push_str(&format!(
        "STORED AS INPUTFORMAT\n  {}\nOUTPUTFORMAT\n  {}\nLOCATION\n  {}",
        quote(table.storage.input_format()),
        quote(table.storage.output_format()),
        quote(&table.location)
    ));
    let props: Vec<String> = table
        .properties
        .iter()
        .filter(|(k, _)| k.as_str() != SNAPSHOT_PROPERTY)
        .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
        .collect();
    if !props.is_empty() {
        out.push_str(&format!("\nTBLPROPERTIES (\n{})", props.join(",\n")));
    }
    out
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
