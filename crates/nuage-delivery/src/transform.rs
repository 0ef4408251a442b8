//! The Lambda processor: records go to a user function in Firehose's event
//! shape and come back transformed, dropped or failed.
//!
//! `LambdaArn` names what to call:
//! - `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`:
//!   that function of nuage's Lambda service (created with CreateFunction),
//!   invoked through [`Invoker`]; an executable file
//!   `<data-dir>/functions/<name>` (nuage's convention before it had
//!   Lambda) is still run as a command;
//! - `http://host:port/path`: an HTTP endpoint, POSTed the event;
//! - `exec:<program> [args...]`: a local command.
//!
//! Commands get the event on stdin and answer on stdout. The event is
//! `{invocationId, deliveryStreamArn, region, records: [{recordId,
//! approximateArrivalTimestamp, data}]}`, the reply `{records: [{recordId,
//! result: Ok|Dropped|ProcessingFailed, data}]}`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use nuage_streams::Record;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::config::Processor;
use crate::delivery::Services;
use crate::error::{DeliveryError, Result};

/// Runs a function of nuage's Lambda service: the event in, the
/// function's answer out (its error document as the error).
pub trait Invoker: Send + Sync {
    fn invoke<'a>(
        &'a self,
        name: &'a str,
        qualifier: Option<&'a str>,
        payload: Bytes,
    ) -> std::pin::Pin<Box<dyn Future<Output = std::result::Result<Bytes, String>> + Send + 'a>>;
}

/// What a LambdaArn resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// A Lambda ARN's function and qualifier.
    Lambda(String, Option<String>),
    Command {
        program: PathBuf,
        args: Vec<String>,
    },
    Http(String),
}

/// The Lambda processor of a destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub arn: String,
    pub function: Function,
    /// NumberOfRetries (default 3): further invocations after a failed one.
    pub retries: u32,
    /// BufferSizeInMBs (default 1): records per invocation, by size.
    pub batch_bytes: usize,
}

impl Transform {
    /// Reads a `Lambda` processor.
    pub fn parse(processor: &Processor) -> Result<Transform> {
        let invalid = |m: String| DeliveryError::InvalidArgument(m);
        let param = |name: &str| {
            processor
                .parameters
                .iter()
                .find(|p| p.parameter_name == name)
                .map(|p| p.parameter_value.as_str())
        };
        let arn = param("LambdaArn")
            .ok_or_else(|| invalid("the Lambda processor needs a LambdaArn parameter".into()))?;
        let retries = match param("NumberOfRetries") {
            None => 3,
            Some(n) => n.parse::<u32>().ok().filter(|n| *n <= 300).ok_or_else(|| {
                invalid(format!("NumberOfRetries {n} is not a number from 0 to 300"))
            })?,
        };
        let batch_mb = match param("BufferSizeInMBs") {
            None => 1.0,
            Some(n) => n
                .parse::<f64>()
                .ok()
                .filter(|n| (0.2..=3.0).contains(n))
                .ok_or_else(|| {
                    invalid(format!("BufferSizeInMBs {n} is not a number from 0.2 to 3"))
                })?,
        };
        let function = if arn.starts_with("http://") {
            Function::Http(arn.to_string())
        } else if let Some(command) = arn.strip_prefix("exec:") {
            let mut words = command.split_whitespace().map(str::to_string);
            let program = words.next().ok_or_else(|| {
                invalid(
                    "LambdaArn exec: needs a program, like exec:/usr/local/bin/transform".into(),
                )
            })?;
            Function::Command {
                program: PathBuf::from(program),
                args: words.collect(),
            }
        } else if arn.starts_with("arn:") && arn.contains(":lambda:") {
            let rest = arn.split(":function:").nth(1).unwrap_or("");
            let mut parts = rest.split(':');
            let name = parts
                .next()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid(format!("LambdaArn {arn} names no function")))?;
            Function::Lambda(name.to_string(), parts.next().map(str::to_string))
        } else {
            return Err(invalid(format!(
                "LambdaArn {arn}: nuage calls a Lambda function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), an http:// URL, or exec:<program> [args]"
            )));
        };
        Ok(Transform {
            arn: arn.to_string(),
            function,
            retries,
            batch_bytes: (batch_mb * 1024.0 * 1024.0) as usize,
        })
    }

    /// Transforms `records`: the ones kept (with their new data, in order)
    /// and the ones that failed, with the error code and message for their
    /// error document.
    pub async fn apply(
        &self,
        services: &Services,
        stream_arn: &str,
        records: &[Record],
    ) -> (Vec<Record>, Vec<(Record, &'static str, String)>) {
        let (mut kept, mut failed) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < records.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < records.len()
                && (end == start || bytes + records[end].data.len() <= self.batch_bytes)
            {
                bytes += records[end].data.len();
                end += 1;
            }
            let batch = &records[start..end];
            match self.invoke_with_retries(services, stream_arn, batch).await {
                Ok(replies) => {
                    for record in batch {
                        match replies.get(&record.number.to_string()) {
                            Some(Reply { result, data }) if result == "Ok" => {
                                let mut out = record.clone();
                                out.data = data.clone();
                                kept.push(out);
                            }
                            Some(Reply { result, .. }) if result == "Dropped" => {}
                            Some(Reply { result, .. }) if result == "ProcessingFailed" => failed.push((
                                record.clone(),
                                "Lambda.ProcessingFailedStatus",
                                "ProcessingFailed status set for record".to_string(),
                            )),
                            Some(Reply { result, .. }) => failed.push((
                                record.clone(),
                                "Lambda.InvalidResult",
                                format!("the function answered result {result:?}; it must be Ok, Dropped or ProcessingFailed"),
                            )),
                            None => failed.push((
                                record.clone(),
                                "Lambda.MissingRecordId",
                                "the function's reply has no record with this recordId".to_string(),
                            )),
                        }
                    }
                }
                Err(why) => failed.extend(
                    batch
                        .iter()
                        .map(|r| (r.clone(), "Lambda.FunctionError", why.clone())),
                ),
            }
            start = end;
        }
        (kept, failed)
    }

    async fn invoke_with_retries(
        &self,
        services: &Services,
        stream_arn: &str,
        records: &[Record],
    ) -> std::result::Result<HashMap<String, Reply>, String> {
        let event = json!({
            "invocationId": format!("{}-{}", records[0].number, records.len()),
            "deliveryStreamArn": stream_arn,
            "region": stream_arn.split(':').nth(3).unwrap_or("us-east-1"),
            "records": records.iter().map(|r| json!({
                "recordId": r.number.to_string(),
                "approximateArrivalTimestamp": r.arrival_ms,
                "data": STANDARD.encode(&r.data),
            })).collect::<Vec<_>>(),
        })
        .to_string();
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            match self.invoke(services, &event).await {
                Ok(replies) => return Ok(replies),
                Err(why) if attempt >= self.retries => {
                    return Err(format!(
                        "{} failed after {} attempt(s): {why}",
                        self.arn,
                        attempt + 1
                    ));
                }
                Err(why) => {
                    tracing::warn!("transform {}: {why}; retrying in {backoff:?}", self.arn);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    attempt += 1;
                }
            }
        }
    }

    /// One invocation: the replies by recordId.
    async fn invoke(
        &self,
        services: &Services,
        event: &str,
    ) -> std::result::Result<HashMap<String, Reply>, String> {
        let output = match &self.function {
            Function::Http(url) => post(url, event).await?,
            Function::Command { program, args } => run(program, args, event).await?,
            Function::Lambda(name, qualifier) => {
                // nuage's older convention: an executable file of that name.
                let program = services.functions.join(name);
                if program.is_file() {
                    run(&program, &[], event).await?
                } else if let Some(invoker) = &services.invoker {
                    let payload = Bytes::from(event.to_string());
                    invoker
                        .invoke(name, qualifier.as_deref(), payload)
                        .await?
                        .to_vec()
                } else {
                    return Err(format!(
                        "no function {name}: create it with Lambda's CreateFunction on nuage serve"
                    ));
                }
            }
        };
        #[derive(Deserialize)]
        struct Answer {
            records: Vec<AnswerRecord>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct AnswerRecord {
            record_id: String,
            result: String,
            #[serde(default)]
            data: Option<String>,
        }
        let answer: Answer = serde_json::from_slice(&output).map_err(|e| {
            format!(
                "the reply is not {{\"records\": [{{\"recordId\", \"result\", \"data\"}}]}}: {e}"
            )
        })?;
        let mut replies = HashMap::new();
        for record in answer.records {
            let data = match (&record.data, record.result.as_str()) {
                (Some(data), _) => Bytes::from(STANDARD.decode(data).map_err(|e| {
                    format!("record {}: data is not base64: {e}", record.record_id)
                })?),
                (None, "Ok") => {
                    return Err(format!(
                        "record {}: result Ok without data",
                        record.record_id
                    ));
                }
                (None, _) => Bytes::new(),
            };
            replies.insert(
                record.record_id,
                Reply {
                    result: record.result,
                    data,
                },
            );
        }
        Ok(replies)
    }
}

struct Reply {
    result: String,
    data: Bytes,
}

/// POSTs the event; the reply body.
async fn post(url: &str, event: &str) -> std::result::Result<Vec<u8>, String> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(event.to_string())
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "POST {url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(body.to_vec())
}

/// Runs a command with the event on stdin; its stdout.
async fn run(program: &Path, args: &[String], event: &str) -> std::result::Result<Vec<u8>, String> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = event.as_bytes().to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .map_err(|_| format!("{} ran for more than 300 s", program.display()))?
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let _ = writer.await;
    if !output.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProcessorParameter;

    fn lambda(params: &[(&str, &str)]) -> Result<Transform> {
        Transform::parse(&Processor {
            kind: "Lambda".into(),
            parameters: params
                .iter()
                .map(|(name, value)| ProcessorParameter {
                    parameter_name: name.to_string(),
                    parameter_value: value.to_string(),
                })
                .collect(),
        })
    }

    #[test]
    fn lambda_arns_name_local_functions_endpoints_or_commands() {
        let t = lambda(&[(
            "LambdaArn",
            "arn:aws:lambda:eu-west-1:1:function:clean:$LATEST",
        )])
        .unwrap();
        assert_eq!(
            t.function,
            Function::Lambda("clean".into(), Some("$LATEST".into()))
        );
        assert_eq!((t.retries, t.batch_bytes), (3, 1024 * 1024));
        let t = lambda(&[
            ("LambdaArn", "http://127.0.0.1:9000/t"),
            ("NumberOfRetries", "5"),
            ("BufferSizeInMBs", "0.5"),
        ])
        .unwrap();
        assert_eq!(t.function, Function::Http("http://127.0.0.1:9000/t".into()));
        assert_eq!((t.retries, t.batch_bytes), (5, 512 * 1024));
        let t = lambda(&[("LambdaArn", "exec:python3 t.py --fast")]).unwrap();
        assert_eq!(
            t.function,
            Function::Command {
                program: "python3".into(),
                args: vec!["t.py".into(), "--fast".into()]
            }
        );
        for (params, says) in [
            (vec![], "needs a LambdaArn"),
            (vec![("LambdaArn", "https://x/t")], "http:// URL"),
            (vec![("LambdaArn", "exec:")], "needs a program"),
            (
                vec![("LambdaArn", "exec:x"), ("NumberOfRetries", "301")],
                "0 to 300",
            ),
            (
                vec![("LambdaArn", "exec:x"), ("BufferSizeInMBs", "4")],
                "0.2 to 3",
            ),
        ] {
            let error = lambda(&params).unwrap_err().to_string();
            assert!(error.contains(says), "{error}");
        }
    }
}
