//! Bucket operations: a bucket is a folder of the lake.

use nuage_lake::objects::Versioning;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, refuse, refuse_custom};
use crate::s3::objects::{check_tag_pairs, tag_pairs, tag_set};
use crate::s3::{Answer, NuageS3, timestamp};

const TAGGING: &str = "tagging";

/// S3's rules for bucket tags: at most 50, keys of 1-128 characters not
/// starting with `aws:`, values of at most 256, keys unique.
fn check_bucket_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > 50 {
        return Err(refuse(
            S3ErrorCode::InvalidTag,
            "Bucket tag count cannot be greater than 50",
        ));
    }
    check_tag_pairs(tags, true)
}

/// The bucket name a ListBuckets continuation token stands for.
fn bucket_token(token: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes).ok()
}

impl NuageS3 {
    pub(super) async fn list_buckets_(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> Answer<ListBucketsOutput> {
        let requester = self.requester_id(req.credentials.as_ref());
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        // Pages of MaxBuckets (1-10000, as S3 allows), in name order; the
        // continuation token is the next page's first name, base64.
        let max = match input.max_buckets {
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(refuse(
                    S3ErrorCode::InvalidArgument,
                    "Argument max-buckets must be an integer between 1 and 10000.",
                ));
            }
            Some(n) => n as usize,
            None => usize::MAX,
        };
        let after = match &input.continuation_token {
            Some(token) => Some(bucket_token(token).ok_or_else(|| {
                refuse(
                    S3ErrorCode::InvalidArgument,
                    "The continuation token provided is incorrect",
                )
            })?),
            None => None,
        };
        let mut matching = self
            .objects
            .list_buckets()
            .or_s3()?
            .into_iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .filter(|(name, _)| after.as_ref().is_none_or(|first| name >= first))
            // Each user lists the buckets it owns (without keys, every
            // request is the lake owner's and sees every bucket).
            .filter(|(name, _)| {
                self.keys.is_empty() || self.bucket_owner(name).is_ok_and(|o| o == requester)
            })
            .filter(|_| {
                input
                    .bucket_region
                    .as_deref()
                    .is_none_or(|r| r == &*self.region)
            });
        let buckets: Vec<Bucket> = matching
            .by_ref()
            .take(max)
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(created)),
                bucket_region: Some(self.region.to_string()),
            })
            .collect();
        let continuation_token = matching.next().map(|(name, _)| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(name)
        });
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner_named(&requester)),
            continuation_token,
            prefix: input.prefix,
        }))
    }

    pub(super) async fn create_bucket_(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> Answer<CreateBucketOutput> {
        let requester = self.requester_id(req.credentials.as_ref());
        let input = &req.input;
        let parties = crate::s3::acl::Parties {
            owner: &requester,
            bucket_owner: &requester,
        };
        let grants = self.requested(
            input.acl.as_ref().map(|a| a.as_str()),
            &crate::s3::acl::bucket_grant_headers!(input),
            &parties,
        )?;
        let ownership = input
            .object_ownership
            .as_ref()
            .map(|o| o.as_str().to_string());
        if ownership.as_deref() == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED)
            && grants
                .iter()
                .any(|(who, p)| *who != requester || p != Permission::FULL_CONTROL)
        {
            return Err(refuse_custom(
                "InvalidBucketAclWithObjectOwnership",
                axum::http::StatusCode::BAD_REQUEST,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            ));
        }
        let bucket = req.input.bucket;
        match self.objects.create_bucket(&bucket).await {
            // S3's legacy rule in us-east-1: creating a bucket you own
            // again answers 200 OK and resets its ACL to the one asked for
            // (BucketAlreadyOwnedByYou elsewhere).
            Err(nuage_lake::objects::ObjectError::BucketAlreadyExists(_))
                if self.bucket_owner(&bucket)? != requester =>
            {
                return Err(refuse(
                    S3ErrorCode::BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                ));
            }
            Err(nuage_lake::objects::ObjectError::BucketAlreadyExists(_))
                if &*self.region == "us-east-1" =>
            {
                self.reset_bucket_grants(&bucket, grants).await?;
                return Ok(S3Response::new(CreateBucketOutput {
                    location: Some(format!("/{bucket}")),
                }));
            }
            other => other.or_s3()?,
        }
        self.set_bucket_owner(&bucket, &requester).await?;
        if let Some(kind) = &ownership {
            self.set_ownership(&bucket, kind).await?;
        }
        if req.input.object_lock_enabled_for_bucket == Some(true) {
            self.enable_lock_on_create(&bucket).await?;
        }
        if !grants.is_empty() {
            self.set_bucket_grants(&bucket, grants).await?;
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{bucket}")),
        }))
    }

    pub(super) async fn delete_bucket_(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> Answer<DeleteBucketOutput> {
        self.objects
            .delete_bucket(&req.input.bucket)
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(super) async fn head_bucket_(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> Answer<HeadBucketOutput> {
        self.existing(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.to_string()),
            ..Default::default()
        }))
    }

    pub(super) async fn get_bucket_location_(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> Answer<GetBucketLocationOutput> {
        self.existing(&req.input.bucket)?;
        // S3 answers an empty constraint for us-east-1.
        let constraint = (&*self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.to_string()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: constraint,
        }))
    }

    /// A bucket that was never versioned answers an empty configuration.
    pub(super) async fn get_bucket_versioning_(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Answer<GetBucketVersioningOutput> {
        let state = self.objects.versioning(&req.input.bucket).or_s3()?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: state.as_str().map(BucketVersioningStatus::from_static),
            ..Default::default()
        }))
    }

    /// Enabled or Suspended; MFA delete is refused (nuage has no MFA).
    pub(super) async fn put_bucket_versioning_(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> Answer<PutBucketVersioningOutput> {
        let input = req.input;
        let config = input.versioning_configuration;
        if config
            .mfa_delete
            .as_ref()
            .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
        {
            return Err(refuse(
                S3ErrorCode::NotImplemented,
                "nuage has no MFA devices, so MFA delete cannot be enabled",
            ));
        }
        let state = match config.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => {
                return Err(refuse(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema: Status must be Enabled or Suspended",
                ));
            }
        };
        self.objects
            .set_versioning(&input.bucket, state)
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    /// Bucket tags, kept as the bucket folder's attribute
    /// `user.nuage.s3.tagging`.
    pub(super) async fn put_bucket_tagging_(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> Answer<PutBucketTaggingOutput> {
        let input = req.input;
        let tags = tag_pairs(input.tagging.tag_set);
        check_bucket_tags(&tags)?;
        let value = serde_json::to_vec(&tags).expect("tags serialize");
        self.objects
            .set_bucket_setting(&input.bucket, TAGGING, Some(value))
            .await
            .or_s3()?;
        let mut response = S3Response::new(PutBucketTaggingOutput {});
        response.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    pub(super) async fn get_bucket_tagging_(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> Answer<GetBucketTaggingOutput> {
        let stored = self
            .objects
            .bucket_setting(&req.input.bucket, TAGGING)
            .await
            .or_s3()?;
        let tags: Vec<(String, String)> = stored
            .and_then(|s| serde_json::from_slice(&s).ok())
            .ok_or_else(|| refuse(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist"))?;
        Ok(S3Response::new(GetBucketTaggingOutput {
            tag_set: tag_set(tags),
        }))
    }

    pub(super) async fn delete_bucket_tagging_(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> Answer<DeleteBucketTaggingOutput> {
        self.remove_setting(&req.input.bucket, TAGGING).await
    }

    /// Removes a bucket's setting `name` (NoSuchBucket for a bucket that
    /// does not exist), answered as S3 answers its Delete* calls: 204.
    pub(super) async fn remove_setting<T: Default>(&self, bucket: &str, name: &str) -> Answer<T> {
        self.objects
            .set_bucket_setting(bucket, name, None)
            .await
            .or_s3()?;
        let mut response = S3Response::new(T::default());
        response.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    /// Refuses a bucket that does not exist with NoSuchBucket.
    pub(super) fn existing(&self, bucket: &str) -> s3s::S3Result<()> {
        if self.objects.bucket_exists(bucket) {
            return Ok(());
        }
        Err(crate::s3::errors::to_s3(
            nuage_lake::objects::ObjectError::NoSuchBucket(bucket.to_string()),
        ))
    }
}
