//! S3 server access logging: Put/GetBucketLogging keep where a bucket's
//! requests are logged, every request to such a bucket becomes a line in
//! S3's documented format ([`record`]), and the lines are delivered as
//! objects into the target bucket ([`deliver`]).
//!
//! Checked when logging is put, as S3 checks: the target bucket exists
//! and has the source bucket's owner (else InvalidTargetBucketForLogging),
//! a key format is SimplePrefix or PartitionedPrefix with EventTime or
//! DeliveryTime (else MalformedXML). Not checked: that the target's policy
//! lets the logging service write (nuage writes the logs itself).

pub mod deliver;
pub mod record;

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, Uri};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response};
use serde::{Deserialize, Serialize};

use crate::s3::errors::{OrS3, malformed_xml, refuse};
use crate::s3::{Answer, NuageS3};

pub use deliver::{Deliveries, Destination};

const SETTING: &str = "logging";

/// The account that appears in partitioned log keys.
const ACCOUNT: &str = "000000000000";

/// A bucket's logging, as kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Logging {
    target_bucket: String,
    target_prefix: String,
    /// `Some(EventTime | DeliveryTime)` with PartitionedPrefix; `None`
    /// with SimplePrefix (S3's default).
    #[serde(default)]
    partitioned: Option<String>,
    /// A TargetObjectKeyFormat was given (answered back as given).
    #[serde(default)]
    key_format: bool,
    #[serde(default)]
    grants: Vec<StoredGrant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGrant {
    kind: String,
    id: Option<String>,
    uri: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    permission: Option<String>,
}

pub fn logging_of(objects: &nuage_lake::objects::Objects, bucket: &str) -> Option<Logging> {
    objects.json_setting(bucket, SETTING)
}

fn invalid_target(message: &str) -> s3s::S3Error {
    refuse(
        S3ErrorCode::Custom("InvalidTargetBucketForLogging".into()),
        message.to_string(),
    )
}

impl NuageS3 {
    pub(super) async fn put_bucket_logging_(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> Answer<PutBucketLoggingOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let Some(enabled) = input.bucket_logging_status.logging_enabled else {
            // An empty BucketLoggingStatus turns logging off.
            self.objects
                .set_bucket_setting(&input.bucket, SETTING, None)
                .await
                .or_s3()?;
            return Ok(S3Response::new(PutBucketLoggingOutput::default()));
        };
        if !self.objects.bucket_exists(&enabled.target_bucket) {
            return Err(invalid_target(
                "The target bucket for logging does not exist",
            ));
        }
        if self.bucket_owner(&enabled.target_bucket)? != self.bucket_owner(&input.bucket)? {
            return Err(invalid_target(
                "The owner for the bucket to be logged and the target bucket must be the same.",
            ));
        }
        let key_format = enabled.target_object_key_format.is_some();
        let partitioned = match enabled.target_object_key_format {
            None => None,
            Some(TargetObjectKeyFormat {
                partitioned_prefix: Some(p),
                simple_prefix: None,
            }) => {
                let source = p
                    .partition_date_source
                    .map_or(PartitionDateSource::EVENT_TIME.to_string(), |s| {
                        s.as_str().to_string()
                    });
                if !matches!(
                    source.as_str(),
                    PartitionDateSource::EVENT_TIME | PartitionDateSource::DELIVERY_TIME
                ) {
                    return Err(malformed_xml());
                }
                Some(source)
            }
            Some(TargetObjectKeyFormat {
                partitioned_prefix: None,
                simple_prefix: Some(_),
            }) => None,
            Some(_) => return Err(malformed_xml()),
        };
        let grants = enabled
            .target_grants
            .unwrap_or_default()
            .into_iter()
            .map(|g| {
                let grantee = g.grantee.unwrap_or_else(canonical_user);
                StoredGrant {
                    kind: grantee.type_.as_str().to_string(),
                    id: grantee.id,
                    uri: grantee.uri,
                    email: grantee.email_address,
                    display_name: grantee.display_name,
                    permission: g.permission.map(|p| p.as_str().to_string()),
                }
            })
            .collect();
        let logging = Logging {
            target_bucket: enabled.target_bucket,
            target_prefix: enabled.target_prefix,
            partitioned,
            key_format,
            grants,
        };
        let value = serde_json::to_vec(&logging).expect("logging serializes");
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(value))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketLoggingOutput::default()))
    }

    pub(super) async fn get_bucket_logging_(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> Answer<GetBucketLoggingOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let logging_enabled = logging_of(&self.objects, &bucket).map(|l| LoggingEnabled {
            target_bucket: l.target_bucket,
            target_prefix: l.target_prefix,
            target_object_key_format: l.key_format.then(|| match l.partitioned {
                Some(source) => TargetObjectKeyFormat {
                    partitioned_prefix: Some(PartitionedPrefix {
                        partition_date_source: Some(PartitionDateSource::from(source)),
                    }),
                    simple_prefix: None,
                },
                None => TargetObjectKeyFormat {
                    partitioned_prefix: None,
                    simple_prefix: Some(SimplePrefix {}),
                },
            }),
            target_grants: (!l.grants.is_empty()).then(|| {
                l.grants
                    .into_iter()
                    .map(|g| TargetGrant {
                        grantee: Some(Grantee {
                            type_: Type::from(g.kind),
                            id: g.id,
                            uri: g.uri,
                            email_address: g.email,
                            display_name: g.display_name,
                        }),
                        permission: g.permission.map(BucketLogsPermission::from),
                    })
                    .collect()
            }),
        });
        Ok(S3Response::new(GetBucketLoggingOutput { logging_enabled }))
    }
}

/// A grant without a grantee names nobody in particular.
fn canonical_user() -> Grantee {
    Grantee {
        display_name: None,
        email_address: None,
        id: None,
        type_: Type::from_static(Type::CANONICAL_USER),
        uri: None,
    }
}

/// What the edge knows of a request before and after s3s answers it.
pub struct Seen {
    /// The bucket asked for, and where it logs.
    pub bucket: String,
    pub logging: Logging,
    /// The bucket is named in the host, not the path.
    pub virtual_host: bool,
    pub started: SystemTime,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub remote_ip: Option<std::net::IpAddr>,
    pub requester: Option<String>,
}

/// The request's key as it was sent (URL-encoded), if it names one.
fn key_in(uri: &Uri, bucket: &str, virtual_host: bool) -> Option<String> {
    let path = uri.path().strip_prefix('/')?;
    let key = match virtual_host {
        true => path,
        false => path.strip_prefix(bucket)?.strip_prefix('/')?,
    };
    (!key.is_empty()).then(|| key.to_string())
}

impl NuageS3 {
    /// Logs a request to a bucket with logging on, once it is answered.
    pub(super) fn log_request(
        &self,
        deliveries: &Deliveries,
        seen: Seen,
        response: &axum::response::Response,
        error_code: Option<String>,
        request_id: &str,
        host_id: &str,
    ) {
        let bucket = seen.bucket.as_str();
        let logging = &seen.logging;
        let key = key_in(&seen.uri, bucket, seen.virtual_host);
        let header = |map: &HeaderMap, name: &str| {
            map.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let number = |map: &HeaderMap, name: &str| header(map, name)?.parse::<u64>().ok();
        let out = response.headers();
        let bytes_sent = number(out, "content-length").filter(|n| *n > 0);
        let object_size = key.as_ref().and_then(|_| {
            if seen.method == Method::PUT {
                number(&seen.headers, "x-amz-decoded-content-length")
                    .or_else(|| number(&seen.headers, "content-length"))
            } else {
                header(out, "content-range")
                    .and_then(|r| r.rsplit('/').next()?.parse().ok())
                    .or(bytes_sent)
            }
        });
        let authorization = header(&seen.headers, "authorization");
        let query = seen.uri.query().unwrap_or_default();
        let (signature_version, auth_type) = match authorization.as_deref() {
            Some(a) if a.starts_with("AWS4-") => (Some("SigV4"), Some("AuthHeader")),
            Some(a) if a.starts_with("AWS ") => (Some("SigV2"), Some("AuthHeader")),
            _ if query.contains("X-Amz-Signature=") => (Some("SigV4"), Some("QueryString")),
            _ if query.contains("Signature=") => (Some("SigV2"), Some("QueryString")),
            _ => (None, None),
        };
        let elapsed = SystemTime::now()
            .duration_since(seen.started)
            .unwrap_or_default();
        let entry = record::Entry {
            bucket_owner: self
                .bucket_owner(bucket)
                .unwrap_or_else(|_| "-".to_string()),
            bucket: bucket.to_string(),
            time: Some(seen.started),
            remote_ip: seen.remote_ip,
            requester: seen.requester.clone(),
            request_id: request_id.to_string(),
            operation: record::operation(&seen.method, &seen.uri, &seen.headers, key.is_some()),
            request_uri: format!(
                "{} {} HTTP/1.1",
                seen.method,
                seen.uri.path_and_query().map_or("/", |p| p.as_str())
            ),
            key,
            status: response.status().as_u16(),
            error_code,
            bytes_sent,
            object_size,
            total_ms: elapsed.as_millis() as u64,
            referer: header(&seen.headers, "referer"),
            user_agent: header(&seen.headers, "user-agent"),
            version_id: header(out, "x-amz-version-id"),
            host_id: host_id.to_string(),
            signature_version,
            auth_type,
            host_header: header(&seen.headers, "host"),
        };
        let day = match logging.partitioned.as_deref() {
            Some(PartitionDateSource::EVENT_TIME) => Some(seen.started),
            Some(_) => Some(SystemTime::now()),
            None => None,
        };
        let key_prefix = match day {
            Some(day) => format!(
                "{}{}",
                logging.target_prefix,
                deliver::partition(ACCOUNT, &self.region, bucket, day)
            ),
            None => logging.target_prefix.clone(),
        };
        deliveries.add(
            Destination {
                bucket: logging.target_bucket.clone(),
                key_prefix,
            },
            entry.line(),
        );
    }
}
