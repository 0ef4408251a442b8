//! In-process tests of the edge: the axum router of `nuage serve` on
//! 127.0.0.1:0 over a temporary data dir, driven by raw HTTP/1.1 and
//! HTTP/2 requests (no binary, no child process), for behaviour that needs
//! control a real SDK does not give, such as dropping a request mid-flight.

mod cancel;
mod request;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use nuage_server::{App, ServerConfig};

/// A server on a free port over its own data dir; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(ServerConfig::new(
            nuage_common::Config::default().with_data_dir(dir.path()),
        ))
        .await
        .unwrap();
        let listener = nuage_server::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(nuage_server::serve(listener, app.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            app,
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// An HTTP/2 connection (prior knowledge, as the SDKs use for
    /// SubscribeToShard); requests on it are separate streams.
    pub async fn h2(&self) -> http2::SendRequest<Full<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A complete but unsigned Authorization: what a server without access keys
/// needs (one with none at all is refused, as AWS refuses it).
pub const UNSIGNED_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";

/// A Kinesis JSON 1.1 request.
pub fn kinesis(operation: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    kinesis_text(operation, &body.to_string())
}

/// A Kinesis JSON 1.1 request with this body text, as sent.
pub fn kinesis_text(operation: &str, body: &str) -> Request<Full<Bytes>> {
    json_request(&format!("Kinesis_20131202.{operation}"), body)
}

/// A Firehose JSON 1.1 request.
pub fn firehose(operation: &str, body: serde_json::Value) -> Request<Full<Bytes>> {
    json_request(&format!("Firehose_20150804.{operation}"), &body.to_string())
}

/// An unsigned-but-complete JSON 1.1 call of `target`.
fn json_request(target: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post("http://127.0.0.1/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header("authorization", UNSIGNED_AUTHORIZATION)
        .header("x-amz-date", "20261122T000000Z")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Sends and returns (status, JSON body).
pub async fn call(
    sender: &mut http2::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> (u16, serde_json::Value) {
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}
