//! Invoke: a warm environment of the function's configuration (or a new
//! one), one invocation through the Runtime API, the result in Lambda's
//! shape (a handler's error document, `Sandbox.Timedout`,
//! `Runtime.ExitError`), and the invocation's block in the function's log.

use std::sync::{Arc, Mutex};

use crate::lock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Functions;
use crate::env::{Ended, Environment, Run, Spec};
use crate::error::{FunctionError, Result};
use crate::logs::{self, Report};
use crate::runtime::api::{Invocation, Outcome};
use crate::runtime::{self, Runtime};
use crate::store::{self, Config};

/// The largest response Lambda returns from a synchronous invocation.
pub const MAX_RESPONSE: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub name: String,
    pub qualifier: Option<String>,
    pub payload: Bytes,
    /// ClientContext as given (base64 JSON), for the handler's context.
    pub client_context: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    pub request_id: String,
    pub payload: Bytes,
    /// The handler or its runtime failed (`X-Amz-Function-Error: Unhandled`).
    pub function_error: bool,
    /// This invocation's block of the log (START ... REPORT).
    pub log: String,
    pub executed_version: String,
}

impl InvokeOutcome {
    /// `LogType: Tail`: the last 4 KB of the log block.
    pub fn log_tail(&self) -> &str {
        logs::tail(&self.log)
    }
}

/// The environments of one function.
pub(crate) struct Pool {
    /// Warm environments by the configuration they run
    /// (`version:revision`).
    idle: Mutex<Vec<(String, Environment)>>,
    permits: Arc<Semaphore>,
    reserved: bool,
}

impl Pool {
    fn new(reserved: Option<u32>, max: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(reserved.map_or(max, |r| r as usize))),
            reserved: reserved.is_some(),
        }
    }

    /// A slot to run in: with reserved concurrency a full function is
    /// throttled, as Lambda does; otherwise the invocation waits.
    async fn permit(&self) -> Result<OwnedSemaphorePermit> {
        if self.reserved {
            return self.permits.clone().try_acquire_owned().map_err(|_| {
                FunctionError::Throttled {
                    reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                }
            });
        }
        Ok(self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed"))
    }

    fn take(&self, key: &str) -> Option<Environment> {
        let mut idle = lock(&self.idle);
        let at = idle.iter().rposition(|(k, _)| k == key)?;
        Some(idle.swap_remove(at).1)
    }
}

impl Functions {
    /// Invoke with RequestResponse: runs the function and waits for it.
    pub async fn invoke(&self, request: InvokeRequest) -> Result<InvokeOutcome> {
        self.invoke_as(request, &uuid::Uuid::new_v4().to_string())
            .await
    }

    /// Invoke under a given request id (a queued invocation keeps its id
    /// through its retries).
    pub(crate) async fn invoke_as(
        &self,
        request: InvokeRequest,
        request_id: &str,
    ) -> Result<InvokeOutcome> {
        let name = request.name.as_str();
        let (config, reserved) = self.resolve(name, request.qualifier.as_deref())?;
        let runtime = Runtime::parse(&config.runtime)?;
        let code = self.store.code_dir(name, &config.code_sha256);
        let launch = runtime::launch(&runtime, &code, &store::runtime_dir(&self.config.dir))?;
        let pool = self.pool(name, reserved);
        let _permit = pool.permit().await?;

        let request_id = request_id.to_string();
        let started = Instant::now();
        let timeout = Duration::from_secs(config.timeout.into());
        let key = format!("{}:{}", config.version, config.revision_id);
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: request.payload,
            deadline_ms: (chrono::Utc::now().timestamp_millis() as u64)
                + timeout.as_millis() as u64,
            function_arn: self.arn(name, request.qualifier.as_deref()),
            client_context: request.client_context,
        };
        let environment = match pool.take(&key) {
            Some(environment) => Ok(environment),
            None => {
                let spec = Spec {
                    launch,
                    code: code.clone(),
                    vars: self.variables(&config, &code),
                    marks_output: runtime.marks_output(),
                };
                Environment::start(&spec).await
            }
        };
        let (run, environment) = match environment {
            Ok(mut environment) => (
                environment.invoke(invocation, timeout).await,
                Some(environment),
            ),
            Err(e) => (cannot_start(&runtime, &code, e), None),
        };
        let (payload, function_error, status, notice) = answer(&request_id, &config, run.ended);
        if let Some(mut environment) = environment
            && status.is_none()
            && environment.alive()
        {
            lock(&pool.idle).push((key, environment));
        }
        let block = logs::block(
            &run.output,
            &Report {
                request_id: &request_id,
                version: &config.version,
                duration: started.elapsed(),
                memory_size: config.memory_size,
                max_memory_mb: run.max_memory_mb,
                init: run.init,
                status,
                notice,
            },
        );
        self.logs.append(&self.store.log_path(name), &block);
        Ok(InvokeOutcome {
            request_id,
            payload,
            function_error,
            log: block,
            executed_version: config.version,
        })
    }

    /// Lambda's environment variables, the function's own, and where
    /// nuage's services are.
    fn variables(&self, config: &Config, code: &std::path::Path) -> Vec<(String, String)> {
        let endpoint = self
            .endpoint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (key_id, secret) = &self.config.credentials;
        let stream = format!(
            "{}/[{}]{}",
            chrono::Utc::now().format("%Y/%m/%d"),
            config.version,
            uuid::Uuid::new_v4().simple()
        );
        let mut vars: Vec<(String, String)> = [
            ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", config.version.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                config.memory_size.to_string(),
            ),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", self.config.region.clone()),
            ("AWS_DEFAULT_REGION", self.config.region.clone()),
            (
                "AWS_EXECUTION_ENV",
                format!("AWS_Lambda_{}", config.runtime),
            ),
            ("AWS_ACCESS_KEY_ID", key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", secret.clone()),
            ("_HANDLER", config.handler.clone()),
            ("LAMBDA_TASK_ROOT", code.display().to_string()),
            (
                "LAMBDA_RUNTIME_DIR",
                store::runtime_dir(&self.config.dir).display().to_string(),
            ),
            ("TZ", ":UTC".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if !endpoint.is_empty() {
            vars.push(("AWS_ENDPOINT_URL".into(), endpoint));
        }
        // MemorySize as V8's heap limit (Python's is set by its bootstrap).
        if config.runtime.starts_with("nodejs") {
            vars.push((
                "NODE_OPTIONS".into(),
                format!("--max-old-space-size={}", config.memory_size),
            ));
        }
        if !config.layers.is_empty() {
            match self.store.layers().opt_dir(&config.layers) {
                Ok(opt) => vars.extend(crate::layers::environment(&opt, &config.runtime)),
                Err(e) => tracing::warn!("function {}: its layers are missing: {e}", config.name),
            }
        }
        vars.extend(config.environment.clone());
        vars
    }

    pub(crate) fn pool(&self, name: &str, reserved: Option<u32>) -> Arc<Pool> {
        lock(&self.pools)
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Pool::new(reserved, self.config.max_environments)))
            .clone()
    }

    /// Stops reusing a function's warm environments (its code or
    /// configuration changed, or it was deleted).
    pub(crate) fn drop_environments(&self, name: &str) {
        let pool = lock(&self.pools).get(name).cloned();
        if let Some(pool) = pool {
            lock(&pool.idle).clear();
        }
    }

    /// Forgets a function's pool (its concurrency changed).
    pub(crate) fn drop_pool(&self, name: &str) {
        lock(&self.pools).remove(name);
    }

    /// Ends environments idle past the idle timeout.
    pub(crate) fn reap_idle(&self) {
        let pools: Vec<Arc<Pool>> = lock(&self.pools).values().cloned().collect();
        for pool in pools {
            lock(&pool.idle).retain(|(_, e)| e.last_used.elapsed() < self.config.idle_timeout);
        }
    }
}

/// The payload, whether it is an error, and the REPORT status and notice.
fn answer(
    request_id: &str,
    config: &Config,
    ended: Ended,
) -> (Bytes, bool, Option<&'static str>, Option<String>) {
    let error = |kind: &str, message: String| {
        Bytes::from(serde_json::json!({ "errorType": kind, "errorMessage": message }).to_string())
    };
    match ended {
        Ended::Answered(Outcome::Response(body)) if body.len() > MAX_RESPONSE => (
            error(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size ({} bytes) exceeded maximum allowed payload size \
                     ({MAX_RESPONSE} bytes).",
                    body.len()
                ),
            ),
            true,
            None,
            None,
        ),
        Ended::Answered(Outcome::Response(body)) => (body, false, None, None),
        Ended::Answered(Outcome::Error(body)) => (body, true, None, None),
        Ended::Answered(Outcome::InitError(body)) => (body, true, Some("error"), None),
        Ended::TimedOut => {
            let message = format!("Task timed out after {}.00 seconds", config.timeout);
            let notice = format!(
                "{} {request_id} {message}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
            );
            (
                error(
                    "Sandbox.Timedout",
                    format!("RequestId: {request_id} Error: {message}"),
                ),
                true,
                Some("timeout"),
                Some(notice),
            )
        }
        Ended::Exited(how) => (
            error(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {how}"),
            ),
            true,
            Some("error"),
            None,
        ),
    }
}

/// An environment that could not start, as Lambda reports a runtime that
/// cannot begin (a `provided` zip without a runnable `bootstrap`).
fn cannot_start(runtime: &Runtime, code: &std::path::Path, e: std::io::Error) -> Run {
    let bootstrap = code.join("bootstrap");
    let message = match (runtime, e.kind()) {
        (Runtime::Provided, std::io::ErrorKind::NotFound) => format!(
            "Couldn't find valid bootstrap(s): [{}]: a provided runtime runs the executable \
             file named bootstrap at the root of the zip",
            bootstrap.display()
        ),
        (Runtime::Provided, std::io::ErrorKind::PermissionDenied) => format!(
            "fork/exec {}: permission denied: make bootstrap executable (chmod +x) before zipping",
            bootstrap.display()
        ),
        _ => format!("the runtime could not start: {e}"),
    };
    let body = serde_json::json!({
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": message,
    });
    Run {
        ended: Ended::Answered(Outcome::InitError(Bytes::from(body.to_string()))),
        output: Vec::new(),
        max_memory_mb: 0,
        init: None,
    }
}
