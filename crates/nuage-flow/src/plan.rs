//! What a continuous statement is: `INSERT INTO sink SELECT ... FROM`
//! a stream table (through a windowing TVF or not), read into a
//! [`JobPlan`]: the source, its window, the sink and the statement each
//! firing runs on the rows of the windows that closed.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{GroupByExpr, ObjectName, SetExpr, Statement, TableObject};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use nuage_catalog::Metastore;

use crate::error::{FlowError, Result};
use crate::table::StreamTable;
use crate::window::{self, Window};

/// The name under which a firing binds the closed windows' rows.
pub const WINDOW_INPUT: &str = "__flow_window";

#[derive(Debug, Clone)]
pub enum Sink {
    /// A table of the lake catalog: the firing's `INSERT INTO` writes it.
    Lake { database: String, table: String },
    /// A stream table: rows go to the stream as JSON records.
    Stream(StreamTable),
}

#[derive(Debug, Clone)]
pub struct JobPlan {
    pub database: String,
    pub source: StreamTable,
    pub window: Option<Window>,
    /// An OVER aggregation (without a window TVF).
    pub over: Option<crate::over::Over>,
    /// An interval join of the source with a second stream.
    pub join: Option<crate::interval::IntervalJoin>,
    /// A GROUP BY or DISTINCT without a window: an updating result.
    pub updating: Option<Updating>,
    /// The statement with its TVF replaced by [`WINDOW_INPUT`].
    pub insert_text: String,
    /// Its SELECT alone (for stream sinks).
    pub select_text: String,
    pub sink: Sink,
    /// Tables the statement reads that live only in the job: a Kinesis
    /// Analytics application's reference data, by name.
    pub bound: Vec<(String, datafusion::arrow::array::RecordBatch)>,
}

/// An updating result (a changelog) of a GROUP BY without a window.
#[derive(Debug, Clone)]
pub struct Updating {
    /// The positions of the GROUP BY columns in the SELECT, when every
    /// GROUP BY expression is one of them (changes of a key pair up).
    pub key: Option<Vec<usize>>,
}

/// `db.table` or `table` (in `database`), unquoted and lower-cased.
pub(crate) fn split_name(name: &ObjectName, database: &str) -> (String, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.to_string()
                .trim_matches(|c| c == '`' || c == '"')
                .to_lowercase()
        })
        .collect();
    match parts.as_slice() {
        [d, t] => (d.clone(), t.clone()),
        _ => (
            database.to_string(),
            parts.last().cloned().unwrap_or_default(),
        ),
    }
}

/// Where a statement's tables are found: the catalog for Flink SQL jobs,
/// an application's own streams for Kinesis Analytics.
pub trait Tables {
    /// The stream table `database.name`, if it is one.
    fn stream(&self, database: &str, name: &str) -> Result<Option<StreamTable>>;
    /// Whether `database.name` is a table of the lake (a batch sink).
    fn lake_table(&self, database: &str, name: &str) -> Result<bool>;
}

/// The catalog's tables.
struct Catalog<'a>(&'a dyn Metastore);

impl Tables for Catalog<'_> {
    fn stream(&self, database: &str, name: &str) -> Result<Option<StreamTable>> {
        Ok(self
            .0
            .get_table(database, name)?
            .as_ref()
            .and_then(StreamTable::from_catalog))
    }

    fn lake_table(&self, database: &str, name: &str) -> Result<bool> {
        Ok(self.0.get_table(database, name)?.is_some())
    }
}

/// The plan of `statement`, or `None` when it reads no stream table (a
/// batch statement for the SQL engine).
pub fn plan(metastore: &dyn Metastore, database: &str, statement: &str) -> Result<Option<JobPlan>> {
    plan_with(&Catalog(metastore), database, statement)
}

/// The catalog's tables and one more stream table (a SELECT's preview
/// sink, not in the catalog yet).
struct WithSink<'a> {
    catalog: Catalog<'a>,
    sink: &'a StreamTable,
}

impl Tables for WithSink<'_> {
    fn stream(&self, database: &str, name: &str) -> Result<Option<StreamTable>> {
        if database == self.sink.database && name == self.sink.name {
            return Ok(Some(self.sink.clone()));
        }
        self.catalog.stream(database, name)
    }

    fn lake_table(&self, database: &str, name: &str) -> Result<bool> {
        self.catalog.lake_table(database, name)
    }
}

/// Whether a SELECT reads a stream table: its plan as `INSERT INTO sink
/// <select>`, or `None` (a batch query).
pub fn plan_select(
    metastore: &dyn Metastore,
    database: &str,
    select: &str,
    sink: &StreamTable,
) -> Result<Option<JobPlan>> {
    let tables = WithSink {
        catalog: Catalog(metastore),
        sink,
    };
    let statement = format!(
        "INSERT INTO {}.{} {}",
        sink.database,
        sink.name,
        select.trim().trim_end_matches(';')
    );
    plan_with(&tables, database, &statement)
}

/// [`plan`] over any [`Tables`].
pub fn plan_with(tables: &dyn Tables, database: &str, statement: &str) -> Result<Option<JobPlan>> {
    let statement = statement.trim().trim_end_matches(';');
    let first = statement
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if first != "INSERT" {
        return Ok(None);
    }
    let rewritten = window::rewrite(statement, WINDOW_INPUT)?;
    let Ok(mut parsed) = Parser::parse_sql(&GenericDialect {}, &rewritten.text) else {
        return Ok(None);
    };
    let Some(Statement::Insert(insert)) = parsed.pop() else {
        return Ok(None);
    };
    let Some(query) = insert.source.as_ref() else {
        return Ok(None);
    };
    // The stream tables the query reads.
    let mut sources: Vec<StreamTable> = Vec::new();
    let mut failure = None;
    let _ = datafusion::sql::sqlparser::ast::visit_relations(query.as_ref(), |name| {
        let (db, table) = split_name(name, database);
        match tables.stream(&db, &table) {
            Ok(Some(t))
                if !sources
                    .iter()
                    .any(|s| s.name == t.name && s.database == t.database) =>
            {
                sources.push(t)
            }
            Ok(_) => {}
            Err(e) => failure = Some(e),
        }
        ControlFlow::<()>::Continue(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(w) = &rewritten.window {
        let (db, table) = match w.table.split_once('.') {
            Some((d, t)) => (d.to_lowercase(), t.to_lowercase()),
            None => (database.to_string(), w.table.to_lowercase()),
        };
        let table = table.trim_matches(|c| c == '`' || c == '"').to_string();
        match tables.stream(&db, &table)? {
            Some(t) => {
                if !sources
                    .iter()
                    .any(|s| s.name == t.name && s.database == t.database)
                {
                    sources.push(t);
                }
            }
            None => {
                return Err(FlowError::Invalid(format!(
                    "{}: the windowing function's table must be a stream table \
                     (CREATE TABLE ... WITH ('connector' = 'kinesis', ...))",
                    w.table
                )));
            }
        }
    }
    for source in &sources {
        if source.connector() != "kinesis" {
            return Err(FlowError::Invalid(format!(
                "{} is a '{}' table, which can only be written: read streams through 'kinesis' tables",
                source.name,
                source.connector()
            )));
        }
    }
    let (source, join) = match sources.len() {
        0 => return Ok(None),
        1 => (sources.remove(0), None),
        2 if rewritten.window.is_none() => {
            let other = sources.remove(1);
            let source = sources.remove(0);
            let join = crate::interval::find(query, database, &source, &other)?;
            (source, Some(join))
        }
        _ => {
            return Err(FlowError::Unsupported(format!(
                "this statement reads the streams {}: a job reads one stream, or joins two by \
                 their time attributes without a window function (an interval join); window \
                 joins and joins of more streams are not supported",
                sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    if let Some(w) = &rewritten.window {
        let Some(wm) = &source.watermark else {
            return Err(FlowError::Invalid(format!(
                "the window function requires the timecol to be a time attribute: {} declares no \
                 WATERMARK FOR {}; add WATERMARK FOR {} AS {} - INTERVAL '5' SECOND to its CREATE TABLE",
                source.name, w.time_column, w.time_column, w.time_column
            )));
        };
        if !wm.column.eq_ignore_ascii_case(&w.time_column) {
            return Err(FlowError::Invalid(format!(
                "the window function requires the timecol to be a time attribute, but {} is not one: \
                 {}'s event time is {}",
                w.time_column, source.name, wm.column
            )));
        }
    }
    let over = if rewritten.window.is_none() {
        crate::over::find(query, source.watermark.as_ref().map(|w| w.column.as_str()))?
    } else {
        None
    };
    if join.is_some() && over.is_some() {
        return Err(FlowError::Unsupported(
            "an OVER aggregation over an interval join is not supported: write the join's rows \
             to a stream, and aggregate that stream in a second job"
                .into(),
        ));
    }
    let updating = match query.body.as_ref() {
        SetExpr::Select(select)
            if rewritten.window.is_none()
                && over.is_none()
                && (!matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
                    || select.distinct.is_some()) =>
        {
            if join.is_some() {
                return Err(FlowError::Unsupported(
                    "a GROUP BY over an interval join needs a window: write the join's rows to a \
                     stream, and aggregate that stream in a second job"
                        .into(),
                ));
            }
            Some(Updating {
                key: update_key(select),
            })
        }
        _ => None,
    };
    let TableObject::TableName(target) = &insert.table else {
        return Err(FlowError::Invalid(
            "INSERT INTO a table function is not a job".into(),
        ));
    };
    let (sink_db, sink_table) = split_name(target, database);
    let sink = match tables.stream(&sink_db, &sink_table)? {
        Some(stream) => Sink::Stream(stream),
        None if tables.lake_table(&sink_db, &sink_table)? => Sink::Lake {
            database: sink_db.clone(),
            table: sink_table.clone(),
        },
        None => {
            return Err(FlowError::Invalid(format!(
                "sink table {sink_db}.{sink_table} does not exist: create it first (a lake table \
                 with Hive DDL, or a stream with CREATE TABLE ... WITH ('connector' = 'kinesis', ...))"
            )));
        }
    };
    if updating.is_some() {
        let changelog = matches!(&sink, Sink::Stream(t) if crate::table::is_changelog(t));
        if !changelog {
            return Err(FlowError::Unsupported(format!(
                "Table sink '{sink_db}.{sink_table}' doesn't support consuming update changes \
                 which are produced by this GROUP BY (or DISTINCT) without a window: group by a \
                 window (TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL ...)) ... GROUP BY \
                 window_start, window_end, ...) for results that never change, or write the \
                 updating result to a stream table with 'format' = 'debezium-json'"
            )));
        }
    }
    if insert.overwrite {
        return Err(FlowError::Unsupported(
            "INSERT OVERWRITE cannot run continuously: write INSERT INTO".into(),
        ));
    }
    Ok(Some(JobPlan {
        database: database.to_string(),
        source,
        window: rewritten.window,
        select_text: if over.is_some() {
            crate::over::with_seq(query)
        } else {
            query.to_string()
        },
        over,
        join,
        updating,
        insert_text: rewritten.text,
        sink,
        bound: Vec::new(),
    }))
}

/// The positions in the SELECT of its GROUP BY expressions (by text, or a
/// GROUP BY naming a column alias), when all of them are there.
fn update_key(select: &datafusion::sql::sqlparser::ast::Select) -> Option<Vec<usize>> {
    use datafusion::sql::sqlparser::ast::{Expr, SelectItem};
    let GroupByExpr::Expressions(groups, _) = &select.group_by else {
        return None;
    };
    if groups.is_empty() {
        return None;
    }
    groups
        .iter()
        .map(|group| {
            select.projection.iter().position(|item| match item {
                SelectItem::UnnamedExpr(e) => e.to_string() == group.to_string(),
                SelectItem::ExprWithAlias { expr, alias } => {
                    expr.to_string() == group.to_string()
                        || matches!(group, Expr::Identifier(i) if i.value.eq_ignore_ascii_case(&alias.value))
                }
                _ => false,
            })
        })
        .collect()
}

impl JobPlan {
    /// What EXPLAIN shows: the streaming plan, operator by operator.
    pub fn explain(&self) -> String {
        let mut lines = Vec::new();
        let source = &self.source;
        lines.push(format!(
            "Source: kinesis stream {} ({} format), table {}.{}",
            source.stream_name().unwrap_or_default(),
            source.option("format").unwrap_or("json"),
            source.database,
            source.name
        ));
        if let Some(wm) = &source.watermark {
            lines.push(format!(
                "  WatermarkAssigner: per shard max({}), job watermark = min over non-idle shards{}",
                wm.expr,
                source
                    .option("scan.watermark.idle-timeout")
                    .map(|t| format!(" (idle after {t})"))
                    .unwrap_or_default()
            ));
        }
        if let Some(join) = &self.join {
            let other = &join.other;
            lines.push(format!(
                "Source: kinesis stream {} ({} format), table {}.{}",
                other.stream_name().unwrap_or_default(),
                other.option("format").unwrap_or("json"),
                other.database,
                other.name
            ));
            lines.push(format!(
                "  IntervalJoin: {} - {} within [{} ms, {} ms]; each round joins the new rows \
                 of either side with the other side's rows; a row is kept until the other \
                 side's watermark passes its bound",
                join.times[0],
                join.times[1],
                join.lower / 1_000_000,
                join.upper / 1_000_000
            ));
        }
        if let Some(over) = &self.over {
            lines.push(format!(
                "  OverAggregate: rows wait for the watermark, then run with the earlier rows \
                 their frames reach ({:?}), ordered by {}",
                over.retain, over.time_column
            ));
        }
        if let Some(updating) = &self.updating {
            lines.push(format!(
                "  GroupAggregate (updating): every row kept; each read runs the query again \
                 and emits what changed (+I, -U, +U, -D){}",
                match &updating.key {
                    Some(k) => format!(", keyed by SELECT columns {k:?}"),
                    None => String::new(),
                }
            ));
        }
        if let Some(w) = &self.window {
            lines.push(format!(
                "  WindowTableFunction: {:?} size {} ms offset {} ms on {}",
                w.kind,
                w.size / 1_000_000,
                w.offset / 1_000_000,
                w.time_column
            ));
            lines.push(
                "  WindowBuffer: rows kept per window_end; a window fires when the watermark passes its end"
                    .into(),
            );
        }
        lines.push(format!(
            "  Query (run per firing on {WINDOW_INPUT}): {}",
            self.select_text
        ));
        lines.push(match &self.sink {
            Sink::Lake { database, table } => format!("Sink: lake table {database}.{table}"),
            Sink::Stream(t) => format!(
                "Sink: {} {} (json records)",
                t.connector(),
                t.stream_name().unwrap_or_default()
            ),
        });
        lines.join("\n")
    }
}
