//! ACLs. A bucket or object is its owner's ([`crate::s3::users`]), who
//! has FULL_CONTROL; an ACL adds grants to S3's groups - AllUsers (anyone,
//! unsigned requests too), AuthenticatedUsers (any signed request) - and
//! to other users by canonical id, e.g. the canned `public-read`. A
//! bucket's grants are its setting `acl`, an object's ride on its record.
//! With `--access-keys`, [`Access`] asks the bucket policy first
//! ([`crate::s3::policy`]: its Deny refuses, its Allow admits), then lets a
//! request through only as far as its owner's rights and the grants allow (S3's rules: READ on a bucket
//! lists it, WRITE on a bucket writes and deletes its objects, READ on an
//! object reads it, READ_ACP/WRITE_ACP read and change the ACL; the rest
//! of a bucket's settings are its owner's alone); without keys every
//! request is the lake owner's.
//!
//! A bucket's Block Public Access settings (its setting
//! `public-access-block`) refuse new public grants (BlockPublicAcls), make
//! existing ones count for nothing (IgnorePublicAcls), refuse public
//! bucket policies (BlockPublicPolicy) and let a public policy admit only
//! the bucket's owner (RestrictPublicBuckets). As before S3's 2023
//! defaults, a new bucket has none.

use nuage_lake::objects::Meta;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::*;
use s3s::path::S3Path;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, refuse, refuse_custom};
use crate::s3::ownership::AclAsked;
use crate::s3::policy::{Decision, Facts, Request, action_of};
use crate::s3::users::{object_owner, writer};
use crate::s3::{Answer, NuageS3};

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

/// (group URI or a user's canonical id, permission) pairs, beside the
/// owner's FULL_CONTROL.
type Grants = Vec<(String, String)>;

fn is_group(grantee: &str) -> bool {
    grantee.starts_with("http://") || grantee.starts_with("https://")
}

fn grant(group: &str, permission: &str) -> (String, String) {
    (group.to_string(), permission.to_string())
}

/// Whose grants a canned ACL names: the new ACL's owner (a bucket's, or an
/// object's writer) and the bucket's owner.
pub(super) struct Parties<'a> {
    pub owner: &'a str,
    pub bucket_owner: &'a str,
}

/// The grants of a canned ACL: the groups' first, then the owner's
/// FULL_CONTROL (S3's order); `bucket-owner-*` also name the bucket's owner.
fn canned(name: &str, parties: &Parties<'_>) -> S3Result<Grants> {
    let mut grants = match name {
        "private" | "aws-exec-read" => Vec::new(),
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
        "bucket-owner-read" | "bucket-owner-full-control" => Vec::new(),
        other => {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                format!("{other:?} is not a canned ACL"),
            ));
        }
    };
    grants.push(grant(parties.owner, Permission::FULL_CONTROL));
    if parties.bucket_owner != parties.owner {
        match name {
            "bucket-owner-read" => grants.push(grant(parties.bucket_owner, Permission::READ)),
            "bucket-owner-full-control" => {
                grants.push(grant(parties.bucket_owner, Permission::FULL_CONTROL));
            }
            _ => {}
        }
    }
    Ok(grants)
}

fn unknown_user() -> s3s::S3Error {
    refuse(S3ErrorCode::InvalidArgument, "Invalid id")
}

fn no_email() -> s3s::S3Error {
    refuse(
        S3ErrorCode::UnresolvableGrantByEmailAddress,
        "The e-mail address you provided does not match any account on record.",
    )
}

fn unknown_group() -> s3s::S3Error {
    refuse(
        S3ErrorCode::InvalidArgument,
        "Invalid group uri: nuage knows AllUsers, AuthenticatedUsers and LogDelivery",
    )
}

const GROUPS: [&str; 3] = [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY];

impl NuageS3 {
    /// The grants an AccessControlPolicy gives.
    fn policy_grants(&self, policy: &AccessControlPolicy) -> S3Result<Grants> {
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
            match (&grantee.uri, &grantee.id, &grantee.email_address) {
                (Some(uri), _, _) if GROUPS.contains(&uri.as_str()) => {
                    grants.push((uri.clone(), permission));
                }
                (Some(_), _, _) => return Err(unknown_group()),
                (None, Some(id), _) if self.known_user(id) => grants.push((id.clone(), permission)),
                (None, Some(_), _) => return Err(unknown_user()),
                (None, None, Some(_)) => return Err(no_email()),
                (None, None, None) => return Err(unknown_user()),
            }
        }
        Ok(grants)
    }

    /// The grants of `x-amz-grant-*` headers (`uri="..."`, `id="..."`,
    /// `emailAddress="..."`, comma separated).
    fn header_grants(&self, headers: &[(&str, Option<&String>)]) -> S3Result<Grants> {
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
                    "uri" if GROUPS.contains(&who) => grants.push(grant(who, permission)),
                    "uri" => return Err(unknown_group()),
                    "id" if self.known_user(who) => grants.push(grant(who, permission)),
                    "id" => return Err(unknown_user()),
                    "emailAddress" => return Err(no_email()),
                    _ => return Err(unknown_user()),
                }
            }
        }
        Ok(grants)
    }

    /// The grants a request sets: a canned ACL, or grant headers, or a policy.
    fn asked(
        &self,
        canned_acl: Option<&str>,
        policy: Option<&AccessControlPolicy>,
        headers: &[(&str, Option<&String>)],
        parties: &Parties<'_>,
    ) -> S3Result<Grants> {
        let by_headers = headers.iter().any(|(_, v)| v.is_some());
        if canned_acl.is_some() && by_headers {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                "Specifying both Canned ACLs and Header Grants is not allowed",
            ));
        }
        match (canned_acl, policy) {
            (Some(name), _) => canned(name, parties),
            (None, Some(policy)) if !by_headers => self.policy_grants(policy),
            _ => self.header_grants(headers),
        }
    }

    /// The grants a PutBucketAcl or PutObjectAcl asks for (canned, a
    /// policy document or grant headers), once Object Ownership allows
    /// ACLs and Block Public Access allows these.
    async fn put_acl_grants(
        &self,
        bucket: &str,
        canned_acl: Option<&str>,
        policy: Option<&AccessControlPolicy>,
        headers: &[(&str, Option<&String>)],
        parties: &Parties<'_>,
    ) -> S3Result<Grants> {
        let by_headers = headers.iter().any(|(_, v)| v.is_some());
        self.check_acls_allowed(
            bucket,
            &AclAsked {
                canned: canned_acl,
                grants: by_headers || policy.is_some(),
            },
        )?;
        let grants = self.asked(canned_acl, policy, headers, parties)?;
        self.check_public_grants(bucket, &grants).await?;
        Ok(grants)
    }

    /// The grants of a write's headers (a canned ACL or grant headers);
    /// none asked: the owner's alone, implied.
    pub(super) fn requested(
        &self,
        canned_acl: Option<&str>,
        headers: &[(&str, Option<&String>)],
        parties: &Parties<'_>,
    ) -> S3Result<Grants> {
        self.asked(canned_acl, None, headers, parties)
    }

    /// A new object's owner (its writer; an unsigned write's, the bucket
    /// owner; the bucket owner where Object Ownership says so), recorded
    /// on `meta`, and the grants its ACL headers give.
    pub(super) fn new_object_acl(
        &self,
        bucket: &str,
        credentials: Option<&s3s::auth::Credentials>,
        canned_acl: Option<&str>,
        headers: &[(&str, Option<&String>)],
        meta: &mut Meta,
    ) -> S3Result<Grants> {
        let bucket_owner = self.bucket_owner(bucket)?;
        let requester = self
            .requester(credentials)
            .unwrap_or_else(|| bucket_owner.clone());
        let asked = AclAsked {
            canned: canned_acl,
            grants: headers.iter().any(|(_, v)| v.is_some()),
        };
        let owner = self.new_object_owner(bucket, &requester, &bucket_owner, &asked)?;
        meta.owner = writer(&owner);
        let parties = Parties {
            owner: &owner,
            bucket_owner: &bucket_owner,
        };
        self.requested(canned_acl, headers, &parties)
    }

    /// An ACL as S3 answers it: its grants as set, the groups' first, then
    /// the users' (with display names); one never set is the owner's
    /// FULL_CONTROL.
    fn listed(&self, owner: &str, grants: Option<&Grants>) -> Vec<Grant> {
        let default = vec![grant(owner, Permission::FULL_CONTROL)];
        let grants = grants.unwrap_or(&default);
        let (groups, users): (Vec<_>, Vec<_>) = grants.iter().partition(|(who, _)| is_group(who));
        groups
            .into_iter()
            .chain(users)
            .map(|(who, permission)| Grant {
                grantee: Some(if is_group(who) {
                    Grantee {
                        display_name: None,
                        id: None,
                        type_: Type::from_static(Type::GROUP),
                        email_address: None,
                        uri: Some(who.clone()),
                    }
                } else {
                    let named = self.owner_named(who);
                    Grantee {
                        display_name: named.display_name,
                        id: named.id,
                        type_: Type::from_static(Type::CANONICAL_USER),
                        email_address: None,
                        uri: None,
                    }
                }),
                permission: Some(Permission::from(permission.clone())),
            })
            .collect()
    }
}

/// Whether `grants` give `who` (a canonical id; `None`: unsigned)
/// `permission` (FULL_CONTROL gives all): by AllUsers, by
/// AuthenticatedUsers for a signed request, or by its id.
fn allows(grants: &Grants, who: Option<&str>, permission: &str) -> bool {
    grants.iter().any(|(grantee, p)| {
        let to_them = grantee == ALL_USERS
            || (who.is_some() && grantee == AUTHENTICATED_USERS)
            || Some(grantee.as_str()) == who;
        to_them && (p == permission || p == Permission::FULL_CONTROL)
    })
}

/// The owner and grants of a new object from a write's `x-amz-acl` and
/// `x-amz-grant-*` headers ([`NuageS3::new_object_acl`]).
macro_rules! object_grants {
    ($s3:expr, $input:expr, $credentials:expr, $meta:expr) => {
        $s3.new_object_acl(
            &$input.bucket,
            $credentials,
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
            $meta,
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

impl NuageS3 {
    /// Whether the bucket's ACL grants anything to everyone (and the bucket
    /// does not ignore that).
    pub(super) async fn bucket_acl_is_public(&self, bucket: &str) -> S3Result<bool> {
        let grants = self.bucket_grants(bucket).await?;
        Ok(any_public(&self.effective(bucket, grants).await?))
    }

    /// Whether the bucket's ACL grants anything beyond its owner's
    /// FULL_CONTROL.
    pub(super) async fn bucket_acl_grants_others(&self, bucket: &str) -> S3Result<bool> {
        let owner = self.bucket_owner(bucket)?;
        let grants = self.bucket_grants(bucket).await?;
        Ok(grants
            .iter()
            .any(|(who, p)| *who != owner || p != Permission::FULL_CONTROL))
    }

    /// Whether the bucket refuses public policies (BlockPublicPolicy).
    pub(super) async fn blocks_public_policy(&self, bucket: &str) -> S3Result<bool> {
        Ok(self
            .block(bucket)
            .await?
            .is_some_and(|b| b.block_public_policy))
    }

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
        self.remove_setting(&req.input.bucket, BLOCK_SETTING).await
    }

    /// A bucket's ACL as set (`None`: never set, the owner's alone).
    async fn bucket_acl(&self, bucket: &str) -> S3Result<Option<Grants>> {
        let stored = self.objects.bucket_setting(bucket, SETTING).await.or_s3()?;
        Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    async fn bucket_grants(&self, bucket: &str) -> S3Result<Grants> {
        Ok(self.bucket_acl(bucket).await?.unwrap_or_default())
    }

    /// Sets a bucket's ACL (an empty one grants nothing, not even to the
    /// owner, who keeps its rights by owning the bucket).
    pub(super) async fn set_bucket_grants(&self, bucket: &str, grants: Grants) -> S3Result<()> {
        let value = serde_json::to_vec(&grants).expect("grants serialize");
        self.objects
            .set_bucket_setting(bucket, SETTING, Some(value))
            .await
            .or_s3()
    }

    /// Sets a bucket's ACL to `grants`, or back to the owner's alone when
    /// there are none (a re-created bucket's ACL, as S3 resets it).
    pub(super) async fn reset_bucket_grants(&self, bucket: &str, grants: Grants) -> S3Result<()> {
        if !grants.is_empty() {
            return self.set_bucket_grants(bucket, grants).await;
        }
        self.objects
            .set_bucket_setting(bucket, SETTING, None)
            .await
            .or_s3()
    }

    pub(super) async fn get_bucket_acl_(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> Answer<GetBucketAclOutput> {
        self.existing(&req.input.bucket)?;
        let grants = self.bucket_acl(&req.input.bucket).await?;
        let owner = self.bucket_owner(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(self.listed(&owner, grants.as_ref())),
            owner: Some(self.owner_named(&owner)),
        }))
    }

    pub(super) async fn put_bucket_acl_(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> Answer<PutBucketAclOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let owner = self.bucket_owner(&input.bucket)?;
        let parties = Parties {
            owner: &owner,
            bucket_owner: &owner,
        };
        let grants = self
            .put_acl_grants(
                &input.bucket,
                input.acl.as_ref().map(BucketCannedACL::as_str),
                input.access_control_policy.as_ref(),
                &bucket_grant_headers!(input),
                &parties,
            )
            .await?;
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
        let owner = object_owner(&meta);
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(self.listed(owner, (!meta.grants.is_empty()).then_some(&meta.grants))),
            owner: Some(self.owner_named(owner)),
            ..Default::default()
        }))
    }

    pub(super) async fn put_object_acl_(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> Answer<PutObjectAclOutput> {
        let input = req.input;
        let current = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?
            .info
            .meta;
        let bucket_owner = self.bucket_owner(&input.bucket)?;
        let parties = Parties {
            owner: object_owner(&current),
            bucket_owner: &bucket_owner,
        };
        let grants = self
            .put_acl_grants(
                &input.bucket,
                input.acl.as_ref().map(ObjectCannedACL::as_str),
                input.access_control_policy.as_ref(),
                &[
                    (Permission::FULL_CONTROL, input.grant_full_control.as_ref()),
                    (Permission::READ, input.grant_read.as_ref()),
                    (Permission::READ_ACP, input.grant_read_acp.as_ref()),
                    (Permission::WRITE_ACP, input.grant_write_acp.as_ref()),
                ],
                &parties,
            )
            .await?;
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

/// What a request may do (with `--access-keys`; without, s3s asks
/// nothing and every request is the lake owner's).
pub(super) struct Access {
    pub s3: NuageS3,
}

/// The permission an operation needs on its bucket (`true`) or its object;
/// `None`: the bucket owner's alone.
fn needed(operation: &str) -> Option<(bool, &'static str)> {
    Some(match operation {
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "HeadBucket"
        | "GetBucketLocation"
        | "ListMultipartUploads" => (true, Permission::READ),
        "PutObject"
        | "PostObject"
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
        "GetObject"
        | "HeadObject"
        | "GetObjectAttributes"
        | "GetObjectTagging"
        | "SelectObjectContent" => (false, Permission::READ),
        "GetObjectAcl" => (false, Permission::READ_ACP),
        "PutObjectAcl" => (false, Permission::WRITE_ACP),
        _ => return None,
    })
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let s3 = &self.s3;
        let source_ip = cx
            .extensions_mut()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let who = s3.requester(cx.credentials());
        let signed = || {
            if who.is_some() { Ok(()) } else { Err(denied()) }
        };
        let operation = cx.s3_op().name();
        let (bucket, key) = match cx.s3_path() {
            // ListBuckets: each user sees its own.
            S3Path::Root => return signed(),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        if operation == "CreateBucket" {
            return signed();
        }
        let asking = Asking {
            s3,
            who: who.as_deref(),
            uri: cx.uri(),
            headers: cx.headers(),
            source_ip,
        };
        if !asking.allowed(&bucket, key.as_deref(), operation).await? {
            return Err(denied());
        }
        if s3.objects.bucket_exists(&bucket) {
            let owner = s3.bucket_owner(&bucket)?;
            s3.check_payer(&bucket, who.as_deref(), &owner, cx.headers())?;
        }
        // A copy also reads its source (one that cannot be read is refused
        // here rather than left to the operation).
        if matches!(operation, "CopyObject" | "UploadPartCopy") {
            let Some((bucket, key)) = copy_source(cx.headers()) else {
                return Err(denied());
            };
            if !asking.allowed(&bucket, Some(&key), "GetObject").await? {
                return Err(denied());
            }
        }
        Ok(())
    }
}

fn denied() -> s3s::S3Error {
    refuse(S3ErrorCode::AccessDenied, "Access Denied")
}

/// The bucket and key of `x-amz-copy-source` (`bucket/key`, URL-encoded,
/// maybe with `?versionId=`).
fn copy_source(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    let text = headers.get("x-amz-copy-source")?.to_str().ok()?;
    let path = text.split('?').next()?.trim_start_matches('/');
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let (bucket, key) = decoded.split_once('/')?;
    Some((bucket.to_string(), key.to_string()))
}

/// One request's access questions.
impl NuageS3 {
    /// Whether an anonymous request may read `key` (the website endpoint
    /// serves only what the public may read). Without access keys every
    /// request is the owner's, and may.
    pub(super) async fn public_may_read(
        &self,
        bucket: &str,
        key: &str,
        headers: &axum::http::HeaderMap,
    ) -> S3Result<bool> {
        if self.keys.is_empty() {
            return Ok(true);
        }
        let uri: axum::http::Uri = format!("/{bucket}")
            .parse()
            .unwrap_or_else(|_| axum::http::Uri::from_static("/"));
        let asking = Asking {
            s3: self,
            who: None,
            uri: &uri,
            headers,
            source_ip: None,
        };
        asking.allowed(bucket, Some(key), "GetObject").await
    }
}

struct Asking<'a> {
    s3: &'a NuageS3,
    who: Option<&'a str>,
    uri: &'a axum::http::Uri,
    headers: &'a axum::http::HeaderMap,
    /// The client's address, as the connection shows it.
    source_ip: Option<std::net::IpAddr>,
}

impl Asking<'_> {
    /// Whether `operation` on `bucket` (and `key`) is allowed: the bucket
    /// policy's Deny refuses, its Allow admits; otherwise the bucket's
    /// owner may do anything with the bucket, an object's owner anything
    /// with the object, others what ACL grants give.
    async fn allowed(&self, bucket: &str, key: Option<&str>, operation: &str) -> S3Result<bool> {
        let s3 = self.s3;
        // A missing bucket is answered NoSuchBucket by the operation.
        if !s3.objects.bucket_exists(bucket) {
            return Ok(true);
        }
        let bucket_owner = s3.bucket_owner(bucket)?;
        let policy = s3.bucket_policy(bucket)?;
        let tags = match (&policy, key) {
            (Some(p), Some(key)) if p.mentions("s3:existingobjecttag/") => s3
                .objects
                .open_object(bucket, key)
                .await
                .map(|o| o.info.meta.tags)
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let decide = |action: &str, key: Option<&str>, prefix: Option<&str>| {
            let Some(policy) = &policy else {
                return Decision::Silent;
            };
            let name = self
                .who
                .map(|id| s3.owner_named(id).display_name.unwrap_or_default());
            let facts = RequestFacts {
                uri: self.uri,
                headers: self.headers,
                tags: &tags,
                who: self.who,
                prefix,
                source_ip: self.source_ip,
            };
            let resource = match key {
                Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
                None => format!("arn:aws:s3:::{bucket}"),
            };
            let request = Request {
                who: self.who.zip(name.as_deref()),
                action,
                resource: &resource,
            };
            policy.decide(&request, &facts)
        };
        let owns_bucket = self.who == Some(bucket_owner.as_str());
        // RestrictPublicBuckets: a public policy admits only the owner.
        let restricted = policy.as_ref().is_some_and(|p| p.is_public())
            && s3
                .block(bucket)
                .await?
                .is_some_and(|b| b.restrict_public_buckets);
        let admits = |decision: Decision| decision == Decision::Allow && !restricted;
        match decide(&action_of(operation), key, None) {
            Decision::Deny => return Ok(false),
            decision if admits(decision) => return Ok(true),
            _ => {}
        }
        // Without S3 users the lake's owner owns every bucket and wrote
        // every object: no object record to read.
        if owns_bucket && !s3.keys.has_users() {
            return Ok(true);
        }
        let Some((on_bucket, permission)) = needed(operation) else {
            return Ok(owns_bucket);
        };
        let bucket_allows = |permission: &'static str| async move {
            if owns_bucket {
                return Ok::<_, s3s::S3Error>(true);
            }
            let grants = s3.bucket_grants(bucket).await?;
            Ok(allows(
                &s3.effective(bucket, grants).await?,
                self.who,
                permission,
            ))
        };
        let Some(key) = key.filter(|_| !on_bucket) else {
            return bucket_allows(permission).await;
        };
        match s3.objects.open_object(bucket, key).await {
            Ok(opened) => {
                let meta = opened.info.meta;
                Ok(self.who == Some(object_owner(&meta))
                    || allows(
                        &s3.effective(bucket, meta.grants).await?,
                        self.who,
                        permission,
                    ))
            }
            // As S3 answers one who may list the bucket: NoSuchKey.
            Err(_) => Ok(bucket_allows(Permission::READ).await?
                || admits(decide("s3:ListBucket", None, Some(key)))),
        }
    }
}

/// The condition keys a bucket policy may test, from one request.
struct RequestFacts<'a> {
    uri: &'a axum::http::Uri,
    headers: &'a axum::http::HeaderMap,
    /// The object's tags, where the policy tests them.
    tags: &'a [(String, String)],
    who: Option<&'a str>,
    /// `s3:prefix` when a read of a missing key asks whether the
    /// requester may list it.
    prefix: Option<&'a str>,
    source_ip: Option<std::net::IpAddr>,
}

impl Facts for RequestFacts<'_> {
    fn values(&self, key: &str) -> Option<Vec<String>> {
        let query = |name: &str| {
            let query = self.uri.query()?;
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| vec![v.into_owned()])
        };
        let header = |name: &str| {
            let value = self.headers.get(name)?.to_str().ok()?;
            Some(vec![value.to_string()])
        };
        let request_tags = || -> Vec<(String, String)> {
            let text = self
                .headers
                .get("x-amz-tagging")
                .and_then(|v| v.to_str().ok());
            url::form_urlencoded::parse(text.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        if let Some(tag) = key.strip_prefix("s3:existingobjecttag/") {
            let found = self.tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag));
            return found.map(|(_, v)| vec![v.clone()]);
        }
        if let Some(tag) = key.strip_prefix("s3:requestobjecttag/") {
            let tags = request_tags();
            let found = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag));
            return found.map(|(_, v)| vec![v.clone()]);
        }
        match key {
            "s3:prefix" => match self.prefix {
                Some(prefix) => Some(vec![prefix.to_string()]),
                None => query("prefix"),
            },
            "s3:delimiter" => query("delimiter"),
            "s3:max-keys" => query("max-keys"),
            "s3:versionid" => query("versionId"),
            "s3:requestobjecttagkeys" => {
                let keys: Vec<String> = request_tags().into_iter().map(|(k, _)| k).collect();
                (!keys.is_empty()).then_some(keys)
            }
            "aws:securetransport" => Some(vec!["false".into()]),
            "aws:sourceip" => self.source_ip.map(|ip| vec![ip.to_string()]),
            "aws:referer" => header("referer"),
            "aws:useragent" => header("user-agent"),
            "aws:userid" | "aws:username" => self.who.map(|w| vec![w.to_string()]),
            "s3:signatureversion" => Some(vec!["AWS4-HMAC-SHA256".into()]),
            _ => key
                .strip_prefix("s3:")
                .filter(|h| h.starts_with("x-amz-"))
                .and_then(header),
        }
    }
}
