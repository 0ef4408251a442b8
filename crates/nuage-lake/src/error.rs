use thiserror::Error;

pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// What went wrong with a lake location or object.
#[derive(Debug, Error)]
pub enum LakeError {
    #[error("invalid location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error("bucket {0:?} does not exist; create it with `nuage lake mb s3://{0}`")]
    NoSuchBucket(String),

    #[error("{0} does not exist")]
    NotFound(String),

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Store(#[from] object_store::Error),
}

impl LakeError {
    pub(crate) fn invalid(location: &str, reason: impl Into<String>) -> Self {
        LakeError::InvalidLocation {
            location: location.to_string(),
            reason: reason.into(),
        }
    }
}
