//! ACLs. nuage's lake has one owner (every access key acts as it), so an
//! ACL is the owner's FULL_CONTROL plus grants to S3's groups: AllUsers
//! (anyone, unsigned requests too) and AuthenticatedUsers (any signed
//! request, which is the owner here), e.g. the canned `public-read`. A
//! bucket's grants are its setting `acl`, an object's ride on its record.
//! With `--access-keys`, [`PublicAccess`] lets an unsigned request through
//! only as far as AllUsers' grants allow (S3's rules: READ on a bucket
//! lists it, WRITE on a bucket writes and deletes its objects, READ on an
//! object reads it, READ_ACP/WRITE_ACP read and change the ACL); without
//! keys every request is the owner's. Grants to other users are refused:
//! there are none.
//!
//! A bucket's Block Public Access settings (its setting
//! `public-access-block`) refuse new public grants (BlockPublicAcls) and
//! make existing ones count for nothing (IgnorePublicAcls); the two policy
//! settings are kept and answered, and change nothing: nuage has no bucket
//! policies. As before S3's 2023 defaults, a new bucket has none.

use nuage_lake::objects::Meta;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::*;
use s3s::path::S3Path;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, refuse, refuse_custom};
use crate::s3::{Answer, NuageS3, owner};

/// The bucket setting that holds a bucket's group grants.
const SETTING: &str = "acl";

/// The bucket setting that holds its Block Public Access configuration.
const BLOCK_SETTING: &str = "public-access-block";

/// Block Public Access, as stored.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Block {
    block_public_acls: bool,
    ignore_public_acls: bool,
    block_public_policy: bool,
    restrict_public_buckets: bool,
}

/// Whether grants give anything to everyone (AllUsers, AuthenticatedUsers).
fn any_public(grants: &Grants) -> bool {
    grants
        .iter()
        .any(|(uri, _)| uri == ALL_USERS || uri == AUTHENTICATED_USERS)
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// (group URI, permission) pairs, beside the owner's FULL_CONTROL.
type Grants = Vec<(String, String)>;

fn grant(group: &str, permission: &str) -> (String, String) {
    (group.to_string(), permission.to_string())
}

/// The groups' grants of a canned ACL (the owner's are implied).
fn canned(name: &str) -> S3Result<Grants> {
    Ok(match name {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" | "aws-exec-read" => {
            Vec::new()
        }
        "public-read" => vec![grant(ALL_USERS, Permission::READ)],
        "public-read-write" => vec![
            grant(ALL_USERS, Permission::READ),
            grant(ALL_USERS, Permission::WRITE),
        ],
        "authenticated-read" => vec![grant(AUTHENTICATED_USERS, Permission::READ)],
        "log-delivery-write" => vec![
            grant(LOG_DELIVERY, Permission::WRITE),
            grant(LOG_DELIVERY, Permission::READ_ACP),
        ],
        other => {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                format!("{other:?} is not a canned ACL"),
            ));
        }
    })
}

fn others_refused() -> s3s::S3Error {
    refuse(
        S3ErrorCode::NotImplemented,
        "nuage's lake has one owner: grants go to the owner or to S3's groups (AllUsers, \
         AuthenticatedUsers, LogDelivery), not to other users",
    )
}

/// The grants an AccessControlPolicy gives.
fn from_policy(policy: &AccessControlPolicy) -> S3Result<Grants> {
    let mut grants = Vec::new();
    for g in policy.grants.iter().flatten() {
        let permission = g.permission.as_ref().map(|p| p.as_str().to_string());
        let Some(permission) = permission else {
            return Err(refuse(
                S3ErrorCode::MalformedACLError,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        };
        let Some(grantee) = &g.grantee else { continue };
        match (&grantee.uri, &grantee.id) {
            (Some(uri), _)
                if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&uri.as_str()) =>
            {
                grants.push((uri.clone(), permission));
            }
            (None, Some(id)) if Some(id) == owner().id.as_ref() => {}
            _ => return Err(others_refused()),
        }
    }
    Ok(grants)
}

/// The grants of `x-amz-grant-*` headers (`uri="..."`, `id="..."`, comma
/// separated).
fn from_headers(headers: &[(&str, Option<&String>)]) -> S3Result<Grants> {
    let mut grants = Vec::new();
    for (permission, value) in headers {
        let Some(value) = value else { continue };
        for grantee in value.split(',') {
            let Some((kind, who)) = grantee.trim().split_once('=') else {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    format!(
                        "{grantee:?} is not a grantee (uri=\"...\", id=\"...\" or emailAddress=\"...\")"
                    ),
                ));
            };
            let who = who.trim().trim_matches('"');
            match kind.trim() {
                "uri" if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&who) => {
                    grants.push(grant(who, permission));
                }
                "id" if Some(who) == owner().id.as_deref() => {}
                _ => return Err(others_refused()),
            }
        }
    }
    Ok(grants)
}

/// The grants a request sets: a canned ACL, or grant headers, or a policy.
fn asked(
    canned_acl: Option<&str>,
    policy: Option<&AccessControlPolicy>,
    headers: &[(&str, Option<&String>)],
) -> S3Result<Grants> {
    let by_headers = headers.iter().any(|(_, v)| v.is_some());
    if canned_acl.is_some() && by_headers {
        return Err(refuse(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        ));
    }
    match (canned_acl, policy) {
        (Some(name), _) => canned(name),
        (None, Some(policy)) if !by_headers => from_policy(policy),
        _ => from_headers(headers),
    }
}

/// An ACL as S3 answers it: the owner's FULL_CONTROL, then the groups'.
fn listed(grants: &Grants) -> Vec<Grant> {
    let owner = owner();
    let mut all = vec![Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name,
            id: owner.id,
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }];
    all.extend(grants.iter().map(|(uri, permission)| Grant {
        grantee: Some(Grantee {
            display_name: None,
            id: None,
            type_: Type::from_static(Type::GROUP),
            email_address: None,
            uri: Some(uri.clone()),
        }),
        permission: Some(Permission::from(permission.clone())),
    }));
    all
}

/// Whether `grants` give AllUsers `permission` (FULL_CONTROL gives all).
fn public(grants: &Grants, permission: &str) -> bool {
    grants
        .iter()
        .any(|(uri, p)| uri == ALL_USERS && (p == permission || p == Permission::FULL_CONTROL))
}

/// The group grants a write's `x-amz-acl` and `x-amz-grant-*` headers put
/// on the new object.
macro_rules! object_grants {
    ($input:expr) => {
        $crate::s3::acl::requested(
            $input.acl.as_ref().map(|a| a.as_str()),
            &[
                (
                    s3s::dto::Permission::FULL_CONTROL,
                    $input.grant_full_control.as_ref(),
                ),
                (s3s::dto::Permission::READ, $input.grant_read.as_ref()),
                (
                    s3s::dto::Permission::READ_ACP,
                    $input.grant_read_acp.as_ref(),
                ),
                (
                    s3s::dto::Permission::WRITE_ACP,
                    $input.grant_write_acp.as_ref(),
                ),
            ],
        )
    };
}
pub(super) use object_grants;

/// The same for a bucket (CreateBucket, PutBucketAcl), which also has WRITE.
macro_rules! bucket_grant_headers {
    ($input:expr) => {
        [
            (
                s3s::dto::Permission::FULL_CONTROL,
                $input.grant_full_control.as_ref(),
            ),
            (s3s::dto::Permission::READ, $input.grant_read.as_ref()),
            (
                s3s::dto::Permission::READ_ACP,
                $input.grant_read_acp.as_ref(),
            ),
            (s3s::dto::Permission::WRITE, $input.grant_write.as_ref()),
            (
                s3s::dto::Permission::WRITE_ACP,
                $input.grant_write_acp.as_ref(),
            ),
        ]
    };
}
pub(super) use bucket_grant_headers;

/// The grants of a write's headers (a canned ACL or grant headers).
pub(super) fn requested(
    canned_acl: Option<&str>,
    headers: &[(&str, Option<&String>)],
) -> S3Result<Grants> {
    asked(canned_acl, None, headers)
}

impl NuageS3 {
    async fn block(&self, bucket: &str) -> S3Result<Option<Block>> {
        let stored = self
            .objects
            .bucket_setting(bucket, BLOCK_SETTING)
            .await
            .or_s3()?;
        Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Refuses public grants where the bucket blocks them (BlockPublicAcls).
    pub(super) async fn check_public_grants(&self, bucket: &str, grants: &Grants) -> S3Result<()> {
        if any_public(grants)
            && self
                .block(bucket)
                .await?
                .is_some_and(|b| b.block_public_acls)
        {
            return Err(refuse(
                S3ErrorCode::AccessDenied,
                "Access Denied: the bucket's Block Public Access settings (BlockPublicAcls) refuse public ACLs",
            ));
        }
        Ok(())
    }

    /// A bucket's or object's grants as access sees them: none that are
    /// public where the bucket ignores them (IgnorePublicAcls).
    async fn effective(&self, bucket: &str, grants: Grants) -> S3Result<Grants> {
        if self
            .block(bucket)
            .await?
            .is_some_and(|b| b.ignore_public_acls)
        {
            return Ok(Vec::new());
        }
        Ok(grants)
    }

    pub(super) async fn put_public_access_block_(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> Answer<PutPublicAccessBlockOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let c = input.public_access_block_configuration;
        let block = Block {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        let value = serde_json::to_vec(&block).expect("settings serialize");
        self.objects
            .set_bucket_setting(&input.bucket, BLOCK_SETTING, Some(value))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    pub(super) async fn get_public_access_block_(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> Answer<GetPublicAccessBlockOutput> {
        self.existing(&req.input.bucket)?;
        let Some(block) = self.block(&req.input.bucket).await? else {
            return Err(refuse_custom(
                "NoSuchPublicAccessBlockConfiguration",
                axum::http::StatusCode::NOT_FOUND,
                "The public access block configuration was not found",
            ));
        };
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(block.block_public_acls),
                ignore_public_acls: Some(block.ignore_public_acls),
                block_public_policy: Some(block.block_public_policy),
                restrict_public_buckets: Some(block.restrict_public_buckets),
            }),
        }))
    }

    pub(super) async fn delete_public_access_block_(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> Answer<DeletePublicAccessBlockOutput> {
        self.objects
            .set_bucket_setting(&req.input.bucket, BLOCK_SETTING, None)
            .await
            .or_s3()?;
        let mut response = S3Response::new(DeletePublicAccessBlockOutput {});
        response.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    async fn bucket_grants(&self, bucket: &str) -> S3Result<Grants> {
        let stored = self.objects.bucket_setting(bucket, SETTING).await.or_s3()?;
        Ok(stored
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    /// Sets a bucket's group grants (none: private).
    pub(super) async fn set_bucket_grants(&self, bucket: &str, grants: Grants) -> S3Result<()> {
        let value =
            (!grants.is_empty()).then(|| serde_json::to_vec(&grants).expect("grants serialize"));
        self.objects
            .set_bucket_setting(bucket, SETTING, value)
            .await
            .or_s3()
    }

    pub(super) async fn get_bucket_acl_(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> Answer<GetBucketAclOutput> {
        self.existing(&req.input.bucket)?;
        let grants = self.bucket_grants(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(listed(&grants)),
            owner: Some(owner()),
        }))
    }

    pub(super) async fn put_bucket_acl_(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> Answer<PutBucketAclOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let grants = asked(
            input.acl.as_ref().map(BucketCannedACL::as_str),
            input.access_control_policy.as_ref(),
            &bucket_grant_headers!(input),
        )?;
        self.check_public_grants(&input.bucket, &grants).await?;
        self.set_bucket_grants(&input.bucket, grants).await?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(super) async fn get_object_acl_(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> Answer<GetObjectAclOutput> {
        let input = req.input;
        let meta = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?
            .info
            .meta;
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(listed(&meta.grants)),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    pub(super) async fn put_object_acl_(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> Answer<PutObjectAclOutput> {
        let input = req.input;
        let grants = asked(
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            input.access_control_policy.as_ref(),
            &[
                (Permission::FULL_CONTROL, input.grant_full_control.as_ref()),
                (Permission::READ, input.grant_read.as_ref()),
                (Permission::READ_ACP, input.grant_read_acp.as_ref()),
                (Permission::WRITE_ACP, input.grant_write_acp.as_ref()),
            ],
        )?;
        self.check_public_grants(&input.bucket, &grants).await?;
        self.objects
            .update_meta(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                move |meta: &mut Meta| {
                    meta.grants = grants;
                    Ok(())
                },
            )
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }
}

/// What an unsigned request may do (with `--access-keys`; without, s3s
/// asks nothing).
pub(super) struct PublicAccess {
    pub s3: NuageS3,
}

/// The permission an operation needs on its bucket (`true`) or its object.
fn needed(operation: &str) -> Option<(bool, &'static str)> {
    Some(match operation {
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "HeadBucket"
        | "GetBucketLocation"
        | "ListMultipartUploads" => (true, Permission::READ),
        "PutObject"
        | "DeleteObject"
        | "DeleteObjects"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts" => (true, Permission::WRITE),
        "GetBucketAcl" => (true, Permission::READ_ACP),
        "PutBucketAcl" => (true, Permission::WRITE_ACP),
        "GetObject" | "HeadObject" | "GetObjectAttributes" | "GetObjectTagging" => {
            (false, Permission::READ)
        }
        "GetObjectAcl" => (false, Permission::READ_ACP),
        "PutObjectAcl" => (false, Permission::WRITE_ACP),
        _ => return None,
    })
}

#[async_trait::async_trait]
impl S3Access for PublicAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        let denied = || refuse(S3ErrorCode::AccessDenied, "Access Denied");
        let Some((on_bucket, permission)) = needed(cx.s3_op().name()) else {
            return Err(denied());
        };
        let s3 = &self.s3;
        let bucket_allows = |bucket: String, permission: &'static str| async move {
            let grants = s3.bucket_grants(&bucket).await?;
            Ok::<_, s3s::S3Error>(public(&s3.effective(&bucket, grants).await?, permission))
        };
        let allowed = match cx.s3_path() {
            S3Path::Root => false,
            S3Path::Bucket { bucket } => {
                on_bucket && bucket_allows(bucket.to_string(), permission).await?
            }
            S3Path::Object { bucket, .. } if on_bucket => {
                bucket_allows(bucket.to_string(), permission).await?
            }
            S3Path::Object { bucket, key } => match s3.objects.open_object(bucket, key).await {
                Ok(opened) => {
                    let grants = s3.effective(bucket, opened.info.meta.grants).await?;
                    public(&grants, permission)
                }
                // As S3 answers one who may list the bucket: NoSuchKey.
                Err(_) => bucket_allows(bucket.to_string(), Permission::READ).await?,
            },
        };
        if allowed { Ok(()) } else { Err(denied()) }
    }
}
