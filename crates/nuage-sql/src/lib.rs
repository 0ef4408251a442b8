//! HiveQL and Athena SQL over the lake, on DataFusion.
//!
//! ```text
//!  script ──split──> statements ──${...}──> parser ──┬─ DDL / LOAD / INSERT / UPDATE ──> ddl, dml
//!                                                     └─ SELECT / EXPLAIN ──rewrite──> DataFusion
//!                                                                                        │
//!  catalog (metastore as DataFusion catalog) ── provider::HiveTable ── format::HiveSource / Parquet
//!                                                                                        │
//!                                                             lake (object_store, counting bytes)
//! ```
//!
//! - [`script`] splits scripts and substitutes `${hiveconf:x}` variables;
//! - [`parser`] reads Hive DDL/DML; queries stay `sqlparser` ASTs that [`rewrite`]
//!   adjusts to Hive semantics (`int / int` is DOUBLE, `LATERAL VIEW`, Hive functions);
//! - [`session::Session`] runs one statement at a time and reports bytes scanned;
//! - [`format`] reads and writes Hive's text formats; [`display`] prints like Hive.

mod catalog;
pub mod context;
pub mod crawl;
mod ddl;
mod dialect;
pub mod display;
mod dml;
pub mod error;
pub mod format;
mod functions;
pub mod parser;
pub mod projection;
pub mod provider;
mod query;
mod recs;
pub mod rewrite;
pub mod script;
pub mod session;
pub mod stats;
mod system;
pub mod types;

pub use error::{Result, SqlError};
pub use script::{Statement, Variables, split_statements};
pub use session::{Output, Session};
pub use stats::ScanStats;
