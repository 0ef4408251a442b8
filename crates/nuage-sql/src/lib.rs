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
//! - table files are read and written through `nuage-format` (Hive's text
//!   formats, Parquet, values printed as Hive prints them).

mod catalog;
pub mod context;
mod ddl;
mod dialect;
mod dml;
pub mod error;
mod execute;
mod functions;
pub mod output;
pub mod parser;
pub mod projection;
pub mod provider;
mod query;
mod recs;
pub mod rewrite;
pub mod script;
pub mod select_object;
pub mod session;
pub mod shared;
pub mod stats;
mod system;

pub use error::{Result, SqlError};
pub use output::Output;
pub use script::{Statement, Variables, split_statements};
pub use session::Session;
pub use stats::ScanStats;
