//! A small Kinesis/Firehose JSON client over one HTTP/1.1 connection (hyper),
//! for the `nuage stream` and `nuage firehose` commands and the load generators. With `AWS_ACCESS_KEY_ID`
//! and `AWS_SECRET_ACCESS_KEY` set, requests are SigV4-signed (for a server
//! started with `--access-keys`); otherwise they go unsigned, which nuage
//! accepts by default.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    credentials: Option<(Credentials, String)>,
    /// `X-Amz-Target` prefix and SigV4 service name.
    service: (&'static str, &'static str),
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
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Some((
                Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment"),
                var("AWS_REGION")
                    .or_else(|| var("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".into()),
            )),
            _ => None,
        };
        Ok(Self {
            sender,
            host,
            credentials,
            service: ("Kinesis_20131202", "kinesis"),
        })
    }

    /// The same connection speaking to Firehose instead of Kinesis.
    pub fn firehose(mut self) -> Self {
        self.service = ("Firehose_20150804", "firehose");
        self
    }

    /// One call with a ready body; the response body, or the AWS error as
    /// `Type: message`.
    pub async fn call(&mut self, operation: &str, body: Bytes) -> anyhow::Result<Bytes> {
        let target = format!("{}.{operation}", self.service.0);
        let mut request = Request::post("/")
            .header("host", &self.host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", &target);
        if let Some((credentials, region)) = &self.credentials {
            let identity: Identity = credentials.clone().into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(region)
                .name(self.service.1)
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()?
                .into();
            let headers = [
                ("host", self.host.as_str()),
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target.as_str()),
            ];
            let signable = SignableRequest::new(
                "POST",
                format!("http://{}/", self.host),
                headers.into_iter(),
                SignableBody::Bytes(&body),
            )?;
            let (instructions, _) = sign(signable, &params)?.into_parts();
            for (name, value) in instructions.headers() {
                request = request.header(name, value);
            }
        }
        let request = request.body(Full::new(body))?;
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
