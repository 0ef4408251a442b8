//! Static website hosting: Put/Get/DeleteBucketWebsite keep a bucket's
//! website configuration, and requests to the bucket's website endpoint
//! (`Host: <bucket>.s3-website.localhost:4566`, or any host of the form
//! `<bucket>.s3-website[-.]<region>...`) are answered as S3's website
//! endpoint answers them:
//!
//! ```text
//!   GET/HEAD only (405 otherwise), anonymous: what the public may read
//!   RedirectAllRequestsTo         -> 301 to that host
//!   routing rule on the key       -> redirect (before the lookup)
//!   "" or ".../"                  -> + IndexDocument suffix
//!   object with a redirect        -> 301 to x-amz-website-redirect-location
//!   "dir" missing, "dir/index"    -> 302 to "/dir/"
//!   Range                         -> 206 with that part (416 past the end)
//!   404 / 403                     -> routing rule on the error code, else
//!                                    ErrorDocument (with that status), else
//!                                    S3's HTML error page
//! ```

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nuage_lake::objects::{ObjectError, Opened};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response};

use crate::s3::errors::{OrS3, refuse};
use crate::s3::{Answer, NuageS3};

const SETTING: &str = "website";

/// The bucket a website endpoint's host names (`site.s3-website.localhost`
/// → `site`).
pub fn bucket_of_host(host: &str) -> Option<&str> {
    let (bucket, rest) = crate::s3::host_name(host).split_once(".s3-website")?;
    (rest.is_empty() || rest.starts_with('.') || rest.starts_with('-'))
        .then_some(bucket)
        .filter(|b| !b.is_empty())
}

fn invalid(message: impl Into<String>) -> s3s::S3Error {
    refuse(S3ErrorCode::InvalidArgument, message.into())
}

fn config_of(s3: &NuageS3, bucket: &str) -> Option<WebsiteConfiguration> {
    s3.objects.json_setting(bucket, SETTING)
}

/// Checks a configuration as S3 does.
fn check(config: &WebsiteConfiguration) -> Result<(), s3s::S3Error> {
    let rules = config.routing_rules.as_deref().unwrap_or_default();
    if let Some(all) = &config.redirect_all_requests_to {
        if config.index_document.is_some() || config.error_document.is_some() || !rules.is_empty() {
            return Err(invalid(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            ));
        }
        check_protocol(all.protocol.as_ref())?;
        return Ok(());
    }
    let Some(index) = &config.index_document else {
        return Err(invalid(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ));
    };
    if index.suffix.is_empty() || index.suffix.contains('/') {
        return Err(invalid("The IndexDocument Suffix is not well formed"));
    }
    if rules.len() > 50 {
        return Err(invalid("The number of routing rules must not exceed 50"));
    }
    for rule in rules {
        let redirect = &rule.redirect;
        if redirect.replace_key_prefix_with.is_some() && redirect.replace_key_with.is_some() {
            return Err(invalid(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        if let Some(code) = &redirect.http_redirect_code
            && !matches!(code.parse::<u16>(), Ok(301..=399))
        {
            return Err(invalid(format!(
                "The provided HTTP redirect code ({code}) is not valid. Valid codes are 3XX except 300."
            )));
        }
        check_protocol(redirect.protocol.as_ref())?;
    }
    Ok(())
}

fn check_protocol(protocol: Option<&Protocol>) -> Result<(), s3s::S3Error> {
    match protocol.map(Protocol::as_str) {
        None | Some("http" | "https") => Ok(()),
        Some(other) => Err(invalid(format!(
            "Invalid protocol {other:?}: use http or https"
        ))),
    }
}

impl NuageS3 {
    pub(super) async fn put_bucket_website_(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> Answer<PutBucketWebsiteOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        check(&input.website_configuration)?;
        let value = serde_json::to_vec(&input.website_configuration).expect("website serializes");
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(value))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketWebsiteOutput::default()))
    }

    pub(super) async fn get_bucket_website_(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> Answer<GetBucketWebsiteOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let Some(config) = config_of(self, &bucket) else {
            return Err(refuse(
                S3ErrorCode::NoSuchWebsiteConfiguration,
                "The specified bucket does not have a website configuration",
            ));
        };
        Ok(S3Response::new(GetBucketWebsiteOutput {
            error_document: config.error_document,
            index_document: config.index_document,
            redirect_all_requests_to: config.redirect_all_requests_to,
            routing_rules: config.routing_rules,
        }))
    }

    pub(super) async fn delete_bucket_website_(
        &self,
        req: S3Request<DeleteBucketWebsiteInput>,
    ) -> Answer<DeleteBucketWebsiteOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }
}

/// S3's HTML error page of the website endpoint.
fn error_page(status: StatusCode, code: &str, message: &str, key: Option<&str>) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let key = key.map_or(String::new(), |k| format!("<li>Key: {}</li>\n", escape(k)));
    let id = crate::s3::request_id();
    let html = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n\
         <li>Code: {code}</li>\n<li>Message: {message}</li>\n{key}<li>RequestId: {id}</li>\n\
         </ul>\n<hr/>\n</body>\n</html>\n"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn redirect(status: StatusCode, location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (status, [(header::LOCATION, value)]).into_response(),
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "InvalidRedirectLocation",
            "The redirect location is not a valid header value.",
            None,
        ),
    }
}

/// Where a routing rule sends a request for `key`.
fn rule_location(redirect: &Redirect, matched_prefix: &str, key: &str, host: &str) -> String {
    let protocol = redirect.protocol.as_ref().map_or("http", Protocol::as_str);
    let host = redirect.host_name.as_deref().unwrap_or(host);
    let key = match (
        &redirect.replace_key_with,
        &redirect.replace_key_prefix_with,
    ) {
        (Some(whole), _) => whole.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", &key[matched_prefix.len()..]),
        (None, None) => key.to_string(),
    };
    format!("{protocol}://{host}/{key}")
}

fn rule_status(redirect: &Redirect) -> StatusCode {
    redirect
        .http_redirect_code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::MOVED_PERMANENTLY)
}

/// The redirect a routing rule makes of a request for `key`.
fn follow(rule: &RoutingRule, key: &str, host: &str) -> Response {
    let prefix = rule
        .condition
        .as_ref()
        .and_then(|c| c.key_prefix_equals.as_deref())
        .unwrap_or("");
    redirect(
        rule_status(&rule.redirect),
        &rule_location(&rule.redirect, prefix, key, host),
    )
}

/// The first rule for `key` (and, after a failed lookup, for `error`).
fn matching_rule<'c>(
    config: &'c WebsiteConfiguration,
    key: &str,
    error: Option<u16>,
) -> Option<&'c RoutingRule> {
    config.routing_rules.as_deref()?.iter().find(|rule| {
        let Some(condition) = &rule.condition else {
            return false;
        };
        let prefix_holds = condition
            .key_prefix_equals
            .as_deref()
            .is_none_or(|p| key.starts_with(p));
        let code_holds = match (&condition.http_error_code_returned_equals, error) {
            (None, _) => true,
            (Some(wanted), Some(code)) => wanted.parse::<u16>().ok() == Some(code),
            (Some(_), None) => false,
        };
        prefix_holds && code_holds
    })
}

/// Answers a request to `bucket`'s website endpoint.
pub async fn serve(
    s3: &NuageS3,
    bucket: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response {
    if *method != Method::GET && *method != Method::HEAD {
        return error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            None,
        );
    }
    if !s3.objects.bucket_exists(bucket) {
        return error_page(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            None,
        );
    }
    let Some(config) = config_of(s3, bucket) else {
        return error_page(
            StatusCode::NOT_FOUND,
            "NoSuchWebsiteConfiguration",
            "The specified bucket does not have a website configuration",
            None,
        );
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let raw = path.strip_prefix('/').unwrap_or(path);
    let key = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    if let Some(all) = &config.redirect_all_requests_to {
        let protocol = all.protocol.as_ref().map_or("http", Protocol::as_str);
        return redirect(
            StatusCode::MOVED_PERMANENTLY,
            &format!("{protocol}://{}/{raw}", all.host_name),
        );
    }
    if let Some(rule) = matching_rule(&config, &key, None)
        && rule
            .condition
            .as_ref()
            .is_some_and(|c| c.http_error_code_returned_equals.is_none())
    {
        return follow(rule, &key, host);
    }
    let suffix = config
        .index_document
        .as_ref()
        .map_or("index.html", |i| i.suffix.as_str());
    let wanted = if key.is_empty() || key.ends_with('/') {
        format!("{key}{suffix}")
    } else {
        key.clone()
    };
    let error = match readable(s3, bucket, &wanted, headers).await {
        Ok(opened) => return object_answer(method, headers, opened, StatusCode::OK),
        Err(status) => status,
    };
    // A "folder" asked for without its slash.
    if error == StatusCode::NOT_FOUND
        && !key.is_empty()
        && !key.ends_with('/')
        && readable(s3, bucket, &format!("{key}/{suffix}"), headers)
            .await
            .is_ok()
    {
        return redirect(StatusCode::FOUND, &format!("/{raw}/"));
    }
    if let Some(rule) = matching_rule(&config, &key, Some(error.as_u16())) {
        return follow(rule, &key, host);
    }
    if let Some(document) = &config.error_document
        && let Ok(opened) = readable(s3, bucket, &document.key, headers).await
    {
        return object_answer(method, headers, opened, error);
    }
    match error {
        StatusCode::FORBIDDEN => error_page(error, "AccessDenied", "Access Denied", None),
        _ => error_page(
            error,
            "NoSuchKey",
            "The specified key does not exist.",
            Some(&wanted),
        ),
    }
}

/// The object `key` if the public may read it: 404 if there is none, 403
/// if it is not public.
async fn readable(
    s3: &NuageS3,
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
) -> Result<Opened, StatusCode> {
    let opened = match s3.objects.open_object(bucket, key).await {
        Ok(opened) => opened,
        Err(ObjectError::NoSuchKey(_) | ObjectError::DeleteMarker { .. }) => {
            return Err(StatusCode::NOT_FOUND);
        }
        Err(_) => return Err(StatusCode::INTERNAL_SERVER_ERROR),
    };
    // An SSE-C object cannot be read without its key, which a browser
    // does not send.
    if opened
        .info
        .meta
        .encryption
        .as_ref()
        .is_some_and(|e| e.customer.is_some())
    {
        return Err(StatusCode::FORBIDDEN);
    }
    match s3.public_may_read(bucket, key, headers).await {
        Ok(true) => Ok(opened),
        _ => Err(StatusCode::FORBIDDEN),
    }
}

/// An object as the website endpoint serves it.
fn object_answer(
    method: &Method,
    asked: &HeaderMap,
    opened: Opened,
    status: StatusCode,
) -> Response {
    let meta = &opened.info.meta;
    if status == StatusCode::OK
        && let Some(location) = meta.headers.get("x-amz-website-redirect-location")
    {
        return redirect(StatusCode::MOVED_PERMANENTLY, location);
    }
    let etag = format!("\"{}\"", meta.etag);
    let last_modified =
        crate::s3::objects::http_date(&crate::s3::timestamp(opened.info.last_modified))
            .unwrap_or_default();
    if status == StatusCode::OK
        && asked
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    // A Range is honoured on the object asked for (not an error document).
    let asked_range = asked
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| status == StatusCode::OK)
        .map(Range::parse);
    let (bytes, content_range) = match asked_range {
        None => (0..meta.size, None),
        Some(Err(_)) => (0..meta.size, None),
        Some(Ok(range)) => match crate::s3::objects::resolve_range(meta, None, Some(&range)) {
            Ok(resolved) => resolved,
            Err(_) => {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{}", meta.size))],
                )
                    .into_response();
            }
        },
    };
    let status = match content_range {
        Some(_) => StatusCode::PARTIAL_CONTENT,
        None => status,
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, meta.content_type())
        .header(header::CONTENT_LENGTH, bytes.end - bytes.start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, etag)
        .header(header::LAST_MODIFIED, last_modified);
    if let Some(content_range) = content_range {
        response = response.header(header::CONTENT_RANGE, content_range);
    }
    for name in [
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
    ] {
        if let Some(value) = meta.headers.get(name) {
            response = response.header(name, value);
        }
    }
    let body = match (opened.file, *method == Method::HEAD) {
        (Some(file), false) if bytes.end > bytes.start => {
            Body::from_stream(crate::s3::body::file_chunks(file, bytes))
        }
        _ => Body::empty(),
    };
    response
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_hosts_name_their_bucket() {
        assert_eq!(
            bucket_of_host("site.s3-website.localhost:4566"),
            Some("site")
        );
        assert_eq!(
            bucket_of_host("my.site.s3-website-us-east-1.amazonaws.com"),
            Some("my.site")
        );
        assert_eq!(
            bucket_of_host("site.s3-website.us-east-1.localhost"),
            Some("site")
        );
        assert_eq!(bucket_of_host("site.localhost:4566"), None);
        assert_eq!(bucket_of_host("site.s3-websitex.localhost"), None);
    }

    #[test]
    fn routing_rules_rewrite_keys_as_s3_documents() {
        // S3's examples: docs/ -> documents/, and a 404 sent to another host.
        let redirect = Redirect {
            replace_key_prefix_with: Some("documents/".into()),
            ..Default::default()
        };
        assert_eq!(
            rule_location(&redirect, "docs/", "docs/a.html", "site.example"),
            "http://site.example/documents/a.html"
        );
        let elsewhere = Redirect {
            host_name: Some("ec2.example.com".into()),
            replace_key_prefix_with: Some("report-404/".into()),
            protocol: Some(Protocol::from_static(Protocol::HTTPS)),
            http_redirect_code: Some("302".into()),
            ..Default::default()
        };
        assert_eq!(
            rule_location(&elsewhere, "", "a/b", "site.example"),
            "https://ec2.example.com/report-404/a/b"
        );
        assert_eq!(rule_status(&elsewhere), StatusCode::FOUND);
        let bad_code = WebsiteConfiguration {
            index_document: Some(IndexDocument {
                suffix: "index.html".into(),
            }),
            routing_rules: Some(vec![RoutingRule {
                condition: None,
                redirect: Redirect {
                    http_redirect_code: Some("200".into()),
                    ..Default::default()
                },
            }]),
            ..Default::default()
        };
        assert!(check(&bad_code).is_err());
        let no_index = WebsiteConfiguration::default();
        assert!(check(&no_index).is_err());
    }
}
