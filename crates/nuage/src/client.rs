//! A small Kinesis JSON client over one HTTP/1.1 connection (hyper), for the
//! `nuage stream` commands and the load generator. Requests are unsigned:
//! nuage accepts them unless access keys are configured.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    pub async fn open(endpoint: &str) -> anyhow::Result<Self> {
        let host = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let stream = tokio::net::TcpStream::connect(&host).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot reach nuage at {endpoint} ({e}): is `nuage serve` running there?"
            )
        })?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self { sender, host })
    }

    /// One Kinesis call with a ready body; the response body, or the AWS
    /// error as `Type: message`.
    pub async fn call(&mut self, operation: &str, body: Bytes) -> anyhow::Result<Bytes> {
        let request = Request::post("/")
            .header("host", &self.host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
            .body(Full::new(body))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            let error: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match (error["__type"].as_str(), error["message"].as_str()) {
                (Some(kind), Some(message)) => anyhow::bail!("{kind}: {message}"),
                (Some(kind), None) => anyhow::bail!("{kind}"),
                _ => anyhow::bail!(
                    "{operation}: HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                ),
            }
        }
        Ok(body)
    }

    pub async fn json(&mut self, operation: &str, body: Value) -> anyhow::Result<Value> {
        let bytes = self.call(operation, Bytes::from(body.to_string())).await?;
        Ok(serde_json::from_slice(&bytes)?)
    }
}
