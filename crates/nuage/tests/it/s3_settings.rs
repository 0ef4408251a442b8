//! Bucket settings S3 keeps beside the data, through the AWS SDK for S3.
//! Expected answers follow S3's API reference and user guide: Requester
//! Pays refuses (403 AccessDenied) a request from anyone but the bucket's
//! owner that does not carry `x-amz-request-payer: requester`, refuses
//! anonymous requests, and answers an accepted one with
//! `x-amz-request-charged: requester`; Transfer Acceleration answers no
//! status until set and refuses bucket names with periods.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccelerateConfiguration, BucketAccelerateStatus, ObjectCannedAcl, Payer, RequestCharged,
    RequestPayer, RequestPaymentConfiguration,
};

use crate::s3_api::{client, code};
use crate::streams::{Server, runtime};

#[test]
fn requester_pays_buckets_charge_other_users_who_accept_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = "AKALICE:alicesecret:alice-id:Alice,AKBOB:bobsecret:bob-id:Bob";
    let server = Server::start(dir.path(), &["--access-keys", keys]);
    let alice = client(&server, "AKALICE", "alicesecret");
    let bob = client(&server, "AKBOB", "bobsecret");
    runtime().block_on(async {
        alice
            .create_bucket()
            .bucket("shared-data")
            .send()
            .await
            .unwrap();
        alice
            .put_object()
            .bucket("shared-data")
            .key("data.csv")
            .acl(ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"a,b\n"))
            .send()
            .await
            .unwrap();
        let payment = alice
            .get_bucket_request_payment()
            .bucket("shared-data")
            .send()
            .await
            .unwrap();
        assert_eq!(payment.payer(), Some(&Payer::BucketOwner));
        bob.get_object()
            .bucket("shared-data")
            .key("data.csv")
            .send()
            .await
            .unwrap();

        alice
            .put_bucket_request_payment()
            .bucket("shared-data")
            .request_payment_configuration(
                RequestPaymentConfiguration::builder()
                    .payer(Payer::Requester)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let payment = alice
            .get_bucket_request_payment()
            .bucket("shared-data")
            .send()
            .await
            .unwrap();
        assert_eq!(payment.payer(), Some(&Payer::Requester));

        let refused = bob
            .get_object()
            .bucket("shared-data")
            .key("data.csv")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&refused.into_service_error()), "AccessDenied");
        let charged = bob
            .get_object()
            .bucket("shared-data")
            .key("data.csv")
            .request_payer(RequestPayer::Requester)
            .send()
            .await
            .unwrap();
        assert_eq!(charged.request_charged(), Some(&RequestCharged::Requester));
        let bytes = charged.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], b"a,b\n");
        // The owner pays for its own requests without saying so.
        alice
            .get_object()
            .bucket("shared-data")
            .key("data.csv")
            .send()
            .await
            .unwrap();
        // Anonymous requests are not allowed on a Requester Pays bucket.
        let anonymous = unsigned_get(&server.endpoint, "/shared-data/data.csv").await;
        assert_eq!(anonymous, 403);
    });
}

/// The status of an unsigned GET.
async fn unsigned_get(endpoint: &str, path: &str) -> u16 {
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let http: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = format!("{endpoint}{path}").parse().unwrap();
    http.get(uri).await.unwrap().status().as_u16()
}

#[test]
fn transfer_acceleration_is_kept_and_refused_for_dotted_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let s3 = client(&server, "test", "test");
    runtime().block_on(async {
        for bucket in ["fast-data", "dotted.data"] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        let unset = s3
            .get_bucket_accelerate_configuration()
            .bucket("fast-data")
            .send()
            .await
            .unwrap();
        assert_eq!(unset.status(), None);
        let enable = |bucket: &'static str, status: BucketAccelerateStatus| {
            s3.put_bucket_accelerate_configuration()
                .bucket(bucket)
                .accelerate_configuration(AccelerateConfiguration::builder().status(status).build())
                .send()
        };
        enable("fast-data", BucketAccelerateStatus::Enabled)
            .await
            .unwrap();
        let set = s3
            .get_bucket_accelerate_configuration()
            .bucket("fast-data")
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), Some(&BucketAccelerateStatus::Enabled));
        let dotted = enable("dotted.data", BucketAccelerateStatus::Enabled)
            .await
            .unwrap_err();
        assert_eq!(code(&dotted.into_service_error()), "InvalidRequest");
        let bogus = enable("fast-data", BucketAccelerateStatus::from("Sometimes"))
            .await
            .unwrap_err();
        assert_eq!(code(&bogus.into_service_error()), "MalformedXML");
    });
}
