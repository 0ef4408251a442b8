//! ACLs: nuage's lake has one owner, so every bucket and object has the
//! ACL `private` (the owner has FULL_CONTROL, no one else anything). Get*Acl
//! answers that; Put*Acl accepts `private` (canned, or as a policy that
//! grants only the owner) and refuses anything wider with NotImplemented,
//! rather than pretend to store it.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, refuse};
use crate::s3::{Answer, NuageS3, owner};

fn owner_only() -> Vec<Grant> {
    let owner = owner();
    vec![Grant {
        grantee: Some(Grantee {
            display_name: owner.display_name,
            id: owner.id,
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

/// Whether a Put*Acl asks for no more than `private`.
fn private_only(
    canned: Option<&str>,
    policy: Option<&AccessControlPolicy>,
    grants: bool,
) -> S3Result<()> {
    let canned_ok = canned.is_none_or(|c| c == "private");
    let policy_ok = policy.is_none_or(|p| {
        p.grants
            .iter()
            .flatten()
            .all(|g| g.grantee.as_ref().and_then(|e| e.id.as_deref()) == owner().id.as_deref())
    });
    if canned_ok && policy_ok && !grants {
        return Ok(());
    }
    Err(refuse(
        S3ErrorCode::NotImplemented,
        "nuage's lake has one owner and keeps no ACLs: only the ACL private (the owner's FULL_CONTROL) can be set",
    ))
}

impl NuageS3 {
    pub(super) async fn get_bucket_acl_(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> Answer<GetBucketAclOutput> {
        self.existing(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(owner_only()),
            owner: Some(owner()),
        }))
    }

    pub(super) async fn put_bucket_acl_(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> Answer<PutBucketAclOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let grants = input.grant_full_control.is_some()
            || input.grant_read.is_some()
            || input.grant_read_acp.is_some()
            || input.grant_write.is_some()
            || input.grant_write_acp.is_some();
        private_only(
            input.acl.as_ref().map(BucketCannedACL::as_str),
            input.access_control_policy.as_ref(),
            grants,
        )?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(super) async fn get_object_acl_(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> Answer<GetObjectAclOutput> {
        let input = req.input;
        self.objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?;
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(owner_only()),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    pub(super) async fn put_object_acl_(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> Answer<PutObjectAclOutput> {
        let input = req.input;
        self.objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?;
        let grants = input.grant_full_control.is_some()
            || input.grant_read.is_some()
            || input.grant_read_acp.is_some()
            || input.grant_write_acp.is_some();
        private_only(
            input.acl.as_ref().map(ObjectCannedACL::as_str),
            input.access_control_policy.as_ref(),
            grants,
        )?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }
}
