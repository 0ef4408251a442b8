//! Platform configuration: one struct, defaults that work with no file at all.
//! Precedence is defaults < environment (`NUAGE_*`, `AWS_*`) < command-line flags;
//! the binary applies the flags on top of [`Config::from_env`].

use std::path::{Path, PathBuf};

/// Where nuage keeps its state and how it reaches an external S3, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Root of everything nuage stores locally (`NUAGE_DATA_DIR`, default `./nuage-data`).
    pub data_dir: PathBuf,
    /// When set, `s3://` locations go to this S3-compatible service instead of
    /// the embedded lake under `<data_dir>/lake`.
    pub s3: Option<S3Config>,
}

/// An S3-compatible endpoint; credentials come from the usual `AWS_*` variables.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:9000` (`NUAGE_S3_ENDPOINT`, or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// `AWS_REGION` / `AWS_DEFAULT_REGION`, default `us-east-1`.
    pub region: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("nuage-data"),
            s3: None,
        }
    }
}

impl Config {
    /// Defaults overridden by the environment.
    ///
    /// S3 becomes "real" only when `NUAGE_S3=1` or an endpoint variable is set:
    /// a stray `AWS_ACCESS_KEY_ID` alone must not send a student's tables to AWS.
    pub fn from_env() -> Self {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Same as [`Config::from_env`] with an explicit variable lookup (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = Config::default();
        if let Some(dir) = var("NUAGE_DATA_DIR") {
            config.data_dir = PathBuf::from(dir);
        }
        let endpoint = var("NUAGE_S3_ENDPOINT")
            .or_else(|| var("AWS_ENDPOINT_URL_S3"))
            .or_else(|| var("AWS_ENDPOINT_URL"));
        if endpoint.is_some() || var("NUAGE_S3").as_deref() == Some("1") {
            config.s3 = Some(S3Config {
                endpoint,
                region: var("AWS_REGION")
                    .or_else(|| var("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".to_string()),
            });
        }
        config
    }

    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// `<data_dir>/lake`: buckets of the embedded object store.
    pub fn lake_dir(&self) -> PathBuf {
        self.data_dir.join("lake")
    }

    /// `<data_dir>/catalog.db`: the SQLite metastore.
    pub fn catalog_path(&self) -> PathBuf {
        self.data_dir.join("catalog.db")
    }

    /// The data directory as an absolute path (it need not exist yet).
    pub fn absolute_data_dir(&self) -> PathBuf {
        absolute(&self.data_dir)
    }
}

/// `path` made absolute against the current directory, without touching the disk.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_need_no_environment() {
        let config = Config::from_vars(vars(&[]));
        assert_eq!(config.data_dir, PathBuf::from("nuage-data"));
        assert_eq!(config.s3, None);
        assert_eq!(
            config.catalog_path(),
            PathBuf::from("nuage-data/catalog.db")
        );
    }

    #[test]
    fn credentials_alone_do_not_switch_to_real_s3() {
        let config = Config::from_vars(vars(&[("AWS_ACCESS_KEY_ID", "AKIA")]));
        assert_eq!(config.s3, None);
    }

    #[test]
    fn an_endpoint_switches_to_s3() {
        let config = Config::from_vars(vars(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_REGION", "eu-west-1"),
            ("NUAGE_DATA_DIR", "/tmp/x"),
        ]));
        let s3 = config.s3.unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "eu-west-1");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    }
}
