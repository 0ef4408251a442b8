//! Where records about invocations go (an asynchronous invocation's
//! OnSuccess/OnFailure, an event-source mapping's OnFailure): a nuage
//! stream or another function, named by ARN as on AWS.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::Functions;
use crate::error::{FunctionError, Result};
use crate::invoke::InvokeRequest;
use crate::store::parse_function_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stream(String),
    Function {
        name: String,
        qualifier: Option<String>,
    },
}

impl Destination {
    /// A destination ARN nuage can deliver to; others are refused with
    /// what it can do.
    pub fn parse(arn: &str) -> Result<Self> {
        let service = arn.split(':').nth(2).unwrap_or("");
        match service {
            "kinesis" => nuage_streams::Streams::name_from_arn(arn)
                .map(|name| Destination::Stream(name.to_string()))
                .ok_or_else(|| bad(arn)),
            "lambda" => {
                let (name, qualifier) = parse_function_name(arn);
                Ok(Destination::Function {
                    name: name.to_string(),
                    qualifier: qualifier.map(str::to_string),
                })
            }
            "sqs" | "sns" | "events" | "s3" => Err(FunctionError::InvalidParameter(format!(
                "The destination ARN {arn} is a {service} resource, which nuage does not have \
                 yet: use a Kinesis stream or a Lambda function of this nuage"
            ))),
            _ => Err(bad(arn)),
        }
    }
}

fn bad(arn: &str) -> FunctionError {
    FunctionError::InvalidParameter(format!(
        "The provided destination config DestinationConfig has an invalid destination ARN {arn}"
    ))
}

impl Functions {
    /// Sends `record` (JSON) to `destination`; failures are logged, as a
    /// destination is best effort on AWS too.
    pub(crate) async fn deliver(self: &Arc<Self>, destination: &Destination, record: &Value) {
        let bytes = Bytes::from(record.to_string());
        let result = match destination {
            Destination::Stream(stream) => self.put_on_stream(stream, bytes).await,
            Destination::Function { name, qualifier } => self
                .invoke_event(InvokeRequest {
                    name: name.clone(),
                    qualifier: qualifier.clone(),
                    payload: bytes,
                    client_context: None,
                })
                .await
                .map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!("destination {destination:?}: {e}");
        }
    }

    async fn put_on_stream(&self, stream: &str, data: Bytes) -> Result<()> {
        let Some(streams) = &self.streams else {
            return Err(FunctionError::InvalidParameter(format!(
                "stream {stream}: this nuage runs without streams"
            )));
        };
        let entry = nuage_streams::PutEntry {
            partition_key: uuid::Uuid::new_v4().to_string(),
            data,
            explicit_hash_key: None,
        };
        let put = streams
            .put(stream, std::slice::from_ref(&entry))
            .await
            .map_err(|e| FunctionError::InvalidParameter(e.to_string()))?;
        match put.outcomes.first() {
            Some(nuage_streams::PutOutcome::Stored { .. }) => Ok(()),
            Some(nuage_streams::PutOutcome::Failed { message, .. }) => {
                Err(FunctionError::InvalidParameter(message.clone()))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_arns_name_streams_and_functions() {
        assert_eq!(
            Destination::parse("arn:aws:kinesis:us-east-1:000000000000:stream/failed").unwrap(),
            Destination::Stream("failed".into())
        );
        assert_eq!(
            Destination::parse("arn:aws:lambda:us-east-1:000000000000:function:f:live").unwrap(),
            Destination::Function {
                name: "f".into(),
                qualifier: Some("live".into())
            }
        );
        let e = Destination::parse("arn:aws:sqs:us-east-1:000000000000:q").unwrap_err();
        assert!(e.to_string().contains("sqs resource"), "{e}");
    }
}
