//! Athena's partition projection: partitions computed from table properties
//! instead of registered in the catalog.
//!
//! ```text
//! projection.enabled            = true
//! projection.<col>.type         = integer | date | enum | injected
//! projection.<col>.range        = 1,100 | 2024-01-01,NOW[-3DAYS]
//! projection.<col>.interval     = 1        (integer, date)
//! projection.<col>.interval.unit= DAYS     (date: YEARS MONTHS WEEKS DAYS HOURS MINUTES SECONDS)
//! projection.<col>.digits       = 2        (integer: zero padding)
//! projection.<col>.format       = yyyy-MM-dd (date, Java letters)
//! projection.<col>.values       = a,b,c    (enum)
//! storage.location.template     = s3://bucket/logs/${year}/${month}/
//! ```
//!
//! A scan enumerates each column's values, keeps those its own filters allow
//! (so `day = '2024-01-05'` never builds a year of days), then the product of
//! the kept values; folders that do not exist simply hold no files. An
//! `injected` column takes its values from `col = 'v'` / `col IN (...)` filters.

use chrono::{Duration, Months, NaiveDate, NaiveDateTime, Utc};
use datafusion::logical_expr::{Expr, Operator};
use datafusion::scalar::ScalarValue;
use nuage_catalog::{Partition, Table, escape_partition_value};

use nuage_common::java_time::{Flavor, JavaPattern};

use crate::functions::parse_with_format;

/// The most partitions one scan may project (a runaway range is an error, not a hang).
pub const MAX_PROJECTED: usize = 1_000_000;

pub fn enabled(table: &Table) -> bool {
    table
        .properties
        .get("projection.enabled")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn property<'a>(table: &'a Table, column: &str, key: &str) -> Option<&'a str> {
    table
        .properties
        .get(&format!("projection.{column}.{key}"))
        .map(|v| v.trim())
}

/// The values of one partition column; `filters` are the scan's filters that
/// mention only this column (used by `injected`).
pub fn column_values(
    table: &Table,
    column: &str,
    filters: &[&Expr],
) -> Result<Vec<String>, String> {
    let missing = |key: &str| {
        format!(
            "partition projection of {}: projection.{column}.{key} is not set",
            table.qualified_name()
        )
    };
    let kind = property(table, column, "type").ok_or_else(|| missing("type"))?;
    match kind.to_ascii_lowercase().as_str() {
        "enum" => Ok(property(table, column, "values")
            .ok_or_else(|| missing("values"))?
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()),
        "integer" => {
            let range = property(table, column, "range").ok_or_else(|| missing("range"))?;
            let (low, high) = range
                .split_once(',')
                .and_then(|(a, b)| {
                    Some((a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?))
                })
                .ok_or_else(|| {
                    format!("projection.{column}.range must be 'low,high' integers, not {range:?}")
                })?;
            let step = interval(table, column)?;
            let digits: usize = property(table, column, "digits")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let count = ((high - low) / step + 1).max(0) as usize;
            if count > MAX_PROJECTED {
                return Err(too_many(table, column, count));
            }
            Ok((0..count as i64)
                .map(|i| format!("{:0digits$}", low + i * step))
                .collect())
        }
        "date" => date_values(table, column),
        "injected" => {
            let values = injected(column, filters);
            if values.is_empty() {
                return Err(format!(
                    "{}.{column} is an injected projection column: the query must give its value, like WHERE {column} = '...'",
                    table.qualified_name()
                ));
            }
            Ok(values)
        }
        other => Err(format!(
            "projection.{column}.type {other:?} is not supported; use integer, date, enum or injected"
        )),
    }
}

fn interval(table: &Table, column: &str) -> Result<i64, String> {
    match property(table, column, "interval") {
        None => Ok(1),
        Some(v) => v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!("projection.{column}.interval must be a positive integer, not {v:?}")
        }),
    }
}

fn too_many(table: &Table, column: &str, count: usize) -> String {
    format!(
        "partition projection of {} would list {count} values of {column}, more than {MAX_PROJECTED}; filter on {column} or narrow projection.{column}.range",
        table.qualified_name()
    )
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Unit {
    Years,
    Months,
    Weeks,
    Days,
    Hours,
    Minutes,
    Seconds,
}

fn unit_of(text: &str) -> Option<Unit> {
    Some(
        match text.trim().to_ascii_uppercase().trim_end_matches('S') {
            "YEAR" => Unit::Years,
            "MONTH" => Unit::Months,
            "WEEK" => Unit::Weeks,
            "DAY" => Unit::Days,
            "HOUR" => Unit::Hours,
            "MINUTE" => Unit::Minutes,
            "SECOND" => Unit::Seconds,
            _ => return None,
        },
    )
}

fn step(time: NaiveDateTime, unit: Unit, n: i64) -> Option<NaiveDateTime> {
    match unit {
        Unit::Years => add_months(time, n * 12),
        Unit::Months => add_months(time, n),
        Unit::Weeks => time.checked_add_signed(Duration::weeks(n)),
        Unit::Days => time.checked_add_signed(Duration::days(n)),
        Unit::Hours => time.checked_add_signed(Duration::hours(n)),
        Unit::Minutes => time.checked_add_signed(Duration::minutes(n)),
        Unit::Seconds => time.checked_add_signed(Duration::seconds(n)),
    }
}

fn add_months(time: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    if n >= 0 {
        time.checked_add_months(Months::new(n as u32))
    } else {
        time.checked_sub_months(Months::new((-n) as u32))
    }
}

fn date_values(table: &Table, column: &str) -> Result<Vec<String>, String> {
    let java = property(table, column, "format").ok_or_else(|| {
        format!(
            "partition projection of {}: projection.{column}.format is not set (e.g. yyyy-MM-dd)",
            table.qualified_name()
        )
    })?;
    let pattern = JavaPattern::parse(java, Flavor::JavaTime).map_err(|e| {
        format!(
            "partition projection of {}: projection.{column}.format: {e}",
            table.qualified_name()
        )
    })?;
    let format = pattern.to_strftime();
    let default_unit = if pattern.has_letter('s') {
        Unit::Seconds
    } else if pattern.has_letter('m') {
        Unit::Minutes
    } else if pattern.has_letter('H') {
        Unit::Hours
    } else if pattern.has_letter('d') {
        Unit::Days
    } else if pattern.has_letter('M') {
        Unit::Months
    } else {
        Unit::Years
    };
    let unit = match property(table, column, "interval.unit") {
        Some(u) => unit_of(u).ok_or_else(|| {
            format!("projection.{column}.interval.unit {u:?} is not one of YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES, SECONDS")
        })?,
        None => default_unit,
    };
    let n = interval(table, column)?;
    let range = property(table, column, "range").ok_or_else(|| {
        format!(
            "partition projection of {}: projection.{column}.range is not set (e.g. 2024-01-01,NOW)",
            table.qualified_name()
        )
    })?;
    let (low, high) = range
        .split_once(',')
        .ok_or_else(|| format!("projection.{column}.range must be 'start,end', not {range:?}"))?;
    let parse = |text: &str| {
        parse_bound(text.trim(), &format).ok_or_else(|| {
            format!("projection.{column}.range bound {text:?} matches neither the format {java:?} nor NOW[+-N<UNIT>]")
        })
    };
    let (mut time, end) = (parse(low)?, parse(high)?);
    let mut values = Vec::new();
    while time <= end {
        values.push(pattern.format(time.and_utc()));
        if values.len() > MAX_PROJECTED {
            return Err(too_many(table, column, values.len()));
        }
        time = match step(time, unit, n) {
            Some(t) => t,
            None => break,
        };
    }
    Ok(values)
}

/// A range bound: a date in the column's format, or `NOW`, `NOW-3DAYS`, `NOW+1HOURS`.
fn parse_bound(text: &str, format: &str) -> Option<NaiveDateTime> {
    if let Some(rest) = text.to_ascii_uppercase().strip_prefix("NOW") {
        let now = Utc::now().naive_utc();
        if rest.is_empty() {
            return Some(now);
        }
        let (sign, rest) = match rest.as_bytes()[0] {
            b'+' => (1, &rest[1..]),
            b'-' => (-1, &rest[1..]),
            _ => return None,
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let unit = unit_of(&rest[digits.len()..])?;
        return step(now, unit, sign * digits.parse::<i64>().ok()?);
    }
    parse_with_format(text, format).or_else(|| {
        // Formats without a day (yyyy-MM, yyyy): complete them to parse.
        NaiveDate::parse_from_str(&format!("{text}-01"), &format!("{format}-%d"))
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(&format!("{text}-01-01"), &format!("{format}-%m-%d")).ok()
            })
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

/// Literal values from `col = 'v'`, `col IN ('a', 'b')` and ORs of them.
fn injected(column: &str, filters: &[&Expr]) -> Vec<String> {
    let mut values = Vec::new();
    for filter in filters {
        collect_literals(column, filter, &mut values);
    }
    values
}

fn collect_literals(column: &str, expr: &Expr, values: &mut Vec<String>) {
    let literal = |e: &Expr| match e {
        Expr::Literal(v, _) if !v.is_null() => Some(scalar_text(v)),
        _ => None,
    };
    let is_column = |e: &Expr| matches!(e, Expr::Column(c) if c.name.eq_ignore_ascii_case(column));
    match expr {
        Expr::BinaryExpr(b) if b.op == Operator::Or => {
            collect_literals(column, &b.left, values);
            collect_literals(column, &b.right, values);
        }
        Expr::BinaryExpr(b) if b.op == Operator::Eq => {
            if is_column(&b.left) {
                values.extend(literal(&b.right));
            } else if is_column(&b.right) {
                values.extend(literal(&b.left));
            }
        }
        Expr::InList(list) if !list.negated && is_column(&list.expr) => {
            values.extend(list.list.iter().filter_map(literal));
        }
        _ => {}
    }
}

fn scalar_text(value: &ScalarValue) -> String {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    }
}

/// The partitions of the product of the columns' values.
pub fn partitions(table: &Table, values: &[Vec<String>]) -> Result<Vec<Partition>, String> {
    let total: usize = values.iter().map(Vec::len).product();
    if total > MAX_PROJECTED {
        return Err(format!(
            "partition projection of {} would list {total} partitions, more than {MAX_PROJECTED}; filter on the partition columns",
            table.qualified_name()
        ));
    }
    let template = table.properties.get("storage.location.template");
    let mut rows: Vec<Vec<String>> = vec![Vec::new()];
    for column in values {
        rows = rows
            .into_iter()
            .flat_map(|row| {
                column.iter().map(move |v| {
                    let mut next = row.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect();
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let location = match template {
                Some(template) => {
                    let mut location = template.clone();
                    for (column, value) in table.partition_columns.iter().zip(&row) {
                        location = location.replace(&format!("${{{}}}", column.name), value);
                    }
                    location.trim_end_matches('/').to_string()
                }
                None => {
                    let mut location = table.location.trim_end_matches('/').to_string();
                    for (column, value) in table.partition_columns.iter().zip(&row) {
                        location.push_str(&format!(
                            "/{}={}",
                            column.name,
                            escape_partition_value(value)
                        ));
                    }
                    location
                }
            };
            Partition::new(row, location)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nuage_catalog::{Column, FileFormat, StorageFormat, TableKind};

    fn table(props: &[(&str, &str)]) -> Table {
        let mut t = Table::new(
            "d",
            "t",
            TableKind::External,
            "s3://b/logs".into(),
            StorageFormat::new(FileFormat::Json),
            "me",
        );
        t.partition_columns = vec![
            Column::new("dt", "string").unwrap(),
            Column::new("h", "string").unwrap(),
        ];
        for (k, v) in props {
            t.properties.insert(k.to_string(), v.to_string());
        }
        t
    }

    #[test]
    fn integer_date_enum() {
        let t = table(&[
            ("projection.h.type", "integer"),
            ("projection.h.range", "0,23"),
            ("projection.h.digits", "2"),
            ("projection.dt.type", "date"),
            ("projection.dt.range", "2024/01/30,2024/02/02"),
            ("projection.dt.format", "yyyy/MM/dd"),
        ]);
        let hours = column_values(&t, "h", &[]).unwrap();
        assert_eq!(hours.len(), 24);
        assert_eq!(hours[3], "03");
        let days = column_values(&t, "dt", &[]).unwrap();
        assert_eq!(
            days,
            vec!["2024/01/30", "2024/01/31", "2024/02/01", "2024/02/02"]
        );
        let parts = partitions(
            &t,
            &[vec!["2024/01/30".into()], vec!["00".into(), "01".into()]],
        )
        .unwrap();
        assert_eq!(parts[1].location, "s3://b/logs/dt=2024%2F01%2F30/h=01");
    }

    #[test]
    fn templates_and_months() {
        let mut t = table(&[
            ("projection.dt.type", "date"),
            ("projection.dt.range", "2023-11,2024-02"),
            ("projection.dt.format", "yyyy-MM"),
            ("storage.location.template", "s3://b/raw/${dt}/hour=${h}/"),
        ]);
        assert_eq!(
            column_values(&t, "dt", &[]).unwrap(),
            vec!["2023-11", "2023-12", "2024-01", "2024-02"]
        );
        let parts = partitions(&t, &[vec!["2024-01".into()], vec!["7".into()]]).unwrap();
        assert_eq!(parts[0].location, "s3://b/raw/2024-01/hour=7");
        t.properties
            .insert("projection.h.type".into(), "injected".into());
        assert!(
            column_values(&t, "h", &[])
                .unwrap_err()
                .contains("must give its value")
        );
    }
}
