//! The Kinesis Analytics SQL dialect, read into what the Flink SQL path
//! runs. An application's code is `CREATE [OR REPLACE] STREAM` and
//! `CREATE [OR REPLACE] PUMP ... AS INSERT INTO ... SELECT STREAM ...`
//! statements; each pump becomes one continuous job:
//!
//! - `GROUP BY ..., STEP(s.ROWTIME BY INTERVAL '1' MINUTE)` or
//!   `FLOOR(s.ROWTIME TO MINUTE)`: a tumbling window over ROWTIME (the
//!   grouping expression reads `window_start` of Flink's TUMBLE);
//! - `STEP(x BY i)` and `FLOOR(x TO unit)` over any other column are
//!   plain functions (`date_bin`, `date_trunc`);
//! - `OVER w` / `WINDOW w AS (PARTITION BY k RANGE INTERVAL ... PRECEDING)`
//!   and `ROWS n PRECEDING`: OVER aggregations ordered by ROWTIME;
//! - no window: every row as it comes (filters, projections, joins with
//!   reference tables).
//!
//! Identifiers: KDA upper-cases unquoted names and keeps quoted ones as
//! written; the engine compares them without case (so "Price" and PRICE
//! are one column here; KDA would keep them apart).

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CeilFloorKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, NamedWindowExpr,
    ObjectName, OrderByExpr, OrderByOptions, Query, SelectItem, SetExpr, Statement, TableAlias,
    TableFactor, WindowType, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::{FlowError, Result};

/// The column every in-application stream has: the row's time.
pub const ROWTIME: &str = "rowtime";
const STEP_FUNCTION: &str = "__kda_step";
const SOURCE_MARK: &str = "__kda_source";

/// An in-application stream the code creates.
#[derive(Debug, Clone, PartialEq)]
pub struct InAppStream {
    /// As KDA names it (unquoted names upper-cased).
    pub name: String,
    /// Columns, KDA-cased, with their SQL types as written.
    pub columns: Vec<(String, String)>,
}

/// A pump: an INSERT that runs continuously.
#[derive(Debug, Clone, PartialEq)]
pub struct Pump {
    pub name: String,
    /// The INSERT, identifiers lower-cased and `SELECT STREAM` made a SELECT.
    pub insert: String,
    /// `WINDOWED BY STAGGER (PARTITION BY e, ... RANGE i)`: the partition
    /// expressions and the range (engine text).
    pub stagger: Option<(Vec<String>, String)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Code {
    pub streams: Vec<InAppStream>,
    pub pumps: Vec<Pump>,
}

fn invalid(message: impl Into<String>) -> FlowError {
    FlowError::CodeValidation(message.into())
}

fn is_word(token: &Token, text: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(text))
}

fn is_space(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

/// A name as KDA keeps it: quoted as written, unquoted upper-cased.
fn kda_name(token: &Token) -> Option<String> {
    match token {
        Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
        Token::Word(w) => Some(w.value.to_uppercase()),
        _ => None,
    }
}

/// Splits the code into statements and reads each.
pub fn parse(code: &str) -> Result<Code> {
    let tokens = Tokenizer::new(&GenericDialect {}, code)
        .tokenize()
        .map_err(|e| invalid(format!("the application code does not parse: {e}")))?;
    let mut code = Code::default();
    for statement in tokens.split(|t| *t == Token::SemiColon) {
        let solid: Vec<&Token> = statement.iter().filter(|t| !is_space(t)).collect();
        if solid.is_empty() {
            continue;
        }
        let mut at = 0;
        let expect = |word: &str, solid: &[&Token], at: &mut usize| -> bool {
            if solid.get(*at).is_some_and(|t| is_word(t, word)) {
                *at += 1;
                true
            } else {
                false
            }
        };
        if !expect("CREATE", &solid, &mut at) {
            return Err(invalid(format!(
                "statement '{}' is not a CREATE STREAM or CREATE PUMP: application code is made of \
                 CREATE OR REPLACE STREAM and CREATE OR REPLACE PUMP statements",
                shorten(statement)
            )));
        }
        if expect("OR", &solid, &mut at) && !expect("REPLACE", &solid, &mut at) {
            return Err(invalid("expected REPLACE after CREATE OR"));
        }
        if expect("STREAM", &solid, &mut at) {
            code.streams.push(parse_stream(&solid[at..])?);
        } else if expect("PUMP", &solid, &mut at) {
            let name = solid
                .get(at)
                .and_then(|t| kda_name(t))
                .ok_or_else(|| invalid("CREATE PUMP needs a name"))?;
            // The INSERT, with its whitespace, from the original tokens.
            let insert_at = statement
                .iter()
                .position(|t| is_word(t, "INSERT"))
                .ok_or_else(|| {
                    invalid(format!(
                        "pump {name}: write CREATE OR REPLACE PUMP \"{name}\" AS INSERT INTO \"STREAM\" SELECT STREAM ..."
                    ))
                })?;
            let (insert, stagger) = engine_text(&statement[insert_at..], &name)?;
            code.pumps.push(Pump {
                insert,
                stagger,
                name,
            });
        } else {
            return Err(invalid(format!(
                "CREATE {}: nuage runs CREATE STREAM and CREATE PUMP (views and tables of KDA \
                 are not supported yet)",
                solid.get(at).map(|t| t.to_string()).unwrap_or_default()
            )));
        }
    }
    Ok(code)
}

fn shorten(tokens: &[Token]) -> String {
    let text: String = tokens.iter().map(|t| t.to_string()).collect();
    let text = text.trim();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// `name (col TYPE, ...) [DESCRIPTION '...']`.
fn parse_stream(solid: &[&Token]) -> Result<InAppStream> {
    let name = solid
        .first()
        .and_then(|t| kda_name(t))
        .ok_or_else(|| invalid("CREATE STREAM needs a name"))?;
    if solid.get(1) != Some(&&Token::LParen) {
        return Err(invalid(format!(
            "stream {name}: list its columns: CREATE OR REPLACE STREAM \"{name}\" (col VARCHAR(16), n INTEGER)"
        )));
    }
    let mut depth = 0;
    let mut columns = Vec::new();
    let mut current: Vec<&Token> = Vec::new();
    let mut closed = false;
    for token in &solid[2..] {
        match token {
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => {
                closed = true;
                break;
            }
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                columns.push(column(&name, &current)?);
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(token);
    }
    if !closed {
        return Err(invalid(format!(
            "stream {name}: its column list has no closing ')'"
        )));
    }
    columns.push(column(&name, &current)?);
    Ok(InAppStream { name, columns })
}

fn column(stream: &str, tokens: &[&Token]) -> Result<(String, String)> {
    let name = tokens
        .first()
        .and_then(|t| kda_name(t))
        .ok_or_else(|| invalid(format!("stream {stream}: a column without a name")))?;
    let mut ty: Vec<String> = tokens[1..].iter().map(|t| t.to_string()).collect();
    // NOT NULL constraints are accepted and not enforced.
    if ty.len() >= 2
        && ty[ty.len() - 2].eq_ignore_ascii_case("NOT")
        && ty[ty.len() - 1].eq_ignore_ascii_case("NULL")
    {
        ty.truncate(ty.len() - 2);
    }
    let ty = ty.join("").replace(',', ", ");
    if ty.is_empty() {
        return Err(invalid(format!(
            "stream {stream}: column {name} has no type"
        )));
    }
    crate::ddl::flink_type_to_hive(&ty)
        .map_err(|e| invalid(format!("stream {stream}: column {name}: {e}")))?;
    Ok((name, ty))
}

type Stagger = Option<(Vec<String>, String)>;

/// `STAGGER (PARTITION BY e1, e2 RANGE INTERVAL ...)` from the tokens after
/// WINDOWED BY: the partition expressions and the range, as engine text,
/// and the index after the closing parenthesis.
fn stagger_clause(
    tokens: &[Token],
    from: usize,
    pump: &str,
) -> Result<(Vec<String>, String, usize)> {
    let usage = || {
        invalid(format!(
            "pump {pump}: write WINDOWED BY STAGGER (PARTITION BY e1, e2 RANGE INTERVAL 'n' MINUTE)"
        ))
    };
    let solid: Vec<usize> = (from..tokens.len())
        .filter(|&i| !is_space(&tokens[i]))
        .collect();
    let [by, stagger, open, ..] = solid.as_slice() else {
        return Err(usage());
    };
    if !is_word(&tokens[*by], "BY")
        || !is_word(&tokens[*stagger], "STAGGER")
        || tokens[*open] != Token::LParen
    {
        return Err(usage());
    }
    let mut depth = 0;
    let mut close = None;
    for (i, t) in tokens.iter().enumerate().skip(*open) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(usage)?;
    let inner = &tokens[open + 1..close];
    let words: Vec<usize> = (0..inner.len()).filter(|&i| !is_space(&inner[i])).collect();
    if words.len() < 2
        || !is_word(&inner[words[0]], "PARTITION")
        || !is_word(&inner[words[1]], "BY")
    {
        return Err(usage());
    }
    let range_at = inner
        .iter()
        .position(|t| is_word(t, "RANGE"))
        .ok_or_else(usage)?;
    let mut exprs = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0;
    for t in &inner[words[1] + 1..range_at] {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                exprs.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(t.clone());
    }
    exprs.push(current);
    let exprs = exprs
        .iter()
        .map(|e| engine_text(e, pump).map(|(text, _)| text.trim().to_string()))
        .collect::<Result<Vec<_>>>()?;
    let (range, _) = engine_text(&inner[range_at + 1..], pump)?;
    Ok((exprs, range.trim().to_string(), close + 1))
}

/// The pump's INSERT as the engine reads it: quoted names lower-cased
/// (the engine lower-cases unquoted ones), `SELECT STREAM` a SELECT, and
/// `STEP(x BY i)` a function call; a `WINDOWED BY STAGGER` clause becomes
/// a GROUP BY of its partition expressions and `window_start`.
fn engine_text(tokens: &[Token], pump: &str) -> Result<(String, Stagger)> {
    let mut stagger = None;
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut step_depths: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if is_word(token, "WINDOWED") {
            let (exprs, range, next) = stagger_clause(tokens, i + 1, pump)?;
            let group: String = exprs.join(", ");
            out.extend(
                Tokenizer::new(
                    &GenericDialect {},
                    &format!(" GROUP BY {group}, window_start "),
                )
                .tokenize()
                .map_err(|e| invalid(e.to_string()))?,
            );
            stagger = Some((exprs, range));
            i = next;
            continue;
        }
        if is_word(token, "STREAM")
            && out
                .iter()
                .rev()
                .find(|t| !is_space(t))
                .is_some_and(|t| is_word(t, "SELECT"))
        {
            i += 1;
            continue;
        }
        match token {
            Token::Word(w) if w.quote_style.is_some() => {
                let mut w = w.clone();
                w.value = w.value.to_lowercase();
                // Backquotes: the engine reads Hive, where "x" is a string.
                w.quote_style = Some('`');
                out.push(Token::Word(w));
            }
            Token::Word(w) if w.value.eq_ignore_ascii_case("STEP") => {
                let next = tokens[i + 1..].iter().find(|t| !is_space(t));
                if next == Some(&Token::LParen) {
                    step_depths.push(depth + 1);
                    out.push(Token::make_word(STEP_FUNCTION, None));
                } else {
                    out.push(token.clone());
                }
            }
            Token::LParen => {
                depth += 1;
                out.push(token.clone());
            }
            Token::RParen => {
                if step_depths.last() == Some(&depth) {
                    step_depths.pop();
                }
                depth = depth.saturating_sub(1);
                out.push(token.clone());
            }
            t if is_word(t, "BY") && step_depths.last() == Some(&depth) => {
                out.push(Token::Comma);
            }
            Token::Whitespace(Whitespace::SingleLineComment { .. }) => {
                out.push(Token::Whitespace(Whitespace::Newline))
            }
            Token::Whitespace(Whitespace::MultiLineComment(_)) => {
                out.push(Token::Whitespace(Whitespace::Space))
            }
            _ => out.push(token.clone()),
        }
        i += 1;
    }
    Ok((out.iter().map(|t| t.to_string()).collect(), stagger))
}

/// A pump translated for [`crate::plan::plan_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    /// `INSERT INTO target SELECT ... FROM TABLE(TUMBLE(...))` or the stream.
    pub statement: String,
    /// The in-application stream it reads (engine name).
    pub source: String,
    /// The stream it writes (engine name).
    pub target: String,
    /// STAGGER's partition keys: columns to compute on the source rows
    /// (name, expression).
    pub keys: Vec<(String, String)>,
}

/// A STAGGER partition expression as a computed column's: FLOOR and STEP
/// as functions, names without their table.
fn key_expression(text: &str) -> Result<String> {
    let mut expr = Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| invalid(format!("STAGGER partition {text}: {e}")))?;
    let _ = visit_expressions_mut(&mut expr, |e| {
        match e {
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last().cloned() {
                    *e = Expr::Identifier(last);
                }
            }
            other => {
                if let Some(Ok(bucket)) = time_bucket(other) {
                    *other = bucket.plain;
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(expr.to_string())
}

/// `STEP(value BY interval)` or `FLOOR(value TO unit)`: the value, the
/// bucket's size (an INTERVAL's text) and the same as a plain function
/// (`date_bin`, `date_trunc`).
struct TimeBucket {
    value: Expr,
    size: String,
    plain: Expr,
}

/// The time bucket `e` is, if it is one (an error for a STEP without its
/// two arguments).
fn time_bucket(e: &Expr) -> Option<std::result::Result<TimeBucket, String>> {
    match e {
        Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case(STEP_FUNCTION) => {
            let args = function_args(&f.args);
            let [value, interval] = args.as_slice() else {
                return Some(Err("write STEP(column BY INTERVAL 'n' unit)".into()));
            };
            Some(Ok(TimeBucket {
                plain: parse_expr(&format!(
                    "date_bin({interval}, {value}, TIMESTAMP '1970-01-01 00:00:00')"
                )),
                size: interval.to_string(),
                value: value.clone(),
            }))
        }
        Expr::Floor {
            expr: value,
            field: CeilFloorKind::DateTimeField(unit),
        } if !matches!(
            unit,
            datafusion::sql::sqlparser::ast::DateTimeField::NoDateTime
        ) =>
        {
            let unit = unit.to_string();
            Some(Ok(TimeBucket {
                plain: parse_expr(&format!("date_trunc('{}', {value})", unit.to_lowercase())),
                size: format!("INTERVAL '1' {}", unit.to_uppercase()),
                value: value.as_ref().clone(),
            }))
        }
        _ => None,
    }
}

fn parse_expr(text: &str) -> Expr {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .expect("nuage writes expressions that parse")
}

fn is_rowtime(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case(ROWTIME),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(ROWTIME)),
        Expr::Nested(e) => is_rowtime(e),
        _ => false,
    }
}

fn function_args(args: &FunctionArguments) -> Vec<Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `INSERT INTO s (b, a) SELECT x, y`: the SELECT's outputs named
/// `__kda_c0`, `__kda_c1`, ... for the outer SELECT that puts them in the
/// stream's order.
fn name_outputs(
    query: &mut Query,
    listed: &[String],
    declared: Option<&Vec<String>>,
    pump: &str,
) -> Result<()> {
    let declared = declared.ok_or_else(|| {
        invalid(format!(
            "pump {pump}: it inserts into a stream the code does not create"
        ))
    })?;
    if let Some(missing) = listed.iter().find(|c| !declared.contains(c)) {
        return Err(invalid(format!(
            "pump {pump}: column {missing} is not a column of the stream it inserts into"
        )));
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(invalid(format!(
            "pump {pump}: INSERT INTO (columns) needs a SELECT"
        )));
    };
    if select.projection.len() != listed.len() {
        return Err(invalid(format!(
            "pump {pump}: INSERT lists {} columns and its SELECT gives {}",
            listed.len(),
            select.projection.len()
        )));
    }
    for (i, item) in select.projection.iter_mut().enumerate() {
        let alias = Ident::new(format!("__kda_c{i}"));
        *item = match item {
            SelectItem::UnnamedExpr(e) => SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias,
            },
            SelectItem::ExprWithAlias { expr, .. } => SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias,
            },
            _ => {
                return Err(invalid(format!(
                    "pump {pump}: with INSERT INTO (columns), name the SELECT's columns instead of *"
                )));
            }
        };
    }
    Ok(())
}

/// Translates one pump. `streams` gives the physical columns of each
/// in-application stream a pump may read, `targets` those of every stream
/// the code creates (engine names).
pub fn translate(
    pump: &Pump,
    streams: &BTreeMap<String, Vec<String>>,
    targets: &BTreeMap<String, Vec<String>>,
) -> Result<Translated> {
    let mut parsed = Parser::parse_sql(&GenericDialect {}, &pump.insert)
        .map_err(|e| invalid(format!("pump {}: {e}", pump.name)))?;
    let Some(Statement::Insert(mut insert)) = parsed.pop() else {
        return Err(invalid(format!(
            "pump {}: AS must be followed by INSERT INTO",
            pump.name
        )));
    };
    let target = insert
        .table
        .to_string()
        .trim_matches(|c| c == '"' || c == '`')
        .to_lowercase();
    let listed: Vec<String> = insert
        .columns
        .iter()
        .map(|c| {
            c.to_string()
                .trim_matches(|c| c == '"' || c == '`')
                .to_lowercase()
        })
        .collect();
    let query = insert.source.as_mut().ok_or_else(|| {
        invalid(format!(
            "pump {}: INSERT INTO needs a SELECT STREAM",
            pump.name
        ))
    })?;
    let mut state = Walk {
        streams,
        source: None,
        window: None,
        pump: &pump.name,
    };
    state.query(query)?;
    let source = state.source.clone().ok_or_else(|| {
        invalid(format!(
            "pump {}: it reads no in-application stream",
            pump.name
        ))
    })?;
    let mut keys = Vec::new();
    let from = match (&pump.stagger, &state.window) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "pump {}: WINDOWED BY STAGGER and a window over ROWTIME in one query",
                pump.name
            )));
        }
        (Some((exprs, range)), None) => {
            for (i, e) in exprs.iter().enumerate() {
                keys.push((format!("__kda_key_{i}"), key_expression(e)?));
            }
            let names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
            format!(
                "TABLE(STAGGER(TABLE `{source}` PARTITION BY {}, DESCRIPTOR({ROWTIME}), {range}))",
                names.join(", ")
            )
        }
        (None, Some(interval)) => {
            format!("TABLE(TUMBLE(TABLE `{source}`, DESCRIPTOR({ROWTIME}), {interval}))")
        }
        (None, None) => format!("`{source}`"),
    };
    if !listed.is_empty() {
        name_outputs(query, &listed, targets.get(&target), &pump.name)?;
    }
    let mut text = query.to_string();
    if !listed.is_empty() {
        // The stream's columns in declared order; those not listed NULL.
        let declared = &targets[&target];
        let outer: Vec<String> = declared
            .iter()
            .map(|column| match listed.iter().position(|l| l == column) {
                Some(k) => format!("__kda_c{k} AS `{column}`"),
                None => format!("NULL AS `{column}`"),
            })
            .collect();
        text = format!("SELECT {} FROM ({text}) AS __kda_insert", outer.join(", "));
    }
    let text = text.replace(SOURCE_MARK, &from);
    Ok(Translated {
        statement: format!("INSERT INTO `{target}` {text}"),
        source,
        target,
        keys,
    })
}

struct Walk<'a> {
    streams: &'a BTreeMap<String, Vec<String>>,
    source: Option<String>,
    /// The tumbling window's size, as an INTERVAL expression.
    window: Option<String>,
    pump: &'a str,
}

impl Walk<'_> {
    fn query(&mut self, query: &mut Query) -> Result<()> {
        let SetExpr::Select(select) = query.body.as_mut() else {
            return Err(invalid(format!(
                "pump {}: UNION and other set operations are not supported yet",
                self.pump
            )));
        };
        // The stream read, and subqueries.
        let mut reads_only_source = select.from.len() == 1;
        for from in select.from.iter_mut() {
            if !from.joins.is_empty() {
                reads_only_source = false;
            }
            let factors = std::iter::once(&mut from.relation)
                .chain(from.joins.iter_mut().map(|j| &mut j.relation));
            for factor in factors {
                match factor {
                    TableFactor::Table { name, alias, .. } => {
                        let table = name
                            .to_string()
                            .trim_matches(|c| c == '"' || c == '`')
                            .to_lowercase();
                        if self.streams.contains_key(&table) {
                            if self.source.as_ref().is_some_and(|s| *s != table) {
                                return Err(invalid(format!(
                                    "pump {}: it reads two streams ({} and {table}); joins of streams \
                                     are not supported yet",
                                    self.pump,
                                    self.source.as_deref().unwrap_or_default()
                                )));
                            }
                            self.source = Some(table.clone());
                            *name = ObjectName::from(vec![Ident::new(SOURCE_MARK)]);
                            if alias.is_none() {
                                *alias = Some(TableAlias {
                                    explicit: true,
                                    name: Ident::with_quote('`', table),
                                    columns: Vec::new(),
                                    at: None,
                                });
                            }
                        } else {
                            reads_only_source = false;
                        }
                    }
                    TableFactor::Derived { subquery, .. } => {
                        reads_only_source = false;
                        self.query(subquery)?
                    }
                    _ => reads_only_source = false,
                }
            }
        }
        // `*` is the stream's columns (ROWTIME is not one of them).
        if reads_only_source && let Some(source) = &self.source {
            let columns = &self.streams[source];
            let mut projection = Vec::new();
            for item in select.projection.drain(..) {
                match item {
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => projection
                        .extend(columns.iter().map(|c| {
                            SelectItem::UnnamedExpr(Expr::Identifier(Ident::with_quote('`', c)))
                        })),
                    other => projection.push(other),
                }
            }
            select.projection = projection;
        }
        // Named windows inline, each ordered by ROWTIME.
        let named: BTreeMap<String, datafusion::sql::sqlparser::ast::WindowSpec> = select
            .named_window
            .iter()
            .filter_map(|d| match &d.1 {
                NamedWindowExpr::WindowSpec(spec) => Some((d.0.value.to_lowercase(), spec.clone())),
                _ => None,
            })
            .collect();
        select.named_window.clear();
        let mut failure = None;
        let mut window: Option<String> = None;
        let pump = self.pump;
        let _ = visit_expressions_mut(select.as_mut(), |expr| {
            match expr {
                Expr::Function(f) if f.over.is_some() => {
                    if let Some(WindowType::NamedWindow(name)) = &f.over {
                        match named.get(&name.value.to_lowercase()) {
                            Some(spec) => f.over = Some(WindowType::WindowSpec(spec.clone())),
                            None => {
                                failure = Some(invalid(format!(
                                    "pump {pump}: window {name} is not defined (WINDOW {name} AS (...))"
                                )));
                                return ControlFlow::Break(());
                            }
                        }
                    }
                    if let Some(WindowType::WindowSpec(spec)) = &mut f.over
                        && spec.order_by.is_empty()
                    {
                        spec.order_by.push(OrderByExpr {
                            expr: Expr::Identifier(Ident::new(ROWTIME)),
                            options: OrderByOptions {
                                asc: None,
                                nulls_first: None,
                            },
                            with_fill: None,
                        });
                    }
                }
                other => match time_bucket(other) {
                    Some(Err(usage)) => {
                        failure = Some(invalid(format!("pump {pump}: {usage}")));
                        return ControlFlow::Break(());
                    }
                    Some(Ok(bucket)) if is_rowtime(&bucket.value) => {
                        if window.as_ref().is_some_and(|w| *w != bucket.size) {
                            failure = Some(invalid(format!(
                                "pump {pump}: two different windows over ROWTIME"
                            )));
                            return ControlFlow::Break(());
                        }
                        window = Some(bucket.size);
                        *other = Expr::Identifier(Ident::new("window_start"));
                    }
                    Some(Ok(bucket)) => *other = bucket.plain,
                    None => {}
                },
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failure {
            return Err(e);
        }
        if let Some(w) = window {
            if self.window.as_ref().is_some_and(|old| *old != w) {
                return Err(invalid(format!(
                    "pump {}: two different windows over ROWTIME",
                    self.pump
                )));
            }
            self.window = Some(w);
        }
        Ok(())
    }
}
