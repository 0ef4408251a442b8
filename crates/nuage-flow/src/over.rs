//! OVER aggregations on a stream, as Flink runs them: `agg(x) OVER
//! (PARTITION BY k ORDER BY <time attribute> ROWS|RANGE BETWEEN ...
//! PRECEDING AND CURRENT ROW)`, one output row per input row, emitted
//! once the watermark passes the row's time. Here: rows wait until the
//! watermark passes them, then the SELECT runs over them and the earlier
//! rows their frames can still reach (the "context"), and only the new
//! rows' results are kept.

use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, Query, SelectItem, SetExpr, TableFactor, WindowFrameBound,
    WindowFrameUnits, WindowType,
};
use std::ops::ControlFlow;

use crate::error::{FlowError, Result};

/// The column that numbers rows in time order, added to the SELECT so that
/// the new rows' results can be told from the context's.
pub const SEQ: &str = "__flow_seq";

/// Which earlier rows a later row's frame may still reach.
#[derive(Debug, Clone, PartialEq)]
pub enum Retain {
    /// `UNBOUNDED PRECEDING`: every row.
    All,
    /// `RANGE BETWEEN INTERVAL ... PRECEDING`: rows this much older (ns).
    Range(i64),
    /// `ROWS BETWEEN n PRECEDING`: the last n rows of each partition.
    Rows { n: u64, partition_by: Vec<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Over {
    pub time_column: String,
    pub retain: Retain,
}

/// The OVER window of `query`'s SELECT list, if it has one; all OVER
/// windows of one SELECT must be the same (as in Flink).
pub fn find(query: &Query, watermark_column: Option<&str>) -> Result<Option<Over>> {
    if let Some(inner) = derived(query)
        && let Some(over) = find(inner, watermark_column)?
    {
        return Ok(Some(over));
    }
    if query.to_string().to_uppercase().contains(" OVER ") && !has_over(query) {
        return Err(FlowError::Unsupported(
            "an OVER aggregation must be in the outermost SELECT, or in the subquery it reads first \
             (SELECT ... FROM (SELECT ..., SUM(x) OVER (...) AS total FROM s) t [JOIN ...] WHERE total > ...)"
                .into(),
        ));
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Ok(None);
    };
    let mut specs = Vec::new();
    for item in &select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => continue,
        };
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
            if let Expr::Function(f) = e
                && let Some(over) = &f.over
            {
                specs.push(over.clone());
            }
            ControlFlow::<()>::Continue(())
        });
    }
    let Some(first) = specs.first() else {
        return Ok(None);
    };
    if specs.iter().any(|s| s != first) {
        return Err(FlowError::Unsupported(
            "all OVER windows of one SELECT must be the same (as in Flink)".into(),
        ));
    }
    let WindowType::WindowSpec(spec) = first else {
        return Err(FlowError::Unsupported(
            "named windows (OVER w) are not supported: write the window inline".into(),
        ));
    };
    let Some(watermark_column) = watermark_column else {
        return Err(FlowError::Invalid(
            "OVER windows' ordering in stream mode must be defined on a time attribute: \
             the source table declares no WATERMARK"
                .into(),
        ));
    };
    let order_ok = spec.order_by.len() == 1
        && spec.order_by[0].options.asc != Some(false)
        && spec.order_by[0]
            .expr
            .to_string()
            .trim_matches('`')
            .eq_ignore_ascii_case(watermark_column);
    if !order_ok {
        return Err(FlowError::Invalid(format!(
            "OVER windows' ordering in stream mode must be defined on a time attribute: \
             write ORDER BY {watermark_column} (ascending)"
        )));
    }
    if !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty()) {
        return Err(FlowError::Unsupported(
            "an OVER aggregation and a GROUP BY in one SELECT".into(),
        ));
    }
    let retain = match &spec.window_frame {
        None => Retain::All,
        Some(frame) => {
            if !matches!(frame.end_bound, None | Some(WindowFrameBound::CurrentRow)) {
                return Err(FlowError::Invalid(
                    "OVER RANGE FOLLOWING windows are not supported in stream mode: \
                     end the frame at CURRENT ROW"
                        .into(),
                ));
            }
            match (&frame.units, &frame.start_bound) {
                (_, WindowFrameBound::Preceding(None)) => Retain::All,
                (WindowFrameUnits::Rows, WindowFrameBound::Preceding(Some(n))) => {
                    let n: u64 = n.to_string().parse().map_err(|_| {
                        FlowError::Invalid(format!("ROWS {n} PRECEDING: {n} is not a count"))
                    })?;
                    Retain::Rows {
                        n,
                        partition_by: spec.partition_by.iter().map(|e| e.to_string()).collect(),
                    }
                }
                (WindowFrameUnits::Range, WindowFrameBound::Preceding(Some(interval))) => {
                    Retain::Range(crate::window::interval_text(&interval.to_string())?)
                }
                (_, WindowFrameBound::CurrentRow) => Retain::Rows {
                    n: 0,
                    partition_by: Vec::new(),
                },
                _ => {
                    return Err(FlowError::Unsupported(
                        "this OVER frame is not supported: write ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW"
                            .into(),
                    ));
                }
            }
        }
    };
    Ok(Some(Over {
        time_column: watermark_column.to_string(),
        retain,
    }))
}

/// The subquery a SELECT reads first (joined with lake tables or not).
fn derived(query: &Query) -> Option<&Query> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    match select.from.as_slice() {
        [from] => match &from.relation {
            TableFactor::Derived { subquery, .. } => Some(subquery),
            _ => None,
        },
        _ => None,
    }
}

fn has_over(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let mut found = false;
    for item in &select.projection {
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(item, |e| {
            if matches!(e, Expr::Function(f) if f.over.is_some()) {
                found = true;
            }
            ControlFlow::<()>::Continue(())
        });
    }
    found || derived(query).is_some_and(has_over)
}

/// `query` with [`SEQ`] added to its SELECT list (and to its subquery's,
/// when the OVER is there).
pub fn with_seq(query: &Query) -> String {
    let mut query = query.clone();
    add_seq(&mut query);
    query.to_string()
}

fn add_seq(query: &mut Query) {
    if let SetExpr::Select(select) = query.body.as_mut() {
        // `SELECT *` over the subquery already carries it.
        let wildcard = select.projection.iter().any(|p| {
            matches!(
                p,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        });
        if !wildcard {
            select
                .projection
                .push(SelectItem::UnnamedExpr(Expr::Identifier(Ident::new(SEQ))));
        }
        if let [from] = select.from.as_mut_slice()
            && let TableFactor::Derived { subquery, .. } = &mut from.relation
            && has_over(subquery)
        {
            add_seq(subquery);
        }
    }
}
