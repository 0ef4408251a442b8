//! Catalog objects to and from rows: tables with their columns and
//! properties, partitions, and the checks a table must pass first.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{CatalogError, Result};
use crate::model::{Column, Partition, StorageFormat, Table, TableKind, partition_spec};

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog values serialise")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| CatalogError::Corrupt(format!("{e} in {text:?}")))
}

pub(super) fn table_id(conn: &Connection, database: &str, name: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM tables WHERE db = ?1 AND name = ?2",
            params![database, name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Fails with NoSuchDatabase unless `name` exists.
pub(super) fn require_database(conn: &Connection, name: &str) -> Result<()> {
    let exists: Option<String> = conn
        .query_row("SELECT name FROM databases WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    match exists {
        Some(_) => Ok(()),
        None => Err(CatalogError::NoSuchDatabase(name.to_string())),
    }
}

pub(super) fn require_table(conn: &Connection, database: &str, name: &str) -> Result<i64> {
    table_id(conn, database, name)?.ok_or_else(|| CatalogError::NoSuchTable {
        database: database.to_string(),
        name: name.to_string(),
        hint: String::new(),
    })
}

pub(super) fn load_table(conn: &Connection, id: i64) -> Result<Table> {
    let mut table = conn.query_row(
        "SELECT db, name, kind, location, storage, properties, comment, view_text, view_expanded, owner, created_at
         FROM tables WHERE id = ?1",
        [id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, i64>(10)?,
            ))
        },
    )
    .map_err(CatalogError::from)
    .and_then(
        |(database, name, kind, location, storage, properties, comment, view_text, view_expanded, owner, created_at)| {
            Ok(Table {
                kind: TableKind::parse(&kind)
                    .ok_or_else(|| CatalogError::Corrupt(format!("table kind {kind:?}")))?,
                storage: from_json::<StorageFormat>(&storage)?,
                properties: from_json(&properties)?,
                database,
                name,
                columns: Vec::new(),
                partition_columns: Vec::new(),
                location,
                comment,
                view_text,
                view_expanded,
                owner,
                created_at,
            })
        },
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT is_partition, name, type, comment FROM columns WHERE table_id = ?1 ORDER BY is_partition, position",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, bool>(0)?,
            Column {
                name: r.get(1)?,
                data_type: r.get(2)?,
                comment: r.get(3)?,
            },
        ))
    })?;
    for row in rows {
        let (is_partition, column) = row?;
        if is_partition {
            table.partition_columns.push(column);
        } else {
            table.columns.push(column);
        }
    }
    Ok(table)
}

pub(super) fn write_columns(tx: &Transaction, id: i64, table: &Table) -> Result<()> {
    tx.execute("DELETE FROM columns WHERE table_id = ?1", [id])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO columns (table_id, is_partition, position, name, type, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (is_partition, columns) in [(false, &table.columns), (true, &table.partition_columns)] {
        for (position, column) in columns.iter().enumerate() {
            insert.execute(params![
                id,
                is_partition,
                position as i64,
                column.name.to_lowercase(),
                column.data_type,
                column.comment
            ])?;
        }
    }
    Ok(())
}

pub(super) fn validate(table: &Table) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for column in table.columns.iter().chain(&table.partition_columns) {
        crate::HiveType::parse(&column.data_type)
            .map_err(|e| CatalogError::Invalid(format!("column {}: {e}", column.name)))?;
        if !seen.insert(column.name.to_lowercase()) {
            return Err(CatalogError::Invalid(format!(
                "column {} is defined twice (names are case-insensitive; partition columns may not repeat data columns)",
                column.name
            )));
        }
    }
    Ok(())
}

pub(super) fn insert_partition(
    tx: &Transaction,
    id: i64,
    table: &Table,
    partition: &Partition,
) -> Result<bool> {
    let spec = partition_spec(&table.partition_columns, &partition.values);
    let added = tx.execute(
        "INSERT OR IGNORE INTO partitions (table_id, spec, vals, location, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, spec, to_json(&partition.values), partition.location, partition.created_at],
    )?;
    Ok(added == 1)
}

pub(super) fn load_partitions(conn: &Connection, id: i64) -> Result<Vec<Partition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT vals, location, created_at FROM partitions WHERE table_id = ?1 ORDER BY spec",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (values, location, created_at) = row?;
        out.push(Partition {
            values: from_json(&values)?,
            location,
            created_at,
        });
    }
    Ok(out)
}

pub(super) fn update_row(tx: &Transaction, id: i64, table: &Table) -> Result<()> {
    tx.execute(
        "UPDATE tables SET kind = ?1, location = ?2, storage = ?3, properties = ?4, comment = ?5,
                view_text = ?6, view_expanded = ?7 WHERE id = ?8",
        params![
            table.kind.as_str(),
            table.location,
            to_json(&table.storage),
            to_json(&table.properties),
            table.comment,
            table.view_text,
            table.view_expanded,
            id
        ],
    )?;
    write_columns(tx, id, table)
}
