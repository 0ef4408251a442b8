//! Planning queries: Hive rewrites, friendly checks of the tables a query
//! names, then DataFusion's SQL planner.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement, TableFactor, Visit, Visitor};

use crate::context::build_context;
use crate::error::{Result, SqlError, semantic};
use crate::parser::{self, HiveStatement};
use crate::rewrite;
use crate::shared::Shared;

/// Plans a query statement in `ctx`, whose default database is `database`.
pub async fn plan_statement(
    ctx: &SessionContext,
    shared: &Shared,
    database: &str,
    mut statement: Statement,
    semantics: rewrite::Semantics,
) -> Result<LogicalPlan> {
    rewrite::rewrite_statement(&mut statement, semantics)?;
    rewrite::current_database(&mut statement, database);
    check_tables(shared, database, &statement)?;
    Ok(ctx
        .state()
        .statement_to_plan(DFStatement::Statement(Box::new(statement)))
        .await?)
}

/// Plans the text of a view in its own database.
pub async fn plan_view(shared: &Arc<Shared>, database: &str, text: &str) -> Result<LogicalPlan> {
    let ctx = build_context(shared, database, Default::default())?;
    match parser::parse(text)? {
        HiveStatement::Query(statement) => {
            plan_statement(&ctx, shared, database, *statement, rewrite::Semantics::Hive).await
        }
        _ => Err(semantic!("a view must be a query")),
    }
}

/// Collects the tables a statement reads, minus CTE names and table functions.
#[derive(Default)]
struct TableRefs {
    ctes: HashSet<String>,
    tables: Vec<(Option<String>, String)>,
}

impl Visitor for TableRefs {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            let parts: Vec<String> = name
                .0
                .iter()
                .map(|p| {
                    p.as_ident()
                        .map(|i| i.value.to_lowercase())
                        .unwrap_or_else(|| p.to_string())
                })
                .collect();
            match parts.as_slice() {
                [table] => self.tables.push((None, table.clone())),
                [db, table] => self.tables.push((Some(db.clone()), table.clone())),
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

/// Fails with a message naming what exists when a query reads a table that does not.
fn check_tables(shared: &Shared, database: &str, statement: &Statement) -> Result<()> {
    let mut refs = TableRefs::default();
    let _ = statement.visit(&mut refs);
    for (db, table) in &refs.tables {
        if db.is_none() && refs.ctes.contains(table) {
            continue;
        }
        let db = db.as_deref().unwrap_or(database);
        if db == "information_schema" {
            continue;
        }
        if db == crate::system::SYSTEM {
            if !crate::system::TABLES.contains(&table.as_str()) {
                return Err(SqlError::Semantic(format!(
                    "Table not found 'system.{table}'; tables in system: {}",
                    crate::system::TABLES.join(", ")
                )));
            }
            continue;
        }
        if shared.metastore.get_database(db)?.is_none() {
            return Err(SqlError::Semantic(format!(
                "database {db} does not exist (reading table {db}.{table}); SHOW DATABASES lists the ones that do"
            )));
        }
        let temporary = shared
            .temporary
            .lock()
            .expect("temporary tables poisoned")
            .contains_key(&(db.to_string(), table.clone()));
        if !temporary && shared.metastore.get_table(db, table)?.is_none() {
            return Err(table_not_found(shared, db, table));
        }
    }
    Ok(())
}

/// "Table not found" with the tables that do exist in that database.
pub fn table_not_found(shared: &Shared, database: &str, table: &str) -> SqlError {
    let names: Vec<String> = shared
        .metastore
        .list_tables(database)
        .map(|ts| ts.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    let hint = if names.is_empty() {
        format!("database {database} has no tables")
    } else if names.len() <= 20 {
        format!("tables in {database}: {}", names.join(", "))
    } else {
        format!(
            "tables in {database} include: {} (and {} more)",
            names[..20].join(", "),
            names.len() - 20
        )
    };
    SqlError::Semantic(format!("Table not found '{database}.{table}'; {hint}"))
}
