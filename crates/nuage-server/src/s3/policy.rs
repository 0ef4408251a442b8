//! Bucket policies: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus, and
//! their part in each request's access decision ([`crate::s3::acl::Access`]).
//!
//! A policy is IAM's JSON (S3 user guide, "Bucket policies"): statements
//! with Effect, Principal or NotPrincipal, Action or NotAction, Resource or
//! NotResource and Condition blocks. As S3 decides within one account, an
//! explicit Deny wins over everything, an Allow adds to what ownership and
//! ACLs give. Principals are `*` (anyone, unsigned requests too) or users
//! named by canonical id, or by an ARN ending in `:user/<id or name>`.
//! Conditions: the String*, Numeric*, Bool and Null operators, with
//! `...IfExists` and `ForAnyValue:` / `ForAllValues:`, over the keys
//! [`Facts`] knows.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use serde_json::Value;

use crate::s3::Answer;
use crate::s3::errors::{OrS3, refuse};

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    /// Principal (`true`) or NotPrincipal (`false`), and whom it names.
    principal: (bool, Principals),
    /// Action or NotAction.
    action: (bool, Vec<String>),
    /// Resource or NotResource.
    resource: (bool, Vec<String>),
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum Principals {
    Anyone,
    Named(Vec<String>),
}

#[derive(Debug, Clone)]
struct Condition {
    /// The operator without its `IfExists` suffix or set prefix.
    operator: String,
    if_exists: bool,
    /// `ForAnyValue` / `ForAllValues`, if given.
    set: Option<String>,
    key: String,
    values: Vec<String>,
}

/// One string or a list of them, as IAM allows for most fields.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Bool(b) => Some(vec![b.to_string()]),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Exactly one of `name` and `Not<name>`: (`true` for `name`, its strings).
fn either(statement: &Value, name: &str) -> Result<(bool, Vec<String>), String> {
    let not = format!("Not{name}");
    match (statement.get(name), statement.get(&not)) {
        (Some(v), None) => strings(v)
            .map(|s| (true, s))
            .ok_or_else(|| format!("Policy has an invalid {name}")),
        (None, Some(v)) => strings(v)
            .map(|s| (false, s))
            .ok_or_else(|| format!("Policy has an invalid {not}")),
        (None, None) => Err(format!("Missing required field {name}")),
        (Some(_), Some(_)) => Err(format!("A statement cannot have both {name} and {not}")),
    }
}

fn principals(value: &Value) -> Result<Principals, String> {
    let invalid = || "Invalid principal in policy".to_string();
    match value {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(map) => {
            let mut named = Vec::new();
            for (kind, who) in map {
                let who = strings(who).ok_or_else(invalid)?;
                // AWS services (logging.s3.amazonaws.com, ...) and federated
                // identities are valid principals that are no nuage user:
                // kept apart, they match no request.
                if matches!(kind.as_str(), "Service" | "Federated") {
                    named.extend(who.iter().map(|w| format!("{kind}:{w}")));
                    continue;
                }
                if kind != "AWS" && kind != "CanonicalUser" {
                    return Err(invalid());
                }
                if who.iter().any(|w| w == "*") {
                    return Ok(Principals::Anyone);
                }
                named.extend(who);
            }
            Ok(Principals::Named(named))
        }
        _ => Err(invalid()),
    }
}

fn conditions(value: Option<&Value>) -> Result<Vec<Condition>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let invalid = || "Policy has an invalid condition".to_string();
    let blocks = value.as_object().ok_or_else(invalid)?;
    let mut all = Vec::new();
    for (operator, block) in blocks {
        let (set, operator) = match operator.split_once(':') {
            Some((set @ ("ForAnyValue" | "ForAllValues"), op)) => (Some(set.to_string()), op),
            _ => (None, operator.as_str()),
        };
        let (operator, if_exists) = match operator.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (operator, false),
        };
        if !KNOWN_OPERATORS.contains(&operator) {
            return Err(format!(
                "Policy has an unknown condition operator {operator}"
            ));
        }
        for (key, values) in block.as_object().ok_or_else(invalid)? {
            all.push(Condition {
                operator: operator.to_string(),
                if_exists,
                set: set.clone(),
                key: key.to_ascii_lowercase(),
                values: strings(values).ok_or_else(invalid)?,
            });
        }
    }
    Ok(all)
}

const KNOWN_OPERATORS: [&str; 19] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "Bool",
    "Null",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "IpAddress",
    "NotIpAddress",
];

impl Policy {
    /// Parses and checks a policy for `bucket`; the error is S3's
    /// MalformedPolicy message.
    pub fn parse(text: &str, bucket: &str) -> Result<Self, String> {
        let document: Value = serde_json::from_str(text).map_err(|_| {
            "Policies must be valid JSON and the first byte must be '{'".to_string()
        })?;
        let list = match document.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err("Missing required field Statement".into()),
        };
        let mut statements = Vec::new();
        for s in &list {
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                Some(_) => return Err("Invalid effect".into()),
                None => return Err("Missing required field Effect".into()),
            };
            let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
                (Some(p), None) => (true, principals(p)?),
                (None, Some(p)) => (false, principals(p)?),
                _ => return Err("Missing required field Principal".into()),
            };
            if allow && !principal.0 {
                return Err("Invalid policy: NotPrincipal cannot be used with an Allow".into());
            }
            let action = either(s, "Action")?;
            if action
                .1
                .iter()
                .any(|a| a != "*" && !a.to_ascii_lowercase().starts_with("s3:"))
            {
                return Err("Policy has invalid action".into());
            }
            let resource = either(s, "Resource")?;
            let ours = format!("arn:aws:s3:::{bucket}");
            let applies = |r: &String| {
                r == "*"
                    || wildcard(r, &ours)
                    || r.strip_prefix(&ours)
                        .is_some_and(|rest| rest.starts_with('/'))
                    || wildcard(r, &format!("{ours}/"))
            };
            if resource.0 && !resource.1.iter().any(applies) {
                return Err("Policy has invalid resource".into());
            }
            statements.push(Statement {
                allow,
                principal,
                action,
                resource,
                conditions: conditions(s.get("Condition"))?,
            });
        }
        Ok(Self { statements })
    }

    /// Whether a condition tests a key starting with `prefix` (lowercase).
    pub fn mentions(&self, prefix: &str) -> bool {
        self.statements
            .iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.key.starts_with(prefix))
    }

    /// Whether the policy grants anyone anything without conditions (S3's
    /// "public" policy, simplified: a condition counts as restricting).
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow && s.conditions.is_empty() && matches!(s.principal, (true, Principals::Anyone))
        })
    }

    /// What the policy says about one request.
    pub fn decide(&self, request: &Request<'_>, facts: &dyn Facts) -> Decision {
        let mut decision = Decision::Silent;
        for s in &self.statements {
            if !s.applies(request, facts) {
                continue;
            }
            if !s.allow {
                return Decision::Deny;
            }
            decision = Decision::Allow;
        }
        decision
    }
}

/// A policy's say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    Silent,
}

/// One request as a policy sees it.
pub struct Request<'a> {
    /// The requester's canonical id and display name; `None`: unsigned.
    pub who: Option<(&'a str, &'a str)>,
    /// `s3:GetObject`, ...
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
}

/// The values of condition keys for one request (lowercase key names).
pub trait Facts {
    fn values(&self, key: &str) -> Option<Vec<String>>;
}

impl Statement {
    fn applies(&self, request: &Request<'_>, facts: &dyn Facts) -> bool {
        let named = match &self.principal.1 {
            Principals::Anyone => true,
            Principals::Named(names) => request
                .who
                .is_some_and(|(id, name)| names.iter().any(|p| names_user(p, id, name))),
        };
        let action = self.action.1.iter().any(|a| {
            wildcard(
                &a.to_ascii_lowercase(),
                &request.action.to_ascii_lowercase(),
            )
        });
        let resource = self
            .resource
            .1
            .iter()
            .any(|r| wildcard(r, request.resource));
        named == self.principal.0
            && action == self.action.0
            && resource == self.resource.0
            && self.conditions.iter().all(|c| c.holds(facts))
    }
}

/// Whether a policy principal names the user `id` / `name`.
fn names_user(principal: &str, id: &str, name: &str) -> bool {
    principal == id
        || principal
            .rsplit_once(":user/")
            .is_some_and(|(_, user)| user == id || user == name)
}

impl Condition {
    fn holds(&self, facts: &dyn Facts) -> bool {
        let Some(actual) = facts.values(&self.key) else {
            return match self.operator.as_str() {
                "Null" => self.values.iter().any(|v| v == "true"),
                // Negated operators hold when the key is absent.
                op if op.contains("Not") => true,
                _ => self.if_exists || self.set.as_deref() == Some("ForAllValues"),
            };
        };
        if self.operator == "Null" {
            return self.values.iter().any(|v| v == "false");
        }
        let negated = self.operator.contains("Not");
        let matches_one = |value: &str| self.values.iter().any(|w| self.compare(w, value));
        let positive = match self.set.as_deref() {
            Some("ForAllValues") => actual.iter().all(|v| matches_one(v)),
            _ => actual.iter().any(|v| matches_one(v)),
        };
        if negated { !positive } else { positive }
    }

    /// The operator's test (its negation aside) of one policy value
    /// `wanted` against one request value.
    fn compare(&self, wanted: &str, actual: &str) -> bool {
        let number = |s: &str| s.trim().parse::<f64>().ok();
        match self.operator.replace("Not", "").as_str() {
            "StringEquals" | "ArnEquals" => wanted == actual,
            "StringEqualsIgnoreCase" => wanted.eq_ignore_ascii_case(actual),
            "StringLike" | "ArnLike" => wildcard(wanted, actual),
            "Bool" => wanted.eq_ignore_ascii_case(actual),
            "IpAddress" => in_network(wanted, actual),
            op => match (number(wanted), number(actual)) {
                (Some(w), Some(a)) => match op {
                    "NumericEquals" => a == w,
                    "NumericLessThan" => a < w,
                    "NumericLessThanEquals" => a <= w,
                    "NumericGreaterThan" => a > w,
                    "NumericGreaterThanEquals" => a >= w,
                    _ => false,
                },
                _ => false,
            },
        }
    }
}

/// Whether the address `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`,
/// or one address).
fn in_network(cidr: &str, ip: &str) -> bool {
    let (network, bits) = cidr.split_once('/').unwrap_or((cidr, ""));
    let (Ok(network), Ok(ip)) = (
        network.trim().parse::<std::net::IpAddr>(),
        ip.trim().parse::<std::net::IpAddr>(),
    ) else {
        return false;
    };
    let (network, ip, width) = match (network, ip) {
        (std::net::IpAddr::V4(n), std::net::IpAddr::V4(i)) => {
            (u128::from(u32::from(n)), u128::from(u32::from(i)), 32)
        }
        (std::net::IpAddr::V6(n), std::net::IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        _ => return false,
    };
    let bits: u32 = bits.parse().unwrap_or(width);
    if bits > width {
        return false;
    }
    let shift = width - bits;
    shift >= 128 || (network >> shift) == (ip >> shift)
}

/// IAM's wildcards: `*` any run of characters, `?` any one.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The IAM action of an S3 operation (s3s's operation names).
pub fn action_of(operation: &str) -> String {
    let action = match operation {
        "HeadObject" | "SelectObjectContent" => "GetObject",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "CopyObject"
        | "PostObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "PutObject",
        "DeleteObjects" => "DeleteObject",
        "ListParts" => "ListMultipartUploadParts",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketCors" => "GetBucketCORS",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutBucketPublicAccessBlock",
        "GetPublicAccessBlock" => "GetBucketPublicAccessBlock",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketNotificationConfiguration" => "PutBucketNotification",
        "GetBucketNotificationConfiguration" => "GetBucketNotification",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        "DeleteBucketTagging" => "PutBucketTagging",
        "DeleteBucketOwnershipControls" => "PutBucketOwnershipControls",
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "PutLifecycleConfiguration",
        "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration",
        "PutBucketAccelerateConfiguration" => "PutAccelerateConfiguration",
        "GetBucketAccelerateConfiguration" => "GetAccelerateConfiguration",
        "ListBuckets" => "ListAllMyBuckets",
        other => other,
    };
    format!("s3:{action}")
}

/// The bucket setting that holds a bucket's policy, as its owner sent it.
const SETTING: &str = "policy";

/// S3's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;

impl crate::s3::NuageS3 {
    /// A bucket's policy, if it has one.
    pub(super) fn bucket_policy(&self, bucket: &str) -> S3Result<Option<Policy>> {
        let stored = self.objects.bucket_setting_now(bucket, SETTING).or_s3()?;
        Ok(stored
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| Policy::parse(&text, bucket).ok()))
    }

    pub(super) async fn put_bucket_policy_(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> Answer<PutBucketPolicyOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        if input.policy.len() > MAX_POLICY_BYTES {
            return Err(refuse(
                S3ErrorCode::MalformedPolicy,
                "Policies must be less than 20 KB",
            ));
        }
        let policy = Policy::parse(&input.policy, &input.bucket)
            .map_err(|message| refuse(S3ErrorCode::MalformedPolicy, message))?;
        if policy.is_public() && self.blocks_public_policy(&input.bucket).await? {
            return Err(refuse(
                S3ErrorCode::AccessDenied,
                "Access Denied: the bucket's Block Public Access settings (BlockPublicPolicy) refuse public policies",
            ));
        }
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(input.policy.into_bytes()))
            .await
            .or_s3()?;
        let mut response = S3Response::new(PutBucketPolicyOutput {});
        response.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    pub(super) async fn get_bucket_policy_(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> Answer<GetBucketPolicyOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let stored = self
            .objects
            .bucket_setting(&bucket, SETTING)
            .await
            .or_s3()?;
        let Some(text) = stored.and_then(|bytes| String::from_utf8(bytes).ok()) else {
            let mut error = refuse(
                S3ErrorCode::NoSuchBucketPolicy,
                "The bucket policy does not exist",
            );
            error.set_status_code(axum::http::StatusCode::NOT_FOUND);
            return Err(error);
        };
        Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(text),
        }))
    }

    pub(super) async fn delete_bucket_policy_(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> Answer<DeleteBucketPolicyOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }

    /// IsPublic: a policy that grants anyone anything unconditionally, or a
    /// public ACL.
    pub(super) async fn get_bucket_policy_status_(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> Answer<GetBucketPolicyStatusOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let public = self.bucket_policy(&bucket)?.is_some_and(|p| p.is_public())
            || self.bucket_acl_is_public(&bucket).await?;
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(public),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Known(Vec<(&'static str, &'static str)>);

    impl Facts for Known {
        fn values(&self, key: &str) -> Option<Vec<String>> {
            let found: Vec<String> = self
                .0
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
                .collect();
            (!found.is_empty()).then_some(found)
        }
    }

    fn request<'a>(
        who: Option<(&'a str, &'a str)>,
        action: &'a str,
        resource: &'a str,
    ) -> Request<'a> {
        Request {
            who,
            action,
            resource,
        }
    }

    #[test]
    fn addresses_fall_in_networks() {
        assert!(in_network("10.0.0.0/8", "10.1.2.3"));
        assert!(!in_network("10.0.0.0/32", "10.0.0.1"));
        assert!(in_network("192.168.1.7", "192.168.1.7"));
        assert!(in_network("0.0.0.0/0", "8.8.8.8"));
        assert!(in_network("2001:db8::/32", "2001:db8::1"));
        assert!(!in_network("10.0.0.0/8", "2001:db8::1"));
    }

    #[test]
    fn wildcards_follow_iam() {
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b.csv"));
        assert!(wildcard("s3:Get*", "s3:GetObject"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::bb/x"));
        assert!(wildcard("*", ""));
    }

    /// The user guide's example: public read of a bucket's objects, and a
    /// Deny on a prefix for everyone but one user, which wins.
    #[test]
    fn deny_wins_and_principals_name_users() {
        let text = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
             "Resource": "arn:aws:s3:::site/*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/alice"},
             "Action": "s3:*", "Resource": "arn:aws:s3:::site/private/*"}]}"#;
        let policy = Policy::parse(text, "site").unwrap();
        assert!(policy.is_public());
        let none = Known(vec![]);
        let read = |who, key: &str| {
            let resource = format!("arn:aws:s3:::site/{key}");
            policy.decide(&request(who, "s3:GetObject", &resource), &none)
        };
        assert_eq!(read(None, "index.html"), Decision::Allow);
        assert_eq!(read(None, "private/a"), Decision::Deny);
        assert_eq!(read(Some(("bob-id", "bob")), "private/a"), Decision::Deny);
        assert_eq!(
            read(Some(("alice-id", "alice")), "private/a"),
            Decision::Allow
        );
        let put = policy.decide(&request(None, "s3:PutObject", "arn:aws:s3:::site/x"), &none);
        assert_eq!(put, Decision::Silent);
    }

    #[test]
    fn service_principals_are_valid_and_match_no_user() {
        // The bucket policy S3's documentation gives log buckets.
        let text = r#"{"Version": "2012-10-17", "Statement": [
            {"Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
             "Principal": {"Service": "logging.s3.amazonaws.com"},
             "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::logs/log/*",
             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::source"}}}]}"#;
        let policy = Policy::parse(text, "logs").unwrap();
        assert!(!policy.is_public());
        let none = Known(vec![]);
        let put = |who| {
            policy.decide(
                &request(who, "s3:PutObject", "arn:aws:s3:::logs/log/x"),
                &none,
            )
        };
        assert_eq!(put(None), Decision::Silent);
        assert_eq!(
            put(Some(("logging.s3.amazonaws.com", "logging"))),
            Decision::Silent
        );
        let bad = r#"{"Statement": [{"Effect": "Allow", "Principal": {"Nobody": "x"},
             "Action": "s3:*", "Resource": "arn:aws:s3:::logs/*"}]}"#;
        assert!(Policy::parse(bad, "logs").is_err());
    }

    #[test]
    fn conditions_test_request_values() {
        let text = r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": "public/*"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
             "Resource": "arn:aws:s3:::b/*",
             "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}]}"#;
        let policy = Policy::parse(text, "b").unwrap();
        assert!(!policy.is_public());
        let list =
            |facts: Known| policy.decide(&request(None, "s3:ListBucket", "arn:aws:s3:::b"), &facts);
        assert_eq!(
            list(Known(vec![("s3:prefix", "public/x")])),
            Decision::Allow
        );
        assert_eq!(
            list(Known(vec![("s3:prefix", "secret/")])),
            Decision::Silent
        );
        assert_eq!(list(Known(vec![])), Decision::Silent);
        let put = |facts: Known| {
            policy.decide(&request(None, "s3:PutObject", "arn:aws:s3:::b/k"), &facts)
        };
        assert_eq!(put(Known(vec![])), Decision::Deny);
        assert_eq!(
            put(Known(vec![("s3:x-amz-server-side-encryption", "aws:kms")])),
            Decision::Deny
        );
        assert_eq!(
            put(Known(vec![("s3:x-amz-server-side-encryption", "AES256")])),
            Decision::Silent
        );
    }

    #[test]
    fn malformed_policies_say_what_is_wrong() {
        let bad = |text: &str| Policy::parse(text, "b").unwrap_err();
        assert!(bad("not json").contains("valid JSON"));
        assert!(
            bad(r#"{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"#)
                .contains("Principal")
        );
        assert!(bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"}]}"#
        )
        .contains("resource"));
        assert!(bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ec2:Run", "Resource": "*"}]}"#
        )
        .contains("action"));
    }
}
