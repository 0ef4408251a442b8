//! `ALTER TABLE` (columns, rename, partitions, properties, location) and
//! `MSCK REPAIR TABLE`.

use super::*;

pub(crate) async fn alter(
    session: &mut Session,
    name: &TableName,
    op: AlterTable,
) -> Result<Output> {
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
pub(crate) fn full_partition(table: &Table, spec: &[(String, String)]) -> Result<Vec<String>> {
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
pub(crate) async fn msck_repair(session: &mut Session, name: &TableName) -> Result<Output> {
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
