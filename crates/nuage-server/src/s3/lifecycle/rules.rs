//! A bucket's lifecycle rules: checked as S3 checks them when they are
//! put, and asked which objects they apply to and when.
//!
//! Rules are kept as s3s's `LifecycleRule`s, so a GET answers them as they
//! were put (a rule's old `Prefix` stays outside a `Filter`).

use std::time::{Duration, SystemTime};

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode};
use serde::{Deserialize, Serialize};

use crate::s3::errors::{malformed_xml, refuse};

/// What PutBucketLifecycleConfiguration stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    pub rules: Vec<LifecycleRule>,
    /// TransitionDefaultMinimumObjectSize as asked (S3's default otherwise).
    #[serde(default)]
    pub minimum_size: Option<String>,
}

/// S3's default transition minimum (objects under 128 KB do not move).
pub const DEFAULT_MINIMUM_SIZE: &str = "all_storage_classes_128K";

const MAX_RULES: usize = 1000;
const MAX_ID: usize = 255;

/// Storage classes a transition may name.
const TRANSITION_CLASSES: [&str; 6] = [
    "GLACIER",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];

fn invalid_argument(message: impl Into<String>) -> S3Error {
    refuse(S3ErrorCode::InvalidArgument, message.into())
}

fn invalid_request(message: impl Into<String>) -> S3Error {
    refuse(S3ErrorCode::InvalidRequest, message.into())
}

/// Checks rules as S3 does and gives rules without an ID one.
pub fn validate(mut rules: Vec<LifecycleRule>) -> Result<Vec<LifecycleRule>, S3Error> {
    if rules.is_empty() {
        return Err(malformed_xml());
    }
    if rules.len() > MAX_RULES {
        return Err(invalid_request(format!(
            "The number of lifecycle rules should not exceed allowed limit of {MAX_RULES} rules"
        )));
    }
    for rule in &mut rules {
        check_rule(rule)?;
        if rule.id.as_deref().is_none_or(str::is_empty) {
            rule.id = Some(generated_id());
        }
    }
    let mut ids: Vec<&str> = rules.iter().filter_map(|r| r.id.as_deref()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid_argument(
            "Rule ID must be unique. Found same ID for more than one rule",
        ));
    }
    Ok(rules)
}

/// An ID for a rule put without one (S3 makes one up too).
fn generated_id() -> String {
    use base64::Engine;
    let bytes: [u8; 36] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn check_rule(rule: &LifecycleRule) -> Result<(), S3Error> {
    if rule.id.as_ref().is_some_and(|id| id.len() > MAX_ID) {
        return Err(invalid_argument(format!(
            "ID length should not exceed allowed limit of {MAX_ID}"
        )));
    }
    if !matches!(rule.status.as_str(), "Enabled" | "Disabled") {
        return Err(malformed_xml());
    }
    // A rule names its objects by its (old) Prefix or by a Filter.
    match (&rule.prefix, &rule.filter) {
        (Some(_), Some(_)) | (None, None) => return Err(malformed_xml()),
        (None, Some(filter)) => check_filter(filter)?,
        (Some(_), None) => {}
    }
    let tagged = !tags_of(rule).is_empty();
    let mut actions = 0;
    if let Some(expiration) = &rule.expiration {
        actions += 1;
        let given = [
            expiration.days.is_some(),
            expiration.date.is_some(),
            expiration.expired_object_delete_marker.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(malformed_xml());
        }
        if expiration.days.is_some_and(|d| d <= 0) {
            return Err(invalid_argument(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
        if let Some(date) = &expiration.date {
            check_midnight(date)?;
        }
        if expiration.expired_object_delete_marker.is_some() && tagged {
            return Err(invalid_request(
                "ExpiredObjectDeleteMarker cannot be specified with tag-based filters",
            ));
        }
    }
    if let Some(noncurrent) = &rule.noncurrent_version_expiration {
        actions += 1;
        if noncurrent.noncurrent_days.is_none_or(|d| d <= 0) {
            return Err(invalid_argument(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ));
        }
        check_newer_versions(noncurrent.newer_noncurrent_versions)?;
    }
    if let Some(abort) = &rule.abort_incomplete_multipart_upload {
        actions += 1;
        if abort.days_after_initiation.is_none_or(|d| d <= 0) {
            return Err(invalid_argument(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            ));
        }
        if tagged {
            return Err(invalid_request(
                "Tag-based filter cannot be used with AbortIncompleteMultipartUpload action",
            ));
        }
    }
    for transition in rule.transitions.iter().flatten() {
        actions += 1;
        if transition.days.is_some() == transition.date.is_some() {
            return Err(malformed_xml());
        }
        if transition.days.is_some_and(|d| d < 0) {
            return Err(invalid_argument(
                "'Days' in Transition action must be zero or a positive integer",
            ));
        }
        if let Some(date) = &transition.date {
            check_midnight(date)?;
        }
        let class = transition.storage_class.as_ref().map(|c| c.as_str());
        check_class(class, transition.days, "Days")?;
        if let (Some(moved), Some(gone)) = (
            transition.days,
            rule.expiration.as_ref().and_then(|e| e.days),
        ) && gone <= moved
        {
            return Err(invalid_argument(
                "'Days' in the Expiration action must be greater than 'Days' in the Transition action",
            ));
        }
    }
    for transition in rule.noncurrent_version_transitions.iter().flatten() {
        actions += 1;
        if transition.noncurrent_days.is_none_or(|d| d < 0) {
            return Err(invalid_argument(
                "'NoncurrentDays' in NoncurrentVersionTransition action must be zero or a positive integer",
            ));
        }
        check_newer_versions(transition.newer_noncurrent_versions)?;
        let class = transition.storage_class.as_ref().map(|c| c.as_str());
        check_class(class, transition.noncurrent_days, "NoncurrentDays")?;
    }
    if actions == 0 {
        return Err(invalid_request(
            "At least one action needs to be specified in a rule",
        ));
    }
    Ok(())
}

fn check_newer_versions(count: Option<i32>) -> Result<(), S3Error> {
    if count.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err(invalid_argument(
            "'NewerNoncurrentVersions' must be an integer between 1 and 100",
        ));
    }
    Ok(())
}

fn check_class(class: Option<&str>, days: Option<i32>, field: &str) -> Result<(), S3Error> {
    let Some(class) = class.filter(|c| TRANSITION_CLASSES.contains(c)) else {
        return Err(malformed_xml());
    };
    if matches!(class, "STANDARD_IA" | "ONEZONE_IA") && days.is_some_and(|d| d < 30) {
        return Err(invalid_argument(format!(
            "'{field}' in Transition action must be greater than or equal to 30 for storageClass '{class}'"
        )));
    }
    Ok(())
}

fn check_midnight(date: &Timestamp) -> Result<(), S3Error> {
    let time = time::OffsetDateTime::from(date.clone());
    if time.unix_timestamp() % 86_400 != 0 || time.nanosecond() != 0 {
        return Err(invalid_argument("'Date' must be at midnight GMT"));
    }
    Ok(())
}

fn check_filter(filter: &LifecycleRuleFilter) -> Result<(), S3Error> {
    let given = [
        filter.prefix.is_some(),
        filter.tag.is_some(),
        filter.and.is_some(),
        filter.object_size_greater_than.is_some(),
        filter.object_size_less_than.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(malformed_xml());
    }
    if let Some(and) = &filter.and {
        let mut keys: Vec<&str> = and
            .tags
            .iter()
            .flatten()
            .filter_map(|t| t.key.as_deref())
            .collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid_request("Duplicate Tag Keys are not allowed."));
        }
    }
    let (greater, less) = size_bounds(filter);
    if greater.is_some_and(|g| g < 0) || less.is_some_and(|l| l <= 0) {
        return Err(invalid_argument(
            "Object size filters must be non-negative (ObjectSizeLessThan: positive)",
        ));
    }
    if let (Some(greater), Some(less)) = (greater, less)
        && greater >= less
    {
        return Err(invalid_argument(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ));
    }
    Ok(())
}

/// A filter's object size bounds (greater than, less than), in its And or
/// on their own.
fn size_bounds(filter: &LifecycleRuleFilter) -> (Option<i64>, Option<i64>) {
    match &filter.and {
        Some(and) => (and.object_size_greater_than, and.object_size_less_than),
        None => (
            filter.object_size_greater_than,
            filter.object_size_less_than,
        ),
    }
}

/// The tags a rule's filter asks for (key, value).
fn tags_of(rule: &LifecycleRule) -> Vec<(&str, &str)> {
    let Some(filter) = &rule.filter else {
        return Vec::new();
    };
    fn pair(t: &Tag) -> Option<(&str, &str)> {
        Some((t.key.as_deref()?, t.value.as_deref().unwrap_or("")))
    }
    match &filter.and {
        Some(and) => and.tags.iter().flatten().filter_map(pair).collect(),
        None => filter.tag.iter().filter_map(pair).collect(),
    }
}

/// What a rule looks at in an object (or one version, or an upload).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub key: &'a str,
    pub size: u64,
    pub tags: &'a [(String, String)],
}

pub fn enabled(rule: &LifecycleRule) -> bool {
    rule.status.as_str() == "Enabled"
}

/// The prefix a rule's objects start with ("" for all).
pub fn prefix_of(rule: &LifecycleRule) -> &str {
    let filter = rule.filter.as_ref();
    rule.prefix
        .as_deref()
        .or_else(|| filter.and_then(|f| f.prefix.as_deref()))
        .or_else(|| filter.and_then(|f| f.and.as_ref()?.prefix.as_deref()))
        .unwrap_or("")
}

/// Whether an enabled rule's filter takes this object.
pub fn applies(rule: &LifecycleRule, subject: &Subject<'_>) -> bool {
    if !enabled(rule) || !subject.key.starts_with(prefix_of(rule)) {
        return false;
    }
    let has_tag = |(key, value): &(&str, &str)| {
        subject
            .tags
            .iter()
            .any(|(k, v)| k.as_str() == *key && v.as_str() == *value)
    };
    if !tags_of(rule).iter().all(has_tag) {
        return false;
    }
    let (greater, less) = rule.filter.as_ref().map_or((None, None), size_bounds);
    let size = i64::try_from(subject.size).unwrap_or(i64::MAX);
    greater.is_none_or(|g| size > g) && less.is_none_or(|l| size < l)
}

/// How long a lifecycle day lasts: S3's is 86,400 s; a shorter one lets
/// tests (and people trying rules out) see days pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub Duration);

impl Default for Day {
    fn default() -> Self {
        Day(Duration::from_secs(86_400))
    }
}

impl Day {
    /// When `days` days after `since` are up: S3 adds them and rounds up to
    /// the next day's start (midnight UTC).
    pub fn after(self, since: SystemTime, days: i32) -> SystemTime {
        let day = self.0.as_nanos().max(1);
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let end = since + day * u128::try_from(days.max(0)).unwrap_or(0);
        let rounded = end.div_ceil(day) * day;
        let secs = u64::try_from(rounded / 1_000_000_000).unwrap_or(u64::MAX / 2);
        let nanos = (rounded % 1_000_000_000) as u32;
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }
}

/// When a current object expires by the rule, if it has an Expiration by
/// Days or Date.
pub fn expires_at(rule: &LifecycleRule, last_modified: SystemTime, day: Day) -> Option<SystemTime> {
    let expiration = rule.expiration.as_ref()?;
    if let Some(days) = expiration.days {
        return Some(day.after(last_modified, days));
    }
    let date = time::OffsetDateTime::from(expiration.date.clone()?);
    Some(SystemTime::from(date))
}

/// The earliest expiry of a current object among the rules, with its rule's
/// ID: S3's `x-amz-expiration` header.
pub fn expiry<'r>(
    rules: &'r [LifecycleRule],
    subject: &Subject<'_>,
    last_modified: SystemTime,
    day: Day,
) -> Option<(SystemTime, &'r str)> {
    rules
        .iter()
        .filter(|r| applies(r, subject))
        .filter_map(|r| Some((expires_at(r, last_modified, day)?, r.id.as_deref()?)))
        .min_by_key(|(at, _)| *at)
}

/// S3's `x-amz-expiration` value.
pub fn expiration_header(at: SystemTime, rule_id: &str) -> String {
    let date = crate::s3::objects::http_date(&Timestamp::from(at)).unwrap_or_default();
    format!("expiry-date=\"{date}\", rule-id=\"{rule_id}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, prefix: &str, days: i32) -> LifecycleRule {
        LifecycleRule {
            id: Some(id.into()),
            prefix: Some(prefix.into()),
            status: ExpirationStatus::from_static(ExpirationStatus::ENABLED),
            expiration: Some(LifecycleExpiration {
                days: Some(days),
                ..Default::default()
            }),
            abort_incomplete_multipart_upload: None,
            filter: None,
            noncurrent_version_expiration: None,
            noncurrent_version_transitions: None,
            transitions: None,
        }
    }

    fn at(text: &str) -> SystemTime {
        let parsed = Timestamp::parse(TimestampFormat::DateTime, text).unwrap();
        SystemTime::from(time::OffsetDateTime::from(parsed))
    }

    fn code(result: Result<Vec<LifecycleRule>, S3Error>) -> String {
        result.unwrap_err().code().as_str().to_string()
    }

    #[test]
    fn days_round_up_to_the_next_midnight_utc() {
        // S3's example: an object created 2014-01-15 10:30 UTC with a
        // 3-day rule expires 2014-01-19 00:00 UTC.
        let day = Day::default();
        assert_eq!(
            day.after(at("2014-01-15T10:30:00Z"), 3),
            at("2014-01-19T00:00:00Z")
        );
        assert_eq!(
            day.after(at("2014-01-15T00:00:00Z"), 1),
            at("2014-01-16T00:00:00Z")
        );
        let header = expiration_header(at("2012-12-23T00:00:00Z"), "picture-deletion-rule");
        assert_eq!(
            header,
            "expiry-date=\"Sun, 23 Dec 2012 00:00:00 GMT\", rule-id=\"picture-deletion-rule\""
        );
    }

    #[test]
    fn rules_are_checked_as_s3_checks_them() {
        assert!(validate(vec![rule("a", "logs/", 1), rule("b", "tmp/", 2)]).is_ok());
        assert_eq!(code(validate(vec![])), "MalformedXML");
        assert_eq!(
            code(validate(vec![rule(&"a".repeat(256), "x/", 1)])),
            "InvalidArgument"
        );
        assert_eq!(
            code(validate(vec![rule("a", "x/", 1), rule("a", "y/", 2)])),
            "InvalidArgument"
        );
        assert_eq!(code(validate(vec![rule("a", "x/", 0)])), "InvalidArgument");
        let mut lower = rule("a", "x/", 1);
        lower.status = ExpirationStatus::from("enabled".to_string());
        assert_eq!(code(validate(vec![lower])), "MalformedXML");
        let mut noon = rule("a", "x/", 1);
        noon.expiration = Some(LifecycleExpiration {
            date: Some(
                Timestamp::parse(TimestampFormat::DateTime, "2020-01-01T12:00:00Z").unwrap(),
            ),
            ..Default::default()
        });
        assert_eq!(code(validate(vec![noon])), "InvalidArgument");
        let mut nothing = rule("a", "x/", 1);
        nothing.expiration = None;
        assert_eq!(code(validate(vec![nothing])), "InvalidRequest");
        let mut tagged_abort = rule("a", "x/", 1);
        tagged_abort.prefix = None;
        tagged_abort.filter = Some(LifecycleRuleFilter {
            tag: Some(Tag {
                key: Some("k".into()),
                value: Some("v".into()),
            }),
            ..Default::default()
        });
        tagged_abort.abort_incomplete_multipart_upload = Some(AbortIncompleteMultipartUpload {
            days_after_initiation: Some(1),
        });
        assert_eq!(code(validate(vec![tagged_abort])), "InvalidRequest");
        let mut unnamed = rule("", "x/", 1);
        unnamed.id = None;
        let named = validate(vec![unnamed]).unwrap();
        assert!(named[0].id.as_ref().is_some_and(|id| !id.is_empty()));
    }

    #[test]
    fn filters_take_prefix_tags_and_sizes() {
        let tags = vec![
            ("key1".to_string(), "tag1".to_string()),
            ("key5".to_string(), "tag5".to_string()),
        ];
        let subject = Subject {
            key: "logs/a",
            size: 100,
            tags: &tags,
        };
        let mut r = rule("a", "logs/", 1);
        assert!(applies(&r, &subject));
        r.prefix = None;
        r.filter = Some(LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: Some("logs/".into()),
                tags: Some(vec![
                    Tag {
                        key: Some("key1".into()),
                        value: Some("tag1".into()),
                    },
                    Tag {
                        key: Some("key5".into()),
                        value: Some("tag6".into()),
                    },
                ]),
                object_size_greater_than: None,
                object_size_less_than: None,
            }),
            ..Default::default()
        });
        assert!(!applies(&r, &subject), "key5=tag6 is not on the object");
        r.filter = Some(LifecycleRuleFilter {
            object_size_greater_than: Some(99),
            ..Default::default()
        });
        assert!(applies(&r, &subject));
        r.filter = Some(LifecycleRuleFilter {
            object_size_less_than: Some(100),
            ..Default::default()
        });
        assert!(!applies(&r, &subject));
        r.status = ExpirationStatus::from_static(ExpirationStatus::DISABLED);
        r.filter = Some(LifecycleRuleFilter::default());
        assert!(!applies(&r, &subject), "a disabled rule applies to nothing");
    }
}
