//! What can go wrong in a continuous job, in words that say what to do.

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The statement or table definition is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Valid Flink SQL that nuage does not run yet.
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("no job {0}: SHOW JOBS lists the jobs")]
    NoSuchJob(String),
    /// Kinesis Analytics: what the API calls these.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    CodeValidation(String),
    #[error("{0}")]
    InvalidConfiguration(String),
    #[error("{0}")]
    UnableToDetectSchema(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// The source cannot be read.
    #[error("source: {0}")]
    Source(String),
    /// The sink refused the output.
    #[error("sink: {0}")]
    Sink(String),
    #[error(transparent)]
    Sql(#[from] nuage_sql::SqlError),
    #[error(transparent)]
    Catalog(#[from] nuage_catalog::CatalogError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = FlowError> = std::result::Result<T, E>;
