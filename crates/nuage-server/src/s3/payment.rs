//! Who pays for a bucket's requests (Put/GetBucketRequestPayment), and
//! Transfer Acceleration's switch (Put/GetBucketAccelerateConfiguration).
//!
//! Requester Pays is enforced as S3 documents it: with access keys, a
//! request from anyone but the bucket's owner must say it accepts the
//! charge (`x-amz-request-payer: requester`) or is refused 403, and an
//! anonymous one is refused; an accepted request is answered with
//! `x-amz-request-charged: requester`. Nothing is billed: nuage keeps no
//! accounts. Acceleration has nothing to speed up on one machine; the
//! setting is kept and answered so tools that manage it work.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, malformed_xml, refuse};
use crate::s3::{Answer, NuageS3};

const PAYMENT: &str = "request-payment";
const ACCELERATE: &str = "accelerate";

/// The header a requester sends to accept a Requester Pays bucket's charge.
pub const REQUEST_PAYER: &str = "x-amz-request-payer";

/// Whether the requester of a Requester Pays bucket accepts the charge.
pub fn accepts_charge(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(REQUEST_PAYER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("requester"))
}

/// Whether the bucket's requesters pay for their requests.
pub fn requester_pays(objects: &nuage_lake::objects::Objects, bucket: &str) -> bool {
    objects
        .bucket_setting_now(bucket, PAYMENT)
        .ok()
        .flatten()
        .is_some_and(|v| v == b"Requester")
}

impl NuageS3 {
    /// Refuses a request to a Requester Pays bucket from someone other
    /// than its owner who did not accept the charge.
    pub(super) fn check_payer(
        &self,
        bucket: &str,
        who: Option<&str>,
        bucket_owner: &str,
        headers: &axum::http::HeaderMap,
    ) -> S3Result<()> {
        if who == Some(bucket_owner) || !requester_pays(&self.objects, bucket) {
            return Ok(());
        }
        if who.is_some() && accepts_charge(headers) {
            return Ok(());
        }
        Err(refuse(
            S3ErrorCode::AccessDenied,
            "Access Denied: this is a Requester Pays bucket; send x-amz-request-payer: requester \
             to accept the charge (anonymous requests are not allowed)",
        ))
    }

    pub(super) async fn put_bucket_request_payment_(
        &self,
        req: S3Request<PutBucketRequestPaymentInput>,
    ) -> Answer<PutBucketRequestPaymentOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let value = match input.request_payment_configuration.payer.as_str() {
            Payer::BUCKET_OWNER => None,
            Payer::REQUESTER => Some(b"Requester".to_vec()),
            _ => return Err(malformed_xml()),
        };
        self.objects
            .set_bucket_setting(&input.bucket, PAYMENT, value)
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketRequestPaymentOutput::default()))
    }

    pub(super) async fn get_bucket_request_payment_(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> Answer<GetBucketRequestPaymentOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let payer = match requester_pays(&self.objects, &bucket) {
            true => Payer::REQUESTER,
            false => Payer::BUCKET_OWNER,
        };
        Ok(S3Response::new(GetBucketRequestPaymentOutput {
            payer: Some(Payer::from_static(payer)),
        }))
    }

    pub(super) async fn put_bucket_accelerate_configuration_(
        &self,
        req: S3Request<PutBucketAccelerateConfigurationInput>,
    ) -> Answer<PutBucketAccelerateConfigurationOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let Some(status) = input.accelerate_configuration.status else {
            return Err(malformed_xml());
        };
        if !matches!(
            status.as_str(),
            BucketAccelerateStatus::ENABLED | BucketAccelerateStatus::SUSPENDED
        ) {
            return Err(malformed_xml());
        }
        if input.bucket.contains('.') {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
            ));
        }
        self.objects
            .set_bucket_setting(
                &input.bucket,
                ACCELERATE,
                Some(status.as_str().as_bytes().to_vec()),
            )
            .await
            .or_s3()?;
        Ok(S3Response::new(
            PutBucketAccelerateConfigurationOutput::default(),
        ))
    }

    pub(super) async fn get_bucket_accelerate_configuration_(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> Answer<GetBucketAccelerateConfigurationOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        // A bucket never configured answers no status, as in S3.
        let status = self
            .objects
            .bucket_setting(&bucket, ACCELERATE)
            .await
            .or_s3()?
            .and_then(|v| String::from_utf8(v).ok())
            .map(BucketAccelerateStatus::from);
        Ok(S3Response::new(GetBucketAccelerateConfigurationOutput {
            status,
            ..Default::default()
        }))
    }
}
