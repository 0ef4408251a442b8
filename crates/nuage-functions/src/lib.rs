//! Functions: Lambda's model on this machine (no HTTP here; the edge
//! speaks Lambda's REST API in `nuage-server/src/lambda/`).
//!
//! ```text
//! CreateFunction ──> store.rs: functions/<name>/function.json + code/<sha256>/
//!
//! Invoke ──> invoke.rs ──> a warm environment (env.rs), or a new one:
//!              the runtime's interpreter (runtime/mod.rs) running nuage's
//!              bootstrap or the zip's own, talking to its own Runtime API
//!              port (runtime/api.rs): invocation/next, response, error
//!        <── payload, error, the log block (logs.rs: START/END/REPORT)
//! ```
//!
//! An environment serves one invocation at a time and stays warm for the
//! next; a function has at most its reserved concurrency (or
//! [`FunctionsConfig::max_environments`]) environments at once.

pub mod destinations;
mod env;
pub mod error;
mod events;
mod invoke;
pub mod layers;
mod logs;
mod manage;
pub mod mappings;
pub mod runtime;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use error::{FunctionError, Result};
pub use events::EventInvokeConfig;
pub use invoke::{InvokeOutcome, InvokeRequest};
pub use mappings::{Mapping, MappingRequest, MappingState};
pub use store::{Alias, Config, ConfigChanges, Function, LATEST, NewFunction, UrlConfig};

/// A std mutex's guard, also after a panic elsewhere poisoned it (the
/// guarded values stay consistent: every holder finishes its update).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where functions live and how they run.
#[derive(Debug, Clone)]
pub struct FunctionsConfig {
    /// `<data-dir>/functions`.
    pub dir: PathBuf,
    pub region: String,
    pub account: String,
    /// The credentials handed to functions (AWS_ACCESS_KEY_ID, ...): one
    /// of the server's access keys, or placeholders when it has none.
    pub credentials: (String, String),
    /// Environments one function may run at once without reserved
    /// concurrency.
    pub max_environments: usize,
    /// How long an environment stays warm without an invocation.
    pub idle_timeout: Duration,
    /// The waits before an asynchronous invocation's retries (Lambda: 1
    /// minute, then 2).
    pub retry_delays: Vec<Duration>,
}

impl FunctionsConfig {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            credentials: ("test".into(), "test".into()),
            max_environments: 32,
            idle_timeout: Duration::from_secs(600),
            retry_delays: vec![Duration::from_secs(60), Duration::from_secs(120)],
        }
    }
}

/// Every function of a data dir.
pub struct Functions {
    config: FunctionsConfig,
    store: store::Store,
    functions: RwLock<BTreeMap<String, Function>>,
    /// Serializes changes (each reads, changes and saves a function).
    admin: tokio::sync::Mutex<()>,
    pools: Mutex<HashMap<String, Arc<invoke::Pool>>>,
    logs: logs::Logs,
    /// `http://127.0.0.1:PORT` of the edge, once it listens
    /// (AWS_ENDPOINT_URL inside functions).
    endpoint: RwLock<String>,
    /// The streams destinations and event-source mappings use.
    streams: Option<Arc<nuage_streams::Streams>>,
    /// Event-source mappings by UUID, with their pollers.
    mappings: Mutex<BTreeMap<String, mappings::Running>>,
}

impl Functions {
    /// Loads the functions under `config.dir` and installs nuage's runtime
    /// clients, and resumes queued invocations. Call it inside a tokio runtime (it starts the reaper of idle
    /// environments).
    pub fn open(
        config: FunctionsConfig,
        streams: Option<Arc<nuage_streams::Streams>>,
    ) -> Result<Arc<Self>> {
        std::fs::create_dir_all(&config.dir)
            .map_err(FunctionError::io("cannot create", &config.dir))?;
        runtime::install_bootstraps(&store::runtime_dir(&config.dir))?;
        let store = store::Store::new(
            config.dir.clone(),
            config.region.clone(),
            config.account.clone(),
        );
        let functions = store.load()?;
        let this = Arc::new(Self {
            store,
            functions: RwLock::new(functions),
            admin: tokio::sync::Mutex::new(()),
            pools: Mutex::new(HashMap::new()),
            logs: logs::Logs::default(),
            endpoint: RwLock::new(String::new()),
            streams,
            mappings: Mutex::new(BTreeMap::new()),
            config,
        });
        this.resume_events();
        this.resume_mappings();
        let weak = Arc::downgrade(&this);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let Some(functions) = weak.upgrade() else {
                    return;
                };
                functions.reap_idle();
            }
        });
        Ok(this)
    }

    /// The layers published beside the functions.
    pub fn layers(&self) -> layers::Layers {
        self.store.layers()
    }

    pub fn config(&self) -> &FunctionsConfig {
        &self.config
    }

    /// Tells functions where the edge listens (AWS_ENDPOINT_URL).
    pub fn set_endpoint(&self, endpoint: String) {
        *self.endpoint.write().unwrap_or_else(|e| e.into_inner()) = endpoint;
    }

    pub fn arn(&self, name: &str, qualifier: Option<&str>) -> String {
        self.store.arn(name, qualifier)
    }

    /// The zip a function's code came in.
    pub fn zip_path(&self, name: &str, code_sha256: &str) -> PathBuf {
        self.store.zip_path(name, code_sha256)
    }

    /// A function's log file (`nuage functions logs`).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.store.log_path(name)
    }
}
