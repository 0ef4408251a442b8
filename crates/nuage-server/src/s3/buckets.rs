//! Bucket operations: a bucket is a folder of the lake.

use s3s::dto::*;
use s3s::{S3Request, S3Response};

use crate::s3::errors::OrS3;
use crate::s3::{Answer, NuageS3, owner, timestamp};

impl NuageS3 {
    pub(super) async fn list_buckets_(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> Answer<ListBucketsOutput> {
        let prefix = req.input.prefix.unwrap_or_default();
        let buckets = self
            .objects
            .list_buckets()
            .or_s3()?
            .into_iter()
            .filter(|(name, _)| name.starts_with(&prefix))
            .map(|(name, created)| Bucket {
                name: Some(name),
                creation_date: Some(timestamp(created)),
                bucket_region: Some(self.region.to_string()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    pub(super) async fn create_bucket_(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> Answer<CreateBucketOutput> {
        let bucket = req.input.bucket;
        self.objects.create_bucket(&bucket).await.or_s3()?;
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

    /// Versioning is never enabled: S3 answers an empty configuration.
    pub(super) async fn get_bucket_versioning_(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Answer<GetBucketVersioningOutput> {
        self.existing(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
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
