//! The functions of a data dir, kept under `<data-dir>/functions/<name>/`:
//! `function.json` (the `$LATEST` configuration, published versions,
//! aliases, tags, concurrency, URL), and `code/<sha256>/` (each distinct
//! zip unpacked once, with the zip beside it). Every change rewrites
//! `function.json` whole (temp file, fsync, rename), so a crash leaves the
//! function as it was before or after the change.

use std::collections::{BTreeMap, HashSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{FunctionError, Result};
use crate::runtime::Runtime;

pub const LATEST: &str = "$LATEST";

/// Lambda's limit on unzipped code.
const MAX_UNZIPPED: u64 = 262_144_000;

/// Environment variables Lambda sets itself and refuses from users.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// One version's configuration (`$LATEST` or a published number).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub name: String,
    pub version: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    /// Base64 of the zip's SHA-256, as Lambda reports CodeSha256.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    /// Layer version ARNs, in the order their files are laid over `/opt`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
}

/// A function URL's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UrlConfig {
    /// The URL's host label (`<id>.lambda-url.<region>...`).
    pub id: String,
    pub auth_type: String,
    pub cors: Option<serde_json::Value>,
    pub invoke_mode: String,
    pub created: String,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    pub latest: Config,
    pub versions: BTreeMap<u64, Config>,
    pub next_version: u64,
    pub aliases: BTreeMap<String, Alias>,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    #[serde(default)]
    pub urls: BTreeMap<String, UrlConfig>,
    #[serde(default)]
    pub event_invoke: Option<crate::events::EventInvokeConfig>,
}

impl Function {
    /// The configuration a qualifier names: `$LATEST`, a version, an alias.
    pub fn resolve(&self, qualifier: Option<&str>) -> Option<&Config> {
        match qualifier {
            None | Some(LATEST) => Some(&self.latest),
            Some(q) => match q.parse::<u64>() {
                Ok(n) => self.versions.get(&n),
                Err(_) => {
                    let alias = self.aliases.get(q)?;
                    self.resolve(Some(&alias.function_version))
                }
            },
        }
    }
}

/// What CreateFunction gives.
#[derive(Debug, Clone)]
pub struct NewFunction {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub role: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub zip: Bytes,
    pub publish: bool,
    pub layers: Vec<String>,
}

/// What UpdateFunctionConfiguration changes (absent members stay).
#[derive(Debug, Clone, Default)]
pub struct ConfigChanges {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<u32>,
    pub memory_size: Option<u32>,
    pub environment: Option<BTreeMap<String, String>>,
    pub revision_id: Option<String>,
    pub layers: Option<Vec<String>>,
}

/// Where a function's files are.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    pub region: String,
    pub account: String,
}

impl Store {
    pub fn new(dir: PathBuf, region: String, account: String) -> Self {
        Self {
            dir,
            region,
            account,
        }
    }

    pub fn arn(&self, name: &str, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account
        );
        match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    pub fn not_found(&self, name: &str, qualifier: Option<&str>) -> FunctionError {
        FunctionError::NotFound(format!("Function not found: {}", self.arn(name, qualifier)))
    }

    fn function_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The folder where the code with this CodeSha256 is unpacked.
    /// The layers published beside the functions.
    pub fn layers(&self) -> crate::layers::Layers {
        crate::layers::Layers::new(&self.dir, &self.region, &self.account)
    }

    pub fn code_dir(&self, name: &str, code_sha256: &str) -> PathBuf {
        self.function_dir(name)
            .join("code")
            .join(code_folder(code_sha256))
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.function_dir(name).join("log")
    }

    /// Every function on disk. A file named like a function is the older
    /// executable convention of Firehose transforms, not a function.
    pub fn load(&self) -> Result<BTreeMap<String, Function>> {
        let mut functions = BTreeMap::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(functions),
            Err(e) => return Err(FunctionError::io("cannot read", &self.dir)(e)),
        };
        for entry in entries.flatten() {
            let path = entry.path().join("function.json");
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(_) => continue,
            };
            match serde_json::from_slice::<Function>(&bytes) {
                Ok(function) => {
                    functions.insert(function.latest.name.clone(), function);
                }
                Err(e) => tracing::error!("{}: damaged, function skipped: {e}", path.display()),
            }
        }
        Ok(functions)
    }

    pub fn save(&self, function: &Function) -> Result<()> {
        let dir = self.function_dir(&function.latest.name);
        std::fs::create_dir_all(&dir).map_err(FunctionError::io("cannot create", &dir))?;
        let path = dir.join("function.json");
        let bytes = serde_json::to_vec_pretty(function).expect("a function serializes");
        nuage_common::durable::write_file(&path, &bytes)
            .map_err(FunctionError::io("cannot write", &path))
    }

    /// A new function from CreateFunction (not yet saved).
    pub fn create(&self, new: NewFunction) -> Result<Function> {
        Runtime::parse(&new.runtime)?;
        check_environment(&new.environment)?;
        let (code_sha256, code_size) = self.unpack(&new.name, &new.zip)?;
        let latest = Config {
            name: new.name,
            version: LATEST.into(),
            runtime: new.runtime,
            handler: new.handler,
            role: new.role,
            description: new.description,
            timeout: new.timeout,
            memory_size: new.memory_size,
            environment: new.environment,
            code_sha256,
            code_size,
            last_modified: now_text(),
            revision_id: revision(),
            layers: new.layers,
        };
        let mut function = Function {
            latest,
            versions: BTreeMap::new(),
            next_version: 1,
            aliases: BTreeMap::new(),
            tags: new.tags,
            reserved_concurrency: None,
            urls: BTreeMap::new(),
            event_invoke: None,
        };
        if new.publish {
            publish(&mut function, None)?;
        }
        Ok(function)
    }

    /// UpdateFunctionCode: new code for `$LATEST` (and a version if asked).
    pub fn update_code(
        &self,
        function: &mut Function,
        zip: &Bytes,
        revision_id: Option<&str>,
    ) -> Result<()> {
        check_revision(&function.latest.revision_id, revision_id)?;
        let (sha, size) = self.unpack(&function.latest.name, zip)?;
        function.latest.code_sha256 = sha;
        function.latest.code_size = size;
        touch(&mut function.latest);
        Ok(())
    }

    /// Removes unpacked code no version uses any more.
    pub fn collect_code(&self, function: &Function) {
        let used: HashSet<String> = std::iter::once(&function.latest)
            .chain(function.versions.values())
            .map(|c| code_folder(&c.code_sha256))
            .collect();
        let dir = self.function_dir(&function.latest.name).join("code");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.trim_end_matches(".zip");
            if !used.contains(stem) {
                let path = entry.path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                if let Err(e) = removed {
                    tracing::warn!("{}: cannot remove unused code: {e}", path.display());
                }
            }
        }
    }

    /// Deletes a function's folder (code, log, configuration).
    pub fn remove(&self, name: &str) -> Result<()> {
        let dir = self.function_dir(name);
        // The configuration first: a crash after it leaves no function.
        let record = dir.join("function.json");
        std::fs::remove_file(&record).map_err(FunctionError::io("cannot remove", &record))?;
        std::fs::remove_dir_all(&dir).map_err(FunctionError::io("cannot remove", &dir))
    }

    /// The zip as it was uploaded, for GetFunction's Code.Location.
    pub fn zip_path(&self, name: &str, code_sha256: &str) -> PathBuf {
        self.function_dir(name)
            .join("code")
            .join(format!("{}.zip", code_folder(code_sha256)))
    }

    /// Unpacks `zip` into the function's code folder (once per content);
    /// returns (CodeSha256, CodeSize).
    fn unpack(&self, name: &str, zip: &Bytes) -> Result<(String, u64)> {
        use base64::Engine;
        let digest = Sha256::digest(zip);
        let sha = base64::engine::general_purpose::STANDARD.encode(digest);
        let target = self.code_dir(name, &sha);
        if target.is_dir() {
            return Ok((sha, zip.len() as u64));
        }
        let code = target.parent().expect("code folder has a parent");
        let staging = code.join(format!(".unpacking-{}", uuid::Uuid::new_v4()));
        unzip(zip, &staging)?;
        let zip_path = self.zip_path(name, &sha);
        nuage_common::durable::write_file(&zip_path, zip)
            .map_err(FunctionError::io("cannot write", &zip_path))?;
        match std::fs::rename(&staging, &target) {
            Ok(()) => {}
            // Another upload of the same zip won the race.
            Err(_) if target.is_dir() => {
                let _ = std::fs::remove_dir_all(&staging);
            }
            Err(e) => return Err(FunctionError::io("cannot place code in", &target)(e)),
        }
        nuage_common::durable::sync_dir(code).map_err(FunctionError::io("cannot sync", code))?;
        Ok((sha, zip.len() as u64))
    }
}

/// Unzips `zip` into the new folder `target` (a function's code or a
/// layer's content), within Lambda's size limit.
pub(crate) fn unzip(zip: &[u8], target: &Path) -> Result<()> {
    let unreadable = || {
        FunctionError::InvalidParameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
                .into(),
        )
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| unreadable())?;
    let unzipped: u64 = (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum();
    if unzipped > MAX_UNZIPPED {
        return Err(FunctionError::InvalidParameter(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
        )));
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(FunctionError::io("cannot create", parent))?;
    }
    // Entries that would leave the folder (`../x`, absolute paths) are
    // refused by the zip crate's extraction.
    archive.extract(target).map_err(|e| {
        let _ = std::fs::remove_dir_all(target);
        FunctionError::InvalidParameter(format!(
            "Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"
        ))
    })
}

/// UpdateFunctionConfiguration's changes applied to `$LATEST`.
pub fn configure(function: &mut Function, changes: ConfigChanges) -> Result<()> {
    check_revision(&function.latest.revision_id, changes.revision_id.as_deref())?;
    if let Some(runtime) = &changes.runtime {
        Runtime::parse(runtime)?;
    }
    if let Some(environment) = &changes.environment {
        check_environment(environment)?;
    }
    let latest = &mut function.latest;
    let set = |field: &mut String, value: Option<String>| {
        if let Some(value) = value {
            *field = value;
        }
    };
    set(&mut latest.runtime, changes.runtime);
    set(&mut latest.handler, changes.handler);
    set(&mut latest.role, changes.role);
    set(&mut latest.description, changes.description);
    if let Some(timeout) = changes.timeout {
        latest.timeout = timeout;
    }
    if let Some(memory) = changes.memory_size {
        latest.memory_size = memory;
    }
    if let Some(environment) = changes.environment {
        latest.environment = environment;
    }
    if let Some(layers) = changes.layers {
        latest.layers = layers;
    }
    touch(latest);
    Ok(())
}

/// PublishVersion: `$LATEST` as a new numbered version, unless the last
/// published version already has the same code and configuration (then
/// that version, as Lambda answers).
pub fn publish(function: &mut Function, code_sha256: Option<&str>) -> Result<Config> {
    if let Some(expected) = code_sha256
        && expected != function.latest.code_sha256
    {
        return Err(FunctionError::InvalidParameter(format!(
            "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({}). \
             Please try publishing again after getting the latest CodeSHA256 from GetFunction.",
            function.latest.code_sha256
        )));
    }
    if let Some(last) = function.versions.values().next_back() {
        let same = Config {
            version: last.version.clone(),
            last_modified: last.last_modified.clone(),
            revision_id: last.revision_id.clone(),
            description: last.description.clone(),
            ..function.latest.clone()
        };
        if same == *last {
            return Ok(last.clone());
        }
    }
    let number = function.next_version;
    function.next_version += 1;
    let mut version = function.latest.clone();
    version.version = number.to_string();
    version.revision_id = revision();
    function.versions.insert(number, version.clone());
    function.latest.revision_id = revision();
    Ok(version)
}

/// RevisionId preconditions: a given id must be the current one.
pub(crate) fn check_revision(current: &str, given: Option<&str>) -> Result<()> {
    match given {
        Some(given) if given != current => Err(FunctionError::Precondition(
            "The Revision Id provided does not match the latest Revision Id. Call the \
             GetFunction/GetAlias API to retrieve the latest Revision Id"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn check_environment(environment: &BTreeMap<String, String>) -> Result<()> {
    let reserved: Vec<&str> = environment
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_VARIABLES.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(FunctionError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided contains reserved keys that are currently not \
             supported for modification. Reserved keys used in this request: {}",
            reserved.join(",")
        )));
    }
    let measured = serde_json::to_string(environment).expect("a map serializes");
    if measured.len() > 4096 {
        return Err(FunctionError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment \
             variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

fn touch(config: &mut Config) {
    config.last_modified = now_text();
    config.revision_id = revision();
}

pub(crate) fn revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Lambda's LastModified: `2024-05-01T12:34:56.789+0000`.
pub fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// A CodeSha256 (base64) as a folder name (hex).
fn code_folder(code_sha256: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(code_sha256)
        .unwrap_or_default();
    hex(&bytes)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The function name and qualifier in a FunctionName parameter: a name,
/// `name:qualifier`, a full ARN or a partial one (`123456789012:function:name`).
pub fn parse_function_name(text: &str) -> (&str, Option<&str>) {
    let rest = if let Some(at) = text.find(":function:") {
        &text[at + ":function:".len()..]
    } else {
        text
    };
    match rest.split_once(':') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (rest, None),
    }
}

/// Whether a path is a function's folder name (`[a-zA-Z0-9-_]{1,64}`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The functions folder's runtime clients live beside the functions.
pub(crate) fn runtime_dir(functions: &Path) -> PathBuf {
    functions.join(".runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_read_every_form_lambda_accepts() {
        assert_eq!(parse_function_name("alerts"), ("alerts", None));
        assert_eq!(parse_function_name("alerts:prod"), ("alerts", Some("prod")));
        assert_eq!(
            parse_function_name("arn:aws:lambda:us-east-1:000000000000:function:alerts:3"),
            ("alerts", Some("3"))
        );
        assert_eq!(
            parse_function_name("000000000000:function:alerts"),
            ("alerts", None)
        );
    }

    #[test]
    fn reserved_and_oversized_environments_are_refused() {
        let mut env = BTreeMap::new();
        env.insert("AWS_REGION".to_string(), "x".to_string());
        let e = check_environment(&env).unwrap_err().to_string();
        assert!(
            e.ends_with("Reserved keys used in this request: AWS_REGION"),
            "{e}"
        );
        env.clear();
        env.insert("BIG".to_string(), "x".repeat(5000));
        assert!(
            check_environment(&env)
                .unwrap_err()
                .to_string()
                .contains("4KB limit")
        );
    }
}
