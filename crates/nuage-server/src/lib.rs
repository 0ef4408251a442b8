//! The one HTTP edge of nuage (`nuage serve`): AWS JSON 1.1 and CBOR requests
//! dispatched by `X-Amz-Target` to the services, the S3 REST API over the
//! embedded lake ([`s3`]; [`s3::is_s3`] tells the two apart), plus
//! `GET /health` and `GET /metrics` (Prometheus).
//!
//! Wire shapes live here and nowhere else; the domain crates
//! (`nuage-streams`, ...) know nothing of HTTP.

pub mod auth;
pub mod error;
pub mod firehose;
pub mod flow;
pub mod kinesis;
pub mod kinesisanalytics;
pub mod lambda;
pub mod metrics;
pub mod request;
pub mod s3;
pub mod shape;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use nuage_delivery::{Deliveries, DeliveriesConfig};
use nuage_streams::{Streams, StreamsConfig};
use tokio::net::TcpListener;

pub use error::{ErrorCode, ServerError};
pub use kinesis::Limits;
use metrics::Metrics;
use wire::ApiError;

/// Everything `nuage serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data dir and the lake that delivery streams write into.
    pub platform: nuage_common::Config,
    pub streams: StreamsConfig,
    pub deliveries: DeliveriesConfig,
    pub limits: Limits,
    /// With keys, requests must be SigV4-signed by one of them.
    pub keys: auth::Keys,
    pub functions: nuage_functions::FunctionsConfig,
    /// When S3 lifecycle rules are carried out, and how long their days are.
    pub lifecycle: s3::lifecycle::Schedule,
    /// How often S3 server access logs are delivered.
    pub access_log_every: Duration,
}

impl ServerConfig {
    /// The defaults of `nuage serve` over the platform's data dir: fsync
    /// durability, AWS's limits, no signature checks.
    pub fn new(platform: nuage_common::Config) -> Self {
        Self {
            streams: StreamsConfig::new(platform.data_dir.join("streams")),
            deliveries: DeliveriesConfig::new(platform.data_dir.join("firehose")),
            functions: nuage_functions::FunctionsConfig::new(platform.data_dir.join("functions")),
            platform,
            limits: Limits::default(),
            keys: auth::Keys::default(),
            lifecycle: s3::lifecycle::Schedule::default(),
            access_log_every: Duration::from_secs(60),
        }
    }
}

pub struct App {
    pub kinesis: kinesis::Kinesis,
    pub firehose: firehose::Firehose,
    /// `None` when the lake is a remote S3 service rather than the embedded one.
    pub s3: Option<s3::S3Api>,
    /// The embedded lake's bucket notifications (`None` with a remote S3).
    notifier: Option<s3::Notifier>,
    /// The embedded lake's lifecycle rules, carried out while serving.
    lifecycle: Option<s3::lifecycle::Lifecycle>,
    access_log_every: Duration,
    pub lambda: lambda::Lambda,
    pub flow: flow::FlowApi,
    pub kinesisanalytics: kinesisanalytics::KinesisAnalytics,
    data_dir: std::path::PathBuf,
    keys: auth::Keys,
    /// Set at shutdown, so long-lived replies (subscriptions) end.
    closing: tokio::sync::watch::Sender<bool>,
}

impl App {
    /// Opens the services over the data dir (recovering the stream logs,
    /// starting the delivery streams' flushers). Call it inside a tokio runtime.
    pub async fn open(config: ServerConfig) -> Result<Arc<Self>, ServerError> {
        let streams = Arc::new(Streams::open(config.streams)?);
        let lake = Arc::new(nuage_lake::Lake::new(&config.platform)?);
        let mut functions_config = config.functions.clone();
        if let Some((id, secret)) = config.keys.first() {
            functions_config.credentials = (id.to_string(), secret.to_string());
        }
        let functions = nuage_functions::Functions::open(functions_config, Some(streams.clone()))?;
        let (s3, notifier, lifecycle) = match &config.platform.s3 {
            Some(_) => (None, None, None),
            None => {
                let objects = nuage_lake::objects::Objects::open(lake.lake_dir())?;
                let notifier = s3::Notifier {
                    objects: objects.clone(),
                    region: Arc::from(config.functions.region.as_str()),
                    functions: functions.clone(),
                };
                let lifecycle = s3::lifecycle::Lifecycle {
                    objects: objects.clone(),
                    notifier: Some(notifier.clone()),
                    schedule: config.lifecycle,
                };
                let api = s3::S3Api::new(
                    objects,
                    config.functions.region.clone(),
                    &config.keys,
                    Some(notifier.clone()),
                    config.lifecycle.day,
                );
                (Some(api), Some(notifier), Some(lifecycle))
            }
        };
        // The catalog without creating the warehouse bucket: `nuage sql`
        // makes it with the first managed table (an S3 client of a fresh
        // data dir sees no bucket).
        let catalog = nuage_catalog::open_metastore(&config.platform)?;

        let services = nuage_delivery::Services {
            lake: lake.clone(),
            catalog: catalog.clone(),
            functions: config.platform.data_dir.join("functions"),
            invoker: Some(Arc::new(lambda::Invoker(functions.clone()))),
        };
        let deliveries = Arc::new(Deliveries::open(
            config.deliveries,
            services,
            Some(streams.clone()),
        )?);
        let flow_env = nuage_flow::Env {
            metastore: catalog.clone(),
            lake: lake.clone(),
            streams: streams.clone(),
            deliveries: Some(deliveries.clone()),
            functions: Some(Arc::new(lambda::Invoker(functions.clone()))),
        };
        let flow = nuage_flow::Flow::open(flow_env.clone(), &config.platform.data_dir)
            .map_err(|e| ServerError::Flow(e.to_string()))?;
        let applications =
            nuage_flow::kda::Applications::open(flow.clone(), flow_env, &config.platform.data_dir)
                .await
                .map_err(|e| ServerError::Flow(e.to_string()))?;
        let (closing, closing_rx) = tokio::sync::watch::channel(false);
        Ok(Arc::new(Self {
            kinesis: kinesis::Kinesis {
                streams: streams.clone(),
                limits: config.limits,
                metrics: Arc::new(Metrics::new()),
                subscriptions: Default::default(),
                closing: closing_rx,
            },
            firehose: firehose::Firehose {
                deliveries,
                streams,
            },
            s3,
            notifier,
            lifecycle,
            access_log_every: config.access_log_every,
            lambda: lambda::Lambda { functions, lake },
            flow: flow::FlowApi { flow },
            kinesisanalytics: kinesisanalytics::KinesisAnalytics { apps: applications },
            data_dir: config.platform.absolute_data_dir(),
            keys: config.keys,
            closing,
        }))
    }

    pub fn streams(&self) -> &Arc<Streams> {
        &self.kinesis.streams
    }
}

/// `<data-dir>/serve.json`: the endpoint of the server running there.
pub const SERVING_FILE: &str = "serve.json";

/// Requests can carry PutRecords of 10 MiB of data, base64-encoded.
const MAX_BODY: usize = 64 * 1024 * 1024;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                app.kinesis.metrics.render(&app.kinesis.streams)
            }),
        )
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
}

/// The services the edge serves, by `X-Amz-Target` prefix.
const SERVICES: request::Services = request::Services {
    known: &[
        ("Kinesis_20131202", kinesis::OPERATIONS),
        ("Firehose_20150804", firehose::OPERATIONS),
        (flow::SERVICE, flow::OPERATIONS),
        (kinesisanalytics::SERVICE, kinesisanalytics::OPERATIONS),
    ],
};

async fn handle(State(app): State<Arc<App>>, request: axum::extract::Request) -> Response {
    if let Some((id, path)) = lambda::url_target(request.uri(), request.headers()) {
        return function_url(app, &id, &path, request).await;
    }
    if lambda::is_lambda(request.uri(), request.headers()) {
        return handle_lambda(app, request).await;
    }
    if s3::is_s3(request.method(), request.uri(), request.headers()) {
        return match &app.s3 {
            Some(s3) => s3.call(request).await,
            None => s3::remote_lake(),
        };
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::new(
                ErrorCode::Serialization,
                format!("request bodies are limited to {MAX_BODY} bytes"),
            )
            .into_response(wire::Format::Json);
        }
    };
    handle_json(app, parts.method, parts.uri, parts.headers, body).await
}

/// A request for Lambda's REST API: signed like the JSON services.
async fn handle_lambda(app: Arc<App>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return lambda::LambdaError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                format!("Request must be smaller than {MAX_BODY} bytes"),
            )
            .into_response();
        }
    };
    if !parts.uri.path().starts_with("/_nuage/")
        && let Err(e) = app
            .keys
            .verify(&parts.method, &parts.uri, &parts.headers, &body)
    {
        return lambda::LambdaError::from(e).into_response();
    }
    let response = app
        .lambda
        .dispatch(&parts.method, &parts.uri, &parts.headers, body);
    match guarded(async { Ok(response.await) }).await {
        Ok(response) => response,
        Err(e) => lambda::LambdaError::from(e).into_response(),
    }
}

/// An HTTP request to a function URL (any method, any path).
async fn function_url(
    app: Arc<App>,
    id: &str,
    path: &str,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 6 * 1024 * 1024).await else {
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "function URL requests are limited to 6 MB",
        )
            .into_response();
    };
    // AWS_IAM URLs take SigV4-signed requests only (any signature when the
    // server has no access keys).
    let signed = parts.headers.contains_key("authorization")
        && app
            .keys
            .verify(&parts.method, &parts.uri, &parts.headers, &body)
            .is_ok();
    app.lambda.serve_url(id, path, &parts, body, signed).await
}

/// A request for the JSON services (Kinesis, Firehose).
async fn handle_json(
    app: Arc<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = match request::check(&SERVICES, &method, &uri, &headers, &body) {
        request::Verdict::Answer(answer) => answer,
        request::Verdict::Call(call) => {
            let started = std::time::Instant::now();
            let result = match app.keys.verify(&method, &uri, &headers, &body) {
                Err(e) => Err(e),
                Ok(()) => match call.service {
                    "Kinesis_20131202" => {
                        guarded(app.kinesis.dispatch(call.operation, call.format, body)).await
                    }
                    flow::SERVICE => {
                        guarded(app.flow.dispatch(call.operation, call.format, body)).await
                    }
                    kinesisanalytics::SERVICE => {
                        guarded(
                            app.kinesisanalytics
                                .dispatch(call.operation, call.format, body),
                        )
                        .await
                    }
                    _ => guarded(app.firehose.dispatch(call.operation, call.format, body)).await,
                },
            };
            let outcome = match &result {
                Ok(_) => "ok",
                Err(e) => e.code.as_str(),
            };
            app.kinesis
                .metrics
                .request(call.service, call.operation, outcome, started.elapsed());
            match result {
                Ok(response) => response,
                Err(e) => {
                    tracing::debug!(
                        "{}.{}: {} {}",
                        call.service,
                        call.operation,
                        e.code.as_str(),
                        e.message
                    );
                    e.into_response(call.format)
                }
            }
        }
    };
    request::add_headers(&method, &headers, &mut response);
    response
}

/// Runs one operation; a panic inside it (a bug) answers InternalFailure
/// for that request instead of taking the connection or the server down.
async fn guarded(
    operation: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Result<Response, ApiError> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(operation).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let message = nuage_common::panic_message(&*panic);
            tracing::error!("a request panicked: {message}");
            Err(ApiError::internal(format!(
                "internal error in nuage (please report it): {message}"
            )))
        }
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // Retention: drop expired segments once a minute.
    let streams = app.streams().clone();
    let retention = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let streams = streams.clone();
            let now = nuage_streams::streams::now_ms();
            match tokio::task::spawn_blocking(move || streams.enforce_retention(now)).await {
                Ok(Err(e)) => tracing::error!("retention: {e}"),
                Err(e) => tracing::error!("retention task: {e}"),
                Ok(Ok(_)) => {}
            }
        }
    });
    // Where `nuage sql` finds the server that runs this data dir's jobs.
    let serving = app.data_dir.join(SERVING_FILE);
    if let Ok(addr) = listener.local_addr() {
        app.lambda.functions.set_endpoint(format!("http://{addr}"));
        let note =
            serde_json::json!({ "endpoint": format!("http://{addr}"), "pid": std::process::id() });
        if let Err(e) = nuage_common::durable::write_file(&serving, note.to_string().as_bytes()) {
            tracing::warn!("{}: {e}", serving.display());
        }
    }
    // Objects other processes (and this one's SQL, jobs and Firehose)
    // wrote into buckets with notifications.
    let journal = app
        .notifier
        .clone()
        .map(|n| tokio::spawn(n.tail_journal(app.data_dir.clone())));
    let lifecycle = app.lifecycle.clone().map(|l| tokio::spawn(l.run()));
    let access_logs = app.s3.as_ref().map(|s3| {
        let deliveries = s3.access_logs.clone();
        tokio::spawn(deliveries.run(s3.objects().clone(), app.access_log_every))
    });
    let closing = app.closing.clone();
    let deliveries = app.firehose.deliveries.clone();
    let functions = app.lambda.functions.clone();
    let flow = app.flow.flow.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    // Responses streamed in several writes (S3 GETs) must not wait for
    // the client's delayed ACK (Nagle: 40 ms a request).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    // Each request knows its client's address (S3 bucket policies test
    // aws:SourceIp).
    let served = app.clone();
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await;
    retention.abort();
    if let Some(journal) = journal {
        journal.abort();
    }
    if let Some(lifecycle) = lifecycle {
        lifecycle.abort();
    }
    if let Some(access_logs) = access_logs {
        access_logs.abort();
    }
    // Lines of requests served since the last delivery.
    if let Some(s3) = &served.s3 {
        s3.access_logs.flush(s3.objects()).await;
    }
    // Every delivery stream writes what it has accepted before we exit,
    // and every event-source mapping finishes and checkpoints its batch.
    deliveries.shutdown().await;
    functions.stop_mappings().await;
    flow.shutdown().await;
    let _ = std::fs::remove_file(&serving);
    result.map_err(ServerError::Serve)
}

/// Binds `addr` (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}
