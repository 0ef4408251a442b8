//! Lambda layers: zips published as numbered versions of a named layer,
//! kept under `<data-dir>/functions/.layers/<name>/<version>/` (the zip,
//! its content unpacked, `layer.json`). A function lists up to five layer
//! version ARNs; as AWS extracts them in order into `/opt` (a later layer's
//! files win), nuage merges them once per list into
//! `.layers/.opt/<sha256 of the list>/` and points the environment there:
//! Python finds `python/` and `python/lib/pythonX.Y/site-packages`, Node
//! `nodejs/node_modules`, the shell `bin/`, the loader `lib/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{FunctionError, Result};
use crate::store::{now_text, unzip, valid_name};

/// AWS's limit on the layers of one function.
pub const MAX_LAYERS: usize = 5;

/// One published version of a layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerVersion {
    pub name: String,
    pub version: u64,
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    /// Base64 of the zip's SHA-256.
    pub code_sha256: String,
    pub code_size: u64,
    pub created: String,
}

/// What PublishLayerVersion gives.
#[derive(Debug, Clone, Default)]
pub struct NewLayerVersion {
    pub name: String,
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub zip: Vec<u8>,
}

/// The layers of a functions folder.
#[derive(Debug, Clone)]
pub struct Layers {
    dir: PathBuf,
    region: String,
    account: String,
}

impl Layers {
    pub fn new(functions: &Path, region: &str, account: &str) -> Self {
        Layers {
            dir: functions.join(".layers"),
            region: region.to_string(),
            account: account.to_string(),
        }
    }

    /// `arn:aws:lambda:<region>:<account>:layer:<name>`, with `:<version>`.
    pub fn arn(&self, name: &str, version: Option<u64>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:layer:{name}",
            self.region, self.account
        );
        match version {
            Some(v) => format!("{base}:{v}"),
            None => base,
        }
    }

    fn version_dir(&self, name: &str, version: u64) -> PathBuf {
        self.dir.join(name).join(version.to_string())
    }

    /// PublishLayerVersion: the next version number of the layer.
    pub fn publish(&self, new: NewLayerVersion) -> Result<LayerVersion> {
        if !valid_name(&new.name) {
            return Err(FunctionError::InvalidParameter(format!(
                "1 validation error detected: Value '{}' at 'layerName' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 [a-zA-Z0-9-_]+ (at most 64 characters)",
                new.name
            )));
        }
        if new.zip.is_empty() {
            return Err(FunctionError::InvalidParameter(
                "Content must have a ZipFile or an S3Bucket and S3Key".into(),
            ));
        }
        // Publishes take turns, and a number is never given twice, even
        // after its version is deleted (as on AWS): the layer keeps the
        // next one in `next-version`.
        static PUBLISHING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = PUBLISHING.lock().unwrap_or_else(|e| e.into_inner());
        let counter = self.dir.join(&new.name).join("next-version");
        let version = match std::fs::read_to_string(&counter) {
            Ok(text) => text.trim().parse().unwrap_or(1),
            Err(_) => self
                .versions(&new.name)?
                .last()
                .map_or(1, |v| v.version + 1),
        };
        let target = self.version_dir(&new.name, version);
        let staging = self
            .dir
            .join(&new.name)
            .join(format!(".publishing-{}", uuid::Uuid::new_v4()));
        unzip(&new.zip, &staging.join("content"))?;
        use base64::Engine;
        let layer = LayerVersion {
            name: new.name,
            version,
            description: new.description,
            compatible_runtimes: new.compatible_runtimes,
            compatible_architectures: new.compatible_architectures,
            license_info: new.license_info,
            code_sha256: base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&new.zip)),
            code_size: new.zip.len() as u64,
            created: now_text(),
        };
        let record = serde_json::to_vec_pretty(&layer).expect("a layer serializes");
        let write = |path: PathBuf, bytes: &[u8]| {
            nuage_common::durable::write_file(&path, bytes)
                .map_err(FunctionError::io("cannot write", &path))
        };
        write(staging.join("layer.zip"), &new.zip)?;
        write(staging.join("layer.json"), &record)?;
        // The number is spent first: a crash before the rename skips it.
        write(counter, (version + 1).to_string().as_bytes())?;
        std::fs::rename(&staging, &target)
            .map_err(FunctionError::io("cannot place layer in", &target))?;
        let parent = target.parent().expect("a layer version has a parent");
        nuage_common::durable::sync_dir(parent)
            .map_err(FunctionError::io("cannot sync", parent))?;
        Ok(layer)
    }

    /// A layer's versions, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<LayerVersion>> {
        let dir = self.dir.join(name);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FunctionError::io("cannot read", &dir)(e)),
        };
        let mut versions: Vec<LayerVersion> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
            .filter_map(|v| self.get(name, v).ok())
            .collect();
        versions.sort_by_key(|v| v.version);
        Ok(versions)
    }

    /// The names of every layer with at least one version.
    pub fn names(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FunctionError::io("cannot read", &self.dir)(e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_name(n))
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn get(&self, name: &str, version: u64) -> Result<LayerVersion> {
        let path = self.version_dir(name, version).join("layer.json");
        let bytes = std::fs::read(&path).map_err(|_| self.not_found(name, version))?;
        serde_json::from_slice(&bytes).map_err(|_| self.not_found(name, version))
    }

    /// The zip a version was published from.
    pub fn zip_path(&self, name: &str, version: u64) -> PathBuf {
        self.version_dir(name, version).join("layer.zip")
    }

    /// DeleteLayerVersion; deleting one that is not there succeeds, as on
    /// AWS. Functions that use it keep their merged copy.
    pub fn delete(&self, name: &str, version: u64) -> Result<()> {
        let dir = self.version_dir(name, version);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FunctionError::io("cannot remove", &dir)(e)),
        }
    }

    fn not_found(&self, name: &str, version: u64) -> FunctionError {
        FunctionError::NotFound(format!(
            "Layer version {} does not exist.",
            self.arn(name, Some(version))
        ))
    }

    /// The (name, version) of a layer version ARN of this region and
    /// account, if it names one that exists.
    pub fn resolve(&self, arn: &str) -> Result<(String, u64)> {
        // `arn:aws:lambda:<region>:<account>:layer:`
        let prefix = self.arn("", None);
        let parsed = arn.strip_prefix(&prefix).and_then(|rest| {
            let (name, version) = rest.rsplit_once(':')?;
            Some((name.to_string(), version.parse::<u64>().ok()?))
        });
        let Some((name, version)) = parsed else {
            return Err(FunctionError::InvalidParameter(format!(
                "Layer version {arn} is not a layer version ARN of this nuage: \
                 {prefix}NAME:VERSION (PublishLayerVersion gives them)"
            )));
        };
        self.get(&name, version).map_err(|_| {
            FunctionError::InvalidParameter(format!("Layer version {arn} does not exist."))
        })?;
        Ok((name, version))
    }

    /// Checks a function's layer list (at most five, each existing).
    pub fn check(&self, arns: &[String]) -> Result<()> {
        if arns.len() > MAX_LAYERS {
            return Err(FunctionError::InvalidParameter(format!(
                "Cannot reference more than {MAX_LAYERS} layers."
            )));
        }
        for arn in arns {
            self.resolve(arn)?;
        }
        Ok(())
    }

    /// The folder that plays `/opt` for a function with these layers: their
    /// contents merged in order (made once per list).
    pub fn opt_dir(&self, arns: &[String]) -> Result<PathBuf> {
        let digest = Sha256::digest(arns.join("\n").as_bytes());
        let target = self.dir.join(".opt").join(crate::store::hex(&digest));
        if target.is_dir() {
            return Ok(target);
        }
        let staging = self
            .dir
            .join(".opt")
            .join(format!(".merging-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&staging).map_err(FunctionError::io("cannot create", &staging))?;
        for arn in arns {
            let (name, version) = self.resolve(arn)?;
            let content = self.version_dir(&name, version).join("content");
            copy_tree(&content, &staging)
                .map_err(FunctionError::io("cannot copy layer into", &staging))?;
        }
        match std::fs::rename(&staging, &target) {
            Ok(()) => Ok(target),
            Err(_) if target.is_dir() => {
                let _ = std::fs::remove_dir_all(&staging);
                Ok(target)
            }
            Err(e) => Err(FunctionError::io("cannot place layers in", &target)(e)),
        }
    }
}

/// The variables that make a merged layer folder `opt` what `/opt` is on
/// AWS for `runtime` (paths after the function's own, before the system's).
pub fn environment(opt: &Path, runtime: &str) -> Vec<(String, String)> {
    let join = |parts: Vec<PathBuf>, inherited: Option<String>| {
        let mut all: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
        all.extend(inherited.filter(|v| !v.is_empty()));
        all.join(":")
    };
    let mut vars = vec![
        (
            "PATH".to_string(),
            join(vec![opt.join("bin")], std::env::var("PATH").ok()),
        ),
        (
            "LD_LIBRARY_PATH".to_string(),
            join(vec![opt.join("lib")], std::env::var("LD_LIBRARY_PATH").ok()),
        ),
    ];
    if let Some(version) = runtime.strip_prefix("python") {
        let site = opt.join(format!("python/lib/python{version}/site-packages"));
        vars.push((
            "PYTHONPATH".into(),
            join(vec![site, opt.join("python")], None),
        ));
    } else if let Some(major) = runtime
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
    {
        let modules = vec![
            opt.join("nodejs/node_modules"),
            opt.join(format!("nodejs/node{major}/node_modules")),
        ];
        vars.push(("NODE_PATH".into(), join(modules, None)));
    }
    vars
}

/// Copies `from` into `to`, replacing files of the same path.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            if target.exists() {
                std::fs::remove_file(&target)?;
            }
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
