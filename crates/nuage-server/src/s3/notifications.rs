//! Bucket notifications to functions: Put/GetBucketNotificationConfiguration
//! (LambdaFunctionConfigurations, kept as the bucket folder's attribute
//! `user.nuage.s3.notification`), and the S3 event each matching object
//! change sends, asynchronously as S3 does, to the function it names.
//! Objects written by anything else (`nuage lake put`, SQL, jobs, Firehose,
//! in this process or another) reach [`Notifier::tail_journal`] through the
//! lake's journal (`nuage_lake::events`). Topics and queues do not exist in
//! nuage yet; such configurations are refused rather than silently
//! dropped.

use std::sync::Arc;

use nuage_functions::{Functions, InvokeRequest};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::{OrS3, refuse};
use super::{Answer, NuageS3};

const NOTIFICATION: &str = "notification";

/// The event types S3 documents for notifications.
const EVENTS: &[&str] = &[
    "s3:TestEvent",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// One LambdaFunctionConfiguration as kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Rule {
    id: String,
    function_arn: String,
    events: Vec<String>,
    prefix: Option<String>,
    suffix: Option<String>,
}

impl Rule {
    /// Whether an event (`ObjectCreated:Put`) on `key` is this rule's.
    fn matches(&self, event: &str, key: &str) -> bool {
        let wanted = |e: &String| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == event
                || e.strip_suffix('*')
                    .is_some_and(|family| event.starts_with(family))
        };
        self.events.iter().any(wanted)
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// What changed, for the event's `s3.object`.
pub(super) struct Change<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// `ObjectCreated:Put`, `ObjectRemoved:Delete`, ...
    pub event: &'a str,
}

impl NuageS3 {
    pub(super) async fn put_bucket_notification_configuration_(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> Answer<PutBucketNotificationConfigurationOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let config = input.notification_configuration;
        let unsupported = [
            (
                "TopicConfigurations",
                config
                    .topic_configurations
                    .as_ref()
                    .is_some_and(|c| !c.is_empty()),
            ),
            (
                "QueueConfigurations",
                config
                    .queue_configurations
                    .as_ref()
                    .is_some_and(|c| !c.is_empty()),
            ),
            (
                "EventBridgeConfiguration",
                config.event_bridge_configuration.is_some(),
            ),
        ];
        if let Some((what, _)) = unsupported.iter().find(|(_, given)| *given) {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                format!(
                    "Unable to validate the following destination configurations: nuage has no SNS \
                     topics, SQS queues or EventBridge yet, so {what} cannot be delivered; use \
                     LambdaFunctionConfigurations"
                ),
            ));
        }
        let skip_validation = input.skip_destination_validation.unwrap_or(false);
        let mut rules = Vec::new();
        for c in config.lambda_function_configurations.unwrap_or_default() {
            let events: Vec<String> = c
                .events
                .iter()
                .map(|e| AsRef::<str>::as_ref(e).to_string())
                .collect();
            if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    format!("The event is not supported for notifications: {bad}"),
                ));
            }
            let (mut prefix, mut suffix) = (None, None);
            let filter_rules = c.filter.and_then(|f| f.key).and_then(|k| k.filter_rules);
            for rule in filter_rules.unwrap_or_default() {
                let name = rule.name.as_ref().map(|n| n.as_str().to_ascii_lowercase());
                let slot = match name.as_deref() {
                    Some("prefix") => &mut prefix,
                    Some("suffix") => &mut suffix,
                    _ => {
                        return Err(refuse(
                            S3ErrorCode::InvalidArgument,
                            "filter rule name must be either prefix or suffix",
                        ));
                    }
                };
                if slot.is_some() {
                    return Err(refuse(
                        S3ErrorCode::InvalidArgument,
                        "Cannot specify more than one prefix rule in a filter.",
                    ));
                }
                *slot = Some(rule.value.unwrap_or_default());
            }
            if !skip_validation && !self.function_exists(&c.lambda_function_arn) {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    format!(
                        "Unable to validate the following destination configurations: {} does not \
                         exist (create the function first)",
                        c.lambda_function_arn
                    ),
                ));
            }
            rules.push(Rule {
                id: c.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                function_arn: c.lambda_function_arn,
                events,
                prefix,
                suffix,
            });
        }
        check_overlaps(&rules)?;
        let value =
            (!rules.is_empty()).then(|| serde_json::to_vec(&rules).expect("rules serialize"));
        self.objects
            .set_bucket_setting(&input.bucket, NOTIFICATION, value)
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
    }

    pub(super) async fn get_bucket_notification_configuration_(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> Answer<GetBucketNotificationConfigurationOutput> {
        self.existing(&req.input.bucket)?;
        let rules = rules(&self.objects, &req.input.bucket).await;
        let configurations: Vec<LambdaFunctionConfiguration> = rules
            .into_iter()
            .map(|r| {
                let filter_rules: Vec<FilterRule> = [("Prefix", r.prefix), ("Suffix", r.suffix)]
                    .into_iter()
                    .filter_map(|(name, value)| {
                        value.map(|value| FilterRule {
                            name: Some(FilterRuleName::from(name.to_string())),
                            value: Some(value),
                        })
                    })
                    .collect();
                LambdaFunctionConfiguration {
                    events: r.events.into_iter().map(Event::from).collect(),
                    filter: (!filter_rules.is_empty()).then_some(NotificationConfigurationFilter {
                        key: Some(S3KeyFilter {
                            filter_rules: Some(filter_rules),
                        }),
                    }),
                    id: Some(r.id),
                    lambda_function_arn: r.function_arn,
                }
            })
            .collect();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            lambda_function_configurations: (!configurations.is_empty()).then_some(configurations),
            ..Default::default()
        }))
    }

    fn function_exists(&self, arn: &str) -> bool {
        self.notifier
            .as_ref()
            .is_some_and(|n| n.function_exists(arn))
    }

    /// Tells the bucket's notification rules about a change.
    pub(super) async fn notify(&self, change: Change<'_>) {
        if let Some(notifier) = &self.notifier {
            notifier.notify(change).await;
        }
    }
}

/// Sends S3's events to functions: for changes made through the S3 API,
/// and ([`Notifier::tail_journal`]) for those the lake's journal records.
#[derive(Clone)]
pub struct Notifier {
    pub objects: nuage_lake::objects::Objects,
    pub region: Arc<str>,
    pub functions: Arc<Functions>,
}

impl Notifier {
    fn function_exists(&self, arn: &str) -> bool {
        let (name, qualifier) = nuage_functions::store::parse_function_name(arn);
        self.functions.get(name, qualifier).is_ok()
    }

    /// Sends the change's S3 event to every function whose rule matches
    /// (a created object's size and ETag read back once, only then).
    pub(super) async fn notify(&self, change: Change<'_>) {
        let rules = rules(&self.objects, change.bucket).await;
        let matching: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.matches(change.event, change.key))
            .collect();
        if matching.is_empty() {
            return;
        }
        let object = match change.event.starts_with("ObjectCreated") {
            true => self
                .objects
                .open_object(change.bucket, change.key)
                .await
                .ok()
                .map(|o| (o.info.meta.size, o.info.meta.etag)),
            false => None,
        };
        for rule in matching {
            let event = s3_event(&self.region, &rule.id, &change, object.as_ref());
            send(&self.functions, &rule.function_arn, event).await;
        }
    }
}

impl Notifier {
    /// Sends the events of the changes the lake's journal records, as
    /// they come (checked every 25 ms), until aborted. What was sent is
    /// noted after it was sent: a crash in between sends it again (S3 too
    /// may deliver an event twice).
    pub async fn tail_journal(self, data_dir: std::path::PathBuf) {
        use nuage_lake::events::Tail;
        /// Runs `work` on the tail on the blocking pool (file reads).
        async fn on_pool<R: Send + 'static>(
            mut tail: Tail,
            work: fn(&mut Tail) -> std::io::Result<R>,
        ) -> Option<(Tail, std::io::Result<R>)> {
            tokio::task::spawn_blocking(move || {
                let done = work(&mut tail);
                (tail, done)
            })
            .await
            .ok()
        }
        let mut tail = Tail::open(&data_dir);
        loop {
            let Some((back, changes)) = on_pool(tail, Tail::read).await else {
                return;
            };
            tail = back;
            let changes = changes.unwrap_or_else(|e| {
                tracing::warn!("lake events: {e}");
                Vec::new()
            });
            for change in &changes {
                self.notify(Change {
                    bucket: &change.bucket,
                    key: &change.key,
                    event: &change.event,
                })
                .await;
            }
            let Some((back, done)) = on_pool(tail, Tail::commit).await else {
                return;
            };
            tail = back;
            if let Err(e) = done {
                tracing::warn!("lake events: {e}");
            }
            if changes.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
        }
    }
}

/// A bucket's notification rules.
async fn rules(objects: &nuage_lake::objects::Objects, bucket: &str) -> Vec<Rule> {
    objects
        .bucket_setting(bucket, NOTIFICATION)
        .await
        .ok()
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

async fn send(functions: &Arc<Functions>, arn: &str, event: serde_json::Value) {
    let (name, qualifier) = nuage_functions::store::parse_function_name(arn);
    let request = InvokeRequest {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
        payload: bytes::Bytes::from(event.to_string()),
        client_context: None,
    };
    if let Err(e) = functions.invoke_event(request).await {
        tracing::warn!("s3 notification to {arn}: {e}");
    }
}

/// Two rules may not share an event type with overlapping key filters.
fn check_overlaps(rules: &[Rule]) -> Result<(), s3s::S3Error> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let shared = a.events.iter().any(|e| {
                b.events.iter().any(|f| {
                    let (e, f) = (e.trim_end_matches('*'), f.trim_end_matches('*'));
                    e.starts_with(f) || f.starts_with(e)
                })
            });
            let prefixes = match (&a.prefix, &b.prefix) {
                (Some(p), Some(q)) => p.starts_with(q.as_str()) || q.starts_with(p.as_str()),
                _ => true,
            };
            let suffixes = match (&a.suffix, &b.suffix) {
                (Some(p), Some(q)) => p.ends_with(q.as_str()) || q.ends_with(p.as_str()),
                _ => true,
            };
            if shared && prefixes && suffixes {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                ));
            }
        }
    }
    Ok(())
}

/// S3's event message for one record.
fn s3_event(
    region: &str,
    configuration: &str,
    change: &Change<'_>,
    created: Option<&(u64, String)>,
) -> serde_json::Value {
    let now = chrono::Utc::now();
    let key: String = url::form_urlencoded::byte_serialize(change.key.as_bytes()).collect();
    let mut object = json!({
        "key": key,
        "sequencer": format!("{:016X}", now.timestamp_nanos_opt().unwrap_or(0)),
    });
    if let Some((size, etag)) = created {
        object["size"] = json!(size);
        object["eTag"] = json!(etag.trim_matches('"'));
    }
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": region,
            "eventTime": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "eventName": change.event,
            "userIdentity": { "principalId": "nuage" },
            "requestParameters": { "sourceIPAddress": "127.0.0.1" },
            "responseElements": {
                "x-amz-request-id": super::request_id(),
                "x-amz-id-2": "nuage",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": configuration,
                "bucket": {
                    "name": change.bucket,
                    "ownerIdentity": { "principalId": "nuage" },
                    "arn": format!("arn:aws:s3:::{}", change.bucket),
                },
                "object": object,
            },
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_event_families_and_key_filters() {
        let rule = Rule {
            id: "r".into(),
            function_arn: "f".into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("raw/".into()),
            suffix: Some(".csv".into()),
        };
        assert!(rule.matches("ObjectCreated:Put", "raw/2024/a.csv"));
        assert!(rule.matches("ObjectCreated:CompleteMultipartUpload", "raw/a.csv"));
        assert!(!rule.matches("ObjectRemoved:Delete", "raw/a.csv"));
        assert!(!rule.matches("ObjectCreated:Put", "raw/a.json"));
        assert!(!rule.matches("ObjectCreated:Put", "clean/a.csv"));
    }
}
