//! [`Shared`]: what every session of one process shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::datasource::TableProvider;
use datafusion::logical_expr::LogicalPlan;
use futures::future::BoxFuture;
use nuage_catalog::Metastore;
use nuage_lake::Lake;

use crate::error::Result;

/// The metastore, the lake, the memory limit and the temporary tables.
#[derive(Debug)]
pub struct Shared {
    pub metastore: Arc<dyn Metastore>,
    pub lake: Arc<Lake>,
    pub memory_limit: usize,
    /// `CREATE TEMPORARY TABLE`s: in memory, gone with the process, and
    /// shadowing a catalog table of the same name, as in Hive.
    pub temporary: TemporaryTables,
    /// Plans the text of a view in its database. The catalog meets views
    /// while the planner reads the catalog: the session hands the planner
    /// in here, so that neither module depends on the other.
    pub plan_view: PlanView,
}

/// Temporary tables by (database, table).
pub type TemporaryTables = Mutex<HashMap<(String, String), Arc<dyn TableProvider>>>;

/// `(shared, database, view text) -> plan`.
pub type PlanView =
    for<'a> fn(&'a Arc<Shared>, &'a str, &'a str) -> BoxFuture<'a, Result<LogicalPlan>>;
