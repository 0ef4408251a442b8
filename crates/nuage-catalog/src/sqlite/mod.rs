//! The embedded metastore: one SQLite file in WAL mode.
//!
//! Several processes may open the same file (a shell next to a server): SQLite's
//! locking serialises writers and `busy_timeout` makes them wait their turn
//! instead of failing. Schema changes are numbered migrations recorded in
//! `PRAGMA user_version`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

mod rows;
mod schema;

use rows::{
    from_json, insert_partition, load_partitions, load_table, require_database, require_table,
    table_id, to_json, update_row, validate, write_columns,
};
use schema::migrate;

use crate::Metastore;
use crate::error::{CatalogError, Result};
use crate::model::{Database, Job, Partition, QueryRecord, Table, partition_spec};

/// How many statements `queries` keeps; older ones are deleted.
const QUERY_HISTORY: i64 = 100_000;

/// A [`Metastore`] in a SQLite file.
#[derive(Debug)]
pub struct SqliteMetastore {
    path: String,
    conn: Mutex<Connection>,
}

impl SqliteMetastore {
    /// Opens (creating and migrating if needed) the metastore at `path`, and
    /// makes sure the `default` database exists with `default_location`.
    pub fn open(path: &Path, default_location: &str) -> Result<Self> {
        let display = path.display().to_string();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CatalogError::Invalid(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let wrap = |source| CatalogError::Sqlite {
            path: display.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        migrate(&mut conn).map_err(wrap)?;
        let store = Self {
            path: display,
            conn: Mutex::new(conn),
        };
        if store.get_database("default")?.is_none() {
            let default = Database {
                name: "default".into(),
                comment: Some("Default Hive database".into()),
                location: default_location.to_string(),
                properties: BTreeMap::new(),
                created_at: now(),
            };
            store.create_database(&default, true)?;
        }
        Ok(store)
    }

    /// Runs `f` in one immediate (write-locking) transaction.
    fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().expect("catalog connection poisoned");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().expect("catalog connection poisoned");
        f(&conn)
    }

    /// The path of the SQLite file.
    pub fn path(&self) -> &str {
        &self.path
    }
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Metastore for SqliteMetastore {
    fn record_query(&self, query: &QueryRecord) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO queries (query_id, user, db, statement, started_ms, duration_ms, rows,
                     bytes_scanned, files_scanned, state, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    query.query_id,
                    query.user,
                    query.database,
                    query.statement,
                    query.started_ms,
                    query.duration_ms,
                    query.rows.map(|r| r as i64),
                    query.bytes_scanned as i64,
                    query.files_scanned as i64,
                    query.state,
                    query.error,
                ],
            )?;
            let id = tx.last_insert_rowid();
            if id % 1000 == 0 {
                tx.execute("DELETE FROM queries WHERE id <= ?1", [id - QUERY_HISTORY])?;
            }
            Ok(())
        })
    }

    fn list_queries(&self) -> Result<Vec<QueryRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT query_id, user, db, statement, started_ms, duration_ms, rows,
                        bytes_scanned, files_scanned, state, error
                 FROM queries ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(QueryRecord {
                    query_id: r.get(0)?,
                    user: r.get(1)?,
                    database: r.get(2)?,
                    statement: r.get(3)?,
                    started_ms: r.get(4)?,
                    duration_ms: r.get(5)?,
                    rows: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    bytes_scanned: r.get::<_, i64>(7)? as u64,
                    files_scanned: r.get::<_, i64>(8)? as u64,
                    state: r.get(9)?,
                    error: r.get(10)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn save_job(&self, job: &Job) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO jobs (id, db, statement, state, error, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET state = ?4, error = ?5, updated_ms = ?7",
                params![
                    job.id,
                    job.database,
                    job.statement,
                    job.state,
                    job.error,
                    job.created_ms,
                    job.updated_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn list_jobs(&self) -> Result<Vec<Job>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, db, statement, state, error, created_ms, updated_ms
                 FROM jobs ORDER BY created_ms, id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(Job {
                    id: r.get(0)?,
                    database: r.get(1)?,
                    statement: r.get(2)?,
                    state: r.get(3)?,
                    error: r.get(4)?,
                    created_ms: r.get(5)?,
                    updated_ms: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn create_database(&self, database: &Database, if_not_exists: bool) -> Result<()> {
        self.write(|tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO databases (name, comment, location, properties, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    database.name.to_lowercase(),
                    database.comment,
                    database.location,
                    to_json(&database.properties),
                    database.created_at
                ],
            )?;
            if added == 0 && !if_not_exists {
                return Err(CatalogError::DatabaseExists(database.name.clone()));
            }
            Ok(())
        })
    }

    fn get_database(&self, name: &str) -> Result<Option<Database>> {
        self.read(|conn| {
            let row = conn
                .query_row(
                    "SELECT name, comment, location, properties, created_at FROM databases WHERE name = ?1",
                    [name.to_lowercase()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    },
                )
                .optional()?;
            row.map(|(name, comment, location, properties, created_at)| {
                Ok(Database {
                    name,
                    comment,
                    location,
                    properties: from_json(&properties)?,
                    created_at,
                })
            })
            .transpose()
        })
    }

    fn list_databases(&self) -> Result<Vec<Database>> {
        let names: Vec<String> = self.read(|conn| {
            let mut stmt = conn.prepare("SELECT name FROM databases ORDER BY name")?;
            let names = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })?;
        names
            .iter()
            .filter_map(|n| self.get_database(n).transpose())
            .collect()
    }

    fn drop_database(&self, name: &str, cascade: bool) -> Result<Vec<Table>> {
        let name = name.to_lowercase();
        self.write(|tx| {
            require_database(tx, &name)?;
            let ids: Vec<i64> = {
                let mut stmt = tx.prepare("SELECT id FROM tables WHERE db = ?1")?;
                stmt.query_map([&name], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            if !ids.is_empty() && !cascade {
                return Err(CatalogError::DatabaseNotEmpty {
                    name: name.clone(),
                    tables: ids.len(),
                });
            }
            let mut dropped = Vec::new();
            for id in ids {
                dropped.push(load_table(tx, id)?);
                tx.execute("DELETE FROM tables WHERE id = ?1", [id])?;
            }
            tx.execute("DELETE FROM databases WHERE name = ?1", [&name])?;
            Ok(dropped)
        })
    }

    fn create_table(&self, table: &Table, if_not_exists: bool) -> Result<bool> {
        validate(table)?;
        let database = table.database.to_lowercase();
        let name = table.name.to_lowercase();
        self.write(|tx| {
            require_database(tx, &database)?;
            if table_id(tx, &database, &name)?.is_some() {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(CatalogError::TableExists(format!("{database}.{name}")))
                };
            }
            tx.execute(
                "INSERT INTO tables (db, name, kind, location, storage, properties, comment, view_text, view_expanded, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    database,
                    name,
                    table.kind.as_str(),
                    table.location,
                    to_json(&table.storage),
                    to_json(&table.properties),
                    table.comment,
                    table.view_text,
                    table.view_expanded,
                    table.owner,
                    table.created_at
                ],
            )?;
            let id = tx.last_insert_rowid();
            write_columns(tx, id, table)?;
            Ok(true)
        })
    }

    fn get_table(&self, database: &str, name: &str) -> Result<Option<Table>> {
        self.read(|conn| {
            table_id(conn, &database.to_lowercase(), &name.to_lowercase())?
                .map(|id| load_table(conn, id))
                .transpose()
        })
    }

    fn list_tables(&self, database: &str) -> Result<Vec<Table>> {
        let database = database.to_lowercase();
        self.read(|conn| {
            require_database(conn, &database)?;
            let mut stmt = conn.prepare("SELECT id FROM tables WHERE db = ?1 ORDER BY name")?;
            let ids: Vec<i64> = stmt
                .query_map([&database], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|id| load_table(conn, id)).collect()
        })
    }

    fn update_table(&self, table: &Table) -> Result<()> {
        validate(table)?;
        self.write(|tx| {
            let id = require_table(
                tx,
                &table.database.to_lowercase(),
                &table.name.to_lowercase(),
            )?;
            update_row(tx, id, table)
        })
    }

    fn rename_table(
        &self,
        database: &str,
        name: &str,
        new_database: &str,
        new_name: &str,
    ) -> Result<()> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        let (new_database, new_name) = (new_database.to_lowercase(), new_name.to_lowercase());
        self.write(|tx| {
            let id = require_table(tx, &database, &name)?;
            if table_id(tx, &new_database, &new_name)?.is_some() {
                return Err(CatalogError::TableExists(format!(
                    "{new_database}.{new_name}"
                )));
            }
            require_database(tx, &new_database)?;
            tx.execute(
                "UPDATE tables SET db = ?1, name = ?2 WHERE id = ?3",
                params![new_database, new_name, id],
            )?;
            Ok(())
        })
    }

    fn drop_table(&self, database: &str, name: &str) -> Result<Option<Table>> {
        let (database, name) = (database.to_lowercase(), name.to_lowercase());
        self.write(|tx| {
            let Some(id) = table_id(tx, &database, &name)? else {
                return Ok(None);
            };
            let table = load_table(tx, id)?;
            tx.execute("DELETE FROM tables WHERE id = ?1", [id])?;
            Ok(Some(table))
        })
    }

    fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> Result<usize> {
        self.write(|tx| {
            let id = require_table(tx, &database.to_lowercase(), &table.to_lowercase())?;
            let def = load_table(tx, id)?;
            let mut added = 0;
            for partition in partitions {
                if partition.values.len() != def.partition_columns.len() {
                    return Err(CatalogError::Invalid(format!(
                        "table {} has {} partition columns but {} values were given",
                        def.qualified_name(),
                        def.partition_columns.len(),
                        partition.values.len()
                    )));
                }
                if insert_partition(tx, id, &def, partition)? {
                    added += 1;
                } else if !if_not_exists {
                    return Err(CatalogError::PartitionExists(partition_spec(
                        &def.partition_columns,
                        &partition.values,
                    )));
                }
            }
            Ok(added)
        })
    }

    fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<String>],
    ) -> Result<Vec<Partition>> {
        self.write(|tx| {
            let id = require_table(tx, &database.to_lowercase(), &table.to_lowercase())?;
            let def = load_table(tx, id)?;
            let existing = load_partitions(tx, id)?;
            let mut dropped = Vec::new();
            for partition in existing {
                if values.contains(&partition.values) {
                    tx.execute(
                        "DELETE FROM partitions WHERE table_id = ?1 AND spec = ?2",
                        params![
                            id,
                            partition_spec(&def.partition_columns, &partition.values)
                        ],
                    )?;
                    dropped.push(partition);
                }
            }
            Ok(dropped)
        })
    }

    fn list_partitions(&self, database: &str, table: &str) -> Result<Vec<Partition>> {
        self.read(|conn| {
            let id = require_table(conn, &database.to_lowercase(), &table.to_lowercase())?;
            load_partitions(conn, id)
        })
    }

    fn commit_table_data(&self, table: &Table, partitions: &[Partition]) -> Result<()> {
        validate(table)?;
        self.write(|tx| {
            let id = require_table(
                tx,
                &table.database.to_lowercase(),
                &table.name.to_lowercase(),
            )?;
            update_row(tx, id, table)?;
            tx.execute("DELETE FROM partitions WHERE table_id = ?1", [id])?;
            for partition in partitions {
                insert_partition(tx, id, table, partition)?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, FileFormat, StorageFormat, TableKind};

    fn store() -> (tempfile::TempDir, SqliteMetastore) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            SqliteMetastore::open(&dir.path().join("catalog.db"), "s3://warehouse/").unwrap();
        (dir, store)
    }

    fn table(name: &str) -> Table {
        Table {
            database: "default".into(),
            name: name.into(),
            kind: TableKind::External,
            columns: vec![
                Column::new("movieId", "int").unwrap(),
                Column::new("title", "string").unwrap(),
            ],
            partition_columns: vec![Column::new("year", "string").unwrap()],
            location: "s3://movies/raw".into(),
            storage: StorageFormat::new(FileFormat::Text),
            properties: BTreeMap::from([("skip.header.line.count".to_string(), "1".to_string())]),
            comment: None,
            view_text: None,
            view_expanded: None,
            owner: "me".into(),
            created_at: 1,
        }
    }

    #[test]
    fn tables_round_trip_with_lowercase_names() {
        let (_dir, store) = store();
        assert!(store.create_table(&table("Movies"), false).unwrap());
        let loaded = store.get_table("DEFAULT", "movies").unwrap().unwrap();
        assert_eq!(loaded.name, "movies");
        assert_eq!(loaded.columns[0].name, "movieid");
        assert_eq!(loaded.header_lines(), 1);
        assert!(!store.create_table(&table("movies"), true).unwrap());
        assert!(matches!(
            store.create_table(&table("movies"), false),
            Err(CatalogError::TableExists(_))
        ));
    }

    #[test]
    fn partitions_and_atomic_data_commits() {
        let (_dir, store) = store();
        store.create_table(&table("t"), false).unwrap();
        let p = |v: &str| Partition {
            values: vec![v.into()],
            location: format!("s3://movies/raw/year={v}"),
            created_at: 0,
        };
        assert_eq!(
            store
                .add_partitions("default", "t", &[p("2023"), p("2024")], false)
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .add_partitions("default", "t", &[p("2024")], true)
                .unwrap(),
            0
        );
        assert!(
            store
                .add_partitions("default", "t", &[p("2024")], false)
                .is_err()
        );

        let mut def = store.get_table("default", "t").unwrap().unwrap();
        def.location = "s3://movies/v2".into();
        store.commit_table_data(&def, &[p("2025")]).unwrap();
        let parts = store.list_partitions("default", "t").unwrap();
        assert_eq!(
            parts
                .iter()
                .map(|p| p.values[0].as_str())
                .collect::<Vec<_>>(),
            vec!["2025"]
        );
        assert_eq!(
            store.get_table("default", "t").unwrap().unwrap().location,
            "s3://movies/v2"
        );
    }

    #[test]
    fn drop_database_requires_cascade_when_not_empty() {
        let (_dir, store) = store();
        let db = Database {
            name: "web".into(),
            comment: None,
            location: "s3://warehouse/web.db".into(),
            properties: BTreeMap::new(),
            created_at: 0,
        };
        store.create_database(&db, false).unwrap();
        let mut t = table("clicks");
        t.database = "web".into();
        store.create_table(&t, false).unwrap();
        let err = store.drop_database("web", false).unwrap_err();
        assert!(
            err.to_string().contains("DROP DATABASE web CASCADE"),
            "{err}"
        );
        assert_eq!(store.drop_database("web", true).unwrap().len(), 1);
        assert!(store.get_database("web").unwrap().is_none());
    }

    #[test]
    fn two_connections_see_each_others_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let a = SqliteMetastore::open(&path, "s3://warehouse/").unwrap();
        let b = SqliteMetastore::open(&path, "s3://warehouse/").unwrap();
        a.create_table(&table("shared"), false).unwrap();
        assert!(b.get_table("default", "shared").unwrap().is_some());
    }
}
