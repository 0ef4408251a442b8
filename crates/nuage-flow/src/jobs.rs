//! [`Flow`]: the jobs of a data dir, run by the server that owns its
//! streams. A job is a row of the catalog's `jobs` table (statement and
//! state) plus its checkpoint under `<data-dir>/flow/<job>/`; jobs that
//! were RUNNING when the server stopped (or died) run again when it starts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use nuage_catalog::Job as JobRecord;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{FlowError, Result};
use crate::job::{Env, Job, Metrics};
use crate::plan;

pub const RUNNING: &str = "RUNNING";
pub const STOPPED: &str = "STOPPED";
pub const FAILED: &str = "FAILED";

/// A job as SHOW JOBS lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub id: String,
    pub statement: String,
    pub state: String,
    pub error: Option<String>,
    pub events_in: u64,
    pub events_out: u64,
    pub late: u64,
    /// The job's watermark, milliseconds since the epoch.
    pub watermark_ms: Option<i64>,
    /// Records in the source not read yet.
    pub lag: u64,
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    metrics: Arc<Metrics>,
}

pub struct Flow {
    env: Env,
    dir: PathBuf,
    running: Mutex<HashMap<String, Running>>,
    /// Why jobs failed, by id (also those not in the catalog).
    errors: Mutex<HashMap<String, String>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Flow {
    /// The jobs of `data_dir`; the ones left RUNNING start again.
    pub fn open(env: Env, data_dir: &std::path::Path) -> Result<Arc<Flow>> {
        let flow = Arc::new(Flow {
            env,
            dir: data_dir.join("flow"),
            running: Mutex::new(HashMap::new()),
            errors: Mutex::new(HashMap::new()),
        });
        for job in flow.env.metastore.list_jobs()? {
            if job.state == RUNNING {
                match plan::plan(flow.env.metastore.as_ref(), &job.database, &job.statement) {
                    Ok(Some(plan)) => flow.spawn(&job.id, plan),
                    Ok(None) => flow.fail(&job.id, "the statement no longer reads a stream table"),
                    Err(e) => flow.fail(&job.id, &e.to_string()),
                }
            }
        }
        Ok(flow)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Plans `statement` and starts it; returns the job id. Errors when the
    /// statement is not a continuous one.
    pub fn start(self: &Arc<Self>, database: &str, statement: &str) -> Result<String> {
        let plan =
            plan::plan(self.env.metastore.as_ref(), database, statement)?.ok_or_else(|| {
                FlowError::Invalid(
                "this statement reads no stream table: run it as a batch statement in `nuage sql`"
                    .into(),
            )
            })?;
        // Fail now on what would fail the job at once.
        crate::source::Decoder::new(&plan.source)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = now_ms();
        self.env.metastore.save_job(&JobRecord {
            id: id.clone(),
            database: database.to_string(),
            statement: statement.trim().trim_end_matches(';').to_string(),
            state: RUNNING.into(),
            error: None,
            created_ms: now,
            updated_ms: now,
        })?;
        self.spawn(&id, plan);
        Ok(id)
    }

    fn spawn(self: &Arc<Self>, id: &str, plan: plan::JobPlan) {
        let metrics = Arc::new(Metrics::default());
        metrics.watermark.store(i64::MIN, Ordering::Relaxed);
        let (stop, stopped) = watch::channel(false);
        let job = Job {
            id: id.to_string(),
            plan,
            env: self.env.clone(),
            dir: self.dir.join(id),
            metrics: metrics.clone(),
        };
        let flow = Arc::downgrade(self);
        let job_id = id.to_string();
        let task = tokio::spawn(async move {
            use futures::FutureExt;
            // A bug (a panic) fails the job, not the server.
            let outcome = match std::panic::AssertUnwindSafe(job.run(stopped))
                .catch_unwind()
                .await
            {
                Ok(outcome) => outcome,
                Err(panic) => Err(FlowError::Invalid(format!(
                    "internal error in nuage (please report it): {}",
                    nuage_common::panic_message(&*panic)
                ))),
            };
            if let (Err(e), Some(flow)) = (outcome, flow.upgrade()) {
                tracing::error!("job {job_id} failed: {e}");
                flow.fail(&job_id, &e.to_string());
            }
        });
        self.lock().insert(
            id.to_string(),
            Running {
                stop,
                task,
                metrics,
            },
        );
    }

    fn fail(&self, id: &str, error: &str) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), error.to_string());
        if let Some(mut job) = self.record(id) {
            job.state = FAILED.into();
            job.error = Some(error.to_string());
            job.updated_ms = now_ms();
            if let Err(e) = self.env.metastore.save_job(&job) {
                tracing::error!("job {id}: cannot record its failure: {e}");
            }
        }
    }

    fn record(&self, id: &str) -> Option<JobRecord> {
        self.env
            .metastore
            .list_jobs()
            .ok()?
            .into_iter()
            .find(|j| j.id == id)
    }

    /// STOP JOB: the job finishes its current step, saves its checkpoint
    /// and is STOPPED (it does not start again with the server).
    pub async fn stop(&self, id: &str) -> Result<()> {
        let mut job = self
            .record(id)
            .ok_or_else(|| FlowError::NoSuchJob(id.to_string()))?;
        // STOPPED first: a caller that goes away while the job finishes
        // its step must not leave it RUNNING for the next server start.
        if job.state == RUNNING {
            job.state = STOPPED.into();
            job.updated_ms = now_ms();
            self.env.metastore.save_job(&job)?;
        }
        let running = self.lock().remove(id);
        if let Some(running) = running {
            let _ = running.stop.send(true);
            let _ = running.task.await;
        }
        Ok(())
    }

    /// Every job with its figures (live ones from the running job).
    pub fn list(&self) -> Result<Vec<JobStatus>> {
        let running = self.lock();
        Ok(self
            .env
            .metastore
            .list_jobs()?
            .into_iter()
            .map(|job| {
                let metrics = running.get(&job.id).map(|r| r.metrics.clone());
                let load = |f: fn(&Metrics) -> u64| metrics.as_deref().map(f).unwrap_or(0);
                JobStatus {
                    events_in: load(|m| m.events_in.load(Ordering::Relaxed)),
                    events_out: load(|m| m.events_out.load(Ordering::Relaxed)),
                    late: load(|m| m.late.load(Ordering::Relaxed)),
                    lag: load(|m| m.lag.load(Ordering::Relaxed)),
                    watermark_ms: metrics
                        .as_ref()
                        .map(|m| m.watermark.load(Ordering::Relaxed))
                        .filter(|w| *w != i64::MIN)
                        .map(|w| w / 1_000_000),
                    id: job.id,
                    statement: job.statement,
                    state: job.state,
                    error: job.error,
                }
            })
            .collect())
    }

    /// The streaming plan of a statement (EXPLAIN), without starting it.
    pub fn explain(&self, database: &str, statement: &str) -> Result<Option<String>> {
        Ok(plan::plan(self.env.metastore.as_ref(), database, statement)?.map(|p| p.explain()))
    }

    /// Runs a plan kept outside the catalog (a Kinesis Analytics pump,
    /// which its application starts again with the server).
    pub fn run_plan(self: &Arc<Self>, id: &str, plan: plan::JobPlan) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.spawn(id, plan);
    }

    /// Stops a job started by [`Flow::run_plan`], after its checkpoint.
    pub async fn halt(&self, id: &str) {
        let running = self.lock().remove(id);
        if let Some(running) = running {
            let _ = running.stop.send(true);
            let _ = running.task.await;
        }
    }

    /// Forgets a job's position: it starts afresh next time.
    pub fn reset(&self, id: &str) -> Result<()> {
        match std::fs::remove_dir_all(self.dir.join(id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Why a job failed, if it did.
    pub fn error(&self, id: &str) -> Option<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Server shutdown: every job saves its checkpoint and stays RUNNING in
    /// the catalog, to resume at the next start.
    pub async fn shutdown(&self) {
        let running: Vec<Running> = self.lock().drain().map(|(_, r)| r).collect();
        for r in running {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }
}
