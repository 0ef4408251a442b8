//! A small Kinesis/Firehose JSON client over one HTTP/1.1 connection (hyper),
//! for the `nuage stream`, `nuage firehose` and `nuage agent` commands and the
//! load generators. With `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` set,
//! requests are SigV4-signed (aws-sigv4, for a server started with
//! `--access-keys`); otherwise they carry a complete but unsigned
//! Authorization header, which a server without access keys accepts.
//!
//! Why not the AWS SDK (it is what the tests use): these commands speak JSON
//! as the aws CLI does, passing a user's JSON through (`--destination-json`)
//! and printing AWS's answers as they come (`nuage firehose describe`), which
//! the SDK's typed shapes would need re-encoded member by member; and the
//! load generators send pre-built bodies so that on a 2-core machine the
//! figures measure the server, not the client's serialisation. Plain http://
//! only: for an https endpoint, use the aws CLI or an SDK.

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

/// `host:port` of an `http://` endpoint (or of a bare `host:port`). This
/// client speaks plain HTTP only; an https endpoint is refused, not mangled.
fn host_of(endpoint: &str) -> anyhow::Result<String> {
    let with_scheme = if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        anyhow::anyhow!("endpoint {endpoint} is not a URL ({e}); write http://HOST:PORT")
    })?;
    if url.scheme() != "http" {
        anyhow::bail!(
            "endpoint {endpoint}: nuage's commands speak plain http:// to `nuage serve`; for an https endpoint use the aws CLI or an AWS SDK"
        );
    }
    let host = url.host_str().ok_or_else(|| {
        anyhow::anyhow!("endpoint {endpoint} has no host; write http://HOST:PORT")
    })?;
    Ok(format!(
        "{host}:{}",
        url.port_or_known_default().unwrap_or(80)
    ))
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    credentials: Option<(Credentials, String)>,
    /// `X-Amz-Target` prefix and SigV4 service name.
    service: (&'static str, &'static str),
}

impl Connection {
    pub async fn open(endpoint: &str) -> anyhow::Result<Self> {
        let host = host_of(endpoint)?;
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

    /// The same connection speaking to nuage's continuous-SQL service.
    pub fn flow(mut self) -> Self {
        self.service = (nuage_server::flow::SERVICE, "nuageflow");
        self
    }

    /// The same connection speaking to Kinesis Analytics.
    pub fn kinesis_analytics(mut self) -> Self {
        self.service = (nuage_server::kinesisanalytics::SERVICE, "kinesisanalytics");
        self
    }

    /// CreateStream, then waits until the stream is ACTIVE.
    pub async fn create_stream(&mut self, stream: &str, shards: u32) -> anyhow::Result<()> {
        self.json(
            "CreateStream",
            serde_json::json!({"StreamName": stream, "ShardCount": shards}),
        )
        .await?;
        loop {
            let summary = self
                .json(
                    "DescribeStreamSummary",
                    serde_json::json!({"StreamName": stream}),
                )
                .await?;
            if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// One call with a ready body; the response body, or the AWS error as
    /// `Type: message`.
    pub async fn call(&mut self, operation: &str, body: Bytes) -> anyhow::Result<Bytes> {
        let target = format!("{}.{operation}", self.service.0);
        let mut request = Request::post("/")
            .header("host", &self.host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", &target);
        if self.credentials.is_none() {
            // A complete-looking but unsigned Authorization: enough for a
            // server that verifies no signature (AWS and nuage refuse a
            // request that carries none at all).
            let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            request = request
                .header(
                    "authorization",
                    format!(
                        "AWS4-HMAC-SHA256 Credential=nuage/{}/us-east-1/{}/aws4_request, SignedHeaders=host;x-amz-date, Signature=unsigned",
                        &date[..8],
                        self.service.1
                    ),
                )
                .header("x-amz-date", date);
        }
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
        // An operation with nothing to say answers with an empty body.
        if bytes.is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn endpoints_name_a_host_and_port() {
        assert_eq!(host_of("http://127.0.0.1:4566/").unwrap(), "127.0.0.1:4566");
        assert_eq!(host_of("localhost:4566").unwrap(), "localhost:4566");
        assert_eq!(host_of("http://nuage.local").unwrap(), "nuage.local:80");
        let https = host_of("https://kinesis.example.com")
            .unwrap_err()
            .to_string();
        assert!(https.contains("plain http://"), "{https}");
    }
}
