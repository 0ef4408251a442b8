//! SigV4: with access keys configured, every API request must be signed by
//! one of them. The signature is recomputed with the `aws-sigv4` crate (the
//! SDKs' own signer) over the headers the client says it signed, at the time
//! it says it signed, and compared. Without keys any signature is accepted;
//! a request must still carry one (see [`crate::request`]), as AWS requires.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::{HeaderMap, Method, Uri};

use crate::error::ServerError;
use crate::wire::{ApiError, ErrorCode};

/// How far a request's X-Amz-Date may be from now (AWS: 5 minutes).
const MAX_SKEW: Duration = Duration::from_secs(300);

/// Access key id -> its secret and the user it signs for.
#[derive(Debug, Clone, Default)]
pub struct Keys(HashMap<String, Key>);

#[derive(Debug, Clone)]
struct Key {
    secret: String,
    user: Option<User>,
}

/// A user of the S3 API other than the lake's owner: its canonical id and
/// display name, as S3 names owners and grantees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
}

impl Keys {
    /// `AKID:SECRET` entries, separated by commas (NUAGE_ACCESS_KEYS); an
    /// entry `AKID:SECRET:USER_ID[:DISPLAY NAME]` signs for that user
    /// (several keys may share one), the others for the lake's owner.
    pub fn parse(text: &str) -> Result<Self, ServerError> {
        let mut keys = HashMap::new();
        for entry in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut fields = entry.splitn(4, ':');
            let (Some(id), Some(secret)) = (fields.next(), fields.next()) else {
                return Err(ServerError::AccessKey(entry.to_string()));
            };
            if id.is_empty() || secret.is_empty() {
                return Err(ServerError::AccessKey(entry.to_string()));
            }
            let user = match (fields.next(), fields.next()) {
                (None, _) => None,
                (Some(""), _) => return Err(ServerError::AccessKey(entry.to_string())),
                (Some(user), name) => Some(User {
                    id: user.to_string(),
                    name: name.filter(|n| !n.is_empty()).unwrap_or(user).to_string(),
                }),
            };
            let key = Key {
                secret: secret.to_string(),
                user,
            };
            keys.insert(id.to_string(), key);
        }
        Ok(Self(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The credentials functions get: a key of the lake's owner (the first
    /// by id), else, where every key is a user's, the first key.
    pub fn first(&self) -> Option<(&str, &str)> {
        self.0
            .iter()
            .min_by_key(|(id, key)| (key.user.is_some(), id.as_str()))
            .map(|(id, key)| (id.as_str(), key.secret.as_str()))
    }

    /// The secret of an access key id.
    pub fn secret(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(|k| k.secret.as_str())
    }

    /// The user an access key signs for; `None`: the lake's owner.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.0.get(id).and_then(|k| k.user.as_ref())
    }

    /// Whether any key signs for a user other than the lake's owner.
    pub fn has_users(&self) -> bool {
        self.0.values().any(|k| k.user.is_some())
    }

    /// The user with canonical id `id`, if a key signs for one.
    pub fn user_by_id(&self, id: &str) -> Option<&User> {
        self.0
            .values()
            .filter_map(|k| k.user.as_ref())
            .find(|u| u.id == id)
    }

    /// Checks the request's SigV4 signature; AWS's errors when it fails.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), ApiError> {
        if self.is_empty() {
            return Ok(());
        }
        let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Missing Authentication Token",
            ));
        };
        // The edge has refused a header missing any of these (request.rs);
        // a wrong algorithm or a Date without X-Amz-Date still ends here.
        let fields = crate::request::authorization_fields(auth);
        let field = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let incomplete = |missing: &str| {
            ApiError::new(
                ErrorCode::IncompleteSignature,
                format!("{missing}Authorization={auth}"),
            )
        };
        let date = headers.get("x-amz-date").and_then(|v| v.to_str().ok());
        let (Some(credential), Some(signature), Some(signed_headers), Some(date)) = (
            field("Credential"),
            field("Signature"),
            field("SignedHeaders"),
            date,
        ) else {
            return Err(incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            ));
        };
        if !auth.starts_with("AWS4-HMAC-SHA256") {
            return Err(incomplete(""));
        }
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, _day, region, service, "aws4_request"] = scope[..] else {
            return Err(incomplete(
                "Credential should be scoped to a valid region, service and terminator 'aws4_request'. ",
            ));
        };
        let Some(secret) = self.secret(key_id) else {
            return Err(ApiError::new(
                ErrorCode::UnrecognizedClient,
                "The security token included in the request is invalid.",
            ));
        };
        let signed_at = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::IncompleteSignature,
                    format!("X-Amz-Date {date} is not of the form YYYYMMDDTHHMMSSZ."),
                )
            })?
            .and_utc();
        let time = SystemTime::from(signed_at);
        let now = SystemTime::now();
        let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
        if skew > MAX_SKEW {
            return Err(ApiError::new(
                ErrorCode::InvalidSignature,
                format!(
                    "Signature expired: {date} is now earlier or later than the server's time by more than 5 minutes ({} s)",
                    skew.as_secs()
                ),
            ));
        }
        let signed: Vec<&str> = signed_headers.split(';').collect();
        let token = headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .filter(|_| signed.contains(&"x-amz-security-token"));
        let mut settings = SigningSettings::default();
        settings.excluded_headers = Some(Vec::new());
        if signed.contains(&"x-amz-content-sha256") {
            settings.payload_checksum_kind =
                aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        }
        let identity: Identity =
            Credentials::new(key_id, secret, token.map(str::to_string), None, "nuage").into();
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let full_uri = format!("http://{host}{path}");
        let signed_headers: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| signed.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let mismatch = || {
            ApiError::new(
                ErrorCode::InvalidSignature,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        };
        let request = SignableRequest::new(
            method.as_str(),
            full_uri,
            signed_headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|_| mismatch())?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|_| mismatch())?
            .into();
        let expected = sign(request, &params).map_err(|_| mismatch())?;
        if !constant_time_eq(expected.signature().as_bytes(), signature.as_bytes()) {
            return Err(mismatch());
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
