//! Asynchronous invocations (InvocationType Event): each one is written
//! durably to `<data-dir>/functions/<name>/events/` before the 202, then
//! run; a failure is retried (twice by default, after 1 and 2 minutes, as
//! Lambda does), and the outcome goes to the function's OnSuccess or
//! OnFailure destination in Lambda's record shape. Queued invocations
//! survive a restart, with the attempts they already made.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Functions;
use crate::destinations::Destination;
use crate::error::{FunctionError, Result};
use crate::invoke::{InvokeOutcome, InvokeRequest};

/// PutFunctionEventInvokeConfig's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified: String,
}

/// One queued invocation as kept on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Queued {
    request_id: String,
    qualifier: Option<String>,
    payload: String,
    client_context: Option<String>,
    enqueued_ms: i64,
    attempts: u32,
}

impl Functions {
    /// Queues an invocation; returns its request id and the version it runs.
    pub async fn invoke_event(
        self: &Arc<Self>,
        request: InvokeRequest,
    ) -> Result<(String, String)> {
        let (config, _) = self.resolve(&request.name, request.qualifier.as_deref())?;
        let queued = Queued {
            request_id: uuid::Uuid::new_v4().to_string(),
            qualifier: request.qualifier,
            payload: String::from_utf8_lossy(&request.payload).into_owned(),
            client_context: request.client_context,
            enqueued_ms: chrono::Utc::now().timestamp_millis(),
            attempts: 0,
        };
        let dir = self.config.dir.join(&request.name).join("events");
        let path = dir.join(format!(
            "{:013}-{}.json",
            queued.enqueued_ms, queued.request_id
        ));
        let written = queued.clone();
        let target = path.clone();
        tokio::task::spawn_blocking(move || save(&target, &written))
            .await
            .expect("saving an event does not panic")?;
        let request_id = queued.request_id.clone();
        tokio::spawn(self.clone().run_queued(request.name, path, queued));
        Ok((request_id, config.version))
    }

    /// Starts the queued invocations left by the previous run.
    pub(crate) fn resume_events(self: &Arc<Self>) {
        let names: Vec<String> = self.read().keys().cloned().collect();
        for name in names {
            let dir = self.config.dir.join(&name).join("events");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
            {
                match std::fs::read(&path).map(|b| serde_json::from_slice::<Queued>(&b)) {
                    Ok(Ok(queued)) => {
                        tokio::spawn(self.clone().run_queued(name.clone(), path, queued));
                    }
                    _ => tracing::warn!("{}: not a queued invocation, left alone", path.display()),
                }
            }
        }
    }

    /// Runs one queued invocation to its end (boxed: its destination may
    /// queue another invocation, which runs this again).
    fn run_queued(
        self: Arc<Self>,
        name: String,
        path: PathBuf,
        queued: Queued,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.run_queued_inner(name, path, queued))
    }

    async fn run_queued_inner(self: Arc<Self>, name: String, path: PathBuf, mut queued: Queued) {
        let settings = self
            .read()
            .get(&name)
            .and_then(|f| f.event_invoke.clone())
            .unwrap_or_default();
        let max_retries = settings.maximum_retry_attempts.unwrap_or(2);
        let max_age_ms = i64::from(settings.maximum_event_age_seconds.unwrap_or(21_600)) * 1000;
        let mut last: Option<InvokeOutcome> = None;
        let condition = loop {
            if chrono::Utc::now().timestamp_millis() - queued.enqueued_ms > max_age_ms {
                break "EventAgeExceeded";
            }
            let request = InvokeRequest {
                name: name.clone(),
                qualifier: queued.qualifier.clone(),
                payload: Bytes::from(queued.payload.clone()),
                client_context: queued.client_context.clone(),
            };
            match self.invoke_as(request, &queued.request_id).await {
                Ok(outcome) if !outcome.function_error => {
                    queued.attempts += 1;
                    last = Some(outcome);
                    break "Success";
                }
                Ok(outcome) => {
                    queued.attempts += 1;
                    last = Some(outcome);
                }
                Err(FunctionError::Throttled { .. }) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(FunctionError::NotFound(_)) => {
                    // The function (or the version) is gone, and its queue with it.
                    let _ = std::fs::remove_file(&path);
                    return;
                }
                Err(e) => {
                    tracing::warn!("queued invocation {} of {name}: {e}", queued.request_id);
                    queued.attempts += 1;
                }
            }
            if queued.attempts > max_retries {
                break "RetriesExhausted";
            }
            let delay = self.retry_delay(queued.attempts);
            if let Err(e) = save(&path, &queued) {
                tracing::warn!("{e}");
            }
            tokio::time::sleep(delay).await;
        };
        let destination = match condition {
            "Success" => settings.on_success,
            _ => settings.on_failure,
        };
        if let Some(arn) = destination {
            match Destination::parse(&arn) {
                Ok(destination) => {
                    let record = self.destination_record(&name, &queued, condition, last.as_ref());
                    self.deliver(&destination, &record).await;
                }
                Err(e) => tracing::warn!("{name}: {e}"),
            }
        } else if condition != "Success" {
            tracing::warn!(
                "queued invocation {} of {name} dropped ({condition}) after {} attempts; \
                 give the function an OnFailure destination to keep such events",
                queued.request_id,
                queued.attempts
            );
        }
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("{}: {e}", path.display());
        }
    }

    fn retry_delay(&self, attempts: u32) -> Duration {
        let delays = &self.config.retry_delays;
        let at = (attempts as usize)
            .saturating_sub(1)
            .min(delays.len().saturating_sub(1));
        delays.get(at).copied().unwrap_or(Duration::from_secs(60))
    }

    /// Lambda's destination record for an asynchronous invocation.
    fn destination_record(
        &self,
        name: &str,
        queued: &Queued,
        condition: &str,
        last: Option<&InvokeOutcome>,
    ) -> Value {
        let payload = |bytes: &[u8]| {
            serde_json::from_slice::<Value>(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        };
        let version = last.map_or("$LATEST", |o| o.executed_version.as_str());
        let mut record = json!({
            "version": "1.0",
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "requestContext": {
                "requestId": queued.request_id,
                "functionArn": self.arn(name, Some(version)),
                "condition": condition,
                "approximateInvokeCount": queued.attempts,
            },
            "requestPayload": payload(queued.payload.as_bytes()),
        });
        if let Some(outcome) = last {
            let mut context = json!({ "statusCode": 200, "executedVersion": version });
            if outcome.function_error {
                context["functionError"] = "Unhandled".into();
            }
            record["responseContext"] = context;
            record["responsePayload"] = payload(&outcome.payload);
        }
        record
    }
}

fn save(path: &Path, queued: &Queued) -> Result<()> {
    let dir = path.parent().expect("an events folder");
    std::fs::create_dir_all(dir).map_err(FunctionError::io("cannot create", dir))?;
    let bytes = serde_json::to_vec(queued).expect("a queued invocation serializes");
    nuage_common::durable::write_file(path, &bytes).map_err(FunctionError::io("cannot write", path))
}
