//! Interval joins: two streams joined on a bound of their time attributes,
//! as Flink writes them:
//!
//! ```sql
//! SELECT ... FROM orders o JOIN shipments s ON o.id = s.order_id
//!   AND s.ship_time BETWEEN o.order_time AND o.order_time + INTERVAL '4' HOUR
//! ```
//!
//! Here the statement is read into the bounds of `source.time -
//! other.time`; the job keeps each side's rows until no row still to come
//! on the other side can match them (the other side's watermark passed
//! their bound). In a LEFT, RIGHT or FULL OUTER join, a preserved row that
//! met nothing is emitted padded with NULLs at that moment.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, JoinConstraint, JoinOperator, Query, SetExpr, TableFactor,
};

use crate::error::{FlowError, Result};
use crate::table::StreamTable;

/// A join of the plan's source with a second stream.
#[derive(Debug, Clone)]
pub struct IntervalJoin {
    /// The second stream (the plan's source is the first).
    pub other: StreamTable,
    /// The time attributes (WATERMARK FOR columns) of the source and of
    /// the other stream.
    pub times: [String; 2],
    /// `source.time - other.time` lies within `[lower, upper]` (ns).
    pub lower: i64,
    pub upper: i64,
    /// Which sides an outer join preserves (LEFT: the source's, when it
    /// comes first).
    pub preserved: [bool; 2],
    /// The SELECT with the streams' outer join made inner: what the rows
    /// that meet give.
    pub inner_text: String,
    /// Per preserved side, the SELECT keeping only its rows padded with
    /// NULLs (the other side's `__flow_record IS NULL`).
    pub padded_text: [Option<String>; 2],
}

/// The hidden column every kept row has (never NULL): NULL after an outer
/// join means the row was padded.
const PRESENT: &str = "__flow_record";

const EXAMPLE: &str =
    "e.g. ON o.id = s.order_id AND s.ts BETWEEN o.ts - INTERVAL '1' HOUR AND o.ts";

/// The interval join of `source` and `other` that `query` is, or why it is
/// not one.
pub fn find(
    query: &Query,
    database: &str,
    source: &StreamTable,
    other: &StreamTable,
) -> Result<IntervalJoin> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return Err(FlowError::Unsupported(format!(
            "a join of the streams {} and {} must be one SELECT ... FROM {} JOIN {} ON ... \
             (set operations over streams are not supported)",
            source.name, other.name, source.name, other.name
        )));
    };
    let mut times = [String::new(), String::new()];
    for (side, table) in [source, other].into_iter().enumerate() {
        let Some(wm) = &table.watermark else {
            return Err(FlowError::Invalid(format!(
                "{} declares no WATERMARK FOR: a join of two streams is an interval join on their \
                 time attributes; add WATERMARK FOR ts AS ts - INTERVAL '5' SECOND to its CREATE TABLE",
                table.name
            )));
        };
        times[side] = wm.column.to_lowercase();
    }
    // The names each stream goes by in the query (its alias, else its name),
    // and the conditions: ON clauses and WHERE.
    let mut qualifiers: Vec<(String, usize)> = Vec::new();
    let mut preserved = [false, false];
    let mut conditions: Vec<&Expr> = select.selection.iter().collect();
    let mut note = |factor: &TableFactor| -> Option<usize> {
        let TableFactor::Table { name, alias, .. } = factor else {
            return None;
        };
        let (db, table) = crate::plan::split_name(name, database);
        let side = [source, other]
            .iter()
            .position(|s| s.database == db && s.name == table)?;
        let qualifier = match alias {
            Some(a) => a.name.value.to_lowercase(),
            None => table,
        };
        qualifiers.push((qualifier, side));
        Some(side)
    };
    let mut outer = Vec::new();
    for (f, from) in select.from.iter().enumerate() {
        // Whether the other stream is on the left of this FROM item's joins.
        let mut on_left = note(&from.relation).is_some();
        for (j, join) in from.joins.iter().enumerate() {
            let stream = note(&join.relation);
            if stream.is_some()
                && !on_left
                && !matches!(
                    join.join_operator,
                    JoinOperator::Join(_) | JoinOperator::Inner(_) | JoinOperator::CrossJoin(_)
                )
            {
                return Err(FlowError::Unsupported(format!(
                    "an outer join of a stream must have the other stream on its left \
                     (FROM a LEFT JOIN b ON ..., not FROM a, lake LEFT JOIN b): {EXAMPLE}"
                )));
            }
            on_left |= stream.is_some();
            let constraint = match (&join.join_operator, stream) {
                (
                    JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c),
                    _,
                ) => c,
                // A stream enriched by a lake table: the table is complete,
                // so its missing matches are known at once.
                (JoinOperator::Left(c) | JoinOperator::LeftOuter(c), None) => c,
                // `a LEFT JOIN b`: b is this join's stream, a the other.
                (JoinOperator::Left(c) | JoinOperator::LeftOuter(c), Some(side)) => {
                    preserved[1 - side] = true;
                    outer.push((f, j));
                    c
                }
                (JoinOperator::Right(c) | JoinOperator::RightOuter(c), Some(side)) => {
                    preserved[side] = true;
                    outer.push((f, j));
                    c
                }
                (JoinOperator::FullOuter(c), Some(_)) => {
                    preserved = [true, true];
                    outer.push((f, j));
                    c
                }
                _ => {
                    return Err(FlowError::Unsupported(format!(
                        "{} is not supported in a job: join the two streams with JOIN, LEFT, \
                         RIGHT or FULL OUTER JOIN ... ON ({EXAMPLE}), and lake tables with JOIN \
                         or LEFT JOIN",
                        refused(&join.join_operator)
                    )));
                }
            };
            match constraint {
                JoinConstraint::On(e) => conditions.push(e),
                JoinConstraint::None => {}
                _ => {
                    return Err(FlowError::Unsupported(format!(
                        "a join of streams needs an ON condition with its time bounds \
                         (USING and NATURAL cannot bound time): {EXAMPLE}"
                    )));
                }
            }
        }
    }
    if [0, 1]
        .iter()
        .any(|side| !qualifiers.iter().any(|(_, s)| s == side))
    {
        return Err(FlowError::Unsupported(format!(
            "{} and {} must both be tables of the FROM clause of one SELECT to be joined \
             (streams in subqueries are not supported)",
            source.name, other.name
        )));
    }
    let mut lower = i64::MIN;
    let mut upper = i64::MAX;
    for condition in conditions {
        for conjunct in conjuncts(condition) {
            for bound in bounds(conjunct, &qualifiers, &times)? {
                match bound {
                    Bound::AtLeast(c) => lower = lower.max(c),
                    Bound::AtMost(c) => upper = upper.min(c),
                }
            }
        }
    }
    if lower == i64::MIN || upper == i64::MAX {
        let missing = if lower == i64::MIN && upper == i64::MAX {
            "both sides"
        } else if lower == i64::MIN {
            "one side (only an upper bound was found)"
        } else {
            "one side (only a lower bound was found)"
        };
        return Err(FlowError::Unsupported(format!(
            "a join of the streams {} and {} must bound their time attributes ({} and {}) on {missing}: \
             an interval join ({EXAMPLE}); regular joins of streams (state kept forever) are not \
             supported",
            source.name, other.name, times[0], times[1]
        )));
    }
    if lower > upper {
        return Err(FlowError::Invalid(format!(
            "the join's time bounds leave no interval ({} - {} must lie within [{} ms, {} ms]): \
             no row could ever match",
            times[0],
            times[1],
            lower / 1_000_000,
            upper / 1_000_000
        )));
    }
    let qualifier = |side: usize| {
        qualifiers
            .iter()
            .find(|(_, s)| *s == side)
            .map(|(q, _)| q.clone())
            .expect("both streams are named")
    };
    let mut padded_text = [None, None];
    for side in 0..2 {
        if preserved[side] {
            padded_text[side] = Some(padded(query, &qualifier(1 - side)));
        }
    }
    Ok(IntervalJoin {
        other: other.clone(),
        times,
        lower,
        upper,
        preserved,
        inner_text: inner(query, &outer).to_string(),
        padded_text,
    })
}

/// What a refused join is.
fn refused(operator: &JoinOperator) -> &'static str {
    match operator {
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => "a RIGHT JOIN of a lake table",
        JoinOperator::FullOuter(_) => "a FULL OUTER JOIN of a lake table",
        _ => "this kind of join (SEMI, ANTI, APPLY, ASOF, ...)",
    }
}

/// The query with the outer joins at `outer` (FROM item, join) made inner.
fn inner(query: &Query, outer: &[(usize, usize)]) -> Query {
    let mut query = query.clone();
    if let SetExpr::Select(select) = query.body.as_mut() {
        for &(from, join) in outer {
            let join = &mut select.from[from].joins[join];
            if let JoinOperator::Left(c)
            | JoinOperator::LeftOuter(c)
            | JoinOperator::Right(c)
            | JoinOperator::RightOuter(c)
            | JoinOperator::FullOuter(c) = &join.join_operator
            {
                join.join_operator = JoinOperator::Inner(c.clone());
            }
        }
    }
    query
}

/// The query keeping only rows where `other` (a qualifier) was padded.
fn padded(query: &Query, other: &str) -> String {
    let mut query = query.clone();
    if let SetExpr::Select(select) = query.body.as_mut() {
        let missing = Expr::IsNull(Box::new(Expr::CompoundIdentifier(vec![
            Ident::new(other),
            Ident::new(PRESENT),
        ])));
        select.selection = Some(match select.selection.take() {
            Some(e) => Expr::BinaryOp {
                left: Box::new(Expr::Nested(Box::new(e))),
                op: BinaryOperator::And,
                right: Box::new(missing),
            },
            None => missing,
        });
    }
    query.to_string()
}

fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// A bound on `d = source.time - other.time` (ns).
enum Bound {
    AtLeast(i64),
    AtMost(i64),
}

/// The bounds one condition puts on `d` (none when it does not compare
/// the two time attributes).
fn bounds(
    conjunct: &Expr,
    qualifiers: &[(String, usize)],
    times: &[String; 2],
) -> Result<Vec<Bound>> {
    let comparisons: Vec<(&Expr, BinaryOperator, &Expr)> = match conjunct {
        Expr::BinaryOp { left, op, right } => vec![(left, op.clone(), right)],
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => vec![
            (expr, BinaryOperator::GtEq, low),
            (expr, BinaryOperator::LtEq, high),
        ],
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for (left, op, right) in comparisons {
        let (Some((ls, lo)), Some((rs, ro))) = (
            time_ref(left, qualifiers, times)?,
            time_ref(right, qualifiers, times)?,
        ) else {
            continue;
        };
        if ls == rs {
            continue;
        }
        // left - right = ±d + (lo - ro), compared with 0.
        let (op, c) = if ls == 0 {
            (op, ro - lo)
        } else {
            (flipped(&op), lo - ro)
        };
        match op {
            BinaryOperator::Lt => out.push(Bound::AtMost(c - 1)),
            BinaryOperator::LtEq => out.push(Bound::AtMost(c)),
            BinaryOperator::Gt => out.push(Bound::AtLeast(c + 1)),
            BinaryOperator::GtEq => out.push(Bound::AtLeast(c)),
            BinaryOperator::Eq => {
                out.push(Bound::AtLeast(c));
                out.push(Bound::AtMost(c));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `a op b` as `b op' a`.
fn flipped(op: &BinaryOperator) -> BinaryOperator {
    match op {
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        other => other.clone(),
    }
}

/// `o.ts`, `ts` (when only one side's time attribute has that name),
/// `o.ts + INTERVAL '1' HOUR` or `o.ts - INTERVAL ...`: the side and the
/// offset (ns). Anything else is not a time reference.
fn time_ref(
    expr: &Expr,
    qualifiers: &[(String, usize)],
    times: &[String; 2],
) -> Result<Option<(usize, i64)>> {
    Ok(match expr {
        Expr::Nested(inner) => time_ref(inner, qualifiers, times)?,
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            let (q, column) = (parts[0].value.to_lowercase(), parts[1].value.to_lowercase());
            qualifiers
                .iter()
                .find(|(name, side)| *name == q && times[*side] == column)
                .map(|(_, side)| (*side, 0))
        }
        Expr::Identifier(ident) => {
            let column = ident.value.to_lowercase();
            let sides: Vec<usize> = (0..2).filter(|&s| times[s] == column).collect();
            match sides.as_slice() {
                [side] => Some((*side, 0)),
                _ => None,
            }
        }
        Expr::BinaryOp { left, op, right }
            if matches!(op, BinaryOperator::Plus | BinaryOperator::Minus) =>
        {
            let sign = if *op == BinaryOperator::Plus { 1 } else { -1 };
            match (left.as_ref(), right.as_ref()) {
                (time, interval @ Expr::Interval(_)) => time_ref(time, qualifiers, times)?
                    .map(|(side, o)| Ok::<_, FlowError>((side, o + sign * nanos(interval)?)))
                    .transpose()?,
                (interval @ Expr::Interval(_), time) if sign == 1 => {
                    time_ref(time, qualifiers, times)?
                        .map(|(side, o)| Ok::<_, FlowError>((side, o + nanos(interval)?)))
                        .transpose()?
                }
                _ => None,
            }
        }
        _ => None,
    })
}

fn nanos(interval: &Expr) -> Result<i64> {
    crate::window::interval_text(&interval.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn stream(name: &str, time: &str) -> StreamTable {
        StreamTable {
            database: "default".into(),
            name: name.into(),
            columns: Vec::new(),
            watermark: Some(crate::table::Watermark {
                column: time.into(),
                expr: format!("{time} - INTERVAL '5' SECOND"),
            }),
            partitioned_by: Vec::new(),
            options: Default::default(),
            statement: String::new(),
        }
    }

    fn join(sql: &str) -> Result<IntervalJoin> {
        let statement = Parser::parse_sql(&GenericDialect {}, sql)
            .unwrap()
            .remove(0);
        let datafusion::sql::sqlparser::ast::Statement::Query(query) = statement else {
            panic!("a query");
        };
        find(
            &query,
            "default",
            &stream("orders", "order_time"),
            &stream("shipments", "ship_time"),
        )
    }

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn between_bounds_both_sides() {
        // Flink's documented example: shipped within 4 hours of the order.
        let j = join(
            "SELECT * FROM orders o, shipments s WHERE o.id = s.order_id \
             AND o.order_time BETWEEN s.ship_time - INTERVAL '4' HOUR AND s.ship_time",
        )
        .unwrap();
        assert_eq!((j.lower, j.upper), (-4 * HOUR, 0));
    }

    #[test]
    fn comparisons_either_way_round() {
        let j = join(
            "SELECT * FROM orders o JOIN shipments s ON o.id = s.order_id \
             AND s.ship_time >= o.order_time AND s.ship_time < o.order_time + INTERVAL '1' HOUR",
        )
        .unwrap();
        // ship - order in [0, 1h) means order - ship in (-1h, 0].
        assert_eq!((j.lower, j.upper), (-HOUR + 1, 0));
        let j = join(
            "SELECT * FROM orders JOIN shipments ON order_time = ship_time AND orders.id = shipments.id",
        )
        .unwrap();
        assert_eq!((j.lower, j.upper), (0, 0));
    }

    #[test]
    fn unbounded_and_outer_joins_are_refused() {
        let e = join("SELECT * FROM orders o JOIN shipments s ON o.id = s.order_id")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must bound their time attributes"), "{e}");
        let e = join(
            "SELECT * FROM orders o JOIN shipments s ON o.id = s.order_id \
             AND s.ship_time >= o.order_time",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("only an upper bound"), "{e}");
        let e = join(
            "SELECT * FROM orders o, customers c LEFT JOIN shipments s ON o.id = s.order_id \
             AND s.ship_time BETWEEN o.order_time AND o.order_time + INTERVAL '1' HOUR",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("must have the other stream on its left"), "{e}");
    }

    #[test]
    fn outer_joins_preserve_their_sides() {
        let bounds = "ON o.id = s.order_id \
             AND s.ship_time BETWEEN o.order_time AND o.order_time + INTERVAL '1' HOUR";
        for (kind, preserved) in [
            ("LEFT", [true, false]),
            ("RIGHT OUTER", [false, true]),
            ("FULL OUTER", [true, true]),
        ] {
            let j = join(&format!(
                "SELECT * FROM orders o {kind} JOIN shipments s {bounds} WHERE o.id > 0"
            ))
            .unwrap();
            assert_eq!(j.preserved, preserved, "{kind}");
            assert!(
                j.inner_text
                    .contains("FROM orders o INNER JOIN shipments s ON"),
                "{}",
                j.inner_text
            );
        }
        let j = join(&format!(
            "SELECT * FROM orders o LEFT JOIN shipments s {bounds}"
        ))
        .unwrap();
        assert!(
            j.padded_text[0]
                .as_deref()
                .unwrap()
                .ends_with("WHERE s.__flow_record IS NULL"),
            "{:?}",
            j.padded_text
        );
    }
}
