use thiserror::Error;

/// Why an object operation was refused or failed. The S3 edge maps each
/// variant to S3's error code; the messages say what to do.
#[derive(Debug, Error)]
pub enum ObjectError {
    #[error("the bucket {0:?} does not exist")]
    NoSuchBucket(String),

    #[error("the bucket {0:?} already exists and is yours")]
    BucketAlreadyExists(String),

    #[error("the bucket {0:?} is not empty; delete its objects first")]
    BucketNotEmpty(String),

    #[error("invalid bucket name {name:?}: {reason}")]
    InvalidBucketName { name: String, reason: String },

    #[error("the key {0:?} does not exist")]
    NoSuchKey(String),

    #[error("the key {key:?} has no version {version_id:?}")]
    NoSuchVersion { key: String, version_id: String },

    /// The version asked for (`asked`), or the latest version of the key,
    /// is a delete marker.
    #[error("the key {key:?} was deleted: its version {version_id:?} is a delete marker")]
    DeleteMarker {
        key: String,
        version_id: String,
        last_modified: std::time::SystemTime,
        asked: bool,
    },

    /// Object Lock keeps this version (S3's AccessDenied).
    #[error("{0}")]
    Locked(String),

    /// The bucket's state does not allow the change (S3's 409 InvalidBucketState).
    #[error("{0}")]
    InvalidBucketState(String),

    #[error("{0:?} is not a version id nuage gave; use one that ListObjectVersions shows")]
    InvalidVersionId(String),

    #[error("the key {key:?} cannot be stored: {reason}")]
    InvalidKey { key: String, reason: String },

    #[error("the key has {bytes} bytes; S3 keys have at most 1024")]
    KeyTooLong { key: String, bytes: usize },

    /// The key's path is taken by a folder, or a folder on its path by a file.
    #[error("the key {key:?} cannot be stored: {reason}")]
    KeyConflict { key: String, reason: String },

    /// An If-Match or If-None-Match of a write does not hold.
    #[error("the object {0:?} is not as the write's If-Match or If-None-Match requires")]
    PreconditionFailed(String),

    #[error("the upload {0:?} does not exist; it may have been completed or aborted")]
    NoSuchUpload(String),

    #[error("{0}")]
    InvalidPart(String),

    #[error("the parts must be listed in ascending order of part number")]
    InvalidPartOrder,

    #[error("part {part} has {size} bytes; every part but the last needs at least 5 MiB")]
    EntityTooSmall { part: i32, size: u64 },

    #[error(
        "the object's metadata and tags are too large to keep beside its file; keep them under 2 KB"
    )]
    MetadataTooLarge,

    /// The body does not match a digest the client sent.
    #[error("{0}")]
    BadDigest(String),

    /// A request S3 refuses as InvalidRequest, found while the lake
    /// writes (a multipart upload's checksums, checked by the edge).
    #[error("{0}")]
    InvalidRequest(String),

    /// The client stopped sending before the body was complete.
    #[error("the request body ended early: {0}")]
    IncompleteBody(String),

    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ObjectError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        ObjectError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
