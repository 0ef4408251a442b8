//! Bucket CORS: Put/Get/DeleteBucketCors keep a bucket's rules (as the
//! bucket folder's attribute `user.nuage.s3.cors`), and browsers' requests
//! are answered by them as S3 answers: a preflight (`OPTIONS` with Origin
//! and Access-Control-Request-Method) by the first rule that allows its
//! origin, method and headers, or 403; a request with Origin gets the
//! Access-Control-* headers of the first rule that allows it.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nuage_lake::objects::Objects;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response};
use serde::{Deserialize, Serialize};

use crate::s3::errors::{OrS3, Refusal, malformed_xml, refuse};
use crate::s3::{Answer, NuageS3};

const SETTING: &str = "cors";

/// One CORS rule as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default)]
    id: Option<String>,
    origins: Vec<String>,
    methods: Vec<String>,
    #[serde(default)]
    headers: Vec<String>,
    #[serde(default)]
    expose: Vec<String>,
    #[serde(default)]
    max_age: Option<i32>,
}

/// `*` anywhere in a pattern stands for any text (S3 allows one).
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.len() >= head.len() + tail.len() && text.starts_with(head) && text.ends_with(tail)
        }
    }
}

impl Rule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.origins.iter().any(|o| wildcard(o, origin))
            && self.methods.iter().any(|m| m == method)
            && headers.iter().all(|h| {
                self.headers
                    .iter()
                    .any(|allowed| wildcard(&allowed.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    }

    /// The Access-Control-* headers this rule gives `origin`.
    fn apply(&self, origin: &str, headers: &mut HeaderMap) {
        let any = self.origins.iter().any(|o| o == "*");
        let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set(
            headers,
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            if any { "*" } else { origin },
        );
        if !any {
            set(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        }
        set(
            headers,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            &self.methods.join(", "),
        );
        if !self.expose.is_empty() {
            set(
                headers,
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                &self.expose.join(", "),
            );
        }
        if let Some(age) = self.max_age {
            set(headers, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
        }
        set(
            headers,
            header::VARY,
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        );
    }
}

fn rules(objects: &Objects, bucket: &str) -> Option<Vec<Rule>> {
    objects.json_setting(bucket, SETTING)
}

fn forbidden(message: &'static str) -> Response {
    Refusal {
        status: StatusCode::FORBIDDEN,
        code: "AccessForbidden",
        message,
    }
    .into_response()
}

/// The answer to a preflight for `bucket`.
pub async fn preflight(objects: &Objects, bucket: Option<&str>, request: &HeaderMap) -> Response {
    let text = |name: header::HeaderName| request.get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (
        text(header::ORIGIN),
        text(header::ACCESS_CONTROL_REQUEST_METHOD),
    ) else {
        return Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message: "Insufficient information. Origin request header needed.",
        }
        .into_response();
    };
    let asked: Vec<String> = text(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .map(|h| {
            h.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(rules) = (match bucket {
        Some(bucket) => rules(objects, bucket),
        None => None,
    }) else {
        return forbidden("CORSResponse: CORS is not enabled for this bucket.");
    };
    let Some(rule) = rules.iter().find(|r| r.allows(origin, method, &asked)) else {
        return forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        );
    };
    let mut response = StatusCode::OK.into_response();
    rule.apply(origin, response.headers_mut());
    if !asked.is_empty()
        && let Ok(value) = HeaderValue::from_str(&asked.join(", "))
    {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    response
}

/// Adds the CORS headers of the rule that allows this request, if any.
pub async fn decorate(
    objects: &Objects,
    bucket: Option<&str>,
    method: &Method,
    request: &HeaderMap,
    response: &mut Response,
) {
    let Some(origin) = request.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let Some(rules) = (match bucket {
        Some(bucket) => rules(objects, bucket),
        None => None,
    }) else {
        return;
    };
    if let Some(rule) = rules
        .iter()
        .find(|r| r.allows(origin, method.as_str(), &[]))
    {
        rule.apply(origin, response.headers_mut());
    }
}

/// The methods a CORS rule may allow.
const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

impl NuageS3 {
    pub(super) async fn put_bucket_cors_(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> Answer<PutBucketCorsOutput> {
        let input = req.input;
        let rules = input.cors_configuration.cors_rules;
        if rules.is_empty() || rules.len() > 100 {
            return Err(malformed_xml());
        }
        let mut stored = Vec::with_capacity(rules.len());
        for rule in rules {
            if let Some(bad) = rule
                .allowed_methods
                .iter()
                .find(|m| !METHODS.contains(&m.as_str()))
            {
                return Err(refuse(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {bad}"
                    ),
                ));
            }
            if let Some(bad) = rule
                .allowed_origins
                .iter()
                .find(|o| o.matches('*').count() > 1)
            {
                return Err(refuse(
                    S3ErrorCode::InvalidRequest,
                    format!("AllowedOrigin \"{bad}\" can not have more than one wildcard."),
                ));
            }
            stored.push(Rule {
                id: rule.id,
                origins: rule.allowed_origins,
                methods: rule.allowed_methods,
                headers: rule.allowed_headers.unwrap_or_default(),
                expose: rule.expose_headers.unwrap_or_default(),
                max_age: rule.max_age_seconds,
            });
        }
        let value = serde_json::to_vec(&stored).expect("rules serialize");
        self.objects
            .set_bucket_setting(&input.bucket, SETTING, Some(value))
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(super) async fn get_bucket_cors_(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> Answer<GetBucketCorsOutput> {
        let bucket = req.input.bucket;
        self.existing(&bucket)?;
        let Some(rules) = rules(&self.objects, &bucket) else {
            return Err(refuse(
                S3ErrorCode::NoSuchCORSConfiguration,
                "The CORS configuration does not exist",
            ));
        };
        let rules = rules
            .into_iter()
            .map(|r| CORSRule {
                id: r.id,
                allowed_origins: r.origins,
                allowed_methods: r.methods,
                allowed_headers: (!r.headers.is_empty()).then_some(r.headers),
                expose_headers: (!r.expose.is_empty()).then_some(r.expose),
                max_age_seconds: r.max_age,
            })
            .collect();
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rules),
        }))
    }

    pub(super) async fn delete_bucket_cors_(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> Answer<DeleteBucketCorsOutput> {
        self.remove_setting(&req.input.bucket, SETTING).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_as_s3_documents() {
        let rule = Rule {
            id: None,
            origins: vec!["https://*.example.com".into()],
            methods: vec!["GET".into(), "PUT".into()],
            headers: vec!["x-amz-*".into(), "Content-Type".into()],
            expose: vec![],
            max_age: None,
        };
        assert!(rule.allows("https://app.example.com", "PUT", &["content-type".into()]));
        assert!(rule.allows("https://app.example.com", "GET", &["X-Amz-Date".into()]));
        assert!(!rule.allows("https://example.org", "GET", &[]));
        assert!(!rule.allows("https://app.example.com", "DELETE", &[]));
        assert!(!rule.allows("https://app.example.com", "GET", &["authorization".into()]));
    }
}
