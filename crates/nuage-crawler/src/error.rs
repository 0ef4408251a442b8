//! What can stop a crawl (a file that cannot be read is skipped and reported,
//! not an error).

#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The folder, the options or what was found do not make a crawl.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Lake(#[from] nuage_lake::LakeError),
    #[error(transparent)]
    Catalog(#[from] nuage_catalog::CatalogError),
    /// Listing the files (through the table reader's listing).
    #[error("{0}")]
    Listing(#[from] datafusion::error::DataFusionError),
}

pub type Result<T, E = CrawlError> = std::result::Result<T, E>;

macro_rules! invalid {
    ($($arg:tt)*) => { $crate::error::CrawlError::Invalid(format!($($arg)*)) };
}
pub(crate) use invalid;
