//! Function URLs: their configuration (`/2021-10-31/functions/{name}/url`)
//! and the HTTP requests sent to them. A URL is
//! `http://127.0.0.1:4566/_lambda-url/<id>/` (a path of the edge, so every
//! HTTP client reaches it without DNS; `_` keeps it apart from bucket
//! names), and the host form `http://<id>.lambda-url.<region>.localhost:4566/`
//! works too where `*.localhost` resolves (curl, browsers). A request
//! invokes the function with Lambda's payload format 2.0 (the path after
//! the id as rawPath), and the function's answer becomes the HTTP response
//! as Lambda documents it.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use nuage_functions::{InvokeRequest, UrlConfig};
use serde_json::{Map, Value, json};

use super::errors::{LambdaError, LambdaResult};
use super::functions::reply;
use super::{Lambda, Route, body, shapes};

/// The path prefix of function URLs on the edge.
const PREFIX: &str = "/_lambda-url/";

/// The URL id a request is for, and the path the function sees, if the
/// request is for a function URL (by path or by host name).
pub fn url_target(uri: &Uri, headers: &HeaderMap) -> Option<(String, String)> {
    if let Some(rest) = uri.path().strip_prefix(PREFIX) {
        let (id, path) = rest.split_once('/').unwrap_or((rest, ""));
        return Some((id.to_string(), format!("/{path}")));
    }
    let host = headers.get("host")?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let (id, rest) = name.split_once(".lambda-url.")?;
    (rest.ends_with(".localhost") || rest.ends_with(".on.aws"))
        .then(|| (id.to_string(), uri.path().to_string()))
}

impl Lambda {
    pub(super) async fn put_url(
        &self,
        route: &Route,
        body_bytes: &Bytes,
        create: bool,
    ) -> LambdaResult {
        let request: shapes::FunctionUrl = body(body_bytes)?;
        let qualifier = self.url_qualifier(route)?;
        let (function, _) = self.functions.get(&route.name, None)?;
        let key = qualifier.clone().unwrap_or_default();
        let existing = function.urls.get(&key).cloned();
        let now = nuage_functions::store::now_text();
        let url = match (create, existing) {
            (true, Some(_)) => {
                return Err(LambdaError::new(
                    StatusCode::CONFLICT,
                    "ResourceConflictException",
                    format!(
                        "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                        self.functions.arn(&route.name, qualifier.as_deref())
                    ),
                ));
            }
            (true, None) => {
                let Some(auth_type) = request.auth_type else {
                    return Err(crate::shape::validation_error(
                        1,
                        &["Value null at 'authType' failed to satisfy constraint: Member must not be null".into()],
                    )
                    .into());
                };
                UrlConfig {
                    id: uuid::Uuid::new_v4().simple().to_string(),
                    auth_type,
                    cors: request.cors,
                    invoke_mode: request.invoke_mode.unwrap_or_else(|| "BUFFERED".into()),
                    created: now.clone(),
                    last_modified: now,
                }
            }
            (false, None) => {
                return Err(LambdaError::not_found(format!(
                    "The resource you requested does not exist. (function url of {})",
                    self.functions.arn(&route.name, qualifier.as_deref())
                )));
            }
            (false, Some(mut url)) => {
                if let Some(auth_type) = request.auth_type {
                    url.auth_type = auth_type;
                }
                if request.cors.is_some() {
                    url.cors = request.cors;
                }
                if let Some(mode) = request.invoke_mode {
                    url.invoke_mode = mode;
                }
                url.last_modified = now;
                url
            }
        };
        self.functions
            .set_url(&route.name, qualifier.clone(), Some(url.clone()))
            .await?;
        let status = if create {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(reply(
            status,
            self.url_json(route, qualifier.as_deref(), &url),
        ))
    }

    pub(super) fn get_url(&self, route: &Route) -> LambdaResult {
        let qualifier = self.url_qualifier(route)?;
        let (function, _) = self.functions.get(&route.name, None)?;
        let url = function
            .urls
            .get(qualifier.as_deref().unwrap_or(""))
            .ok_or_else(|| LambdaError::not_found("The resource you requested does not exist."))?;
        Ok(reply(
            StatusCode::OK,
            self.url_json(route, qualifier.as_deref(), url),
        ))
    }

    pub(super) fn list_urls(&self, route: &Route) -> LambdaResult {
        let (function, _) = self.functions.get(&route.name, None)?;
        let configs: Vec<Value> = function
            .urls
            .iter()
            .map(|(q, url)| self.url_json(route, (!q.is_empty()).then_some(q.as_str()), url))
            .collect();
        Ok(reply(
            StatusCode::OK,
            json!({ "FunctionUrlConfigs": configs }),
        ))
    }

    pub(super) async fn delete_url(&self, route: &Route) -> LambdaResult {
        let qualifier = self.url_qualifier(route)?;
        self.get_url(route)?;
        self.functions.set_url(&route.name, qualifier, None).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// A URL belongs to the function or one of its aliases, not a version.
    fn url_qualifier(&self, route: &Route) -> Result<Option<String>, LambdaError> {
        match route.qualifier() {
            None => Ok(None),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) || q == nuage_functions::LATEST => {
                Err(LambdaError::invalid(format!(
                    "A function URL can be configured for the unqualified function or an alias, not version {q}"
                )))
            }
            Some(alias) => {
                self.functions.alias(&route.name, alias)?;
                Ok(Some(alias.to_string()))
            }
        }
    }

    fn url_json(&self, route: &Route, qualifier: Option<&str>, url: &UrlConfig) -> Value {
        let mut out = json!({
            "FunctionUrl": format!("{}{PREFIX}{}/", route.origin, url.id),
            "FunctionArn": self.functions.arn(&route.name, qualifier),
            "AuthType": url.auth_type,
            "CreationTime": url.created,
            "LastModifiedTime": url.last_modified,
            "InvokeMode": url.invoke_mode,
        });
        if let Some(cors) = &url.cors {
            out["Cors"] = cors.clone();
        }
        out
    }

    /// An HTTP request to a function URL.
    pub async fn serve_url(
        &self,
        id: &str,
        path: &str,
        parts: &axum::http::request::Parts,
        body: Bytes,
        signed: bool,
    ) -> Response {
        let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
        let Some((name, qualifier, url)) = self.functions.url_target(id) else {
            return message(StatusCode::NOT_FOUND, "Not Found");
        };
        let origin = headers.get("origin").and_then(|v| v.to_str().ok());
        if *method == Method::OPTIONS && headers.contains_key("access-control-request-method") {
            let mut response = StatusCode::OK.into_response();
            cors(&url, origin, true, response.headers_mut());
            return response;
        }
        if url.auth_type == "AWS_IAM" && !signed {
            return message(StatusCode::FORBIDDEN, "Forbidden");
        }
        let event = event_v2(
            id,
            path,
            method,
            uri,
            headers,
            &body,
            &self.functions.config().account,
        );
        let request = InvokeRequest {
            name,
            qualifier,
            payload: Bytes::from(event.to_string()),
            client_context: None,
        };
        let mut response = match self.functions.invoke(request).await {
            Ok(outcome) if !outcome.function_error => http_response(&outcome.payload),
            Ok(_) => message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
            Err(nuage_functions::FunctionError::Throttled { .. }) => {
                message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded.")
            }
            Err(e) => LambdaError::from(e).into_response(),
        };
        cors(&url, origin, false, response.headers_mut());
        response
    }
}

/// Lambda's payload format 2.0 for an HTTP request.
fn event_v2(
    id: &str,
    path: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    account: &str,
) -> Value {
    let mut flat: Map<String, Value> = Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        match flat.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                flat.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let raw_query = uri.query().unwrap_or("").to_string();
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let text = content_type.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded"]
            .iter()
            .any(|t| content_type.contains(t));
    let (body_value, base64) = if body.is_empty() {
        (Value::Null, false)
    } else if text && let Ok(s) = std::str::from_utf8(body) {
        (Value::String(s.to_string()), false)
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    };
    let now = chrono::Utc::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": flat,
        "requestContext": {
            "accountId": account,
            "apiId": id,
            "domainName": header("host").split(':').next().unwrap_or(""),
            "domainPrefix": id,
            "http": {
                "method": method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": header("user-agent"),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !body_value.is_null() {
        event["body"] = body_value;
    }
    event
}

/// The function's answer as HTTP: an object with `statusCode` says it all;
/// anything else is a 200 JSON body, as Lambda infers it.
fn http_response(payload: &[u8]) -> Response {
    let value: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            payload.to_vec(),
        )
            .into_response();
    };
    let status = object
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match object.get("body") {
        Some(Value::String(text)) if object.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default()
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    if let Some(Value::Object(headers)) = object.get("headers") {
        for (name, value) in headers {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(&text),
            ) {
                out.insert(name, value);
            }
        }
    }
    if let Some(Value::Array(cookies)) = object.get("cookies") {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                out.append("set-cookie", value);
            }
        }
    }
    if !out.contains_key("content-type") {
        out.insert("content-type", HeaderValue::from_static("application/json"));
    }
    response
}

/// The URL's CORS settings on a response (or a preflight's answer).
fn cors(url: &UrlConfig, origin: Option<&str>, preflight: bool, out: &mut HeaderMap) {
    let (Some(cors), Some(origin)) = (&url.cors, origin) else {
        return;
    };
    let list = |key: &str| -> Vec<String> {
        cors.get(key)
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let origins = list("AllowOrigins");
    if !origins.iter().any(|o| o == "*" || o == origin) {
        return;
    }
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    };
    set("access-control-allow-origin", origin.to_string());
    if cors.get("AllowCredentials") == Some(&Value::Bool(true)) {
        set("access-control-allow-credentials", "true".into());
    }
    let expose = list("ExposeHeaders");
    if !expose.is_empty() {
        set("access-control-expose-headers", expose.join(","));
    }
    if preflight {
        let methods = list("AllowMethods");
        if !methods.is_empty() {
            set("access-control-allow-methods", methods.join(","));
        }
        let headers = list("AllowHeaders");
        if !headers.is_empty() {
            set("access-control-allow-headers", headers.join(","));
        }
        if let Some(age) = cors.get("MaxAge").and_then(Value::as_u64) {
            set("access-control-max-age", age.to_string());
        }
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({ "Message": text }).to_string(),
    )
        .into_response()
}
