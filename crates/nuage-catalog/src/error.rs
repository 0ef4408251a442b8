use thiserror::Error;

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Metastore errors; the messages are shown to SQL users as they are.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("database {0} does not exist; SHOW DATABASES lists the ones that do")]
    NoSuchDatabase(String),
    #[error("database {0} already exists")]
    DatabaseExists(String),
    #[error(
        "database {name} is not empty ({tables} tables); use DROP DATABASE {name} CASCADE to drop it with its tables"
    )]
    DatabaseNotEmpty { name: String, tables: usize },
    #[error("table {database}.{name} does not exist{hint}")]
    NoSuchTable {
        database: String,
        name: String,
        hint: String,
    },
    #[error("table {0} already exists")]
    TableExists(String),
    #[error("partition {0} already exists")]
    PartitionExists(String),
    #[error("invalid definition: {0}")]
    Invalid(String),
    #[error("catalog database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("catalog database: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("catalog record is damaged: {0}")]
    Corrupt(String),
}
