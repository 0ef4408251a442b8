//! What a stream keeps besides records: retention (and enforcing it),
//! tags, encryption, enhanced monitoring, capacity mode and consumers.

use super::*;

impl Streams {
    pub fn set_retention(&self, name: &str, hours: u32, increase: bool) -> Result<()> {
        if hours < MIN_RETENTION_HOURS {
            return Err(StreamError::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(StreamError::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        self.change(name, |_, meta| {
            if increase && hours < meta.retention_hours {
                return Err(StreamError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({} hours). Use DecreaseRetentionPeriod API.",
                    meta.retention_hours
                )));
            }
            if !increase && hours > meta.retention_hours {
                return Err(StreamError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({} hours). Use IncreaseRetentionPeriod API.",
                    meta.retention_hours
                )));
            }
            meta.retention_hours = hours;
            Ok(())
        })
    }

    /// Drops what retention no longer keeps: whole old segments, and closed
    /// shards whose last record is past retention. Returns segments removed.
    pub fn enforce_retention(&self, now: i64) -> Result<usize> {
        let mut removed = 0;
        for name in self.names() {
            let Ok(stream) = self.get(&name) else {
                continue;
            };
            let meta = stream.meta();
            let cutoff = now - i64::from(meta.retention_hours) * 3_600_000;
            let mut expired = Vec::new();
            for shard in &meta.shards {
                let Some(log) = stream.log(shard.index) else {
                    continue;
                };
                removed += log.trim(cutoff)?;
                let last = log.last_arrival_ms().or(shard.closed_ms);
                if !shard.is_open() && last.is_some_and(|ms| ms < cutoff) {
                    expired.push(shard.index);
                }
            }
            if !expired.is_empty() {
                self.change(&name, |stream, meta| {
                    meta.shards.retain(|s| !expired.contains(&s.index));
                    let mut logs = stream.logs.write().expect("logs lock");
                    for index in &expired {
                        if let Some(log) = logs.remove(index) {
                            let _ = fs::remove_dir_all(log.dir());
                        }
                    }
                    Ok(())
                })?;
            }
        }
        Ok(removed)
    }

    /// Refuses tag texts as AWS does (the texts are AWS's recorded ones):
    /// characters outside its set, then `%` (inside the set, but refused
    /// when stored). `doing` is "add tags to" or "remove tags from".
    fn check_tag_texts<'a>(
        &self,
        name: &str,
        doing: &str,
        texts: impl std::iter::Iterator<Item = &'a String> + Clone,
    ) -> Result<()> {
        let allowed = |c: char| {
            c.is_ascii_alphanumeric()
                || ('\u{C0}'..='\u{1FFF}').contains(&c)
                || ('\u{2C00}'..='\u{D7FF}').contains(&c)
                || "_./-=+ @%:".contains(c)
        };
        if texts.clone().any(|t| !t.chars().all(allowed)) {
            return Err(StreamError::InvalidArgument(
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.".into(),
            ));
        }
        if texts.clone().any(|t| t.contains('%')) {
            return Err(StreamError::InvalidArgument(format!(
                "Failed to {doing} stream {name} under account {} because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.",
                self.config.account
            )));
        }
        Ok(())
    }

    /// Adds or replaces tags. As AWS, an unknown stream comes before bad
    /// characters.
    pub fn add_tags(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.change(name, |_, meta| {
            self.check_tag_texts(name, "add tags to", tags.iter().flat_map(|(k, v)| [k, v]))?;
            let mut next = meta.tags.clone();
            next.extend(tags);
            if next.len() > MAX_TAGS {
                return Err(StreamError::InvalidArgument(format!(
                    "Failed to add tags to stream {name} under account {} because a given stream cannot have more than {MAX_TAGS} tags associated with it.",
                    self.config.account
                )));
            }
            meta.tags = next;
            Ok(())
        })
    }

    pub fn remove_tags(&self, name: &str, keys: &[String]) -> Result<()> {
        self.change(name, |_, meta| {
            self.check_tag_texts(name, "remove tags from", keys.iter())?;
            for key in keys {
                meta.tags.remove(key);
            }
            Ok(())
        })
    }

    pub fn set_encryption(&self, name: &str, encryption: Option<Encryption>) -> Result<()> {
        self.change(name, |_, meta| {
            self.require_active(meta)?;
            meta.encryption = encryption;
            Ok(())
        })
    }

    /// Adds or removes shard-level metrics; returns (before, after).
    pub fn set_monitoring(
        &self,
        name: &str,
        metrics: &[String],
        enable: bool,
    ) -> Result<(Vec<String>, Vec<String>)> {
        self.change(name, |_, meta| {
            let before: Vec<String> = meta.shard_level_metrics.iter().cloned().collect();
            let named: Vec<String> = if metrics.iter().any(|m| m == "ALL") {
                SHARD_LEVEL_METRICS.iter().map(|m| m.to_string()).collect()
            } else {
                metrics.to_vec()
            };
            for metric in named {
                if enable {
                    meta.shard_level_metrics.insert(metric);
                } else {
                    meta.shard_level_metrics.remove(&metric);
                }
            }
            Ok((before, meta.shard_level_metrics.iter().cloned().collect()))
        })
    }

    pub fn set_mode(&self, name: &str, mode: StreamMode) -> Result<()> {
        self.change(name, |_, meta| {
            self.require_active(meta)?;
            meta.mode = mode;
            Ok(())
        })
    }

    pub fn register_consumer(&self, name: &str, consumer: &str) -> Result<Consumer> {
        self.change(name, |_, meta| {
            if meta.consumers.iter().any(|c| c.name == consumer) {
                return Err(StreamError::InUse(format!(
                    "Consumer {consumer} under stream {name} already exists for account {}.",
                    self.config.account
                )));
            }
            if meta.consumers.len() >= MAX_CONSUMERS {
                return Err(StreamError::LimitExceeded(format!(
                    "Consumer limit of {MAX_CONSUMERS} exceeded for stream {name} under account {}.",
                    self.config.account
                )));
            }
            let created_ms = now_ms();
            let found = Consumer {
                name: consumer.to_string(),
                arn: format!("{}/consumer/{consumer}:{}", meta.arn, created_ms / 1000),
                created_ms,
            };
            meta.consumers.push(found.clone());
            Ok(found)
        })
    }

    pub fn deregister_consumer(&self, name: &str, consumer: &str) -> Result<()> {
        self.change(name, |_, meta| {
            let before = meta.consumers.len();
            meta.consumers.retain(|c| c.name != consumer);
            if meta.consumers.len() == before {
                return Err(StreamError::NotFound(format!(
                    "Consumer {consumer} under stream {name} not found for account {}.",
                    self.config.account
                )));
            }
            Ok(())
        })
    }

    /// A consumer by its ARN (which names the stream).
    pub fn consumer_by_arn(&self, arn: &str) -> Result<(String, Consumer)> {
        let name = Self::name_from_arn(arn)
            .ok_or_else(|| StreamError::InvalidArgument(format!("Invalid consumer ARN {arn}.")))?;
        let meta = self.describe(name)?;
        meta.consumers
            .iter()
            .find(|c| c.arn == arn)
            .map(|c| (name.to_string(), c.clone()))
            .ok_or_else(|| {
                StreamError::NotFound(format!(
                    "Consumer {arn} not found for account {}.",
                    self.config.account
                ))
            })
    }
}
