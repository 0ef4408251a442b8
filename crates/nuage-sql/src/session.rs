//! [`Session`]: one user's HiveQL session: its current database, variables
//! and DataFusion context. Running statements is in [`crate::execute`].

use std::sync::Arc;

use datafusion::prelude::SessionContext;

use nuage_catalog::Metastore;
use nuage_common::Config;
use nuage_lake::Lake;

use crate::context::{build_context, default_memory_limit};
use crate::error::{Result, SqlError, semantic};
use crate::query;
use crate::script::Variables;
use crate::shared::Shared;
use crate::stats::{QueryStats, ScanStats};

/// The per-query scan limit, like an Athena workgroup's data usage control.
pub const MAX_SCAN_BYTES: &str = "nuage.max_scan_bytes";

/// `SET nuage.insert.file-stem=NAME`: INSERT INTO names its files NAME
/// (then NAME-1, ...) instead of part-<uuid>, so that redoing an INSERT
/// replaces its files. Continuous jobs use it for exactly-once output.
pub const INSERT_FILE_STEM: &str = "nuage.insert.file-stem";

/// `SET nuage.sql.semantics = standard`: standard SQL's rules where Hive's
/// differ (`int / int` an integer, arrays from 1), as continuous jobs
/// follow Flink SQL and Kinesis Analytics.
pub const SEMANTICS: &str = "nuage.sql.semantics";

/// The bucket that holds managed tables in the embedded lake.
pub use nuage_catalog::WAREHOUSE_BUCKET;

/// A HiveQL session over one data directory.
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) ctx: SessionContext,
    pub(crate) database: String,
    pub vars: Variables,
    pub(crate) user: String,
    pub(crate) stats: Arc<QueryStats>,
}

/// The catalog of `config` (`catalog.db`), with managed tables under
/// `s3://warehouse/` (a bucket created in the embedded lake). The server's
/// delivery streams share it with `nuage sql` processes.
pub async fn open_metastore(config: &Config, lake: &Lake) -> Result<Arc<dyn Metastore>> {
    if !lake.is_remote() {
        lake.make_bucket(WAREHOUSE_BUCKET).await?;
    }
    Ok(nuage_catalog::open_metastore(config)?)
}

impl Session {
    /// Opens the metastore and lake of `config` (creating them on first use).
    pub async fn open(config: &Config) -> Result<Session> {
        let lake = Arc::new(Lake::new(config)?);
        let metastore = open_metastore(config, &lake).await?;
        Self::with_shared(Self::shared_state(metastore, lake), "default")
    }

    /// State for sessions over an open metastore and lake, with its own
    /// temporary tables (a continuous job binds its stream's rows there).
    pub fn shared_state(metastore: Arc<dyn Metastore>, lake: Arc<Lake>) -> Arc<Shared> {
        Arc::new(Shared {
            metastore,
            lake,
            memory_limit: default_memory_limit(),
            temporary: Default::default(),
            plan_view: |shared, database, text| Box::pin(query::plan_view(shared, database, text)),
        })
    }

    /// A new session over already-open shared state.
    pub fn with_shared(shared: Arc<Shared>, database: &str) -> Result<Session> {
        let stats = Arc::new(QueryStats::default());
        let ctx = build_context(&shared, database, stats.clone())?;
        Ok(Session {
            shared,
            ctx,
            stats,
            database: database.to_string(),
            vars: Variables::default(),
            user: std::env::var("USER").unwrap_or_else(|_| "nuage".to_string()),
        })
    }

    /// Hive's rules unless `nuage.sql.semantics` is `standard`.
    pub fn semantics(&self) -> crate::rewrite::Semantics {
        match self.vars.hiveconf.get(SEMANTICS).map(String::as_str) {
            Some("standard") => crate::rewrite::Semantics::Standard,
            _ => crate::rewrite::Semantics::Hive,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Makes `database` current, as `USE database`.
    pub fn use_database(&mut self, database: &str) -> Result<()> {
        let database = database.to_lowercase();
        if self.shared.metastore.get_database(&database)?.is_none() {
            return Err(semantic!(
                "database {database} does not exist; SHOW DATABASES lists the ones that do"
            ));
        }
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .catalog
            .default_schema = database.clone();
        self.database = database;
        Ok(())
    }

    /// What the last statement read from storage.
    pub fn scan_stats(&self) -> ScanStats {
        self.stats.snapshot()
    }

    /// Whether `SET hive.cli.print.header=true` asked for column headers.
    pub fn print_header(&self) -> bool {
        self.vars
            .hiveconf
            .get("hive.cli.print.header")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The database a possibly-qualified name refers to.
    pub(crate) fn database_of(&self, name: &crate::parser::TableName) -> String {
        name.database
            .clone()
            .unwrap_or_else(|| self.database.clone())
    }

    /// Loads a table definition or fails naming the tables that exist.
    pub(crate) fn table(&self, name: &crate::parser::TableName) -> Result<nuage_catalog::Table> {
        let database = self.database_of(name);
        if self.shared.metastore.get_database(&database)?.is_none() {
            return Err(semantic!(
                "database {database} does not exist; SHOW DATABASES lists the ones that do"
            ));
        }
        self.shared
            .metastore
            .get_table(&database, &name.name)?
            .ok_or_else(|| query::table_not_found(&self.shared, &database, &name.name))
    }

    pub(crate) fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

impl From<SqlError> for datafusion::error::DataFusionError {
    fn from(e: SqlError) -> Self {
        datafusion::error::DataFusionError::External(Box::new(e))
    }
}
