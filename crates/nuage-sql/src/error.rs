use thiserror::Error;

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Everything a statement can fail with; the message is what the user reads.
#[derive(Debug, Error)]
pub enum SqlError {
    #[error("ParseException: {0}")]
    Parse(String),
    #[error("SemanticException: {0}")]
    Semantic(String),
    #[error("{0}")]
    Catalog(#[from] nuage_catalog::CatalogError),
    #[error("{0}")]
    Lake(#[from] nuage_lake::LakeError),
    #[error("{0}")]
    DataFusion(Box<datafusion::error::DataFusionError>),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<datafusion::error::DataFusionError> for SqlError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        SqlError::DataFusion(Box::new(e.find_root().clone_message()))
    }
}

impl From<datafusion::sql::sqlparser::parser::ParserError> for SqlError {
    fn from(e: datafusion::sql::sqlparser::parser::ParserError) -> Self {
        let text = e.to_string();
        let text = text
            .strip_prefix("sql parser error: ")
            .unwrap_or(&text)
            .to_string();
        SqlError::Parse(text)
    }
}

impl From<datafusion::arrow::error::ArrowError> for SqlError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        SqlError::DataFusion(Box::new(datafusion::error::DataFusionError::ArrowError(
            Box::new(e),
            None,
        )))
    }
}

impl From<object_store::Error> for SqlError {
    fn from(e: object_store::Error) -> Self {
        SqlError::Lake(nuage_lake::LakeError::Store(e))
    }
}

/// A semantic error with a formatted message.
macro_rules! semantic {
    ($($arg:tt)*) => { $crate::error::SqlError::Semantic(format!($($arg)*)) };
}
pub(crate) use semantic;

trait CloneMessage {
    fn clone_message(&self) -> datafusion::error::DataFusionError;
}

impl CloneMessage for datafusion::error::DataFusionError {
    /// DataFusion errors are not Clone; keep their text, which is what users read.
    fn clone_message(&self) -> datafusion::error::DataFusionError {
        use datafusion::error::DataFusionError as E;
        match self {
            E::SchemaError(e, _) => E::Plan(e.to_string()),
            E::Plan(m) => E::Plan(m.clone()),
            E::Execution(m) => E::Execution(m.clone()),
            E::NotImplemented(m) => E::NotImplemented(m.clone()),
            E::ResourcesExhausted(m) => E::ResourcesExhausted(m.clone()),
            other => E::Execution(other.to_string()),
        }
    }
}
