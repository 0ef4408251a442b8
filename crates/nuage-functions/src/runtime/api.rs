//! The Lambda Runtime API (`/2018-06-01/runtime/...`) served to one
//! environment on its own 127.0.0.1 port: `AWS_LAMBDA_RUNTIME_API` is only
//! `host:port`, so a port per environment is how nuage knows who asks.
//!
//! An invocation handed to [`RuntimeApi::send`] waits in a one-slot queue
//! until the process asks for `invocation/next`; its `response` or
//! `error` (or an `init/error` before it) completes the returned receiver.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::lock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

/// The largest response a function may post; above Lambda's 6 MB so the
/// invoker can answer Function.ResponseSizeTooLarge itself.
const MAX_POST: usize = 16 * 1024 * 1024;

/// What the process is asked to handle.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub client_context: Option<String>,
}

/// How the process answered.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(Bytes),
    /// The handler failed: the error document it posted.
    Error(Bytes),
    /// The runtime could not start the handler (import error, missing
    /// handler).
    InitError(Bytes),
}

struct Shared {
    next: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The invocation being handled and where its outcome goes.
    waiting: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    /// An `init/error` posted before any invocation was handed over.
    init_error: Mutex<Option<Bytes>>,
}

pub(crate) struct RuntimeApi {
    pub addr: SocketAddr,
    queue: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub(crate) async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (queue, next) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            next: tokio::sync::Mutex::new(next),
            waiting: Mutex::new(None),
            init_error: Mutex::new(None),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|state, id, body| finish(state, id, body, Outcome::Response)),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|state, id, body| finish(state, id, body, Outcome::Error)),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .layer(DefaultBodyLimit::max(MAX_POST))
            .with_state(shared.clone());
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::debug!("runtime API: {e}");
            }
        });
        Ok(Self {
            addr,
            queue,
            shared,
            server,
        })
    }

    /// Hands `invocation` to the process; the receiver gets its outcome.
    pub(crate) fn send(&self, invocation: Invocation) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        if let Some(error) = lock(&self.shared.init_error).take() {
            let _ = tx.send(Outcome::InitError(error));
            return rx;
        }
        *lock(&self.shared.waiting) = Some((invocation.request_id.clone(), tx));
        // One invocation at a time per environment: the slot is free.
        if self.queue.try_send(invocation).is_err() {
            tracing::error!("runtime API: an environment was given two invocations");
        }
        rx
    }
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    let invocation = shared.next.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &invocation.deadline_ms.to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        &invocation.function_arn,
    );
    set(
        "lambda-runtime-trace-id",
        &format!(
            "Root=1-{:08x}-{}",
            invocation.deadline_ms / 1000,
            &invocation.request_id.replace('-', "")[..24]
        ),
    );
    if let Some(context) = &invocation.client_context {
        set("lambda-runtime-client-context", context);
    }
    set("content-type", "application/json");
    (headers, invocation.payload).into_response()
}

async fn finish(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
    outcome: fn(Bytes) -> Outcome,
) -> Response {
    let waiting = {
        let mut waiting = lock(&shared.waiting);
        match waiting.as_ref() {
            Some((current, _)) if *current == id => waiting.take(),
            _ => None,
        }
    };
    match waiting {
        Some((_, tx)) => {
            let _ = tx.send(outcome(body));
            accepted()
        }
        None => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            format!(
                r#"{{"errorMessage":"Invalid request ID: {id:?}","errorType":"InvalidRequestID"}}"#
            ),
        )
            .into_response(),
    }
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match lock(&shared.waiting).take() {
        Some((_, tx)) => {
            let _ = tx.send(Outcome::InitError(body));
        }
        None => *lock(&shared.init_error) = Some(body),
    }
    accepted()
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}
