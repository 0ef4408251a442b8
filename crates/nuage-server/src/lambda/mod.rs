//! Lambda's REST API (`/2015-03-31/functions/...` and its siblings) over
//! `nuage-functions`: which requests are Lambda's, the routing of paths to
//! operations, and what every operation shares (the function named by the
//! path, the query, the body's shape checks, paging).

mod errors;
mod functions;
mod invoke;
mod layers;
mod mappings;
mod shapes;
mod urls;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use nuage_functions::Functions;
use serde::de::DeserializeOwned;

pub use errors::{LambdaError, LambdaResult};
pub use urls::url_target;

/// The path prefixes of Lambda's operations (each API version of the
/// model), and nuage's own download path for function code.
const PREFIXES: &[&str] = &[
    "/2015-03-31/functions",
    "/2015-03-31/event-source-mappings",
    "/2014-11-13/functions/",
    "/2016-08-19/account-settings",
    "/2017-03-31/tags/",
    "/2017-10-31/functions/",
    "/2018-10-31/layers",
    "/2019-09-25/functions/",
    "/2019-09-30/functions/",
    "/2021-10-31/functions/",
    "/_nuage/lambda/",
];

/// Whether a request is for Lambda: one of its paths, and not signed for
/// another service (a bucket could be named `2015-03-31`).
pub fn is_lambda(uri: &Uri, headers: &HeaderMap) -> bool {
    let path = uri.path();
    if !PREFIXES.iter().any(|p| path.starts_with(p)) {
        return false;
    }
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(auth) => crate::s3::credential_service(auth).is_none_or(|s| s == "lambda"),
        None => true,
    }
}

pub struct Lambda {
    pub functions: Arc<Functions>,
    pub lake: Arc<nuage_lake::Lake>,
}

/// What the path and query of a request name.
pub(crate) struct Route {
    /// The function (from a name, `name:qualifier` or an ARN).
    pub name: String,
    path_qualifier: Option<String>,
    query: Vec<(String, String)>,
    /// `http://host:port` as the client addressed nuage.
    pub origin: String,
}

impl Route {
    /// `?Qualifier=` or the qualifier in the function's name.
    pub fn qualifier(&self) -> Option<&str> {
        self.query("Qualifier").or(self.path_qualifier.as_deref())
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_all(&self, key: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl Lambda {
    pub async fn dispatch(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Response {
        match self.route(method, uri, headers, body).await {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!("lambda {method} {}: {} {}", uri.path(), e.kind, e.message);
                e.into_response()
            }
        }
    }

    async fn route(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
    ) -> LambdaResult {
        let segments: Vec<String> = uri
            .path()
            .trim_start_matches('/')
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1:4566");
        let route = |name: &str| -> Result<Route, LambdaError> {
            if !(shapes::FUNCTION_NAME.matches)(name) || name.len() > 170 {
                return Err(crate::shape::validation_error(
                    1,
                    &[format!(
                        "Value '{name}' at 'functionName' failed to satisfy constraint: Member \
                         must satisfy regular expression pattern: {}",
                        shapes::FUNCTION_NAME.text
                    )],
                )
                .into());
            }
            let (plain, qualifier) = nuage_functions::store::parse_function_name(name);
            Ok(Route {
                name: plain.to_string(),
                path_qualifier: qualifier.map(str::to_string),
                query: query.clone(),
                origin: format!("http://{host}"),
            })
        };
        let origin = format!("http://{host}");
        let m = method.as_str();
        match (m, segments.as_slice()) {
            ("POST", ["2015-03-31", "functions"] | ["2015-03-31", "functions", ""]) => {
                self.create_function(&body).await
            }
            ("GET", ["2015-03-31", "functions"] | ["2015-03-31", "functions", ""]) => {
                self.list_functions(&route("x")?)
            }
            ("GET", ["2015-03-31", "functions", name]) => self.get_function(&route(name)?),
            ("DELETE", ["2015-03-31", "functions", name]) => {
                self.delete_function(&route(name)?).await
            }
            ("GET", ["2015-03-31", "functions", name, "configuration"]) => {
                self.get_configuration(&route(name)?)
            }
            ("PUT", ["2015-03-31", "functions", name, "configuration"]) => {
                self.update_configuration(&route(name)?, &body).await
            }
            ("PUT", ["2015-03-31", "functions", name, "code"]) => {
                self.update_code(&route(name)?, &body).await
            }
            ("POST", ["2015-03-31", "functions", name, "invocations"]) => {
                self.invoke(&route(name)?, headers, body).await
            }
            ("POST", ["2014-11-13", "functions", name, "invoke-async", ..]) => {
                self.invoke_async(&route(name)?, body).await
            }
            ("POST", ["2015-03-31", "functions", name, "versions"]) => {
                self.publish_version(&route(name)?, &body).await
            }
            ("GET", ["2015-03-31", "functions", name, "versions"]) => {
                self.list_versions(&route(name)?)
            }
            ("POST", ["2015-03-31", "functions", name, "aliases"]) => {
                self.create_alias(&route(name)?, &body).await
            }
            ("GET", ["2015-03-31", "functions", name, "aliases"]) => {
                self.list_aliases(&route(name)?)
            }
            ("GET", ["2015-03-31", "functions", name, "aliases", alias]) => {
                self.get_alias(&route(name)?, alias)
            }
            ("PUT", ["2015-03-31", "functions", name, "aliases", alias]) => {
                self.update_alias(&route(name)?, alias, &body).await
            }
            ("DELETE", ["2015-03-31", "functions", name, "aliases", alias]) => {
                self.delete_alias(&route(name)?, alias).await
            }
            ("PUT", ["2017-10-31", "functions", name, "concurrency"]) => {
                self.put_concurrency(&route(name)?, &body).await
            }
            ("DELETE", ["2017-10-31", "functions", name, "concurrency"]) => {
                self.delete_concurrency(&route(name)?).await
            }
            ("GET", ["2019-09-30", "functions", name, "concurrency"]) => {
                self.get_concurrency(&route(name)?)
            }
            ("POST" | "GET" | "DELETE", ["2017-03-31", "tags", arn]) => {
                self.tags(m, &route(arn)?, &body).await
            }
            ("PUT", ["2019-09-25", "functions", name, "event-invoke-config"]) => {
                self.put_event_invoke(&route(name)?, &body, false).await
            }
            ("POST", ["2019-09-25", "functions", name, "event-invoke-config"]) => {
                self.put_event_invoke(&route(name)?, &body, true).await
            }
            ("GET", ["2019-09-25", "functions", name, "event-invoke-config"]) => {
                self.get_event_invoke(&route(name)?)
            }
            ("DELETE", ["2019-09-25", "functions", name, "event-invoke-config"]) => {
                self.delete_event_invoke(&route(name)?).await
            }
            (
                "POST",
                ["2015-03-31", "event-source-mappings"]
                | ["2015-03-31", "event-source-mappings", ""],
            ) => self.create_mapping(&body).await,
            (
                "GET",
                ["2015-03-31", "event-source-mappings"]
                | ["2015-03-31", "event-source-mappings", ""],
            ) => self.list_mappings(&route("x")?),
            ("GET", ["2015-03-31", "event-source-mappings", uuid]) => self.get_mapping(uuid),
            ("PUT", ["2015-03-31", "event-source-mappings", uuid]) => {
                self.update_mapping(uuid, &body).await
            }
            ("DELETE", ["2015-03-31", "event-source-mappings", uuid]) => {
                self.delete_mapping(uuid).await
            }
            ("POST", ["2021-10-31", "functions", name, "url"]) => {
                self.put_url(&route(name)?, &body, true).await
            }
            ("PUT", ["2021-10-31", "functions", name, "url"]) => {
                self.put_url(&route(name)?, &body, false).await
            }
            ("GET", ["2021-10-31", "functions", name, "url"]) => self.get_url(&route(name)?),
            ("DELETE", ["2021-10-31", "functions", name, "url"]) => {
                self.delete_url(&route(name)?).await
            }
            ("GET", ["2021-10-31", "functions", name, "urls"]) => self.list_urls(&route(name)?),
            ("GET", ["2016-08-19", "account-settings", ..]) => Ok(self.account_settings()),
            ("GET", ["_nuage", "lambda", "code", name, sha]) => self.code_zip(name, sha).await,
            ("GET", ["_nuage", "lambda", "layers", name, version]) => {
                self.layer_zip(name, version).await
            }
            ("POST", ["2018-10-31", "layers", name, "versions"]) => {
                self.publish_layer_version(name, &origin, &body).await
            }
            ("GET", ["2018-10-31", "layers", name, "versions"]) => {
                self.list_layer_versions(name, &origin)
            }
            ("GET", ["2018-10-31", "layers", name, "versions", version]) => {
                self.get_layer_version(name, version, &origin)
            }
            ("DELETE", ["2018-10-31", "layers", name, "versions", version]) => {
                self.delete_layer_version(name, version).await
            }
            ("GET", ["2018-10-31", "layers"] | ["2018-10-31", "layers", ""]) => {
                match query.iter().find(|(k, _)| k == "Arn") {
                    Some((_, arn)) => self.get_layer_version_by_arn(arn, &origin),
                    None => self.list_layers(&origin),
                }
            }
            _ => Err(LambdaError::unknown(m, uri.path())),
        }
    }

    fn account_settings(&self) -> Response {
        let max = self.functions.config().max_environments;
        functions::reply(
            axum::http::StatusCode::OK,
            serde_json::json!({
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800u64,
                    "CodeSizeUnzipped": 262_144_000,
                    "CodeSizeZipped": 52_428_800,
                    "ConcurrentExecutions": max,
                    "UnreservedConcurrentExecutions": max,
                },
                "AccountUsage": {
                    "TotalCodeSize": 0,
                    "FunctionCount": self.functions.list().len(),
                },
            }),
        )
    }
}

/// Firehose's transform functions, run by this Lambda service.
pub struct Invoker(pub Arc<Functions>);

impl nuage_delivery::transform::Invoker for Invoker {
    fn invoke<'a>(
        &'a self,
        name: &'a str,
        qualifier: Option<&'a str>,
        payload: Bytes,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send + 'a>> {
        Box::pin(async move {
            let request = nuage_functions::InvokeRequest {
                name: name.to_string(),
                qualifier: qualifier.map(str::to_string),
                payload,
                client_context: None,
            };
            match self.0.invoke(request).await {
                Ok(outcome) if !outcome.function_error => Ok(outcome.payload),
                Ok(outcome) => Err(format!(
                    "function {name} failed: {}",
                    String::from_utf8_lossy(&outcome.payload)
                )),
                Err(e) => Err(format!("function {name}: {e}")),
            }
        })
    }
}

/// A request body of shape `T`, checked; an empty body is `{}`.
pub(crate) fn body<T>(bytes: &Bytes) -> Result<T, LambdaError>
where
    T: crate::shape::Shape + DeserializeOwned,
{
    let cx = crate::shape::Context {
        max_record_bytes: usize::MAX,
    };
    Ok(crate::shape::parse_checked(
        crate::wire::Format::Json,
        bytes,
        &cx,
    )?)
}

/// One page of `items` (`Marker`: the position to start at; `MaxItems`:
/// 1 to 10,000, 50 by default) and the next page's marker.
pub(crate) fn paged<'a, T>(
    items: &'a [T],
    route: &Route,
) -> Result<(&'a [T], Option<String>), LambdaError> {
    let max: usize = match route.query("MaxItems") {
        None => 50,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(crate::shape::validation_error(
                    1,
                    &[format!(
                        "Value '{text}' at 'maxItems' failed to satisfy constraint: Member must \
                         have value less than or equal to 10000"
                    )],
                )
                .into());
            }
        },
    };
    let start: usize = match route.query("Marker") {
        None => 0,
        Some(marker) => marker
            .parse()
            .map_err(|_| LambdaError::invalid(format!("Invalid marker: {marker}")))?,
    };
    let start = start.min(items.len());
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((&items[start..end], next))
}
