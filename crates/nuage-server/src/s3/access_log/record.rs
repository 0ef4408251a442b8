//! One line of an S3 server access log, in the format S3 documents
//! (space-separated fields, `-` for none, quoted request line, referer and
//! user agent):
//!
//! ```text
//! owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 requester REQID
//!   REST.GET.OBJECT key "GET /bucket/key HTTP/1.1" 200 - 113 113 7 - "-"
//!   "agent" - hostid SigV4 - AuthHeader host - - -
//! ```

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, Uri};

/// What a log line says about one request.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub bucket_owner: String,
    pub bucket: String,
    pub time: Option<SystemTime>,
    pub remote_ip: Option<std::net::IpAddr>,
    pub requester: Option<String>,
    pub request_id: String,
    pub operation: String,
    /// As it appears in the request (URL-encoded).
    pub key: Option<String>,
    pub request_uri: String,
    pub status: u16,
    pub error_code: Option<String>,
    pub bytes_sent: Option<u64>,
    pub object_size: Option<u64>,
    pub total_ms: u64,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub version_id: Option<String>,
    pub host_id: String,
    pub signature_version: Option<&'static str>,
    pub auth_type: Option<&'static str>,
    pub host_header: Option<String>,
}

fn or_dash<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

/// A quoted field: quotes inside become `\"` so a reader's pattern holds.
fn quoted(value: &Option<String>) -> String {
    format!("\"{}\"", or_dash(value).replace('"', "\\\""))
}

impl Entry {
    /// The line, without its newline.
    pub fn line(&self) -> String {
        let time = self.time.unwrap_or_else(SystemTime::now);
        let time = chrono::DateTime::<chrono::Utc>::from(time).format("%d/%b/%Y:%H:%M:%S +0000");
        let fields = [
            self.bucket_owner.clone(),
            self.bucket.clone(),
            format!("[{time}]"),
            or_dash(&self.remote_ip),
            or_dash(&self.requester),
            self.request_id.clone(),
            self.operation.clone(),
            or_dash(&self.key),
            quoted(&Some(self.request_uri.clone())),
            self.status.to_string(),
            or_dash(&self.error_code),
            or_dash(&self.bytes_sent),
            or_dash(&self.object_size),
            self.total_ms.to_string(),
            // Turn-around time: not measured apart from the total.
            "-".into(),
            quoted(&self.referer),
            quoted(&self.user_agent),
            or_dash(&self.version_id),
            self.host_id.clone(),
            or_dash(&self.signature_version),
            // Cipher suite: nuage serves plain HTTP.
            "-".into(),
            or_dash(&self.auth_type),
            or_dash(&self.host_header),
            // TLS version, access point ARN, ACL required.
            "-".into(),
            "-".into(),
            "-".into(),
        ];
        fields.join(" ")
    }
}

/// S3's name for an operation in the log (`REST.GET.OBJECT`,
/// `REST.PUT.PART`, `REST.POST.MULTI_OBJECT_DELETE`, ...), from the
/// request's method, subresource and whether it names a key.
pub fn operation(method: &Method, uri: &Uri, headers: &HeaderMap, has_key: bool) -> String {
    let query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .map(|p| p.split_once('=').map_or(p, |(name, _)| name))
        .collect();
    let asks = |name: &str| query.contains(&name);
    let copy = headers.contains_key("x-amz-copy-source");
    let method_name = if copy && *method == Method::PUT {
        "COPY"
    } else {
        method.as_str()
    };
    let resource = if asks("uploadId") {
        if *method == Method::PUT {
            "PART"
        } else {
            "UPLOAD"
        }
    } else if asks("uploads") {
        "UPLOADS"
    } else if asks("delete") && *method == Method::POST {
        "MULTI_OBJECT_DELETE"
    } else if let Some(sub) = SUBRESOURCES.iter().find(|(q, _)| asks(q)) {
        match (sub.0, has_key) {
            ("tagging", true) => "OBJECT_TAGGING",
            ("acl", true) => "ACL",
            _ => sub.1,
        }
    } else if has_key {
        "OBJECT"
    } else {
        "BUCKET"
    };
    format!("REST.{method_name}.{resource}")
}

/// Subresources and the names S3's log gives them.
const SUBRESOURCES: &[(&str, &str)] = &[
    ("acl", "ACL"),
    ("cors", "CORS"),
    ("lifecycle", "LIFECYCLE"),
    ("location", "LOCATION"),
    ("logging", "LOGGING_STATUS"),
    ("notification", "NOTIFICATION"),
    ("policy", "BUCKETPOLICY"),
    ("policyStatus", "BUCKETPOLICYSTATUS"),
    ("tagging", "TAGGING"),
    ("versioning", "VERSIONING"),
    ("versions", "BUCKETVERSIONS"),
    ("encryption", "ENCRYPTION"),
    ("object-lock", "OBJECT_LOCK_CONFIGURATION"),
    ("retention", "OBJECT_LOCK_RETENTION"),
    ("legal-hold", "OBJECT_LOCK_LEGALHOLD"),
    ("publicAccessBlock", "PUBLIC_ACCESS_BLOCK"),
    ("ownershipControls", "OWNERSHIP_CONTROLS"),
    ("requestPayment", "REQUEST_PAYMENT"),
    ("accelerate", "ACCELERATE"),
    ("attributes", "OBJECT_ATTRIBUTES"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, uri: &str, copy: bool, key: bool) -> String {
        let mut headers = HeaderMap::new();
        if copy {
            headers.insert("x-amz-copy-source", "/b/k".parse().unwrap());
        }
        operation(&method, &uri.parse().unwrap(), &headers, key)
    }

    #[test]
    fn operations_are_named_as_s3_logs_them() {
        assert_eq!(op(Method::GET, "/b/k", false, true), "REST.GET.OBJECT");
        assert_eq!(op(Method::PUT, "/b/k", false, true), "REST.PUT.OBJECT");
        assert_eq!(op(Method::PUT, "/b/k", true, true), "REST.COPY.OBJECT");
        assert_eq!(
            op(Method::GET, "/b?list-type=2", false, false),
            "REST.GET.BUCKET"
        );
        assert_eq!(
            op(Method::POST, "/b/k?uploads", false, true),
            "REST.POST.UPLOADS"
        );
        assert_eq!(
            op(Method::PUT, "/b/k?partNumber=1&uploadId=x", false, true),
            "REST.PUT.PART"
        );
        assert_eq!(
            op(Method::POST, "/b/k?uploadId=x", false, true),
            "REST.POST.UPLOAD"
        );
        assert_eq!(
            op(Method::POST, "/b?delete", false, false),
            "REST.POST.MULTI_OBJECT_DELETE"
        );
        assert_eq!(
            op(Method::GET, "/b?versioning", false, false),
            "REST.GET.VERSIONING"
        );
        assert_eq!(
            op(Method::PUT, "/b/k?tagging", false, true),
            "REST.PUT.OBJECT_TAGGING"
        );
    }

    #[test]
    fn a_line_has_the_documented_fields() {
        let entry = Entry {
            bucket_owner: "owner".into(),
            bucket: "b".into(),
            time: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_549_411_238)),
            remote_ip: Some("192.0.2.3".parse().unwrap()),
            requester: None,
            request_id: "3E57427F3EXAMPLE".into(),
            operation: "REST.GET.OBJECT".into(),
            key: Some("a%20b".into()),
            request_uri: "GET /b/a%20b HTTP/1.1".into(),
            status: 404,
            error_code: Some("NoSuchKey".into()),
            user_agent: Some("say \"hi\"".into()),
            host_id: "hid".into(),
            signature_version: Some("SigV4"),
            auth_type: Some("AuthHeader"),
            host_header: Some("localhost:4566".into()),
            ..Entry::default()
        };
        assert_eq!(
            entry.line(),
            "owner b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT \
             a%20b \"GET /b/a%20b HTTP/1.1\" 404 NoSuchKey - - 0 - \"-\" \"say \\\"hi\\\"\" - \
             hid SigV4 - AuthHeader localhost:4566 - - -"
        );
    }
}
