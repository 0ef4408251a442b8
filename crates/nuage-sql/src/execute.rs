//! Running a statement: `SET`, `dfs` and other commands, DDL and DML to
//! nuage's own code, queries to DataFusion; and the query history record of
//! each, written when its rows are read.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use nuage_catalog::{Metastore, QueryRecord};

use crate::error::{Result, SqlError, semantic};
use crate::output::{Output, rows_output};
use crate::parser::{self, HiveStatement};
use crate::session::{MAX_SCAN_BYTES, Session};
use crate::stats::QueryStats;
use crate::{ddl, dml, query};

impl Session {
    /// Runs one statement (without its `;`), after `${...}` substitution, and
    /// records it in the query history (`system.queries`) once it has ended:
    /// at once for statements without rows, when the rows are all read (or
    /// dropped) otherwise.
    pub async fn execute(&mut self, text: &str) -> Result<Output> {
        self.stats.reset();
        let mut record = QueryRecord {
            query_id: uuid::Uuid::new_v4().to_string(),
            user: self.user.clone(),
            database: self.database.clone(),
            statement: text.trim().to_string(),
            started_ms: chrono::Utc::now().timestamp_millis(),
            duration_ms: 0,
            rows: None,
            bytes_scanned: 0,
            files_scanned: 0,
            state: "SUCCEEDED".into(),
            error: None,
        };
        let history = History {
            metastore: self.shared.metastore.clone(),
            stats: self.stats.clone(),
            started: Instant::now(),
        };
        match self.execute_statement(text).await {
            Ok(Output::Rows(stream)) => Ok(Output::Rows(Box::pin(RecordedStream {
                inner: stream,
                record: Some(record),
                history,
                rows: 0,
            }))),
            Ok(done) => {
                history.write(&mut record);
                Ok(done)
            }
            Err(e) => {
                record.state = "FAILED".into();
                record.error = Some(e.to_string());
                history.write(&mut record);
                Err(e)
            }
        }
    }

    /// Runs one statement without a query history record: for the many
    /// small statements of a continuous job.
    pub async fn execute_unrecorded(&mut self, text: &str) -> Result<Output> {
        self.stats.reset();
        self.execute_statement(text).await
    }

    async fn execute_statement(&mut self, text: &str) -> Result<Output> {
        let substitute = self
            .vars
            .hiveconf
            .get("hive.variable.substitute")
            .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let text = if substitute {
            self.vars.substitute(text)
        } else {
            text.to_string()
        };
        let text = text.trim();
        if let Some(output) = self.command(text)? {
            return Ok(output);
        }
        if let Some(output) = self.dfs(text).await? {
            return Ok(output);
        }
        let statement = parser::parse(text)?;
        self.run(statement).await
    }

    /// SET, RESET and the CLI's resource commands, which are not SQL.
    fn command(&mut self, text: &str) -> Result<Option<Output>> {
        let lower = text.to_ascii_lowercase();
        let first = lower.split_whitespace().next().unwrap_or("");
        match first {
            "set" => {
                let rest = text[3..].trim();
                let rest = rest.strip_prefix("-v").map(str::trim).unwrap_or(rest);
                if rest.is_empty() {
                    let rows = self
                        .vars
                        .hiveconf
                        .iter()
                        .map(|(k, v)| vec![format!("{k}={v}")])
                        .chain(
                            self.vars
                                .hivevar
                                .iter()
                                .map(|(k, v)| vec![format!("hivevar:{k}={v}")]),
                        );
                    return Ok(Some(rows_output(&["set"], rows.collect())));
                }
                match rest.split_once('=') {
                    Some((key, value)) => {
                        self.set(key.trim(), value.trim())?;
                        Ok(Some(Output::Done(None)))
                    }
                    None => {
                        let key = rest.trim();
                        let line = match self.get(key) {
                            Some(value) => format!("{key}={value}"),
                            None => format!("{key} is undefined"),
                        };
                        Ok(Some(rows_output(&["set"], vec![vec![line]])))
                    }
                }
            }
            "reset" => {
                self.vars.hiveconf.clear();
                self.stats.set_max_scan_bytes(None);
                Ok(Some(Output::Done(None)))
            }
            "add" | "delete" | "list"
                if lower.split_whitespace().nth(1).is_some_and(|w| {
                    w.starts_with("jar") || w.starts_with("file") || w.starts_with("archive")
                }) =>
            {
                Ok(Some(Output::Done(Some(format!(
                    "{}: nothing to do, nuage has every serde and function built in",
                    text.split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                )))))
            }
            _ => Ok(None),
        }
    }

    /// The CLI's `dfs -ls|-mkdir|-put|-get|-cat|-rm [-r]` on the lake, as Hive
    /// scripts use it around their statements.
    async fn dfs(&mut self, text: &str) -> Result<Option<Output>> {
        let mut words = text.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("dfs")) {
            return Ok(None);
        }
        let lake = &self.shared.lake;
        let args: Vec<&str> = words.collect();
        let flags: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| a.starts_with('-'))
            .collect();
        let paths: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-'))
            .collect();
        let recursive = flags
            .iter()
            .any(|f| matches!(*f, "-r" | "-R" | "-rmr" | "-lsr"));
        let usage = || {
            semantic!(
                "dfs supports -ls, -mkdir, -put, -copyFromLocal, -get, -copyToLocal, -cat and -rm [-r], e.g. dfs -ls s3://bucket/dir"
            )
        };
        let command = flags.first().copied().ok_or_else(usage)?;
        let one = |i: usize| -> Result<nuage_lake::Location> {
            Ok(nuage_lake::Location::parse(
                paths.get(i).ok_or_else(usage)?,
            )?)
        };
        let rows: Vec<Vec<String>> = match command {
            "-ls" | "-lsr" => lake
                .list(&one(0)?, recursive)
                .await?
                .into_iter()
                .map(|o| {
                    vec![if o.is_prefix {
                        format!("{}/", o.location)
                    } else {
                        format!("{}\t{}", o.size, o.location)
                    }]
                })
                .collect(),
            "-mkdir" => {
                let location = one(0)?;
                match (&location, location.bucket()) {
                    (nuage_lake::Location::Object { key, .. }, Some(bucket)) if key.is_empty() => {
                        lake.make_bucket(bucket).await?
                    }
                    (nuage_lake::Location::Local(path), _) => std::fs::create_dir_all(path)
                        .map_err(|source| SqlError::Io {
                            path: path.display().to_string(),
                            source,
                        })?,
                    // Object stores have no folders: a key prefix exists once a file is under it.
                    _ => {}
                }
                Vec::new()
            }
            "-put" | "-copyFromLocal" => {
                let from = std::path::PathBuf::from(paths.first().ok_or_else(usage)?);
                lake.put_local(&from, &one(1)?)
                    .await?
                    .into_iter()
                    .map(|l| vec![l.to_string()])
                    .collect()
            }
            "-get" | "-copyToLocal" => {
                let to = std::path::PathBuf::from(paths.get(1).ok_or_else(usage)?);
                lake.get_local(&one(0)?, &to)
                    .await?
                    .into_iter()
                    .map(|p| vec![p.display().to_string()])
                    .collect()
            }
            "-cat" => {
                let bytes = lake.get_bytes(&one(0)?).await?;
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(|l| vec![l.to_string()])
                    .collect()
            }
            "-rm" | "-rmr" => lake
                .remove(&one(0)?, recursive)
                .await?
                .into_iter()
                .map(|l| vec![format!("Deleted {l}")])
                .collect(),
            _ => return Err(usage()),
        };
        Ok(Some(if rows.is_empty() {
            Output::Done(None)
        } else {
            rows_output(&["dfs"], rows)
        }))
    }

    fn get(&self, key: &str) -> Option<String> {
        if let Some(k) = key.strip_prefix("hivevar:") {
            return self.vars.hivevar.get(k).cloned();
        }
        let k = key.strip_prefix("hiveconf:").unwrap_or(key);
        if let Some(v) = self.vars.hiveconf.get(k) {
            return Some(v.clone());
        }
        if k.starts_with("datafusion.") {
            let state = self.ctx.state();
            return state
                .config_options()
                .entries()
                .into_iter()
                .find(|e| e.key == k)
                .and_then(|e| e.value);
        }
        None
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        if let Some(k) = key.strip_prefix("hivevar:") {
            self.vars.hivevar.insert(k.to_string(), value.to_string());
            return Ok(());
        }
        let key = key.strip_prefix("hiveconf:").unwrap_or(key);
        if key.eq_ignore_ascii_case(MAX_SCAN_BYTES) {
            let limit = match value.trim() {
                "" | "0" | "-1" => None,
                text => Some(crate::context::parse_size(text).ok_or_else(|| {
                    semantic!(
                        "{MAX_SCAN_BYTES} takes a size in bytes, like 1000000, 512m or 10g (0 for no limit), not {text:?}"
                    )
                })? as u64),
            };
            self.stats.set_max_scan_bytes(limit);
        }
        if key.starts_with("datafusion.") {
            self.ctx
                .state_ref()
                .write()
                .config_mut()
                .options_mut()
                .set(key, value)
                .map_err(|e| semantic!("cannot set {key}: {e}"))?;
        }
        self.vars
            .hiveconf
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    async fn run(&mut self, statement: HiveStatement) -> Result<Output> {
        match statement {
            HiveStatement::Query(statement) => {
                let explain = match statement.as_ref() {
                    datafusion::sql::sqlparser::ast::Statement::Explain { analyze, .. } => {
                        Some(*analyze)
                    }
                    _ => None,
                };
                let semantics = self.semantics();
                let plan = query::plan_statement(
                    &self.ctx,
                    &self.shared,
                    &self.database,
                    *statement,
                    semantics,
                )
                .await?;
                let frame = self.ctx.execute_logical_plan(plan).await?;
                match explain {
                    Some(analyze) => self.explain_with_scans(frame, analyze).await,
                    None => Ok(Output::Rows(frame.execute_stream().await?)),
                }
            }
            HiveStatement::Use(database) => {
                self.use_database(&database)?;
                Ok(Output::Done(None))
            }
            HiveStatement::LoadData {
                local,
                path,
                overwrite,
                table,
                partition,
            } => dml::load_data(self, local, &path, overwrite, &table, &partition).await,
            HiveStatement::Insert {
                overwrite,
                table,
                partition,
                columns,
                source,
            } => dml::insert(self, overwrite, &table, &partition, &columns, source).await,
            HiveStatement::InsertDirectory {
                local,
                path,
                format,
                source,
            } => dml::insert_directory(self, local, &path, *format, source).await,
            HiveStatement::Update {
                table,
                assignments,
                selection,
            } => dml::update(self, &table, assignments, selection).await,
            HiveStatement::Unload { query, to, options } => {
                dml::unload(self, query, &to, options).await
            }
            HiveStatement::Delete { table, selection } => {
                dml::delete(self, &table, selection).await
            }
            HiveStatement::Truncate(table) => dml::truncate(self, &table).await,
            HiveStatement::CreateTable(create) if create.temporary => {
                dml::create_temporary(self, *create).await
            }
            HiveStatement::CreateTable(create) if create.query.is_some() => {
                dml::create_table_as(self, *create).await
            }
            other => ddl::execute(self, other).await,
        }
    }

    /// EXPLAIN's rows plus one of nuage's: the partitions and files the table
    /// scans kept (and, for EXPLAIN ANALYZE, what they read).
    async fn explain_with_scans(
        &self,
        frame: datafusion::dataframe::DataFrame,
        analyze: bool,
    ) -> Result<Output> {
        let batches = frame.collect().await?;
        let stats = self.stats.snapshot();
        let mut rows: Vec<Vec<String>> = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                rows.push(
                    (0..batch.num_columns())
                        .map(|c| {
                            let mut text = String::new();
                            nuage_format::display::write_value(
                                &mut text,
                                batch.column(c),
                                row,
                                nuage_format::display::Style::Cli,
                            );
                            text
                        })
                        .collect(),
                );
            }
        }
        let mut scan = format!(
            "partitions read: {} of {}, files listed: {}",
            stats.partitions_read, stats.partitions_total, stats.files_listed
        );
        if analyze {
            scan.push_str(&format!(
                ", files scanned: {}, files pruned: {}, bytes scanned: {}",
                stats.files, stats.files_pruned, stats.bytes
            ));
        }
        rows.push(vec!["nuage_scan".into(), scan]);
        Ok(rows_output(&["plan_type", "plan"], rows))
    }
}

/// Where a finished statement is recorded, with what it cost.
struct History {
    metastore: Arc<dyn Metastore>,
    stats: Arc<QueryStats>,
    started: Instant,
}

impl History {
    fn write(&self, record: &mut QueryRecord) {
        let stats = self.stats.snapshot();
        record.duration_ms = self.started.elapsed().as_millis() as i64;
        record.bytes_scanned = stats.bytes;
        record.files_scanned = stats.files;
        if let Err(e) = self.metastore.record_query(record) {
            // The statement itself went through; only its history entry is lost.
            tracing::warn!("could not record the query in system.queries: {e}");
        }
    }
}

/// Rows of a query, passed through; the query is recorded when they end.
struct RecordedStream {
    inner: SendableRecordBatchStream,
    record: Option<QueryRecord>,
    history: History,
    rows: u64,
}

impl RecordedStream {
    fn finish(&mut self, state: &str, error: Option<String>) {
        if let Some(mut record) = self.record.take() {
            record.rows = Some(self.rows);
            record.state = state.into();
            record.error = error;
            self.history.write(&mut record);
        }
    }
}

impl futures::Stream for RecordedStream {
    type Item = datafusion::error::Result<RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        match &polled {
            std::task::Poll::Ready(Some(Ok(batch))) => self.rows += batch.num_rows() as u64,
            std::task::Poll::Ready(Some(Err(e))) => {
                let error = e.to_string();
                self.finish("FAILED", Some(error));
            }
            std::task::Poll::Ready(None) => self.finish("SUCCEEDED", None),
            std::task::Poll::Pending => {}
        }
        polled
    }
}

impl datafusion::execution::RecordBatchStream for RecordedStream {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.inner.schema()
    }
}

impl Drop for RecordedStream {
    fn drop(&mut self) {
        self.finish("CANCELLED", None);
    }
}
