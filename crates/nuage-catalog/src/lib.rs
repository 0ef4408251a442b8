//! The metastore: databases, tables, columns, partitions and their storage
//! descriptions, like Hive's metastore and the Glue Data Catalog.
//!
//! Callers speak to the [`Metastore`] trait; [`SqliteMetastore`] implements it
//! over `<data-dir>/catalog.db` (WAL mode, so a `nuage sql` shell and a
//! `nuage serve` process can share one data directory). A PostgreSQL metastore
//! for several nodes would implement the same trait.
//!
//! Names of databases, tables and columns are stored lowercase: Hive treats
//! identifiers case-insensitively, and so does every lookup here.

mod error;
mod model;
mod sqlite;
mod types;

pub use error::{CatalogError, Result};
pub use model::{
    Column, Database, FileFormat, HIVE_JSON_SERDE, Job, LAZY_SIMPLE_SERDE, OPEN_CSV_SERDE,
    OPENX_JSON_SERDE, PARQUET_SERDE, Partition, QueryRecord, SNAPSHOT_PROPERTY, StorageFormat,
    Table, TableKind, column_list, escape_partition_value, partition_spec,
    unescape_partition_value,
};
pub use sqlite::SqliteMetastore;
pub use types::HiveType;

use std::sync::Arc;

/// The bucket of managed tables (`s3://warehouse/<db>.db/<table>`), like
/// Hive's `hive.metastore.warehouse.dir`.
pub const WAREHOUSE_BUCKET: &str = "warehouse";

/// The metastore of a data dir: SQLite at `<data-dir>/catalog.db`, created
/// on first use. Callers that create managed tables make sure the
/// [`WAREHOUSE_BUCKET`] exists in their lake.
pub fn open_metastore(config: &nuage_common::Config) -> Result<Arc<dyn Metastore>> {
    Ok(Arc::new(SqliteMetastore::open(
        &config.catalog_path(),
        &format!("s3://{WAREHOUSE_BUCKET}"),
    )?))
}

/// Everything nuage asks of a metastore. Every method is one transaction.
pub trait Metastore: Send + Sync + std::fmt::Debug {
    fn create_database(&self, database: &Database, if_not_exists: bool) -> Result<()>;
    fn get_database(&self, name: &str) -> Result<Option<Database>>;
    fn list_databases(&self) -> Result<Vec<Database>>;
    /// Drops a database. Without `cascade` it must be empty; with it, its tables
    /// go too and are returned so the caller can delete managed data.
    fn drop_database(&self, name: &str, cascade: bool) -> Result<Vec<Table>>;

    /// Creates a table; returns false when it existed and `if_not_exists` was set.
    fn create_table(&self, table: &Table, if_not_exists: bool) -> Result<bool>;
    fn get_table(&self, database: &str, name: &str) -> Result<Option<Table>>;
    fn list_tables(&self, database: &str) -> Result<Vec<Table>>;
    /// Rewrites a table's definition (columns, properties, location...), keeping its partitions.
    fn update_table(&self, table: &Table) -> Result<()>;
    fn rename_table(
        &self,
        database: &str,
        name: &str,
        new_database: &str,
        new_name: &str,
    ) -> Result<()>;
    /// Removes a table and its partitions; returns what was removed.
    fn drop_table(&self, database: &str, name: &str) -> Result<Option<Table>>;

    /// Adds partitions; with `if_not_exists` existing ones are skipped, otherwise
    /// they are an error. Returns how many were added.
    fn add_partitions(
        &self,
        database: &str,
        table: &str,
        partitions: &[Partition],
        if_not_exists: bool,
    ) -> Result<usize>;
    /// Removes the partitions with these values; returns the ones removed.
    fn drop_partitions(
        &self,
        database: &str,
        table: &str,
        values: &[Vec<String>],
    ) -> Result<Vec<Partition>>;
    fn list_partitions(&self, database: &str, table: &str) -> Result<Vec<Partition>>;
    /// Atomically replaces a table's definition and its whole partition list:
    /// the commit point of a copy-on-write UPDATE, DELETE or INSERT OVERWRITE.
    fn commit_table_data(&self, table: &Table, partitions: &[Partition]) -> Result<()>;

    /// Appends a statement to the query history (`system.queries`).
    fn record_query(&self, query: &QueryRecord) -> Result<()>;
    /// The query history, oldest first (the last 100,000 statements).
    fn list_queries(&self) -> Result<Vec<QueryRecord>>;

    /// Adds a continuous job, or rewrites its state and error.
    fn save_job(&self, job: &Job) -> Result<()>;
    /// Every continuous job, oldest first.
    fn list_jobs(&self) -> Result<Vec<Job>>;
}
