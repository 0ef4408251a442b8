//! Object Ownership (S3 user guide, "Controlling ownership of objects and
//! disabling ACLs"): a bucket's setting `ownership`, set on CreateBucket
//! (`x-amz-object-ownership`) or with Put/Get/DeleteBucketOwnershipControls.
//! BucketOwnerEnforced disables ACLs (any ACL but `bucket-owner-full-control`
//! is AccessControlListNotSupported) and makes every new object the
//! bucket owner's; BucketOwnerPreferred gives the bucket owner an object
//! written with `bucket-owner-full-control`; ObjectWriter (and a bucket
//! without the setting, as before S3's 2023 default) leaves it the writer's.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, malformed_xml, refuse, refuse_custom};
use crate::s3::{Answer, NuageS3};

const SETTING: &str = "ownership";

const KINDS: [&str; 3] = [
    ObjectOwnership::BUCKET_OWNER_ENFORCED,
    ObjectOwnership::BUCKET_OWNER_PREFERRED,
    ObjectOwnership::OBJECT_WRITER,
];

fn acls_disabled() -> s3s::S3Error {
    refuse_custom(
        "AccessControlListNotSupported",
        axum::http::StatusCode::BAD_REQUEST,
        "The bucket does not allow ACLs",
    )
}

/// The ACL a write or Put*Acl asks for: its canned name, and whether it
/// also (or instead) gives grants.
pub(super) struct AclAsked<'a> {
    pub canned: Option<&'a str>,
    pub grants: bool,
}

impl AclAsked<'_> {
    /// What a bucket without ACLs still accepts: nothing, or the canned
    /// `bucket-owner-full-control`.
    fn allowed_without_acls(&self) -> bool {
        !self.grants && self.canned.is_none_or(|c| c == "bucket-owner-full-control")
    }
}

/// AccessControlListNotSupported where `ownership` disables ACLs and the
/// request asks for one.
fn refuse_disabled_acls(ownership: Option<&str>, asked: &AclAsked<'_>) -> S3Result<()> {
    if ownership == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED) && !asked.allowed_without_acls() {
        return Err(acls_disabled());
    }
    Ok(())
}

impl NuageS3 {
    /// A bucket's Object Ownership setting, if it has one.
    pub(super) fn ownership(&self, bucket: &str) -> S3Result<Option<String>> {
        let stored = self.objects.bucket_setting_now(bucket, SETTING).or_s3()?;
        Ok(stored.and_then(|bytes| String::from_utf8(bytes).ok()))
    }

    /// Refuses an ACL where the bucket has them disabled.
    pub(super) fn check_acls_allowed(&self, bucket: &str, asked: &AclAsked<'_>) -> S3Result<()> {
        refuse_disabled_acls(self.ownership(bucket)?.as_deref(), asked)
    }

    /// Who owns an object `requester` writes into `bucket` with `asked`.
    pub(super) fn new_object_owner(
        &self,
        bucket: &str,
        requester: &str,
        bucket_owner: &str,
        asked: &AclAsked<'_>,
    ) -> S3Result<String> {
        let ownership = self.ownership(bucket)?;
        refuse_disabled_acls(ownership.as_deref(), asked)?;
        let bucket_gets_it = match ownership.as_deref() {
            Some(ObjectOwnership::BUCKET_OWNER_ENFORCED) => true,
            Some(ObjectOwnership::BUCKET_OWNER_PREFERRED) => {
                asked.canned == Some("bucket-owner-full-control")
            }
            _ => false,
        };
        Ok(if bucket_gets_it {
            bucket_owner
        } else {
            requester
        }
        .to_string())
    }

    /// Stores a bucket's setting, as CreateBucket or the API gives it.
    pub(super) async fn set_ownership(&self, bucket: &str, kind: &str) -> S3Result<()> {
        if !KINDS.contains(&kind) {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                format!("Invalid x-amz-object-ownership header: {kind}"),
            ));
        }
        self.objects
            .set_bucket_setting(bucket, SETTING, Some(kind.as_bytes().to_vec()))
            .await
            .or_s3()
    }

    pub(super) async fn put_bucket_ownership_controls_(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> Answer<PutBucketOwnershipControlsOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let [rule] = &input.ownership_controls.rules[..] else {
            return Err(malformed_xml());
        };
        let kind = rule.object_ownership.as_str();
        if kind == ObjectOwnership::BUCKET_OWNER_ENFORCED
            && self.bucket_acl_grants_others(&input.bucket).await?
        {
            return Err(refuse_custom(
                "InvalidBucketAclWithObjectOwnership",
                axum::http::StatusCode::BAD_REQUEST,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ));
        }
        self.set_ownership(&input.bucket, kind).await?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
    }

    pub(super) async fn get_bucket_ownership_controls_(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> Answer<GetBucketOwnershipControlsOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let Some(kind) = self.ownership(&bucket)? else {
            return Err(refuse_custom(
                "OwnershipControlsNotFoundError",
                axum::http::StatusCode::NOT_FOUND,
                "The bucket ownership controls were not found",
            ));
        };
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from(kind),
                }],
            }),
        }))
    }

    pub(super) async fn delete_bucket_ownership_controls_(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> Answer<DeleteBucketOwnershipControlsOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }
}
