//! The S3 REST API over the embedded lake, on the edge's port. `s3s` reads
//! and writes S3's wire (routing by method, path and query, XML, SigV4 with
//! chunked payloads, error documents); [`NuageS3`] answers each operation
//! from [`nuage_lake::objects::Objects`], so an object put here is a file
//! that SQL and the crawler read, and a file SQL writes is an object here.
//!
//! Which requests are S3's is decided in [`is_s3`]. With `--access-keys`
//! set, s3s verifies signatures with those keys and refuses anonymous
//! requests; without keys any signature is accepted, as for the JSON
//! services ([`keyless`]).

#[macro_use]
mod fields;
mod access_log;
mod acl;
mod body;
mod buckets;
mod checksums;
mod cors;
mod dates;
mod errors;
mod form_post;
mod keyless;
pub mod lifecycle;
mod listing;
mod lock;
mod multipart;
mod notifications;
mod objects;
mod ownership;
mod payment;
mod policy;
mod presigned;
mod select;
mod sse;
mod unsized_body;
mod users;
mod website;

pub use notifications::Notifier;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use nuage_lake::objects::Objects;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::host::{S3Host, VirtualHost};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::auth::Keys;

/// The S3 API of one server.
pub struct S3Api {
    service: S3Service,
    objects: Objects,
    keys: Keys,
    /// The handlers, for what the edge does after s3s (access logs).
    s3: NuageS3,
    /// Access log lines waiting for delivery.
    pub access_logs: access_log::Deliveries,
}

impl std::fmt::Debug for S3Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Api").finish_non_exhaustive()
    }
}

impl S3Api {
    /// `notifier` sends the buckets' notifications to functions.
    pub fn new(
        objects: Objects,
        region: String,
        keys: &Keys,
        notifier: Option<Notifier>,
        day: lifecycle::Day,
    ) -> Self {
        let s3 = NuageS3 {
            objects: objects.clone(),
            region: Arc::from(region),
            notifier,
            keys: keys.clone(),
            day,
        };
        let mut builder = S3ServiceBuilder::new(s3.clone());
        builder.set_host(LocalHost);
        if !keys.is_empty() {
            builder.set_auth(KeyAuth(keys.clone()));
            builder.set_access(acl::Access { s3: s3.clone() });
        }
        Self {
            service: builder.build(),
            objects,
            keys: keys.clone(),
            s3,
            access_logs: access_log::Deliveries::default(),
        }
    }

    /// Answers one S3 request: a CORS preflight here, the rest through
    /// s3s; the bucket's CORS rules decorate answers to browsers.
    pub async fn call(&self, request: axum::extract::Request) -> Response {
        if let Some(bucket) = request
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .and_then(website::bucket_of_host)
        {
            // The bucket's CORS rules hold on its website endpoint too.
            let headers = request.headers();
            let origin = headers.contains_key(axum::http::header::ORIGIN);
            let mut response = if origin && request.method() == Method::OPTIONS {
                cors::preflight(&self.objects, Some(bucket), headers).await
            } else {
                website::serve(
                    &self.s3,
                    bucket,
                    request.method(),
                    request.uri().path(),
                    headers,
                )
                .await
            };
            if origin && request.method() != Method::OPTIONS {
                cors::decorate(
                    &self.objects,
                    Some(bucket),
                    request.method(),
                    headers,
                    &mut response,
                )
                .await;
            }
            if let Ok(id) = HeaderValue::from_str(&request_id()) {
                response.headers_mut().insert("x-amz-request-id", id);
            }
            return response;
        }
        let bucket = bucket_of(request.uri(), request.headers());
        let attributes = request.method() == Method::GET
            && request.uri().query().is_some_and(|q| {
                q.split('&')
                    .any(|p| p == "attributes" || p == "attributes=")
            });
        let form = form_post::is_form_post(request.method(), request.headers());
        let accepts_charge = payment::accepts_charge(request.headers());
        let logged = bucket.as_deref().and_then(|b| {
            let logging = access_log::logging_of(&self.objects, b)?;
            Some(self.seen(&request, b, logging))
        });
        let browser = request
            .headers()
            .contains_key(axum::http::header::ORIGIN)
            .then(|| (request.method().clone(), request.headers().clone()));
        let mut response = match &browser {
            Some((method, headers)) if *method == Method::OPTIONS => {
                cors::preflight(&self.objects, bucket.as_deref(), headers).await
            }
            // A preflight without its Origin, as S3 answers one.
            None if request.method() == Method::OPTIONS => (
                StatusCode::BAD_REQUEST,
                [(axum::http::header::CONTENT_TYPE, "application/xml")],
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>BadRequest</Code>\
                 <Message>Insufficient information. Origin request header needed.</Message></Error>",
            )
                .into_response(),
            _ if !owned_as_expected(request.headers()) => errors::Refusal {
                status: StatusCode::FORBIDDEN,
                code: "AccessDenied",
                message: "Access Denied",
            }
            .into_response(),
            _ => self.answer(request, form).await,
        };
        if let Some((method, headers)) = &browser
            && *method != Method::OPTIONS
        {
            cors::decorate(
                &self.objects,
                bucket.as_deref(),
                method,
                headers,
                &mut response,
            )
            .await;
        }
        if form {
            response = form_post::as_s3_answers(response).await;
        }
        if attributes && response.status().is_success() {
            response = unquoted_etag(response).await;
        }
        if accepts_charge
            && response.status().is_success()
            && bucket
                .as_deref()
                .is_some_and(|b| payment::requester_pays(&self.objects, b))
        {
            response.headers_mut().insert(
                "x-amz-request-charged",
                HeaderValue::from_static("requester"),
            );
        }
        let id = request_id();
        let host = crate::request::host_id();
        let mut error_code = None;
        if response.status().is_client_error() || response.status().is_server_error() {
            (response, error_code) = with_ids(response, &id, host.as_ref()).await;
        }
        if let Some(seen) = logged {
            let host_id = host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or("-");
            self.s3
                .log_request(&self.access_logs, seen, &response, error_code, &id, host_id);
        }
        let ids = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&id) {
            ids.insert("x-amz-request-id", id);
        }
        if let Some(host) = host {
            ids.insert("x-amz-id-2", host);
        }
        response
    }

    async fn answer(&self, request: axum::extract::Request, form: bool) -> Response {
        let request = match self.before_s3s(request, form).await {
            Ok(request) => request,
            Err(refusal) => return refusal.into_response(),
        };
        let request = request.map(s3s::Body::http_body_unsync);
        match self.service.call(request).await {
            Ok(response) => response.map(Body::new),
            Err(e) => {
                tracing::error!("s3: {e:?}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl S3Api {
    /// What the edge does before s3s sees a request, where S3 behaves
    /// otherwise than s3s (see ARCHITECTURE.md): presigned lifetimes,
    /// signatures taken off without keys, SigV2 paths and dates, form
    /// uploads (`form`: this is one), bodies sent without a length.
    async fn before_s3s(
        &self,
        request: axum::extract::Request,
        form: bool,
    ) -> Result<axum::extract::Request, errors::Refusal> {
        check_escapes(request.uri())?;
        check_delete_digest(request.method(), request.uri(), request.headers())?;
        presigned::check_expiry(request.uri())?;
        let request = if self.keyless() {
            keyless::prepare(request)?
        } else {
            dates::check(sigv2_bucket_path(request))?
        };
        let request = if form {
            let bucket = bucket_of(request.uri(), request.headers());
            form_post::prepare(request, bucket.as_deref(), self.keyless()).await?
        } else {
            request
        };
        let keys = (!self.keyless()).then_some(&self.keys);
        unsized_body::measured(request, self.objects.staging_dir(), keys).await
    }

    /// The lake it serves.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Without access keys every signature is accepted (and taken off).
    fn keyless(&self) -> bool {
        self.keys.is_empty()
    }

    /// What an access log line needs from the request before s3s has it.
    fn seen(
        &self,
        request: &axum::extract::Request,
        bucket: &str,
        logging: access_log::Logging,
    ) -> access_log::Seen {
        // s3s has not verified the key yet: an unknown one is anonymous.
        let key = unsized_body::access_key_id(request).filter(|id| self.keys.secret(id).is_some());
        let requester = self.s3.requester_by_key(key.as_deref());
        access_log::Seen {
            bucket: bucket.to_string(),
            logging,
            virtual_host: virtual_host(request.headers()),
            started: std::time::SystemTime::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
            remote_ip: request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
            requester,
        }
    }
}

/// An error document with the request's ids in it, as S3 writes them
/// (`<RequestId>` equal to the x-amz-request-id header, `<HostId>`).
/// Also answers the document's error code.
async fn with_ids(
    response: Response,
    id: &str,
    host: Option<&HeaderValue>,
) -> (Response, Option<String>) {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (Response::from_parts(parts, Body::empty()), None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_string());
    let Some(end) = text
        .rfind("</Error>")
        .filter(|_| !text.contains("<RequestId>"))
    else {
        return (Response::from_parts(parts, Body::from(bytes)), code);
    };
    let host = host.and_then(|h| h.to_str().ok()).unwrap_or_default();
    let text = format!(
        "{}<RequestId>{id}</RequestId><HostId>{host}</HostId>{}",
        &text[..end],
        &text[end..]
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    (Response::from_parts(parts, Body::from(text)), code)
}

/// GetObjectAttributes answers its ETag without quotes (unlike every
/// other S3 answer); s3s quotes every ETag it writes.
async fn unquoted_etag(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some((before, rest)) = text.split_once("<ETag>\"") else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let text = format!("{before}<ETag>{}", rest.replacen("\"</ETag>", "</ETag>", 1));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// S3's request ids: 16 uppercase hex digits.
fn request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

/// The bucket a request names: in its host (virtual-host style) or as the
/// first segment of its path.
fn bucket_of(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    if let Some(bucket) = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(bucket_of_host)
    {
        return Some(bucket.to_string());
    }
    let first = uri.path().trim_start_matches('/').split('/').next()?;
    let bucket = percent_encoding::percent_decode_str(first)
        .decode_utf8()
        .ok()?;
    (!bucket.is_empty()).then(|| bucket.into_owned())
}

/// Refuses a path with a broken percent-escape (`%zz`, a lone `%`): S3
/// cannot tell which key is meant and answers 400 InvalidURI (s3s would
/// take the text literally and store a key the client did not mean).
fn check_escapes(uri: &Uri) -> Result<(), errors::Refusal> {
    let path = uri.path().as_bytes();
    let broken = path.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(path.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && path.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if broken {
        return Err(errors::Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidURI",
            message: "Couldn't parse the specified URI.",
        });
    }
    Ok(())
}

/// Refuses a DeleteObjects request that carries no integrity check of its
/// body: S3 requires Content-MD5 (or, since flexible checksums, an
/// `x-amz-checksum-*` header or trailer) on every Multi-Object Delete.
fn check_delete_digest(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), errors::Refusal> {
    let multi_delete = *method == Method::POST
        && uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "delete" || p == "delete="));
    let checked = headers.contains_key("content-md5")
        || headers.contains_key("x-amz-trailer")
        || headers.contains_key("x-amz-sdk-checksum-algorithm")
        || headers
            .keys()
            .any(|name| name.as_str().starts_with("x-amz-checksum-"));
    if multi_delete && !checked {
        return Err(errors::Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequest",
            message: "Missing required header for this request: Content-MD5",
        });
    }
    Ok(())
}

/// A SigV2-signed request to a bucket by path (`PUT /bucket`) with the
/// path S3 signs for it: SDKs sign the bucket's resource as `/bucket/`
/// whether or not they send the slash, and S3 accepts both.
fn sigv2_bucket_path(request: axum::extract::Request) -> axum::extract::Request {
    let v2 = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|auth| auth.starts_with("AWS "))
        || request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("AWSAccessKeyId=")));
    let path = request.uri().path();
    let bucket_only = path.len() > 1 && !path[1..].contains('/');
    if !v2 || !bucket_only || virtual_host(request.headers()) {
        return request;
    }
    let (mut parts, body) = request.into_parts();
    let rebuilt = match parts.uri.query() {
        Some(query) => format!("{}/?{query}", parts.uri.path()),
        None => format!("{}/", parts.uri.path()),
    };
    let mut uri = parts.uri.clone().into_parts();
    if let Ok(path_and_query) = rebuilt.parse() {
        uri.path_and_query = Some(path_and_query);
        if let Ok(uri) = Uri::from_parts(uri) {
            parts.uri = uri;
        }
    }
    axum::extract::Request::from_parts(parts, body)
}

/// The answer to S3 requests when the lake is a remote S3 service: nuage
/// serves the S3 API over its embedded lake only.
pub fn remote_lake() -> Response {
    errors::Refusal {
        status: StatusCode::NOT_IMPLEMENTED,
        code: "NotImplemented",
        message: "This nuage keeps its lake in a remote S3 service (NUAGE_S3_ENDPOINT); use that service for S3 requests, or unset it to serve the embedded lake",
    }
    .into_response()
}

/// Whether a request is for S3 rather than the JSON services: no
/// `X-Amz-Target` and no AWS JSON/CBOR body, and then a signature scoped to
/// `s3` (header or presigned query, SigV4 or SigV2), a bucket in the host
/// name, or a path below `/`. An unsigned request for `/` itself keeps the
/// JSON services' recorded answers (S3 refuses an anonymous ListBuckets too).
pub fn is_s3(method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if headers.contains_key("x-amz-target") {
        return false;
    }
    let content_type = header("content-type").unwrap_or("");
    if content_type.starts_with("application/x-amz-json")
        || content_type.starts_with("application/x-amz-cbor")
    {
        return false;
    }
    if let Some(auth) = header("authorization") {
        if auth.starts_with("AWS ") {
            return true;
        }
        return credential_service(auth) == Some("s3");
    }
    let query = uri.query().unwrap_or("");
    if query.contains("X-Amz-Credential=") {
        return query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
            .map(|c| {
                percent_encoding::percent_decode_str(c)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .is_some_and(|c| c.split('/').nth(3) == Some("s3"));
    }
    if query.contains("AWSAccessKeyId=") {
        return true;
    }
    if header("host")
        .is_some_and(|h| bucket_of_host(h).is_some() || website::bucket_of_host(h).is_some())
    {
        return true;
    }
    uri.path() != "/"
        || (*method != Method::POST && *method != Method::GET && *method != Method::OPTIONS)
}

/// The service in a SigV4 Authorization header's credential scope.
pub(crate) fn credential_service(auth: &str) -> Option<&str> {
    let fields = crate::request::authorization_fields(auth);
    let credential = fields.iter().find(|(k, _)| *k == "Credential")?.1;
    credential.split('/').nth(3)
}

/// The bucket of a virtual-host-style name such as `movies.localhost:4566`.
/// Whether the request names its bucket in its host.
fn virtual_host(headers: &HeaderMap) -> bool {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(bucket_of_host)
        .is_some()
}

fn bucket_of_host(host: &str) -> Option<&str> {
    host_name(host)
        .strip_suffix(".localhost")
        .filter(|b| !b.is_empty())
}

/// A Host header's name, without its port.
fn host_name(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Virtual-host style under `localhost` (which resolves to 127.0.0.1 on
/// every machine); any other host name is path style.
struct LocalHost;

impl S3Host for LocalHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match bucket_of_host(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

/// The server's access keys, for s3s's signature checks.
struct KeyAuth(Keys);

#[async_trait::async_trait]
impl S3Auth for KeyAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.secret(access_key) {
            Some(secret) => Ok(SecretKey::from(secret.to_string())),
            None => Err(s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

/// The operations, each answered in the file named for its kind.
#[derive(Clone)]
pub struct NuageS3 {
    objects: Objects,
    region: Arc<str>,
    notifier: Option<Notifier>,
    /// The access keys and the users they sign for ([`users`]).
    keys: Keys,
    /// How long a lifecycle day lasts (`x-amz-expiration`).
    day: lifecycle::Day,
}

type Answer<T> = S3Result<S3Response<T>>;

#[async_trait::async_trait]
impl S3 for NuageS3 {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> Answer<ListBucketsOutput> {
        self.list_buckets_(req).await
    }
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> Answer<CreateBucketOutput> {
        self.create_bucket_(req).await
    }
    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> Answer<DeleteBucketOutput> {
        self.delete_bucket_(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> Answer<HeadBucketOutput> {
        self.head_bucket_(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> Answer<GetBucketLocationOutput> {
        self.get_bucket_location_(req).await
    }
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Answer<GetBucketVersioningOutput> {
        self.get_bucket_versioning_(req).await
    }
    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> Answer<PutPublicAccessBlockOutput> {
        self.put_public_access_block_(req).await
    }
    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> Answer<GetPublicAccessBlockOutput> {
        self.get_public_access_block_(req).await
    }
    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> Answer<DeletePublicAccessBlockOutput> {
        self.delete_public_access_block_(req).await
    }
    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> Answer<PutObjectLockConfigurationOutput> {
        self.put_object_lock_configuration_(req).await
    }
    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> Answer<GetObjectLockConfigurationOutput> {
        self.get_object_lock_configuration_(req).await
    }
    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> Answer<PutObjectRetentionOutput> {
        self.put_object_retention_(req).await
    }
    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> Answer<GetObjectRetentionOutput> {
        self.get_object_retention_(req).await
    }
    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> Answer<PutObjectLegalHoldOutput> {
        self.put_object_legal_hold_(req).await
    }
    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> Answer<GetObjectLegalHoldOutput> {
        self.get_object_legal_hold_(req).await
    }
    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> Answer<PutBucketVersioningOutput> {
        self.put_bucket_versioning_(req).await
    }
    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> Answer<PutBucketTaggingOutput> {
        self.put_bucket_tagging_(req).await
    }
    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> Answer<GetBucketTaggingOutput> {
        self.get_bucket_tagging_(req).await
    }
    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> Answer<DeleteBucketTaggingOutput> {
        self.delete_bucket_tagging_(req).await
    }
    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> Answer<GetBucketAclOutput> {
        self.get_bucket_acl_(req).await
    }
    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> Answer<PutBucketAclOutput> {
        self.put_bucket_acl_(req).await
    }
    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> Answer<GetObjectAclOutput> {
        self.get_object_acl_(req).await
    }
    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> Answer<PutObjectAclOutput> {
        self.put_object_acl_(req).await
    }
    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> Answer<PutBucketOwnershipControlsOutput> {
        self.put_bucket_ownership_controls_(req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> Answer<GetBucketOwnershipControlsOutput> {
        self.get_bucket_ownership_controls_(req).await
    }

    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> Answer<DeleteBucketOwnershipControlsOutput> {
        self.delete_bucket_ownership_controls_(req).await
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> Answer<PutBucketPolicyOutput> {
        self.put_bucket_policy_(req).await
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> Answer<GetBucketPolicyOutput> {
        self.get_bucket_policy_(req).await
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> Answer<DeleteBucketPolicyOutput> {
        self.delete_bucket_policy_(req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> Answer<GetBucketPolicyStatusOutput> {
        self.get_bucket_policy_status_(req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> Answer<PutBucketEncryptionOutput> {
        self.put_bucket_encryption_(req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> Answer<GetBucketEncryptionOutput> {
        self.get_bucket_encryption_(req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> Answer<DeleteBucketEncryptionOutput> {
        self.delete_bucket_encryption_(req).await
    }

    async fn put_bucket_website(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> Answer<PutBucketWebsiteOutput> {
        self.put_bucket_website_(req).await
    }
    async fn get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> Answer<GetBucketWebsiteOutput> {
        self.get_bucket_website_(req).await
    }
    async fn delete_bucket_website(
        &self,
        req: S3Request<DeleteBucketWebsiteInput>,
    ) -> Answer<DeleteBucketWebsiteOutput> {
        self.delete_bucket_website_(req).await
    }
    async fn put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> Answer<PutBucketLoggingOutput> {
        self.put_bucket_logging_(req).await
    }
    async fn get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> Answer<GetBucketLoggingOutput> {
        self.get_bucket_logging_(req).await
    }
    async fn put_bucket_request_payment(
        &self,
        req: S3Request<PutBucketRequestPaymentInput>,
    ) -> Answer<PutBucketRequestPaymentOutput> {
        self.put_bucket_request_payment_(req).await
    }
    async fn get_bucket_request_payment(
        &self,
        req: S3Request<GetBucketRequestPaymentInput>,
    ) -> Answer<GetBucketRequestPaymentOutput> {
        self.get_bucket_request_payment_(req).await
    }
    async fn put_bucket_accelerate_configuration(
        &self,
        req: S3Request<PutBucketAccelerateConfigurationInput>,
    ) -> Answer<PutBucketAccelerateConfigurationOutput> {
        self.put_bucket_accelerate_configuration_(req).await
    }
    async fn get_bucket_accelerate_configuration(
        &self,
        req: S3Request<GetBucketAccelerateConfigurationInput>,
    ) -> Answer<GetBucketAccelerateConfigurationOutput> {
        self.get_bucket_accelerate_configuration_(req).await
    }
    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> Answer<PutBucketLifecycleConfigurationOutput> {
        self.put_bucket_lifecycle_configuration_(req).await
    }
    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> Answer<GetBucketLifecycleConfigurationOutput> {
        self.get_bucket_lifecycle_configuration_(req).await
    }
    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> Answer<DeleteBucketLifecycleOutput> {
        self.delete_bucket_lifecycle_(req).await
    }
    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> Answer<PutBucketCorsOutput> {
        self.put_bucket_cors_(req).await
    }
    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> Answer<GetBucketCorsOutput> {
        self.get_bucket_cors_(req).await
    }
    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> Answer<DeleteBucketCorsOutput> {
        self.delete_bucket_cors_(req).await
    }
    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> Answer<ListObjectsOutput> {
        self.list_objects_(req).await
    }
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Answer<ListObjectsV2Output> {
        self.list_objects_v2_(req).await
    }
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> Answer<ListObjectVersionsOutput> {
        self.list_object_versions_(req).await
    }
    async fn put_object(&self, req: S3Request<PutObjectInput>) -> Answer<PutObjectOutput> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let answer = self.put_object_(req).await?;
        self.changed(&bucket, &key, "ObjectCreated:Put").await;
        Ok(answer)
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> Answer<GetObjectOutput> {
        self.get_object_(req).await
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> Answer<HeadObjectOutput> {
        self.head_object_(req).await
    }
    async fn select_object_content(
        &self,
        req: S3Request<SelectObjectContentInput>,
    ) -> Answer<SelectObjectContentOutput> {
        self.select_object_content_(req).await
    }
    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> Answer<GetObjectAttributesOutput> {
        self.get_object_attributes_(req).await
    }
    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> Answer<DeleteObjectOutput> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let asked = req.input.version_id.is_some();
        let answer = self.delete_object_(req).await?;
        let marked = answer.output.delete_marker == Some(true);
        self.changed(&bucket, &key, removal_event(asked, marked))
            .await;
        Ok(answer)
    }
    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> Answer<DeleteObjectsOutput> {
        let bucket = req.input.bucket.clone();
        let answer = self.delete_objects_(req).await?;
        for deleted in answer.output.deleted.iter().flatten() {
            if let Some(key) = &deleted.key {
                let asked = deleted.version_id.is_some();
                let event = removal_event(asked, deleted.delete_marker == Some(true));
                self.changed(&bucket, key, event).await;
            }
        }
        Ok(answer)
    }
    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> Answer<CopyObjectOutput> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let answer = self.copy_object_(req).await?;
        self.changed(&bucket, &key, "ObjectCreated:Copy").await;
        Ok(answer)
    }
    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> Answer<GetObjectTaggingOutput> {
        self.get_object_tagging_(req).await
    }
    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> Answer<PutObjectTaggingOutput> {
        self.put_object_tagging_(req).await
    }
    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> Answer<DeleteObjectTaggingOutput> {
        self.delete_object_tagging_(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Answer<CreateMultipartUploadOutput> {
        self.create_multipart_upload_(req).await
    }
    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> Answer<UploadPartOutput> {
        self.upload_part_(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Answer<UploadPartCopyOutput> {
        self.upload_part_copy_(req).await
    }
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Answer<CompleteMultipartUploadOutput> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let answer = self.complete_multipart_upload_(req).await?;
        self.changed(&bucket, &key, "ObjectCreated:CompleteMultipartUpload")
            .await;
        Ok(answer)
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Answer<AbortMultipartUploadOutput> {
        self.abort_multipart_upload_(req).await
    }
    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> Answer<ListPartsOutput> {
        self.list_parts_(req).await
    }
    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> Answer<PutBucketNotificationConfigurationOutput> {
        self.put_bucket_notification_configuration_(req).await
    }
    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> Answer<GetBucketNotificationConfigurationOutput> {
        self.get_bucket_notification_configuration_(req).await
    }
    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Answer<ListMultipartUploadsOutput> {
        self.list_multipart_uploads_(req).await
    }
}

impl NuageS3 {
    /// Tells the bucket's notification rules about a change.
    async fn changed(&self, bucket: &str, key: &str, event: &'static str) {
        self.notify(notifications::Change { bucket, key, event })
            .await;
    }
}

/// S3's event for a delete: a marker added (a versioned bucket, no version
/// asked for) is `DeleteMarkerCreated`, any other removal `Delete`.
fn removal_event(version_asked: bool, delete_marker: bool) -> &'static str {
    if delete_marker && !version_asked {
        "ObjectRemoved:DeleteMarkerCreated"
    } else {
        "ObjectRemoved:Delete"
    }
}

/// The AWS account every bucket of nuage's lake belongs to.
const ACCOUNT: &str = "000000000000";

/// `x-amz-expected-bucket-owner` (and the copy source's) names nuage's
/// account, when given: S3 refuses a request whose bucket belongs to
/// another account with 403.
fn owned_as_expected(headers: &HeaderMap) -> bool {
    [
        "x-amz-expected-bucket-owner",
        "x-amz-source-expected-bucket-owner",
    ]
    .iter()
    .filter_map(|name| headers.get(*name))
    .all(|owner| owner.as_bytes() == ACCOUNT.as_bytes())
}

fn timestamp(time: std::time::SystemTime) -> Timestamp {
    Timestamp::from(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_escapes_in_the_path_are_invalid_uris() {
        let check = |path: &str| check_escapes(&path.parse::<Uri>().unwrap()).map_err(|r| r.code);
        assert_eq!(check("/b/a%20b%2Fc"), Ok(()));
        assert_eq!(check("/b/100%25"), Ok(()));
        assert_eq!(check("/b/a%zz"), Err("InvalidURI"));
        assert_eq!(check("/b/(*&^%&())"), Err("InvalidURI"));
        assert_eq!(check("/b/ends-with-%"), Err("InvalidURI"));
        assert_eq!(check("/b/half-%4"), Err("InvalidURI"));
    }

    #[test]
    fn a_multi_object_delete_needs_a_digest() {
        let check = |headers: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            let uri: Uri = "/b?delete".parse().unwrap();
            check_delete_digest(&Method::POST, &uri, &map).map_err(|r| r.code)
        };
        assert_eq!(check(&[]), Err("InvalidRequest"));
        assert_eq!(check(&[("content-md5", "x")]), Ok(()));
        assert_eq!(check(&[("x-amz-checksum-crc32", "x")]), Ok(()));
        assert_eq!(check(&[("x-amz-trailer", "x-amz-checksum-crc32")]), Ok(()));
        let other: Uri = "/b/k".parse().unwrap();
        assert!(check_delete_digest(&Method::POST, &other, &HeaderMap::new()).is_ok());
    }
}
