//! Log delivery: lines wait in memory, per target bucket and key prefix,
//! and every `every` they are written as one object each, named as S3
//! names log objects (`<prefix>YYYY-mm-DD-HH-MM-SS-<16 hex>`, or with
//! PartitionedPrefix `<prefix><account>/<region>/<bucket>/YYYY/MM/DD/`
//! before it). Like S3's, delivery is best effort: lines not yet written
//! when the server dies are lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use nuage_lake::objects::{Meta, Objects};

/// Where a batch of lines goes: the bucket and the key before the
/// object's time and unique part.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    pub bucket: String,
    pub key_prefix: String,
}

/// Lines waiting to be delivered, shared by the request path and the
/// flusher.
#[derive(Clone, Default)]
pub struct Deliveries {
    waiting: Arc<Mutex<Waiting>>,
}

#[derive(Default)]
struct Waiting {
    batches: HashMap<Destination, Vec<String>>,
    /// Lines in all batches.
    lines: usize,
}

/// Lines held in memory; past them new lines are dropped (a target that
/// cannot be written must not grow the server without bound).
const MAX_WAITING: usize = 1_000_000;

impl Deliveries {
    pub fn add(&self, to: Destination, line: String) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.lines >= MAX_WAITING {
            tracing::warn!("access logs: {MAX_WAITING} lines waiting; dropping one");
            return;
        }
        waiting.lines += 1;
        waiting.batches.entry(to).or_default().push(line);
    }

    /// Writes every waiting batch as a log object; a batch whose target
    /// refuses it is dropped, as S3 drops logs it cannot deliver.
    pub async fn flush(&self, objects: &Objects) -> usize {
        let waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
        let batches = waiting.batches;
        let mut written = 0;
        for (to, lines) in batches {
            let key = format!("{}{}", to.key_prefix, object_name(SystemTime::now()));
            let mut text = lines.join("\n");
            text.push('\n');
            let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(text))]);
            let meta = Meta {
                content_type: Some("text/plain".into()),
                ..Meta::default()
            };
            match objects
                .put(&to.bucket, &key, body, meta, &Default::default(), |_, _| {
                    Ok(())
                })
                .await
            {
                Ok(_) => written += 1,
                Err(e) => tracing::warn!("access logs: writing {}/{key}: {e}", to.bucket),
            }
        }
        written
    }

    /// Flushes every `every`, for ever.
    pub async fn run(self, objects: Objects, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.flush(&objects).await;
        }
    }
}

/// `YYYY-mm-DD-HH-MM-SS-<16 hex>`: S3's log object name.
fn object_name(at: SystemTime) -> String {
    let time = chrono::DateTime::<chrono::Utc>::from(at);
    format!(
        "{}-{:016X}",
        time.format("%Y-%m-%d-%H-%M-%S"),
        rand::random::<u64>()
    )
}

/// The partition S3 puts before a log object's name with PartitionedPrefix.
pub fn partition(account: &str, region: &str, bucket: &str, day: SystemTime) -> String {
    let day = chrono::DateTime::<chrono::Utc>::from(day);
    format!("{account}/{region}/{bucket}/{}/", day.format("%Y/%m/%d"))
}
