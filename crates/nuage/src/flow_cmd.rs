//! The Flink SQL statements of `nuage sql`: `CREATE TABLE ... WITH
//! ('connector' = ...)` (into the catalog, here), and the ones about
//! continuous jobs, which run inside the `nuage serve` of the data dir:
//! `INSERT INTO ... SELECT ... FROM <stream table>` (starts a job and
//! prints its id), `SHOW JOBS`, `STOP JOB 'id'`, `EXPLAIN` of such an
//! INSERT, and a `SELECT` from a stream table (its rows shown as they
//! come, until Ctrl-C or its LIMIT).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use nuage_sql::output::rows_output;
use nuage_sql::{Output, Session};
use serde_json::{Value, json};

use crate::client::Connection;

/// The statement's output when it is one of these, `None` otherwise (the
/// SQL engine runs it).
pub async fn statement(session: &Session, data_dir: &Path, text: &str) -> Result<Option<Output>> {
    let text = session.vars.substitute(text);
    let text = text.trim();
    let database = session.database().to_string();
    let metastore = session.shared().metastore.clone();
    if let Some(create) = nuage_flow::ddl::parse_create(text, &database) {
        let create = create?;
        let user = std::env::var("USER").unwrap_or_else(|_| "nuage".into());
        let table = create.table.to_catalog(&user);
        if metastore.get_database(&table.database)?.is_none() {
            bail!(
                "database {} does not exist; SHOW DATABASES lists the ones that do",
                table.database
            );
        }
        if !create.if_not_exists && metastore.get_table(&table.database, &table.name)?.is_some() {
            bail!("table {}.{} already exists", table.database, table.name);
        }
        metastore.create_table(&table, create.if_not_exists)?;
        return Ok(Some(Output::Done(None)));
    }
    let words: Vec<String> = text
        .split_whitespace()
        .take(3)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["SHOW", "CREATE", "TABLE"] => {
            // A stream table's own statement, not a Hive rendering of it.
            let name = text.split_whitespace().nth(3).unwrap_or_default();
            let name = name.trim_matches(|c| c == '`' || c == ';');
            let (db, table) = match name.split_once('.') {
                Some((d, t)) => (d.to_lowercase(), t.to_lowercase()),
                None => (database.clone(), name.to_lowercase()),
            };
            if let Some(stream) = metastore
                .get_table(&db, &table)?
                .as_ref()
                .and_then(nuage_flow::StreamTable::from_catalog)
            {
                let lines = stream
                    .statement
                    .lines()
                    .map(|l| vec![l.to_string()])
                    .collect();
                return Ok(Some(rows_output(&["createtab_stmt"], lines)));
            }
            return Ok(None);
        }
        ["SHOW", "JOBS"] => return show_jobs(data_dir, metastore.as_ref()).await.map(Some),
        ["STOP", "JOB", ..] => {
            let id = text[text.to_ascii_uppercase().find("JOB").unwrap_or(0) + 3..]
                .trim()
                .trim_matches(|c| c == '\'' || c == '"' || c == '`');
            if id.is_empty() {
                bail!("STOP JOB takes the job's id: STOP JOB '<id>' (SHOW JOBS lists them)");
            }
            return stop_job(data_dir, metastore.as_ref(), id).await.map(Some);
        }
        ["EXPLAIN", ..] => {
            let inner = text[7..].trim_start();
            let inner = inner
                .strip_prefix("PLAN FOR")
                .or_else(|| inner.strip_prefix("plan for"))
                .unwrap_or(inner);
            if let Some(plan) = nuage_flow::plan::plan(metastore.as_ref(), &database, inner)? {
                let lines: Vec<Vec<String>> = plan
                    .explain()
                    .lines()
                    .map(|l| vec![l.to_string()])
                    .collect();
                return Ok(Some(rows_output(&["plan"], lines)));
            }
            return Ok(None);
        }
        ["SELECT", ..] | ["WITH", ..] => {
            let sink = preview_table(&database);
            if let Some(plan) =
                nuage_flow::plan::plan_select(metastore.as_ref(), &database, text, &sink)?
            {
                let updating = plan.updating.is_some();
                preview(session, data_dir, text, sink, updating).await?;
                return Ok(Some(Output::Done(None)));
            }
            return Ok(None);
        }
        _ => {}
    }
    if nuage_flow::plan::plan(metastore.as_ref(), &database, text)?.is_none() {
        return Ok(None);
    }
    let mut server = connect(data_dir).await?;
    let reply = call(
        &mut server,
        "StartJob",
        json!({ "Database": database, "Statement": text }),
    )
    .await?;
    let id = reply["JobId"].as_str().unwrap_or_default().to_string();
    Ok(Some(rows_output(&["job_id"], vec![vec![id]])))
}

/// The stream table a SELECT's rows go through: a stream of its own,
/// JSON records in the SELECT's column order.
fn preview_table(database: &str) -> nuage_flow::StreamTable {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let id = format!("{:x}{nanos:08x}", std::process::id());
    let mut options = std::collections::BTreeMap::new();
    options.insert("connector".to_string(), "kinesis".to_string());
    options.insert("stream".to_string(), format!("nuage-preview-{id}"));
    // Rows with their kind (+I, -U, +U, -D): a GROUP BY without a window
    // changes its rows.
    options.insert("format".to_string(), "changelog-json".to_string());
    nuage_flow::StreamTable {
        database: database.to_string(),
        name: format!("__preview_{id}"),
        columns: Vec::new(),
        watermark: None,
        partitioned_by: Vec::new(),
        options,
        statement: String::new(),
    }
}

/// The LIMIT of a SELECT, if it has one.
fn limit_of(select: &str) -> Option<usize> {
    use datafusion::sql::sqlparser::ast::{Expr, LimitClause, Statement, Value as SqlValue};
    let mut parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::GenericDialect {},
        select,
    )
    .ok()?;
    let Some(Statement::Query(query)) = parsed.pop() else {
        return None;
    };
    match query.limit_clause? {
        LimitClause::LimitOffset {
            limit: Some(Expr::Value(v)),
            ..
        } => match v.value {
            SqlValue::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A SELECT from a stream, as Flink's SQL client shows one: a job writes
/// its rows into a stream of their own, and they are printed as they come
/// (tab-separated, in the SELECT's column order) until Ctrl-C or the
/// LIMIT; then the job, its table and its stream go away. An updating
/// result (GROUP BY without a window) is printed as Flink's changelog
/// mode prints it: an `op` column first (+I, -U, +U, -D).
async fn preview(
    session: &Session,
    data_dir: &Path,
    select: &str,
    sink: nuage_flow::StreamTable,
    updating: bool,
) -> Result<()> {
    let metastore = session.shared().metastore.clone();
    let endpoint = serving_endpoint(data_dir)?;
    let mut server = open(data_dir, &endpoint).await?.flow();
    let mut kinesis = open(data_dir, &endpoint).await?;
    let stream = sink.stream_name()?;
    kinesis.create_stream(&stream, 1).await?;
    metastore.create_table(&sink.to_catalog("nuage"), false)?;
    let statement = format!(
        "INSERT INTO {}.{} {}",
        sink.database,
        sink.name,
        select.trim().trim_end_matches(';')
    );
    let started = call(
        &mut server,
        "StartJob",
        json!({ "Database": session.database(), "Statement": statement }),
    )
    .await;
    let shown = match started {
        Ok(reply) => {
            let id = reply["JobId"].as_str().unwrap_or_default().to_string();
            let shown = show_rows(
                session,
                &mut kinesis,
                &mut server,
                &stream,
                &id,
                limit_of(select),
                updating,
            )
            .await;
            let _ = call(&mut server, "StopJob", json!({ "JobId": id })).await;
            shown
        }
        Err(e) => Err(e),
    };
    let _ = metastore.drop_table(&sink.database, &sink.name);
    let _ = kinesis
        .json("DeleteStream", json!({"StreamName": stream}))
        .await;
    shown
}

async fn show_rows(
    session: &Session,
    kinesis: &mut Connection,
    server: &mut Connection,
    stream: &str,
    job: &str,
    limit: Option<usize>,
    updating: bool,
) -> Result<()> {
    use base64::Engine;
    use std::io::Write;
    let reply = kinesis
        .json(
            "GetShardIterator",
            json!({"StreamName": stream, "ShardId": "shardId-000000000000",
                   "ShardIteratorType": "TRIM_HORIZON"}),
        )
        .await?;
    let mut iterator = reply["ShardIterator"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut shown = 0usize;
    let mut header = session.print_header();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut last_check = std::time::Instant::now();
    loop {
        let got = kinesis
            .json(
                "GetRecords",
                json!({"ShardIterator": iterator, "Limit": 1000}),
            )
            .await?;
        let records = got["Records"].as_array().cloned().unwrap_or_default();
        let mut out = std::io::stdout().lock();
        for record in &records {
            let data = base64::engine::general_purpose::STANDARD
                .decode(record["Data"].as_str().unwrap_or_default())?;
            let change: Value = serde_json::from_slice(&data)?;
            let row = change["row"].as_object().cloned().unwrap_or_default();
            let op = change["op"].as_str().unwrap_or("+I");
            if header {
                let mut names: Vec<String> = row.keys().cloned().collect();
                if updating {
                    names.insert(0, "op".into());
                }
                writeln!(out, "{}", names.join("\t"))?;
                header = false;
            }
            let mut values: Vec<String> = row
                .values()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => "NULL".into(),
                    other => other.to_string(),
                })
                .collect();
            if updating {
                values.insert(0, op.to_string());
            }
            writeln!(out, "{}", values.join("\t"))?;
            shown += 1;
            if limit.is_some_and(|n| shown >= n) {
                return Ok(());
            }
        }
        out.flush()?;
        drop(out);
        iterator = got["NextShardIterator"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if records.is_empty() {
            // A job that failed ends the preview with its error.
            if last_check.elapsed() > std::time::Duration::from_secs(1) {
                last_check = std::time::Instant::now();
                let jobs = call(server, "ListJobs", json!({})).await?;
                if let Some(j) = jobs["Jobs"]
                    .as_array()
                    .and_then(|all| all.iter().find(|j| j["JobId"] == job))
                    && j["State"] == "FAILED"
                {
                    bail!(
                        "the query failed: {}",
                        j["Error"].as_str().unwrap_or_default()
                    );
                }
            }
            tokio::select! {
                _ = &mut interrupted => return Ok(()),
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
        }
    }
}

/// The endpoint of the server running on this data dir, from the note
/// `nuage serve` leaves there.
fn serving_endpoint(data_dir: &Path) -> Result<String> {
    let start_one = || {
        anyhow!(
            "continuous jobs run inside `nuage serve`, and none is running for data dir {}: \
             start one (nuage --data-dir {} serve) and run the statement again",
            data_dir.display(),
            data_dir.display()
        )
    };
    let text = std::fs::read(data_dir.join(nuage_server::SERVING_FILE)).map_err(|_| start_one())?;
    serde_json::from_slice::<Value>(&text)
        .ok()
        .and_then(|v| v["endpoint"].as_str().map(str::to_string))
        .ok_or_else(start_one)
}

/// A connection to the server at `endpoint` (Kinesis; `.flow()` for jobs).
async fn open(data_dir: &Path, endpoint: &str) -> Result<Connection> {
    Connection::open(endpoint).await.map_err(|_| {
        anyhow!(
            "the nuage serve of data dir {} does not answer at {endpoint}: start it again \
             (nuage --data-dir {} serve) and run the statement again",
            data_dir.display(),
            data_dir.display()
        )
    })
}

/// The continuous-SQL service of the server of this data dir.
async fn connect(data_dir: &Path) -> Result<Connection> {
    Ok(open(data_dir, &serving_endpoint(data_dir)?).await?.flow())
}

async fn call(server: &mut Connection, operation: &str, body: Value) -> Result<Value> {
    let reply = server
        .call(operation, Bytes::from(body.to_string()))
        .await?;
    serde_json::from_slice(&reply).context("the server's answer is not JSON")
}

fn millis_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}

/// A statement on one line, for a row of SHOW JOBS.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const JOB_COLUMNS: &[&str] = &[
    "job_id",
    "statement",
    "state",
    "events_in",
    "events_out",
    "late_events",
    "watermark",
    "lag",
    "error",
];

async fn show_jobs(data_dir: &Path, metastore: &dyn nuage_catalog::Metastore) -> Result<Output> {
    let rows: Vec<Vec<String>> = match connect(data_dir).await {
        Ok(mut server) => {
            let reply = call(&mut server, "ListJobs", json!({})).await?;
            reply["Jobs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|j| {
                    let text = |k: &str| match &j[k] {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        v => v.to_string(),
                    };
                    vec![
                        text("JobId"),
                        one_line(&text("Statement")),
                        text("State"),
                        text("EventsIn"),
                        text("EventsOut"),
                        text("LateEvents"),
                        millis_text(j["WatermarkMillis"].as_i64()),
                        text("Lag"),
                        text("Error"),
                    ]
                })
                .collect()
        }
        // No server: the catalog's record (no live figures).
        Err(_) => metastore
            .list_jobs()?
            .into_iter()
            .map(|j| {
                vec![
                    j.id,
                    one_line(&j.statement),
                    j.state,
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    j.error.unwrap_or_default(),
                ]
            })
            .collect(),
    };
    Ok(rows_output(JOB_COLUMNS, rows))
}

async fn stop_job(
    data_dir: &Path,
    metastore: &dyn nuage_catalog::Metastore,
    id: &str,
) -> Result<Output> {
    match connect(data_dir).await {
        Ok(mut server) => {
            call(&mut server, "StopJob", json!({ "JobId": id })).await?;
        }
        Err(_) => {
            // Nothing runs it now; it must not start with the next server.
            let mut job = metastore
                .list_jobs()?
                .into_iter()
                .find(|j| j.id == id)
                .ok_or_else(|| anyhow!("no job {id}: SHOW JOBS lists the jobs"))?;
            if job.state == nuage_flow::jobs::RUNNING {
                job.state = nuage_flow::jobs::STOPPED.into();
                job.updated_ms = chrono::Utc::now().timestamp_millis();
                metastore.save_job(&job)?;
            }
        }
    }
    Ok(Output::Done(Some(format!("Job {id} stopped"))))
}
