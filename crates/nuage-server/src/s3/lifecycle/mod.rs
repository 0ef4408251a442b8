//! Bucket lifecycle: Put/Get/DeleteBucketLifecycleConfiguration keep a
//! bucket's rules (checked as S3 checks them, [`rules`]), PUT, GET, HEAD,
//! CopyObject and CompleteMultipartUpload answer `x-amz-expiration` for an
//! object a rule will expire, and a background pass ([`pass`]) carries the
//! rules out: expires current objects (a delete marker in a versioned
//! bucket), removes noncurrent versions and lone delete markers, and
//! aborts old multipart uploads.
//!
//! Transitions are kept and answered but not carried out: nuage has one
//! storage class, and objects stay readable in it.

pub mod pass;
pub mod rules;

use nuage_lake::objects::ObjectInfo;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response};

use crate::s3::errors::{OrS3, malformed_xml, refuse};
use crate::s3::{Answer, NuageS3};

pub use pass::{Lifecycle, Schedule};
pub use rules::Day;

const SETTING: &str = "lifecycle";

/// A bucket's stored lifecycle configuration, if it has one.
pub(crate) fn config_of(
    objects: &nuage_lake::objects::Objects,
    bucket: &str,
) -> Option<rules::Config> {
    objects.json_setting(bucket, SETTING)
}

impl NuageS3 {
    pub(super) async fn put_bucket_lifecycle_configuration_(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> Answer<PutBucketLifecycleConfigurationOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let Some(configuration) = input.lifecycle_configuration else {
            return Err(malformed_xml());
        };
        let minimum_size = input
            .transition_default_minimum_object_size
            .map(|m| m.as_str().to_string());
        if let Some(size) = &minimum_size
            && !matches!(
                size.as_str(),
                "all_storage_classes_128K" | "varies_by_storage_class"
            )
        {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                format!(
                    "Invalid x-amz-transition-default-minimum-object-size {size:?}: use \
                     all_storage_classes_128K or varies_by_storage_class"
                ),
            ));
        }
        let config = rules::Config {
            rules: rules::validate(configuration.rules)?,
            minimum_size,
        };
        let value = serde_json::to_vec(&config).expect("lifecycle rules serialize");
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(value))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput {
            transition_default_minimum_object_size: Some(minimum_of(&config)),
        }))
    }

    pub(super) async fn get_bucket_lifecycle_configuration_(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> Answer<GetBucketLifecycleConfigurationOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let Some(config) = config_of(&self.objects, &bucket) else {
            return Err(refuse(
                S3ErrorCode::NoSuchLifecycleConfiguration,
                "The lifecycle configuration does not exist",
            ));
        };
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            transition_default_minimum_object_size: Some(minimum_of(&config)),
            rules: Some(config.rules),
        }))
    }

    pub(super) async fn delete_bucket_lifecycle_(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> Answer<DeleteBucketLifecycleOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }

    /// S3's `x-amz-expiration` for the current object `info`: when the
    /// bucket's rules expire it, and by which rule.
    pub(super) fn expiration_of(&self, bucket: &str, info: &ObjectInfo) -> Option<String> {
        let config = config_of(&self.objects, bucket)?;
        let subject = rules::Subject {
            key: &info.key,
            size: info.meta.size,
            tags: &info.meta.tags,
        };
        let (at, id) = rules::expiry(&config.rules, &subject, info.last_modified, self.day)?;
        Some(rules::expiration_header(at, id))
    }
}

fn minimum_of(config: &rules::Config) -> TransitionDefaultMinimumObjectSize {
    TransitionDefaultMinimumObjectSize::from(
        config
            .minimum_size
            .clone()
            .unwrap_or_else(|| rules::DEFAULT_MINIMUM_SIZE.to_string()),
    )
}
