//! Building DataFusion sessions over the lake and the metastore.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::disk_manager::DiskManagerBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use nuage_lake::{CountingStore, Lake, ScanCounter};

use crate::stats::QueryStats;
use object_store::ObjectStore;
use url::Url;

use crate::catalog::MetastoreCatalog;
use crate::shared::Shared;

/// The catalog name DataFusion sees; databases are its schemas.
pub const CATALOG: &str = "hive";

/// Resolves `s3://bucket` and `file://` URLs to the lake's stores, wrapped to
/// count the bytes read.
#[derive(Debug)]
struct LakeRegistry {
    lake: Arc<Lake>,
    counter: ScanCounter,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl ObjectStoreRegistry for LakeRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.stores
            .lock()
            .expect("registry poisoned")
            .insert(key(url), store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let key = key(url);
        let mut stores = self.stores.lock().expect("registry poisoned");
        if let Some(store) = stores.get(&key) {
            return Ok(store.clone());
        }
        let inner = match url.scheme() {
            "s3" | "s3a" | "s3n" => self
                .lake
                .bucket_store(url.host_str().unwrap_or_default())
                .map_err(|e| DataFusionError::External(Box::new(e)))?,
            "file" => self.lake.local_store(),
            other => {
                return Err(DataFusionError::Configuration(format!(
                    "no object store for {other}:// URLs; use s3://bucket/key or a local path"
                )));
            }
        };
        let store: Arc<dyn ObjectStore> =
            Arc::new(CountingStore::new(key.clone(), inner, self.counter.clone()));
        stores.insert(key, store.clone());
        Ok(store)
    }
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

/// Half the machine's memory, or `NUAGE_MEMORY_LIMIT` (bytes, or with a k/m/g suffix).
pub fn default_memory_limit() -> usize {
    if let Some(limit) = std::env::var("NUAGE_MEMORY_LIMIT")
        .ok()
        .and_then(|v| parse_size(&v))
    {
        return limit;
    }
    let total_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<usize>().ok())
        })
        .unwrap_or(8 * 1024 * 1024);
    total_kb * 1024 / 2
}

/// `512m`, `4g`, `1000000` -> bytes, the JVM way Hive and Spark settings
/// read them (`m` is MiB, `k` KiB). Kept by hand: it is this one rule, and a
/// general size crate would have to be told to read `m` as 2^20.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text.as_str(), ""),
    };
    let number: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor) as usize)
}

/// A DataFusion context over the shared metastore and lake, with `database`
/// as the default schema, Hive's functions, spilling to disk past the memory
/// limit; what its statements read is recorded in `stats`.
pub fn build_context(
    shared: &Arc<Shared>,
    database: &str,
    stats: Arc<QueryStats>,
) -> Result<SessionContext> {
    let registry = Arc::new(LakeRegistry {
        lake: shared.lake.clone(),
        counter: stats.counter.clone(),
        stores: Mutex::new(HashMap::new()),
    });
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(registry)
        .with_memory_pool(Arc::new(FairSpillPool::new(shared.memory_limit)))
        .with_disk_manager_builder(DiskManagerBuilder::default())
        .build_arc()?;
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, database)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true)
        .with_extension(stats);
    let options = config.options_mut();
    options.sql_parser.enable_ident_normalization = true;
    options.execution.parquet.pushdown_filters = true;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.register_catalog(CATALOG, Arc::new(MetastoreCatalog::new(shared.clone())));
    crate::functions::register(&ctx);
    crate::recs::register(&ctx);
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m"), Some(512 * 1024 * 1024));
        assert_eq!(parse_size("2G"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("x"), None);
    }
}
