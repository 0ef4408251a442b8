//! Hive semantics that DataFusion spells differently, rewritten in the AST
//! before planning:
//!
//! - `a / b` is always DOUBLE division (`int / int` = DOUBLE in Hive);
//!   `a DIV b` is integer division;
//! - Hive function names and shapes (`if`, `collect_set`, `percentile`, `size`,
//!   `array`, `map`, `year`, `rlike`, ...) become DataFusion equivalents or
//!   nuage's own UDFs (registered in [`crate::functions`]);
//! - `LATERAL VIEW explode(xs) v AS x` becomes a derived table that unnests `xs`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CeilFloorKind, DateTimeField, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, LateralView, ObjectName, Query, Select, SelectItem, SetExpr,
    Statement, Subscript, TableFactor, TableWithJoins, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::parser::ParserError;

/// Whose rules a statement follows where Hive's differ from standard SQL's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantics {
    /// `int / int` is DOUBLE, arrays count from 0.
    #[default]
    Hive,
    /// As Flink SQL and Kinesis Analytics (and DataFusion): `int / int` is
    /// an integer, arrays count from 1.
    Standard,
}

/// Rewrites a statement in place.
pub fn rewrite_statement(
    statement: &mut Statement,
    semantics: Semantics,
) -> Result<(), ParserError> {
    if let Statement::Query(query) = statement {
        rewrite_lateral_views(query)?;
    }
    if let Statement::Explain {
        statement: inner, ..
    } = statement
    {
        rewrite_statement(inner, semantics)?;
        return Ok(());
    }
    rewrite_expressions(statement, semantics)
}

/// `current_database()` is the session's database, known only when planning.
pub fn current_database(statement: &mut Statement, database: &str) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && function_name(&f.name)
                .is_some_and(|n| n == "current_database" || n == "current_schema")
            && plain_args(&f.args).is_some_and(|a| a.is_empty())
        {
            *expr = Expr::value(Value::SingleQuotedString(database.to_string()));
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Rewrites a query in place (used for INSERT ... SELECT and CTAS sources).
pub fn rewrite_query(query: &mut Box<Query>) -> Result<(), ParserError> {
    let mut statement = Statement::Query(query.clone());
    rewrite_statement(&mut statement, Semantics::Hive)?;
    if let Statement::Query(q) = statement {
        *query = q;
    }
    Ok(())
}

/// Rewrites a standalone expression (UPDATE assignments and WHERE clauses).
pub fn rewrite_expr(expr: &mut Expr) -> Result<(), ParserError> {
    let mut query = parse_query(&format!("SELECT {expr}"))?;
    rewrite_query(&mut query)?;
    if let SetExpr::Select(select) = *query.body {
        match select.projection.into_iter().next() {
            Some(SelectItem::UnnamedExpr(e)) | Some(SelectItem::ExprWithAlias { expr: e, .. }) => {
                *expr = e
            }
            _ => {}
        }
    }
    Ok(())
}

fn parse_expr(text: &str) -> Result<Expr, ParserError> {
    crate::dialect::standard_parser(text)?.parse_expr()
}

fn parse_query(text: &str) -> Result<Box<Query>, ParserError> {
    crate::dialect::standard_parser(text)?.parse_query()
}

fn rewrite_expressions(statement: &mut Statement, semantics: Semantics) -> Result<(), ParserError> {
    let flow = visit_expressions_mut(statement, |expr| match rewrite_one(expr, semantics) {
        Ok(Some(new)) => {
            *expr = new;
            ControlFlow::Continue(())
        }
        Ok(None) => ControlFlow::Continue(()),
        Err(e) => ControlFlow::Break(e),
    });
    match flow {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn is_multi_count_distinct(function: &datafusion::sql::sqlparser::ast::Function) -> bool {
    function_name(&function.name).is_some_and(|n| n == "count")
        && matches!(&function.args, FunctionArguments::List(list)
            if list.args.len() > 1
                && matches!(list.duplicate_treatment, Some(datafusion::sql::sqlparser::ast::DuplicateTreatment::Distinct)))
}

/// Plain positional arguments of a function call, if it has only those.
fn plain_args(args: &FunctionArguments) -> Option<Vec<&Expr>> {
    match args {
        FunctionArguments::None => Some(Vec::new()),
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

fn function_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(|i| i.value.to_lowercase()),
        _ => None,
    }
}

fn arity(name: &str, args: &[&Expr], allowed: &[usize]) -> Result<(), ParserError> {
    if allowed.contains(&args.len()) {
        Ok(())
    } else {
        let expected: Vec<String> = allowed.iter().map(|n| n.to_string()).collect();
        Err(ParserError::ParserError(format!(
            "{name} takes {} argument(s), got {}",
            expected.join(" or "),
            args.len()
        )))
    }
}

/// The replacement for one expression, if Hive spells it differently.
fn rewrite_one(expr: &Expr, semantics: Semantics) -> Result<Option<Expr>, ParserError> {
    let hive = semantics == Semantics::Hive;
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Divide,
            right,
        } if hive => Ok(Some(parse_expr(&format!(
            "CAST({left} AS DOUBLE) / CAST({right} AS DOUBLE)"
        ))?)),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::MyIntegerDivide,
            right,
        } => Ok(Some(parse_expr(&format!(
            "CAST(CAST({left} AS BIGINT) / CAST({right} AS BIGINT) AS BIGINT)"
        ))?)),
        // Hive arrays count from 0, DataFusion's from 1. A numeric literal index is an
        // array index (map keys are written as strings); other index expressions are kept.
        Expr::CompoundFieldAccess { root, access_chain } if hive => {
            let mut chain = access_chain.clone();
            let mut changed = false;
            for access in &mut chain {
                if let AccessExpr::Subscript(Subscript::Index {
                    index: Expr::Value(value),
                }) = access
                    && let Value::Number(n, long) = &value.value
                    && let Ok(i) = n.parse::<i64>()
                {
                    value.value = Value::Number((i + 1).to_string(), *long);
                    changed = true;
                }
            }
            Ok(changed.then(|| Expr::CompoundFieldAccess {
                root: root.clone(),
                access_chain: chain,
            }))
        }
        // Hive's floor and ceil return BIGINT.
        Expr::Floor {
            expr,
            field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
        } => Ok(Some(parse_expr(&format!("CAST(floor({expr}) AS BIGINT)"))?)),
        Expr::Ceil {
            expr,
            field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
        } => Ok(Some(parse_expr(&format!("CAST(ceil({expr}) AS BIGINT)"))?)),
        Expr::RLike {
            negated,
            expr,
            pattern,
            ..
        } => {
            let not = if *negated { "NOT " } else { "" };
            Ok(Some(parse_expr(&format!(
                "{not}regexp_like({expr}, {pattern})"
            ))?))
        }
        Expr::Function(function) if is_multi_count_distinct(function) => {
            // `count(DISTINCT a, b)` counts distinct tuples with no NULL in them.
            let FunctionArguments::List(list) = &function.args else {
                unreachable!("checked")
            };
            let args: Vec<String> = list.args.iter().map(|a| a.to_string()).collect();
            let not_null: Vec<String> = args.iter().map(|a| format!("{a} IS NOT NULL")).collect();
            Ok(Some(parse_expr(&format!(
                "count(DISTINCT CASE WHEN {} THEN struct({}) END)",
                not_null.join(" AND "),
                args.join(", ")
            ))?))
        }
        Expr::Function(function) => {
            let Some(name) = function_name(&function.name) else {
                return Ok(None);
            };
            let Some(args) = plain_args(&function.args) else {
                return Ok(None);
            };
            if function.over.is_some() || function.filter.is_some() {
                return Ok(None);
            }
            let a: Vec<String> = args.iter().map(|e| e.to_string()).collect();
            let text = match name.as_str() {
                "if" => {
                    arity("if", &args, &[3])?;
                    format!("CASE WHEN {} THEN {} ELSE {} END", a[0], a[1], a[2])
                }
                "collect_list" => {
                    arity(&name, &args, &[1])?;
                    format!("array_agg({0}) FILTER (WHERE {0} IS NOT NULL)", a[0])
                }
                "collect_set" => {
                    arity(&name, &args, &[1])?;
                    format!(
                        "array_agg(DISTINCT {0}) FILTER (WHERE {0} IS NOT NULL)",
                        a[0]
                    )
                }
                "percentile" | "percentile_approx" | "approx_percentile" => {
                    arity(&name, &args, &[2, 3])?;
                    // Hive's percentile is exact; its percentile_approx is a
                    // histogram (functions/percentile.rs) with optional bins B;
                    // Athena's approx_percentile is DataFusion's t-digest.
                    let (target, bins) = match name.as_str() {
                        "percentile" => ("percentile_cont", String::new()),
                        "percentile_approx" => (
                            "hive_percentile_approx",
                            a.get(2).map(|b| format!(", {b}")).unwrap_or_default(),
                        ),
                        _ => ("approx_percentile_cont", String::new()),
                    };
                    match args[1] {
                        Expr::Function(f)
                            if function_name(&f.name)
                                .is_some_and(|n| n == "array" || n == "make_array") =>
                        {
                            let ps = plain_args(&f.args).unwrap_or_default();
                            let parts: Vec<String> = ps
                                .iter()
                                .map(|p| format!("{target}(CAST({} AS DOUBLE), {p}{bins})", a[0]))
                                .collect();
                            format!("make_array({})", parts.join(", "))
                        }
                        Expr::Array(array) => {
                            let parts: Vec<String> = array
                                .elem
                                .iter()
                                .map(|p| format!("{target}(CAST({} AS DOUBLE), {p}{bins})", a[0]))
                                .collect();
                            format!("make_array({})", parts.join(", "))
                        }
                        _ => format!("{target}(CAST({} AS DOUBLE), {}{bins})", a[0], a[1]),
                    }
                }
                "array" => format!("make_array({})", a.join(", ")),
                "map" => {
                    if !a.len().is_multiple_of(2) {
                        return Err(ParserError::ParserError(
                            "map takes key, value pairs: map(k1, v1, k2, v2, ...)".into(),
                        ));
                    }
                    let keys: Vec<&str> = a.iter().step_by(2).map(String::as_str).collect();
                    let values: Vec<&str> =
                        a.iter().skip(1).step_by(2).map(String::as_str).collect();
                    format!(
                        "map(make_array({}), make_array({}))",
                        keys.join(", "),
                        values.join(", ")
                    )
                }
                "year" | "month" | "day" | "dayofmonth" | "hour" | "minute" | "second"
                | "quarter" | "weekofyear" | "dayofweek" => {
                    arity(&name, &args, &[1])?;
                    let part = match name.as_str() {
                        "dayofmonth" => "day",
                        "weekofyear" => "week",
                        "dayofweek" => "dow",
                        other => other,
                    };
                    let value = format!("date_part('{part}', CAST({} AS TIMESTAMP))", a[0]);
                    if name == "dayofweek" {
                        // Hive: Sunday = 1 ... Saturday = 7.
                        format!("CAST({value} + 1 AS INT)")
                    } else {
                        format!("CAST({value} AS INT)")
                    }
                }
                "explode" => {
                    arity(&name, &args, &[1])?;
                    format!("unnest({})", a[0])
                }
                "lcase" => format!("lower({})", a.join(", ")),
                "ucase" => format!("upper({})", a.join(", ")),
                "rand" => "random()".to_string(),
                "pmod" => {
                    arity(&name, &args, &[2])?;
                    format!("((({0}) % ({1})) + ({1})) % ({1})", a[0], a[1])
                }
                "isnull" => {
                    arity(&name, &args, &[1])?;
                    format!("({} IS NULL)", a[0])
                }
                "isnotnull" => {
                    arity(&name, &args, &[1])?;
                    format!("({} IS NOT NULL)", a[0])
                }
                "sort_array" => format!("array_sort({})", a.join(", ")),
                "array_contains" => format!("array_has({})", a.join(", ")),
                "locate" => {
                    arity(&name, &args, &[2])?;
                    format!("strpos({}, {})", a[1], a[0])
                }
                "regexp_replace" if args.len() == 3 => {
                    format!("regexp_replace({}, {}, {}, 'g')", a[0], a[1], a[2])
                }
                "nvl2" => return Ok(None),
                _ => return Ok(None),
            };
            Ok(Some(parse_expr(&text)?))
        }
        _ => Ok(None),
    }
}

/// `FROM t LATERAL VIEW explode(xs) v AS x` becomes
/// `FROM (SELECT *, unnest(xs) AS x FROM t) AS t`, one layer per lateral view.
fn rewrite_lateral_views(query: &mut Box<Query>) -> Result<(), ParserError> {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            rewrite_lateral_views(&mut cte.query)?;
        }
    }
    sort_by_as_order_by(query)?;
    rewrite_set_expr(&mut query.body)
}

/// Hive's `SORT BY` sorts within each reducer and `CLUSTER BY x` is
/// `DISTRIBUTE BY x SORT BY x`; nuage's one result stream sorted as a whole
/// satisfies both, so they become ORDER BY. `DISTRIBUTE BY` alone only places
/// rows on reducers and is dropped.
fn sort_by_as_order_by(query: &mut Query) -> Result<(), ParserError> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(());
    };
    let mut keys: Vec<String> = select.sort_by.iter().map(|o| o.to_string()).collect();
    if keys.is_empty() {
        keys = select.cluster_by.iter().map(|e| e.to_string()).collect();
    }
    select.sort_by.clear();
    select.cluster_by.clear();
    select.distribute_by.clear();
    if keys.is_empty() || query.order_by.is_some() {
        return Ok(());
    }
    query.order_by = parse_query(&format!("SELECT 1 ORDER BY {}", keys.join(", ")))?.order_by;
    Ok(())
}

fn rewrite_set_expr(body: &mut SetExpr) -> Result<(), ParserError> {
    match body {
        SetExpr::Select(select) => rewrite_select(select),
        SetExpr::Query(q) => rewrite_lateral_views(q),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left)?;
            rewrite_set_expr(right)
        }
        _ => Ok(()),
    }
}

fn rewrite_select(select: &mut Select) -> Result<(), ParserError> {
    name_unnamed_columns(select);
    for table in &mut select.from {
        rewrite_table_factor(&mut table.relation)?;
        for join in &mut table.joins {
            rewrite_table_factor(&mut join.relation)?;
        }
    }
    if select.lateral_views.is_empty() {
        return Ok(());
    }
    let [TableWithJoins { relation, joins }] = select.from.as_mut_slice() else {
        return Err(ParserError::ParserError(
            "LATERAL VIEW needs exactly one table in FROM; join in a subquery first".into(),
        ));
    };
    if !joins.is_empty() {
        return Err(ParserError::ParserError(
            "LATERAL VIEW after a JOIN is not supported yet; put the join in a subquery: FROM (SELECT ... JOIN ...) t LATERAL VIEW ...".into(),
        ));
    }
    let alias = match relation {
        TableFactor::Table {
            alias: Some(alias), ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } => alias.name.value.clone(),
        TableFactor::Table { name, .. } => name.0.last().map(|p| p.to_string()).unwrap_or_default(),
        _ => "lv".to_string(),
    };
    let mut current = relation.to_string();
    let mut view_aliases = Vec::new();
    for view in std::mem::take(&mut select.lateral_views) {
        let columns = lateral_view_columns(&view)?;
        current = format!(
            "(SELECT *, {} FROM {current}) AS {alias}",
            columns.join(", ")
        );
        view_aliases.push(view.lateral_view_name.to_string().to_lowercase());
    }
    let query = parse_query(&format!("SELECT * FROM {current}"))?;
    let SetExpr::Select(inner) = *query.body else {
        unreachable!("a SELECT")
    };
    select.from = inner.from;
    // `v.x` now lives in the derived table.
    let mut stub = Statement::Query(Box::new(Query {
        body: Box::new(SetExpr::Select(Box::new(select.clone()))),
        ..*parse_query("SELECT 1")?
    }));
    let _ = visit_expressions_mut(&mut stub, |expr| {
        if let Expr::CompoundIdentifier(parts) = expr
            && parts.len() == 2
            && view_aliases.contains(&parts[0].value.to_lowercase())
        {
            *expr = Expr::Identifier(parts[1].clone());
        }
        ControlFlow::<()>::Continue(())
    });
    if let Statement::Query(q) = stub
        && let SetExpr::Select(s) = *q.body
    {
        *select = *s;
    }
    Ok(())
}

/// The columns one LATERAL VIEW adds, as select items over the rows before it.
///
/// - `explode(array) v AS x`: one row per element;
/// - `explode(map) v AS k, v`: one row per entry;
/// - `posexplode(array) v AS pos, x`: with the 0-based position;
/// - `json_tuple(json, 'a', 'b') v AS a, b`: fields of a JSON text, no new rows.
///
/// Several `unnest` in one SELECT are zipped by DataFusion, which is what pairs
/// positions with elements and keys with values. OUTER keeps a row whose array
/// is empty or NULL, with NULL in the new columns.
fn lateral_view_columns(view: &LateralView) -> Result<Vec<String>, ParserError> {
    let error = |text: String| Err(ParserError::ParserError(text));
    let Expr::Function(function) = &view.lateral_view else {
        return error(format!(
            "LATERAL VIEW needs a table function such as explode(...), found {}",
            view.lateral_view
        ));
    };
    let name = function_name(&function.name).unwrap_or_default();
    let args = plain_args(&function.args).unwrap_or_default();
    let aliases: Vec<String> = view
        .lateral_col_alias
        .iter()
        .map(|a| a.value.to_lowercase())
        .collect();
    let outer = |list: String| {
        if view.outer {
            format!("CASE WHEN cardinality({list}) > 0 THEN {list} ELSE make_array(NULL) END")
        } else {
            list
        }
    };
    match (name.as_str(), aliases.as_slice()) {
        ("explode", [x]) => {
            arity("explode", &args, &[1])?;
            Ok(vec![format!("unnest({}) AS {x}", outer(args[0].to_string()))])
        }
        ("explode", [k, v]) => {
            arity("explode", &args, &[1])?;
            Ok(vec![
                format!("unnest({}) AS {k}", outer(format!("map_keys({})", args[0]))),
                format!("unnest({}) AS {v}", outer(format!("map_values({})", args[0]))),
            ])
        }
        ("posexplode", [pos, x]) => {
            arity("posexplode", &args, &[1])?;
            let list = args[0].to_string();
            Ok(vec![
                format!("unnest({}) AS {pos}", outer(format!("range(0, cardinality({list}))"))),
                format!("unnest({}) AS {x}", outer(list)),
            ])
        }
        ("json_tuple", names) if args.len() == names.len() + 1 => Ok(args[1..]
            .iter()
            .zip(names)
            .map(|(key, alias)| {
                let key = match key {
                    Expr::Value(v) => v.value.clone().into_string().unwrap_or_else(|| key.to_string()),
                    other => other.to_string(),
                };
                format!("get_json_object({}, '$.{}') AS {alias}", args[0], key.replace('\'', "''"))
            })
            .collect()),
        ("explode", _) => error("LATERAL VIEW explode(...) takes one column alias for an array (AS x) or two for a map (AS k, v)".into()),
        ("posexplode", _) => error("LATERAL VIEW posexplode(array) takes two column aliases: AS pos, x".into()),
        ("json_tuple", _) => error("LATERAL VIEW json_tuple(json, 'k1', 'k2', ...) needs one column alias per key".into()),
        (other, _) => error(format!(
            "LATERAL VIEW {other}(...) is not supported; nuage supports explode, posexplode and json_tuple"
        )),
    }
}

/// Hive names an unaliased expression column `_c<position>` (DataFusion would
/// name it after the expression text, and refuses two alike).
fn name_unnamed_columns(select: &mut Select) {
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item {
            if matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                continue;
            }
            let alias = Ident::new(format!("_c{i}"));
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias,
            };
        }
    }
}

fn rewrite_table_factor(factor: &mut TableFactor) -> Result<(), ParserError> {
    if let TableFactor::Derived { subquery, .. } = factor {
        rewrite_lateral_views(subquery)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = crate::dialect::parser(sql)
            .unwrap()
            .parse_statement()
            .unwrap();
        rewrite_statement(&mut statement, Semantics::Hive).unwrap();
        statement.to_string()
    }

    #[test]
    fn division_is_always_double() {
        assert_eq!(
            rewritten("SELECT a / b FROM t"),
            "SELECT CAST(a AS DOUBLE) / CAST(b AS DOUBLE) AS _c0 FROM t"
        );
    }

    /// Standard semantics (continuous jobs: Flink SQL, KDA) keep `/` and
    /// 1-based array indexes as written.
    #[test]
    fn standard_semantics_keep_division_and_indexes() {
        let mut statement = crate::dialect::parser("SELECT a / b, xs[1] FROM t")
            .unwrap()
            .parse_statement()
            .unwrap();
        rewrite_statement(&mut statement, Semantics::Standard).unwrap();
        assert_eq!(
            statement.to_string(),
            "SELECT a / b AS _c0, xs[1] AS _c1 FROM t"
        );
    }

    #[test]
    fn hive_functions_map_to_datafusion() {
        assert_eq!(
            rewritten("SELECT if(a > 1, 'x', 'y') FROM t"),
            "SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END AS _c0 FROM t"
        );
        assert_eq!(
            rewritten("SELECT percentile(v, 0.5) FROM t"),
            "SELECT percentile_cont(CAST(v AS DOUBLE), 0.5) AS _c0 FROM t"
        );
        assert_eq!(
            rewritten("SELECT collect_set(g) FROM t"),
            "SELECT array_agg(DISTINCT g) FILTER (WHERE g IS NOT NULL) AS _c0 FROM t"
        );
    }

    #[test]
    fn lateral_view_becomes_unnest() {
        assert_eq!(
            rewritten(
                "SELECT m.id, g.genre FROM movies m LATERAL VIEW explode(split(m.genres, ' ')) g AS genre WHERE g.genre = 'Drama'"
            ),
            "SELECT m.id, genre FROM (SELECT *, unnest(split(m.genres, ' ')) AS genre FROM movies m) AS m WHERE genre = 'Drama'"
        );
    }
}
