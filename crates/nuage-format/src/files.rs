//! The files that make up a table or partition: everything under its
//! folder except Hadoop's hidden and marker files, as Hive and Athena read.

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use futures::TryStreamExt;
use nuage_lake::{Lake, Location};
use object_store::ObjectStoreExt;

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Files to read under a folder (or the folder itself if it names one file),
/// skipping Hadoop's hidden and marker files (`_SUCCESS`, `.crc`, staging folders).
pub async fn list_data_files(
    lake: &Lake,
    location: &str,
) -> Result<(ObjectStoreUrl, Vec<object_store::ObjectMeta>)> {
    let location = Location::parse(location).map_err(external)?;
    let url = store_url(&location)?;
    let (store, path) = lake.store_for(&location).map_err(external)?;
    let prefix = (!path.as_ref().is_empty()).then_some(&path);
    let listed: Vec<object_store::ObjectMeta> = match store.list(prefix).try_collect().await {
        Ok(files) => files,
        Err(object_store::Error::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let base = path.as_ref().to_string();
    let mut files: Vec<_> = listed
        .into_iter()
        .filter(|meta| {
            let relative = meta
                .location
                .as_ref()
                .strip_prefix(base.as_str())
                .unwrap_or(meta.location.as_ref());
            !relative
                .split('/')
                .any(|part| part.starts_with('.') || part.starts_with('_') || part.contains('#'))
        })
        .collect();
    if files.is_empty()
        && prefix.is_some()
        && let Ok(meta) = store.head(&path).await
    {
        files.push(meta);
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok((url, files))
}

/// The DataFusion object-store URL of a location: `s3://bucket` or `file://`.
pub fn store_url(location: &Location) -> Result<ObjectStoreUrl> {
    match location {
        Location::Object { bucket, .. } => ObjectStoreUrl::parse(format!("s3://{bucket}")),
        Location::Local(_) => Ok(ObjectStoreUrl::local_filesystem()),
    }
}
