//! SubscribeToShard: enhanced fan-out. The reply is an
//! `application/vnd.amazon.eventstream` body (over HTTP/2 or a chunked
//! HTTP/1.1 response) of binary event-stream messages: an `initial-response`,
//! then `SubscribeToShardEvent`s as records arrive (an empty one every few
//! seconds when none do), for five minutes or until the shard ends, when the
//! last event names the child shards. Errors after the reply has started
//! travel as `exception` messages.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use nuage_streams::{RecordsOut, Start, Streams};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{Kinesis, WireRecord, child_shards_json, wire_records};
use crate::metrics::Metrics;
use crate::wire::{ApiError, ApiResult, ErrorCode, Format, encode};

/// How long a subscription lasts (AWS: 5 minutes; the client then
/// subscribes again from its ContinuationSequenceNumber).
const LIFETIME: Duration = Duration::from_secs(300);
/// An empty event goes out when no record has for this long.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Records per event at most, as GetRecords.
const EVENT_RECORDS: usize = 10_000;

/// The subscriptions running now, one per (consumer, shard) as on AWS.
#[derive(Default)]
pub struct Subscriptions {
    active: Mutex<HashSet<(String, u32)>>,
}

/// Holds a (consumer, shard) slot until the subscription ends.
struct Slot {
    registry: Arc<Subscriptions>,
    key: (String, u32),
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry
            .active
            .lock()
            .expect("subscriptions lock")
            .remove(&self.key);
    }
}

impl Subscriptions {
    fn claim(self: &Arc<Self>, consumer_arn: &str, shard: u32) -> Option<Slot> {
        let key = (consumer_arn.to_string(), shard);
        let fresh = self
            .active
            .lock()
            .expect("subscriptions lock")
            .insert(key.clone());
        fresh.then(|| Slot {
            registry: self.clone(),
            key,
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Event {
    records: Vec<WireRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_sequence_number: Option<String>,
    millis_behind_latest: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<Value>>,
}

fn header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(value.into()))
}

/// One event-stream message, framed (prelude, headers, payload, CRCs).
fn frame(format: Format, kind: (&'static str, &'static str), payload: Vec<u8>) -> Bytes {
    let (message_type, type_header) = if kind.0 == "event" {
        ("event", ":event-type")
    } else {
        ("exception", ":exception-type")
    };
    let message = Message::new(payload)
        .add_header(header(":message-type", message_type))
        .add_header(header(type_header, kind.1))
        .add_header(header(":content-type", format.content_type()));
    let mut out = Vec::new();
    match aws_smithy_eventstream::frame::write_message_to(&message, &mut out) {
        Ok(()) => Bytes::from(out),
        Err(e) => {
            // Only a payload over 16 MiB can fail; events stay far below.
            tracing::error!("event-stream frame: {e}");
            Bytes::new()
        }
    }
}

fn exception(format: Format, e: ApiError) -> Bytes {
    #[derive(Serialize)]
    struct Body<'a> {
        message: &'a str,
    }
    let payload = encode(
        format,
        &Body {
            message: &e.message,
        },
    )
    .unwrap_or_default();
    frame(format, ("exception", e.code.as_str()), payload)
}

fn event_frame(format: Format, out: RecordsOut) -> Bytes {
    let event = Event {
        child_shards: out
            .next_iterator
            .is_none()
            .then(|| child_shards_json(&out.child_shards)),
        continuation_sequence_number: out.continuation,
        millis_behind_latest: out.millis_behind,
        records: wire_records(out.records, out.encrypted),
    };
    match encode(format, &event) {
        Ok(payload) => frame(format, ("event", "SubscribeToShardEvent"), payload),
        Err(e) => exception(format, ApiError::internal(e)),
    }
}

impl Kinesis {
    pub(crate) fn subscribe_to_shard(&self, format: Format, body: &Bytes) -> ApiResult {
        let r: super::shapes::SubscribeToShard = self.request(format, body)?;
        let consumer_arn = r.consumer_arn.unwrap_or_default();
        let shard_text = r.shard_id.unwrap_or_default();
        let position = r.starting_position.expect("validated");
        let start = match (
            position.kind.as_deref().unwrap_or_default(),
            position.sequence_number,
        ) {
            ("AT_SEQUENCE_NUMBER", Some(s)) => Start::AtSequence(s),
            ("AFTER_SEQUENCE_NUMBER", Some(s)) => Start::AfterSequence(s),
            ("TRIM_HORIZON", _) => Start::TrimHorizon,
            ("LATEST", _) => Start::Latest,
            ("AT_TIMESTAMP", _) => match position.timestamp {
                Some(t) => Start::AtTimestamp(t.0),
                None => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidArgument,
                        "StartingPosition of type AT_TIMESTAMP needs a Timestamp.",
                    ));
                }
            },
            (kind, _) => {
                return Err(ApiError::new(
                    ErrorCode::InvalidArgument,
                    format!("StartingPosition of type {kind} needs a SequenceNumber."),
                ));
            }
        };
        let (stream, _consumer) = self.streams.consumer_by_arn(&consumer_arn)?;
        let iterator = self.streams.shard_iterator(&stream, &shard_text, start)?;
        let shard = nuage_streams::meta::parse_shard_id(&shard_text).expect("checked by iterator");
        let slot = self.subscriptions.claim(&consumer_arn, shard).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceInUse,
                format!(
                    "Another active subscription exists for consumer {consumer_arn} on shard {shard_text}."
                ),
            )
        })?;
        let (tx, rx) = mpsc::channel::<Bytes>(2);
        let subscription = Subscription {
            streams: self.streams.clone(),
            metrics: self.metrics.clone(),
            closing: self.closing.clone(),
            stream,
            shard,
            format,
            tx,
            _slot: slot,
        };
        tokio::spawn(subscription.run(iterator));
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|frame| (Ok::<_, std::convert::Infallible>(frame), rx))
        });
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")],
            Body::from_stream(body),
        )
            .into_response())
    }
}

struct Subscription {
    streams: Arc<Streams>,
    metrics: Arc<Metrics>,
    closing: watch::Receiver<bool>,
    stream: String,
    shard: u32,
    format: Format,
    tx: mpsc::Sender<Bytes>,
    _slot: Slot,
}

impl Subscription {
    async fn run(mut self, mut iterator: String) {
        let initial = encode(self.format, &serde_json::json!({})).unwrap_or_default();
        if !self
            .send(frame(self.format, ("event", "initial-response"), initial))
            .await
        {
            return;
        }
        let deadline = Instant::now() + LIFETIME;
        let mut last_event: Option<Instant> = None;
        loop {
            let streams = self.streams.clone();
            let read = iterator.clone();
            let out = match tokio::task::spawn_blocking(move || {
                streams.read_subscribed(&read, EVENT_RECORDS)
            })
            .await
            {
                Ok(Ok(out)) => out,
                Ok(Err(e)) => {
                    self.send(exception(self.format, e.into())).await;
                    return;
                }
                Err(e) => {
                    let e = ApiError::internal(e.to_string());
                    self.send(exception(self.format, e)).await;
                    return;
                }
            };
            self.metrics.count_out(&out);
            let idle = out.records.is_empty();
            let next_record = out.next_record;
            let next = out.next_iterator.clone();
            let due = last_event.is_none_or(|t| t.elapsed() >= HEARTBEAT);
            if (!idle || due || next.is_none()) && !self.send(event_frame(self.format, out)).await {
                return;
            }
            if !idle || due {
                last_event = Some(Instant::now());
            }
            let Some(next) = next else {
                return; // the shard is closed and fully read
            };
            iterator = next;
            if Instant::now() >= deadline {
                return;
            }
            if idle {
                let heartbeat = last_event.map_or(Instant::now(), |t| t + HEARTBEAT);
                tokio::select! {
                    _ = self.streams.readable(&self.stream, self.shard, next_record) => {}
                    _ = tokio::time::sleep_until(heartbeat.min(deadline)) => {}
                    _ = self.closing.wait_for(|closing| *closing) => return,
                    _ = self.tx.closed() => return,
                }
            }
        }
    }

    /// False once the client has gone.
    async fn send(&self, frame: Bytes) -> bool {
        tokio::select! {
            sent = self.tx.send(frame) => sent.is_ok(),
            _ = wait_closing(self.closing.clone()) => false,
        }
    }
}

async fn wait_closing(mut closing: watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}
