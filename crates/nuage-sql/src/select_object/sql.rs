//! S3 Select's SQL, made a DataFusion query over the table [`TABLE`].
//!
//! What S3 Select accepts: `SELECT list FROM S3Object [[AS] alias]
//! [WHERE ...] [LIMIT n]`, no joins, grouping, ordering or subqueries. Names
//! are matched without regard to case unless double-quoted; a CSV column is
//! also `_1`, `_2`, ... by position; `IS [NOT] MISSING` is `IS [NOT] NULL`.
//! Each answered column gets the name S3 Select gives it: its alias, the
//! column's own name, else `_N` for the N-th item of the list.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType, ExactNumberInfo, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr,
    Statement, TableFactor, Value, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::{SelectError, dates};

/// The name the object's records are registered under.
pub const TABLE: &str = "s3object";

/// One step of a JSON path after `S3Object` (`S3Object[*].books[*].price`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `['name']`.
    Name(String),
    /// `[3]`.
    Index(usize),
    /// `[*]`: each element of an array.
    Elements,
    /// `.*`: each value of an object.
    Members,
}

/// The columns of the table and the names a query may use for them.
#[derive(Debug, Clone)]
pub struct Columns {
    pub list: Vec<Column>,
    /// What a name that matches no column means.
    pub unknown: Unknown,
}

#[derive(Debug, Clone)]
pub struct Column {
    /// The field in the table's schema.
    pub field: String,
    /// The name a query uses and an answer shows (a CSV header's name, a
    /// JSON key, `_N`).
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// CSV: `_N` past the last column is an absent value; any other name is
    /// an error.
    Csv,
    /// JSON: an attribute no record has is MISSING (NULL here).
    Missing,
    /// Parquet: the schema is known; an unknown name is an error.
    Error,
}

/// The statement for DataFusion and the names of its answer's columns.
#[derive(Debug)]
pub struct Planned {
    pub statement: Statement,
    pub names: Vec<String>,
    /// The table's fields the query reads (the reader builds no others).
    pub fields: BTreeSet<String>,
}

/// Takes the JSON path after `FROM S3Object` out of `expression` (which
/// sqlparser cannot read), and spells S3 Select's MISSING as NULL.
pub fn take_from_path(expression: &str) -> Result<(String, Vec<Step>), SelectError> {
    let missing = regex::Regex::new(r"(?i)\bIS\s+(NOT\s+)?MISSING\b").expect("valid regex");
    let text = missing.replace_all(expression, "IS ${1}NULL").into_owned();
    let from = regex::Regex::new(r"(?i)\bFROM\s+S3Object\b").expect("valid regex");
    let Some(found) = from.find(&text) else {
        return Ok((text, Vec::new()));
    };
    let rest = &text[found.end()..];
    let (steps, used) = parse_path(rest)?;
    let rewritten = format!(
        "{}{}{}",
        &text[..found.start()],
        "FROM s3object",
        &rest[used..]
    );
    Ok((rewritten, steps))
}

/// Reads path steps at the start of `text`: how many bytes they took.
fn parse_path(text: &str) -> Result<(Vec<Step>, usize), SelectError> {
    let bad = |what: &str| {
        SelectError::new(
            "ParseUnexpectedToken",
            format!("unexpected {what} in the path after S3Object"),
        )
    };
    let bytes = text.as_bytes();
    let mut steps = Vec::new();
    let mut at = 0;
    loop {
        match bytes.get(at) {
            Some(b'[') => {
                let close = text[at..].find(']').ok_or_else(|| bad("'[' without ']'"))? + at;
                let inside = text[at + 1..close].trim();
                steps.push(if inside == "*" {
                    Step::Elements
                } else if let Ok(index) = inside.parse::<usize>() {
                    Step::Index(index)
                } else if inside.len() >= 2
                    && (inside.starts_with('\'') && inside.ends_with('\'')
                        || inside.starts_with('"') && inside.ends_with('"'))
                {
                    Step::Name(inside[1..inside.len() - 1].to_string())
                } else {
                    return Err(bad(&format!("[{inside}]")));
                });
                at = close + 1;
            }
            Some(b'.') => {
                let after = &text[at + 1..];
                if let Some(stripped) = after.strip_prefix('*') {
                    let _ = stripped;
                    steps.push(Step::Members);
                    at += 2;
                } else if let Some(quoted) = after.strip_prefix('"') {
                    let end = quoted.find('"').ok_or_else(|| bad("an unclosed quote"))?;
                    steps.push(Step::Name(quoted[..end].to_string()));
                    at += 1 + 1 + end + 1;
                } else {
                    let len = after
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    if len == 0 {
                        return Err(bad("'.'"));
                    }
                    steps.push(Step::Name(after[..len].to_string()));
                    at += 1 + len;
                }
            }
            _ => return Ok((steps, at)),
        }
    }
}

/// Checks and rewrites `expression` (path already taken out) over `columns`.
pub fn plan(expression: &str, columns: &Columns) -> Result<Planned, SelectError> {
    if expression.trim().is_empty() {
        return Err(SelectError::new(
            "MissingRequiredParameter",
            "the request has no Expression",
        ));
    }
    let mut statements = Parser::parse_sql(&GenericDialect {}, expression)
        .map_err(|e| SelectError::new("ParseUnexpectedToken", e.to_string()))?;
    if statements.len() != 1 {
        return Err(SelectError::new(
            "UnsupportedSyntax",
            "the expression must be one SELECT statement",
        ));
    }
    let mut statement = statements.remove(0);
    let Statement::Query(query) = &mut statement else {
        return Err(SelectError::new(
            "ParseUnsupportedSelect",
            "S3 Select runs a SELECT statement only",
        ));
    };
    let alias = check_shape(query)?;
    refuse_subqueries(query)?;
    let resolver = Resolver {
        columns,
        alias,
        used: RefCell::default(),
    };
    let names = name_and_resolve_items(query, &resolver)?;
    if let SetExpr::Select(select) = query.body.as_mut()
        && let Some(condition) = &mut select.selection
    {
        rewrite_all(condition, &resolver)?;
    }
    Ok(Planned {
        statement,
        names,
        fields: resolver.used.into_inner(),
    })
}

/// Rewrites `expr` and everything inside it.
fn rewrite_all(expr: &mut Expr, resolver: &Resolver) -> Result<(), SelectError> {
    // Dates first: a date part (`year`) is not a column.
    each_expression(expr, rewrite_dates)?;
    each_expression(expr, |e| rewrite(e, resolver))
}

/// Calls `f` on `expr` and everything inside it, inner expressions first,
/// until it fails.
fn each_expression(
    expr: &mut Expr,
    mut f: impl FnMut(&mut Expr) -> Result<(), SelectError>,
) -> Result<(), SelectError> {
    match visit_expressions_mut(expr, |e| match f(e) {
        Ok(()) => ControlFlow::Continue(()),
        Err(error) => ControlFlow::Break(error),
    }) {
        ControlFlow::Break(error) => Err(error),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// One SELECT over S3Object with at most WHERE and LIMIT: the table's
/// alias (lower-cased unless quoted).
fn check_shape(query: &mut Query) -> Result<Option<Ident>, SelectError> {
    let structure = |what: &str| {
        SelectError::new(
            "UnsupportedSqlStructure",
            format!(
                "S3 Select does not support {what}; it runs SELECT list FROM S3Object [WHERE ...] [LIMIT n]"
            ),
        )
    };
    if query.with.is_some() {
        return Err(structure("WITH"));
    }
    if query.order_by.is_some() {
        return Err(structure("ORDER BY"));
    }
    if query.fetch.is_some() {
        return Err(structure("FETCH"));
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(structure("UNION, INTERSECT, EXCEPT or VALUES"));
    };
    match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if exprs.is_empty() && modifiers.is_empty() => {}
        _ => return Err(structure("GROUP BY")),
    }
    if select.having.is_some() {
        return Err(structure("HAVING"));
    }
    if select.from.is_empty() {
        return Err(SelectError::new(
            "ParseSelectMissingFrom",
            "the SELECT list must be followed by FROM S3Object",
        ));
    }
    if select.from.len() > 1 || !select.from[0].joins.is_empty() {
        return Err(structure("joins"));
    }
    let TableFactor::Table { name, alias, .. } = &mut select.from[0].relation else {
        return Err(structure("subqueries"));
    };
    let is_object = matches!(name.0.as_slice(),
        [ObjectNamePart::Identifier(id)] if id.value.eq_ignore_ascii_case(TABLE));
    if !is_object {
        return Err(SelectError::new(
            "InvalidTableAlias",
            format!("S3 Select queries S3Object, not {name}"),
        ));
    }
    *name = ObjectName::from(vec![Ident::new(TABLE)]);
    Ok(alias.take().map(|a| a.name))
}

fn refuse_subqueries(query: &Query) -> Result<(), SelectError> {
    let flow = visit_expressions(&query.body, |expr| match expr {
        Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    match flow {
        ControlFlow::Break(()) => Err(SelectError::new(
            "UnsupportedSqlStructure",
            "S3 Select does not support subqueries",
        )),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Gives every item of the SELECT list a unique alias (`c1`, `c2`, ...:
/// S3 Select allows the same name twice, DataFusion does not) and returns
/// the names S3 Select shows. `*` lists the columns.
fn name_and_resolve_items(
    query: &mut Query,
    resolver: &Resolver,
) -> Result<Vec<String>, SelectError> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        unreachable!("checked by check_shape");
    };
    let mut items = Vec::new();
    let mut names = Vec::new();
    for (position, item) in std::mem::take(&mut select.projection)
        .into_iter()
        .enumerate()
    {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                for column in &resolver.columns.list {
                    names.push(column.name.clone());
                    items.push(resolver.reference(column, &[]));
                }
            }
            SelectItem::ExprWithAlias { mut expr, alias } => {
                names.push(alias.value);
                rewrite_all(&mut expr, resolver)?;
                items.push(expr);
            }
            SelectItem::UnnamedExpr(mut expr) => {
                names.push(
                    resolver
                        .name_of(&expr)
                        .unwrap_or_else(|| format!("_{}", position + 1)),
                );
                rewrite_all(&mut expr, resolver)?;
                items.push(expr);
            }
            SelectItem::ExprWithAliases { .. } => {
                return Err(SelectError::new(
                    "ParseUnsupportedAlias",
                    "an item of the SELECT list has one alias",
                ));
            }
        }
    }
    select.projection = items
        .into_iter()
        .enumerate()
        .map(|(i, expr)| SelectItem::ExprWithAlias {
            expr,
            alias: Ident::with_quote('"', format!("c{}", i + 1)),
        })
        .collect();
    Ok(names)
}

/// S3 Select's SQL in DataFusion's spelling, one expression at a time.
fn rewrite(expr: &mut Expr, resolver: &Resolver) -> Result<(), SelectError> {
    match expr {
        Expr::Identifier(ident) => *expr = resolver.resolve(std::slice::from_ref(ident))?,
        Expr::CompoundIdentifier(parts) => *expr = resolver.resolve(parts)?,
        Expr::Cast { data_type, .. } => *data_type = s3_type(data_type),
        // `s.user` reads as a call of USER without parentheses.
        Expr::Function(function) => {
            if let Some(parts) = bare_call(function)
                && (parts.len() > 1 || resolver.column(&parts[0])?.is_some())
            {
                *expr = resolver.resolve(&parts)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Ion timestamps in backticks, `CAST(x AS TIMESTAMP)`, TO_TIMESTAMP,
/// TO_STRING, DATE_ADD and DATE_DIFF as calls of [`dates`]' functions;
/// UTCNOW as DataFusion's `now`.
fn rewrite_dates(expr: &mut Expr) -> Result<(), SelectError> {
    match expr {
        Expr::Identifier(ident) if ident.quote_style == Some('`') => {
            let Some((instant, offset)) = dates::parse_ion(&ident.value) else {
                return Err(SelectError::new(
                    "ParseUnexpectedToken",
                    format!(
                        "`{}` is not an Ion timestamp (2010T, 2010-05-06T, 2010-05-06T12:30:15Z, ...)",
                        ident.value
                    ),
                ));
            };
            let zone = dates::offset_name(offset);
            let text = instant
                .with_timezone(&chrono::FixedOffset::east_opt(offset).expect("parsed offset"))
                .to_rfc3339();
            *expr = call(
                "arrow_cast",
                vec![
                    text_value(text),
                    text_value(format!("Timestamp(Nanosecond, Some(\"{zone}\"))")),
                ],
            );
        }
        Expr::Cast {
            data_type: DataType::Timestamp(..),
            expr: inner,
            ..
        } => *expr = call("s3_to_timestamp", vec![(**inner).clone()]),
        Expr::Function(function) => {
            let name = function.name.to_string().to_ascii_lowercase();
            let renamed = match name.as_str() {
                "utcnow" => "now",
                "to_timestamp" => "s3_to_timestamp",
                "to_string" => "s3_to_string",
                "date_add" => {
                    date_part_as_text(function, &name)?;
                    "s3_date_add"
                }
                "date_diff" => {
                    date_part_as_text(function, &name)?;
                    "s3_date_diff"
                }
                _ => return Ok(()),
            };
            function.name = ObjectName::from(vec![Ident::new(renamed)]);
        }
        _ => {}
    }
    Ok(())
}

/// DATE_ADD's and DATE_DIFF's first argument, a bare date part, as text.
fn date_part_as_text(function: &mut Function, name: &str) -> Result<(), SelectError> {
    let expected = || {
        SelectError::new(
            "ParseExpectedDatePart",
            format!(
                "{} takes a date part first: one of {}",
                name.to_uppercase(),
                dates::PARTS.join(", ")
            ),
        )
    };
    let FunctionArguments::List(list) = &mut function.args else {
        return Err(expected());
    };
    let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(first))) = list.args.first_mut() else {
        return Err(expected());
    };
    let part = match first {
        Expr::Identifier(ident) if ident.quote_style.is_none() => ident.value.to_ascii_lowercase(),
        _ => return Err(expected()),
    };
    if !dates::PARTS.contains(&part.as_str()) {
        return Err(expected());
    }
    *first = text_value(part);
    Ok(())
}

fn text_value(text: String) -> Expr {
    Expr::value(Value::SingleQuotedString(text))
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// The name parts of a call without parentheses (`s.user`, `USER`).
fn bare_call(function: &Function) -> Option<Vec<Ident>> {
    if !matches!(function.args, FunctionArguments::None) {
        return None;
    }
    function
        .name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(ident.clone()),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// S3 Select's types: INT is 64-bit, FLOAT is double precision, STRING is
/// text.
fn s3_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Int(_) | DataType::Integer(_) => DataType::BigInt(None),
        DataType::Float(_) => DataType::Double(ExactNumberInfo::None),
        DataType::String(_) => DataType::Varchar(None),
        other => other.clone(),
    }
}

struct Resolver<'a> {
    columns: &'a Columns,
    alias: Option<Ident>,
    used: RefCell<BTreeSet<String>>,
}

impl Resolver<'_> {
    /// The parts after the table's alias (or S3Object) if they start with it.
    fn strip_alias<'p>(&self, parts: &'p [Ident]) -> &'p [Ident] {
        let Some((first, rest)) = parts.split_first() else {
            return parts;
        };
        if rest.is_empty() {
            return parts;
        }
        let is_alias = self
            .alias
            .as_ref()
            .is_some_and(|alias| same_name(alias, first))
            || first.quote_style.is_none() && first.value.eq_ignore_ascii_case(TABLE);
        if is_alias { rest } else { parts }
    }

    /// The column a name means, by name, then (`_N`) by position.
    fn column(&self, ident: &Ident) -> Result<Option<&Column>, SelectError> {
        let list = &self.columns.list;
        if let Some(column) = list.iter().find(|c| c.name == ident.value) {
            return Ok(Some(column));
        }
        if ident.quote_style.is_none() {
            let mut matching = list
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(&ident.value));
            if let Some(column) = matching.next() {
                if matching.next().is_some() {
                    return Err(SelectError::new(
                        "AmbiguousFieldName",
                        format!(
                            "{} matches more than one column; double-quote it to match its case",
                            ident.value
                        ),
                    ));
                }
                return Ok(Some(column));
            }
        }
        if let Some(position) = positional(&ident.value)
            && self.columns.unknown == Unknown::Csv
        {
            if position == 0 {
                return Err(SelectError::new(
                    "InvalidColumnIndex",
                    "columns are numbered from _1",
                ));
            }
            return Ok(list.get(position - 1));
        }
        Ok(None)
    }

    /// A column reference (and fields inside it), or NULL for what is MISSING.
    fn resolve(&self, parts: &[Ident]) -> Result<Expr, SelectError> {
        let parts = self.strip_alias(parts);
        let Some((head, fields)) = parts.split_first() else {
            return Ok(Expr::Value(Value::Null.into()));
        };
        if fields.is_empty() && self.alias.as_ref().is_some_and(|a| same_name(a, head)) {
            return Err(SelectError::new(
                "UnsupportedSyntax",
                format!(
                    "{} names the whole record; select its columns or *",
                    head.value
                ),
            ));
        }
        match self.column(head)? {
            Some(column) => Ok(self.reference(column, fields)),
            None => match self.columns.unknown {
                Unknown::Missing => Ok(Expr::Value(Value::Null.into())),
                Unknown::Csv if positional(&head.value).is_some() => {
                    Ok(Expr::Value(Value::Null.into()))
                }
                Unknown::Csv | Unknown::Error => Err(SelectError::new(
                    "EvaluatorBindingDoesNotExist",
                    format!(
                        "no column is named {}; the object's columns are {}",
                        head.value,
                        self.columns
                            .list
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            },
        }
    }

    /// A reference to `column` (and fields inside it), noted as read.
    fn reference(&self, column: &Column, inner: &[Ident]) -> Expr {
        self.used.borrow_mut().insert(column.field.clone());
        column_ref(&column.field, inner)
    }

    /// The name S3 Select shows for an item that is a bare reference: its
    /// last part, as the query spells it.
    fn name_of(&self, expr: &Expr) -> Option<String> {
        let parts: Vec<Ident> = match expr {
            Expr::Identifier(ident) => vec![ident.clone()],
            Expr::CompoundIdentifier(parts) => parts.clone(),
            Expr::Function(function) => bare_call(function)?,
            _ => return None,
        };
        self.strip_alias(&parts)
            .last()
            .map(|last| last.value.clone())
    }
}

/// `s3object."field"."inner"...`: qualified, so DataFusion reads the rest
/// as fields of a struct column.
fn column_ref(field: &str, inner: &[Ident]) -> Expr {
    let mut parts = vec![Ident::new(TABLE), Ident::with_quote('"', field)];
    parts.extend(
        inner
            .iter()
            .map(|i| Ident::with_quote('"', i.value.clone())),
    );
    Expr::CompoundIdentifier(parts)
}

fn same_name(alias: &Ident, ident: &Ident) -> bool {
    if alias.quote_style.is_some() || ident.quote_style.is_some() {
        alias.value == ident.value
    } else {
        alias.value.eq_ignore_ascii_case(&ident.value)
    }
}

/// `_7` -> 7.
fn positional(name: &str) -> Option<usize> {
    name.strip_prefix('_')
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
}
