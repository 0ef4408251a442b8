//! The lifecycle pass: every `Schedule::every` the server walks the
//! buckets that have enabled rules and does what the rules say is due.
//!
//! ```text
//!   each bucket with rules ─► versions, key by key (newest first)
//!       current object due (Days / Date) ─► expire_current (checked: a
//!                                           newer write is left alone)
//!       lone delete marker due           ─► removed
//!       noncurrent version due           ─► removed (NewerNoncurrentVersions kept)
//!   uploads started long enough ago      ─► aborted
//! ```
//!
//! A day is S3's day (86,400 s, times rounded up to midnight UTC) unless
//! `Schedule::day` shortens it. What is removed is told to the bucket's
//! notification rules as `LifecycleExpiration:*` events.

use std::time::{Duration, SystemTime};

use nuage_lake::objects::{Objects, Version, VersionEntry, VersionQuery};

use super::rules::{self, Day, Subject};
use crate::s3::notifications::{Change, Notifier};

/// When the pass runs and how long its days are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Duration,
    pub day: Day,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            every: Duration::from_secs(3600),
            day: Day::default(),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Current objects expired (removed, or hidden by a delete marker).
    pub expired: usize,
    pub versions_removed: usize,
    pub markers_removed: usize,
    pub uploads_aborted: usize,
}

/// Carries out the lake's lifecycle rules.
#[derive(Clone)]
pub struct Lifecycle {
    pub objects: Objects,
    pub notifier: Option<Notifier>,
    pub schedule: Schedule,
}

/// One key's versions, newest first.
type Versions = Vec<Version>;

impl Lifecycle {
    /// Runs a pass now and then every `schedule.every`, for ever.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.schedule.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let done = self.pass(SystemTime::now()).await;
            if done != Done::default() {
                tracing::info!("lifecycle: {done:?}");
            }
        }
    }

    /// Does what is due at `now` in every bucket.
    pub async fn pass(&self, now: SystemTime) -> Done {
        let mut done = Done::default();
        let buckets = match self.objects.list_buckets() {
            Ok(buckets) => buckets,
            Err(e) => {
                tracing::warn!("lifecycle: listing buckets: {e}");
                return done;
            }
        };
        for (bucket, _) in buckets {
            let Some(config) = super::config_of(&self.objects, &bucket) else {
                continue;
            };
            let rules: Vec<_> = config.rules.into_iter().filter(rules::enabled).collect();
            if rules.is_empty() {
                continue;
            }
            if let Err(e) = self.bucket(&bucket, &rules, now, &mut done).await {
                tracing::warn!("lifecycle: bucket {bucket}: {e}");
            }
        }
        done
    }

    async fn bucket(
        &self,
        bucket: &str,
        rules: &[s3s::dto::LifecycleRule],
        now: SystemTime,
        done: &mut Done,
    ) -> Result<(), nuage_lake::objects::ObjectError> {
        let mut query = VersionQuery {
            prefix: common_prefix(rules.iter().map(rules::prefix_of)),
            max: 1000,
            ..VersionQuery::default()
        };
        let mut versions: Versions = Vec::new();
        loop {
            let listing = self.objects.list_versions(bucket, query.clone()).await?;
            for entry in listing.entries {
                let VersionEntry::Version(version) = entry else {
                    continue;
                };
                if versions
                    .first()
                    .is_some_and(|v| v.info.key != version.info.key)
                {
                    self.key(bucket, rules, &std::mem::take(&mut versions), now, done)
                        .await;
                }
                versions.push(*version);
            }
            if !listing.truncated {
                break;
            }
            query.key_marker = listing.next_key_marker;
            query.version_id_marker = listing.next_version_id_marker;
        }
        if !versions.is_empty() {
            self.key(bucket, rules, &versions, now, done).await;
        }
        let day = self.schedule.day;
        for upload in self.objects.uploads(bucket).await? {
            let due = rules.iter().any(|rule| {
                let days = rule
                    .abort_incomplete_multipart_upload
                    .as_ref()
                    .and_then(|a| a.days_after_initiation);
                upload.key.starts_with(rules::prefix_of(rule))
                    && days.is_some_and(|d| day.after(upload.initiated(), d) <= now)
            });
            if !due {
                continue;
            }
            match self.objects.abort(bucket, &upload.key, &upload.id).await {
                Ok(()) => done.uploads_aborted += 1,
                Err(e) => tracing::debug!("lifecycle: abort {bucket}/{}: {e}", upload.key),
            }
        }
        Ok(())
    }

    /// Applies the rules to one key's versions (newest first).
    async fn key(
        &self,
        bucket: &str,
        rules: &[s3s::dto::LifecycleRule],
        versions: &[Version],
        now: SystemTime,
        done: &mut Done,
    ) {
        let day = self.schedule.day;
        let Some(current) = versions.first().filter(|v| v.latest) else {
            return;
        };
        let key = current.info.key.as_str();
        let meta = &current.info.meta;
        if !meta.delete_marker {
            let subject = Subject {
                key,
                size: meta.size,
                tags: &meta.tags,
            };
            let due = rules.iter().any(|rule| {
                rules::applies(rule, &subject)
                    && rules::expires_at(rule, current.info.last_modified, day)
                        .is_some_and(|at| at <= now)
            });
            if due {
                match self.objects.expire_current(bucket, key, meta).await {
                    Ok(Some(deleted)) => {
                        done.expired += 1;
                        let event = match deleted.delete_marker {
                            true => "LifecycleExpiration:DeleteMarkerCreated",
                            false => "LifecycleExpiration:Delete",
                        };
                        self.tell(bucket, key, event).await;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!("lifecycle: expire {bucket}/{key}: {e}"),
                }
            }
        } else if versions.len() == 1 {
            let subject = Subject {
                key,
                size: 0,
                tags: &[],
            };
            let due = rules.iter().any(|rule| {
                let Some(expiration) = rule.expiration.as_ref() else {
                    return false;
                };
                rules::applies(rule, &subject)
                    && (expiration.expired_object_delete_marker == Some(true)
                        || expiration
                            .days
                            .is_some_and(|d| day.after(current.info.last_modified, d) <= now))
            });
            if due && self.remove(bucket, key, current.id()).await {
                done.markers_removed += 1;
            }
        }
        for (index, version) in versions.iter().enumerate().skip(1) {
            // A version became noncurrent when the next newer one was made.
            let since = versions[index - 1].info.last_modified;
            let newer = index - 1;
            let subject = Subject {
                key,
                size: version.info.meta.size,
                tags: &version.info.meta.tags,
            };
            let due = rules.iter().any(|rule| {
                let Some(noncurrent) = rule.noncurrent_version_expiration.as_ref() else {
                    return false;
                };
                let keep = noncurrent.newer_noncurrent_versions.unwrap_or(0).max(0) as usize;
                rules::applies(rule, &subject)
                    && newer >= keep
                    && noncurrent
                        .noncurrent_days
                        .is_some_and(|d| day.after(since, d) <= now)
            });
            if due && self.remove(bucket, key, version.id()).await {
                done.versions_removed += 1;
            }
        }
    }

    /// Removes one version for good (a locked one stays).
    async fn remove(&self, bucket: &str, key: &str, version_id: &str) -> bool {
        match self
            .objects
            .delete_object(bucket, key, Some(version_id), false)
            .await
        {
            Ok(_) => {
                self.tell(bucket, key, "LifecycleExpiration:Delete").await;
                true
            }
            Err(e) => {
                tracing::debug!("lifecycle: remove {bucket}/{key} {version_id}: {e}");
                false
            }
        }
    }

    async fn tell(&self, bucket: &str, key: &str, event: &str) {
        if let Some(notifier) = &self.notifier {
            notifier.notify(Change { bucket, key, event }).await;
        }
    }
}

/// The longest prefix the rules' prefixes share: the part of a bucket a
/// pass lists.
fn common_prefix<'a>(mut prefixes: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = prefixes.next() else {
        return String::new();
    };
    let mut common = first;
    for prefix in prefixes {
        let shared = common
            .char_indices()
            .zip(prefix.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, c), _)| i + c.len_utf8());
        common = &common[..shared];
    }
    common.to_string()
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn a_pass_lists_what_its_rules_share() {
        assert_eq!(common_prefix(["logs/a/", "logs/b/"].into_iter()), "logs/");
        assert_eq!(common_prefix(["logs/", "tmp/"].into_iter()), "");
        assert_eq!(common_prefix(["été/x", "été/y"].into_iter()), "été/");
        assert_eq!(common_prefix(std::iter::empty()), "");
    }
}
