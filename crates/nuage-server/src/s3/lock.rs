//! S3 Object Lock: a bucket created with it (or a versioning-enabled bucket
//! given a configuration) keeps versions from deletion while they have a
//! legal hold or a retention period (GOVERNANCE: bypassable with
//! `x-amz-bypass-governance-retention`; COMPLIANCE: by no one). The
//! bucket's configuration is the lake setting `object-lock`; a version's
//! retention and hold ride on its record, and the lake refuses to delete a
//! locked version ([`nuage_lake::objects::ObjectError::Locked`]).

use nuage_lake::objects::{LOCK_SETTING, Meta, ObjectError, Retention, Versioning};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

use axum::http;

use crate::s3::errors::{OrS3, refuse, refuse_custom};
use crate::s3::{Answer, NuageS3};

/// A bucket's Object Lock configuration as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct BucketLock {
    /// The default retention of new versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<DefaultRule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DefaultRule {
    mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    years: Option<i32>,
}

/// What a write asks of Object Lock (PutObject's, CreateMultipartUpload's
/// and CopyObject's `x-amz-object-lock-*` headers).
pub(super) struct LockAsked<'a> {
    pub mode: Option<&'a ObjectLockMode>,
    pub until: Option<&'a Timestamp>,
    pub legal_hold: Option<&'a ObjectLockLegalHoldStatus>,
}

fn malformed(what: &str) -> s3s::S3Error {
    refuse(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {what}"
        ),
    )
}

fn missing_configuration() -> s3s::S3Error {
    refuse(
        S3ErrorCode::InvalidRequest,
        "Bucket is missing Object Lock Configuration",
    )
}

/// `GOVERNANCE` or `COMPLIANCE`, exactly as S3 spells them.
fn mode(text: &str) -> S3Result<String> {
    match text {
        Retention::GOVERNANCE | Retention::COMPLIANCE => Ok(text.to_string()),
        other => Err(malformed(&format!(
            "the mode {other:?} is neither GOVERNANCE nor COMPLIANCE"
        ))),
    }
}

fn legal_hold(status: &str) -> S3Result<bool> {
    match status {
        ObjectLockLegalHoldStatus::ON => Ok(true),
        ObjectLockLegalHoldStatus::OFF => Ok(false),
        other => Err(malformed(&format!(
            "the legal hold status {other:?} is neither ON nor OFF"
        ))),
    }
}

fn ns_of(time: &Timestamp) -> i64 {
    let nanos = time::OffsetDateTime::from(time.clone()).unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

fn timestamp_of(ns: i64) -> Option<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .map(Timestamp::from)
}

/// The lock fields a GET or HEAD answers.
pub(super) struct LockFields {
    pub mode: Option<ObjectLockMode>,
    pub until: Option<Timestamp>,
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

pub(super) fn fields(meta: &Meta) -> LockFields {
    LockFields {
        mode: meta
            .retention
            .as_ref()
            .map(|r| ObjectLockMode::from(r.mode.clone())),
        until: meta
            .retention
            .as_ref()
            .and_then(|r| timestamp_of(r.until_ns)),
        legal_hold: meta
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    }
}

impl NuageS3 {
    async fn bucket_lock(&self, bucket: &str) -> S3Result<Option<BucketLock>> {
        let stored = self
            .objects
            .bucket_setting(bucket, LOCK_SETTING)
            .await
            .or_s3()?;
        Ok(stored.map(|bytes| serde_json::from_slice(&bytes).unwrap_or_default()))
    }

    async fn set_bucket_lock(&self, bucket: &str, lock: &BucketLock) -> S3Result<()> {
        let bytes = serde_json::to_vec(lock).expect("a lock configuration serializes");
        self.objects
            .set_bucket_setting(bucket, LOCK_SETTING, Some(bytes))
            .await
            .or_s3()
    }

    /// CreateBucket with `x-amz-bucket-object-lock-enabled: true`: the
    /// bucket is versioned and keeps locks from the start.
    pub(super) async fn enable_lock_on_create(&self, bucket: &str) -> S3Result<()> {
        self.objects
            .set_versioning(bucket, Versioning::Enabled)
            .await
            .or_s3()?;
        self.set_bucket_lock(bucket, &BucketLock::default()).await
    }

    /// What every new object takes from its request besides its bytes and
    /// stored headers: its ACL grants (refused where the bucket blocks
    /// public ones) and its Object Lock retention and hold.
    pub(super) async fn guard_new_object(
        &self,
        bucket: &str,
        grants: Vec<(String, String)>,
        lock: LockAsked<'_>,
        meta: &mut Meta,
    ) -> S3Result<()> {
        self.check_public_grants(bucket, &grants).await?;
        meta.grants = grants;
        self.apply_lock(bucket, lock, meta).await
    }

    /// Puts the retention and hold a write asks for (or the bucket's
    /// default retention) on the new version's record.
    async fn apply_lock(
        &self,
        bucket: &str,
        asked: LockAsked<'_>,
        meta: &mut Meta,
    ) -> S3Result<()> {
        let any = asked.mode.is_some() || asked.until.is_some() || asked.legal_hold.is_some();
        // Object Lock keeps a bucket's versioning Enabled: any other bucket
        // has no lock to apply (one attribute read, not a trip to the pool).
        if !any && self.objects.versioning(bucket).or_s3()? != Versioning::Enabled {
            return Ok(());
        }
        let Some(lock) = self.bucket_lock(bucket).await? else {
            return if any {
                Err(missing_configuration())
            } else {
                Ok(())
            };
        };
        meta.legal_hold = match asked.legal_hold {
            Some(status) => legal_hold(status.as_str())?,
            None => false,
        };
        meta.retention = match (asked.mode, asked.until) {
            (Some(m), Some(until)) => {
                let until_ns = ns_of(until);
                if until_ns <= nuage_lake::objects::meta::now_ns() {
                    return Err(refuse(
                        S3ErrorCode::InvalidArgument,
                        "The retain until date must be in the future!",
                    ));
                }
                Some(Retention {
                    mode: mode(m.as_str()).map_err(|_| {
                        refuse(S3ErrorCode::InvalidArgument, "Unknown wormMode directive.")
                    })?,
                    until_ns,
                })
            }
            (None, None) => lock.default.map(|rule| {
                let days = rule.days.unwrap_or(0) as i64 + rule.years.unwrap_or(0) as i64 * 365;
                let period = days.saturating_mul(86_400 * 1_000_000_000);
                Retention {
                    mode: rule.mode,
                    until_ns: nuage_lake::objects::meta::now_ns().saturating_add(period),
                }
            }),
            _ => {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
                ));
            }
        };
        Ok(())
    }

    /// The record of an object version in a bucket with Object Lock.
    async fn locked_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> S3Result<Meta> {
        if self.bucket_lock(bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let opened = self
            .objects
            .open_version(bucket, key, version)
            .await
            .or_s3()?;
        Ok(opened.info.meta)
    }

    pub(super) async fn put_object_lock_configuration_(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> Answer<PutObjectLockConfigurationOutput> {
        let input = req.input;
        let config = input.object_lock_configuration.unwrap_or_default();
        if config.object_lock_enabled.as_ref().map(|e| e.as_str())
            != Some(ObjectLockEnabled::ENABLED)
        {
            return Err(malformed("ObjectLockEnabled must be Enabled"));
        }
        let default = match config.rule.and_then(|r| r.default_retention) {
            None => None,
            Some(retention) => {
                let mode = mode(retention.mode.as_ref().map_or("", |m| m.as_str()))?;
                match (retention.days, retention.years) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(malformed(
                            "a DefaultRetention has either Days or Years, not both or neither",
                        ));
                    }
                    (Some(n), None) | (None, Some(n)) if n <= 0 => {
                        return Err(refuse_custom(
                            "InvalidRetentionPeriod",
                            http::StatusCode::BAD_REQUEST,
                            "Default retention period must be a positive integer value.",
                        ));
                    }
                    // S3 keeps a default retention to 100 years at most.
                    (Some(days), None) if days > MAX_DAYS => return Err(too_long()),
                    (None, Some(years)) if years > MAX_DAYS / 365 => return Err(too_long()),
                    (days, years) => Some(DefaultRule { mode, days, years }),
                }
            }
        };
        if self.bucket_lock(&input.bucket).await?.is_none() {
            // S3 lets a versioning-enabled bucket take Object Lock later.
            let state = self.objects.versioning(&input.bucket).or_s3()?;
            if state != Versioning::Enabled {
                return Err(ObjectError::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                        .into(),
                ))
                .or_s3();
            }
        }
        self.set_bucket_lock(&input.bucket, &BucketLock { default })
            .await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(super) async fn get_object_lock_configuration_(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> Answer<GetObjectLockConfigurationOutput> {
        let Some(lock) = self.bucket_lock(&req.input.bucket).await? else {
            return Err(refuse(
                S3ErrorCode::ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket",
            ));
        };
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(
                    ObjectLockEnabled::ENABLED,
                )),
                rule: lock.default.map(|rule| ObjectLockRule {
                    default_retention: Some(DefaultRetention {
                        mode: Some(ObjectLockRetentionMode::from(rule.mode)),
                        days: rule.days,
                        years: rule.years,
                    }),
                }),
            }),
        }))
    }

    /// Sets a version's retention. An active one may be lengthened; to
    /// shorten, remove or change it needs a GOVERNANCE retention and the
    /// bypass header (a COMPLIANCE one never).
    pub(super) async fn put_object_retention_(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> Answer<PutObjectRetentionOutput> {
        let input = req.input;
        if self.bucket_lock(&input.bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let asked = input.retention.unwrap_or_default();
        let wanted = match (asked.mode, asked.retain_until_date) {
            (Some(m), Some(until)) => Some(Retention {
                mode: mode(m.as_str())?,
                until_ns: ns_of(&until),
            }),
            (None, None) => None,
            _ => return Err(malformed("a Retention has both Mode and RetainUntilDate")),
        };
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        self.objects
            .update_meta(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                move |meta| {
                    if let Some(current) = meta.retention.as_ref().filter(|r| r.active()) {
                        let longer = wanted.as_ref().is_some_and(|w| {
                            w.mode == current.mode && w.until_ns >= current.until_ns
                        });
                        let bypassed = bypass && current.mode == Retention::GOVERNANCE;
                        if !longer && !bypassed {
                            return Err(ObjectError::Locked(format!(
                                "this version is under {} retention: it can only be lengthened{}",
                                current.mode,
                                if current.mode == Retention::GOVERNANCE {
                                    " (or changed with x-amz-bypass-governance-retention: true)"
                                } else {
                                    ""
                                }
                            )));
                        }
                    }
                    meta.retention = wanted;
                    Ok(())
                },
            )
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(super) async fn get_object_retention_(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> Answer<GetObjectRetentionOutput> {
        let input = req.input;
        let meta = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        let Some(retention) = meta.retention else {
            return Err(no_lock("retention"));
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(retention.mode)),
                retain_until_date: timestamp_of(retention.until_ns),
            }),
        }))
    }

    pub(super) async fn put_object_legal_hold_(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> Answer<PutObjectLegalHoldOutput> {
        let input = req.input;
        if self.bucket_lock(&input.bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let status = input.legal_hold.and_then(|h| h.status);
        let on = legal_hold(status.as_ref().map_or("", |s| s.as_str()))?;
        self.objects
            .update_meta(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                move |meta| {
                    meta.legal_hold = on;
                    Ok(())
                },
            )
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(super) async fn get_object_legal_hold_(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> Answer<GetObjectLegalHoldOutput> {
        let input = req.input;
        let meta = self
            .locked_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await?;
        let status = if meta.legal_hold {
            ObjectLockLegalHoldStatus::ON
        } else {
            ObjectLockLegalHoldStatus::OFF
        };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold {
                status: Some(ObjectLockLegalHoldStatus::from_static(status)),
            }),
        }))
    }
}

/// The longest default retention S3 accepts: 100 years.
const MAX_DAYS: i32 = 36_500;

fn too_long() -> s3s::S3Error {
    refuse_custom(
        "InvalidRetentionPeriod",
        http::StatusCode::BAD_REQUEST,
        "Default retention period is too large: at most 36500 days or 100 years.",
    )
}

fn no_lock(what: &str) -> s3s::S3Error {
    refuse(
        S3ErrorCode::NoSuchObjectLockConfiguration,
        format!("The specified object does not have a {what} configuration"),
    )
}
