//! The control plane: functions, code, configuration, versions, aliases,
//! tags and concurrency, as Lambda's REST API shapes them.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nuage_functions::{Alias, Config, ConfigChanges, EventInvokeConfig, NewFunction};
use serde_json::{Value, json};

use super::errors::{LambdaError, LambdaResult};
use super::shapes::{self, FunctionCode};
use super::{Lambda, Route, body, paged};

impl Lambda {
    pub(super) async fn create_function(&self, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::CreateFunction = body(body_bytes)?;
        if request.package_type.as_deref() == Some("Image") {
            return Err(LambdaError::invalid(
                "nuage runs functions packaged as zip files; PackageType Image (container \
                 images) is not supported: give Code.ZipFile or Code.S3Bucket/S3Key",
            ));
        }
        let name = request.function_name.unwrap_or_default();
        let (name, _) = nuage_functions::store::parse_function_name(&name);
        let Some(runtime) = request.runtime else {
            return Err(LambdaError::invalid(
                "Runtime is required for .zip deployment packages.",
            ));
        };
        let Some(handler) = request.handler else {
            return Err(LambdaError::invalid(
                "Handler is required for .zip deployment packages.",
            ));
        };
        let zip = self.code(request.code.unwrap_or_default()).await?;
        let function = self
            .functions
            .create(NewFunction {
                name: name.to_string(),
                runtime,
                handler,
                role: request.role.unwrap_or_default(),
                description: request.description.unwrap_or_default(),
                timeout: request.timeout.map_or(3, |t| t.0 as u32),
                memory_size: request.memory_size.map_or(128, |m| m.0 as u32),
                environment: request
                    .environment
                    .and_then(|e| e.variables)
                    .unwrap_or_default(),
                tags: request.tags.unwrap_or_default(),
                zip,
                publish: request.publish.unwrap_or(false),
                layers: request.layers.unwrap_or_default(),
            })
            .await?;
        let shown = match request.publish {
            Some(true) => function
                .versions
                .values()
                .next_back()
                .unwrap_or(&function.latest),
            _ => &function.latest,
        };
        Ok(reply(StatusCode::CREATED, self.configuration(shown)))
    }

    pub(super) fn get_function(&self, route: &Route) -> LambdaResult {
        let (function, config) = self.functions.get(&route.name, route.qualifier())?;
        let mut out = json!({
            "Configuration": self.configuration(&config),
            "Code": {
                "RepositoryType": "S3",
                "Location": format!(
                    "{}/_nuage/lambda/code/{}/{}",
                    route.origin, function.latest.name, config.code_sha256.replace('/', "_").replace('+', "-")
                ),
            },
        });
        if !function.tags.is_empty() {
            out["Tags"] = json!(function.tags);
        }
        if let Some(reserved) = function.reserved_concurrency {
            out["Concurrency"] = json!({ "ReservedConcurrentExecutions": reserved });
        }
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) fn get_configuration(&self, route: &Route) -> LambdaResult {
        let (_, config) = self.functions.get(&route.name, route.qualifier())?;
        Ok(reply(StatusCode::OK, self.configuration(&config)))
    }

    pub(super) fn list_functions(&self, route: &Route) -> LambdaResult {
        let all = self.functions.list();
        let (page, next) = paged(&all, route)?;
        let mut out = json!({
            "Functions": page.iter().map(|c| self.configuration(c)).collect::<Vec<_>>(),
        });
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) async fn update_code(&self, route: &Route, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::UpdateFunctionCode = body(body_bytes)?;
        let code = FunctionCode {
            zip_file: request.zip_file,
            s3_bucket: request.s3_bucket,
            s3_key: request.s3_key,
            s3_object_version: request.s3_object_version,
            image_uri: request.image_uri,
        };
        let zip = self.code(code).await?;
        if request.dry_run == Some(true) {
            let (_, config) = self.functions.get(&route.name, None)?;
            return Ok(reply(StatusCode::OK, self.configuration(&config)));
        }
        let config = self
            .functions
            .update_code(
                &route.name,
                zip,
                request.publish.unwrap_or(false),
                request.revision_id,
            )
            .await?;
        Ok(reply(StatusCode::OK, self.configuration(&config)))
    }

    pub(super) async fn update_configuration(
        &self,
        route: &Route,
        body_bytes: &Bytes,
    ) -> LambdaResult {
        let request: shapes::UpdateFunctionConfiguration = body(body_bytes)?;
        let config = self
            .functions
            .update_config(
                &route.name,
                ConfigChanges {
                    runtime: request.runtime,
                    handler: request.handler,
                    role: request.role,
                    description: request.description,
                    timeout: request.timeout.map(|t| t.0 as u32),
                    memory_size: request.memory_size.map(|m| m.0 as u32),
                    environment: request.environment.map(|e| e.variables.unwrap_or_default()),
                    revision_id: request.revision_id,
                    layers: request.layers,
                },
            )
            .await?;
        Ok(reply(StatusCode::OK, self.configuration(&config)))
    }

    pub(super) async fn delete_function(&self, route: &Route) -> LambdaResult {
        self.functions
            .delete(&route.name, route.qualifier())
            .await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    pub(super) async fn publish_version(&self, route: &Route, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::PublishVersion = body(body_bytes)?;
        let config = self
            .functions
            .publish_version(
                &route.name,
                request.code_sha256,
                request.description,
                request.revision_id,
            )
            .await?;
        Ok(reply(StatusCode::CREATED, self.configuration(&config)))
    }

    pub(super) fn list_versions(&self, route: &Route) -> LambdaResult {
        let versions = self.functions.versions(&route.name)?;
        let (page, next) = paged(&versions, route)?;
        let mut out = json!({
            "Versions": page.iter().map(|c| self.configuration(c)).collect::<Vec<_>>(),
        });
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) async fn create_alias(&self, route: &Route, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::CreateAlias = body(body_bytes)?;
        let alias = self
            .functions
            .create_alias(
                &route.name,
                request.name.unwrap_or_default(),
                request.function_version.unwrap_or_default(),
                request.description.unwrap_or_default(),
            )
            .await?;
        Ok(reply(StatusCode::CREATED, self.alias(&route.name, &alias)))
    }

    pub(super) fn get_alias(&self, route: &Route, alias: &str) -> LambdaResult {
        let alias = self.functions.alias(&route.name, alias)?;
        Ok(reply(StatusCode::OK, self.alias(&route.name, &alias)))
    }

    pub(super) fn list_aliases(&self, route: &Route) -> LambdaResult {
        let aliases = self.functions.aliases(&route.name)?;
        let version = route.query("FunctionVersion");
        let aliases: Vec<Alias> = aliases
            .into_iter()
            .filter(|a| version.is_none_or(|v| a.function_version == v))
            .collect();
        let (page, next) = paged(&aliases, route)?;
        let mut out = json!({
            "Aliases": page.iter().map(|a| self.alias(&route.name, a)).collect::<Vec<_>>(),
        });
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) async fn update_alias(
        &self,
        route: &Route,
        alias: &str,
        body_bytes: &Bytes,
    ) -> LambdaResult {
        let request: shapes::UpdateAlias = body(body_bytes)?;
        let alias = self
            .functions
            .update_alias(
                &route.name,
                alias,
                request.function_version,
                request.description,
                request.revision_id,
            )
            .await?;
        Ok(reply(StatusCode::OK, self.alias(&route.name, &alias)))
    }

    pub(super) async fn delete_alias(&self, route: &Route, alias: &str) -> LambdaResult {
        self.functions.delete_alias(&route.name, alias).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    pub(super) async fn put_concurrency(&self, route: &Route, body_bytes: &Bytes) -> LambdaResult {
        let request: shapes::PutFunctionConcurrency = body(body_bytes)?;
        let reserved = request
            .reserved_concurrent_executions
            .map_or(0, |n| n.0 as u32);
        self.functions
            .set_concurrency(&route.name, Some(reserved))
            .await?;
        Ok(reply(
            StatusCode::OK,
            json!({ "ReservedConcurrentExecutions": reserved }),
        ))
    }

    pub(super) fn get_concurrency(&self, route: &Route) -> LambdaResult {
        let (function, _) = self.functions.get(&route.name, None)?;
        let out = match function.reserved_concurrency {
            Some(n) => json!({ "ReservedConcurrentExecutions": n }),
            None => json!({}),
        };
        Ok(reply(StatusCode::OK, out))
    }

    pub(super) async fn delete_concurrency(&self, route: &Route) -> LambdaResult {
        self.functions.set_concurrency(&route.name, None).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// TagResource, UntagResource, ListTags: the resource is a function ARN.
    pub(super) async fn tags(
        &self,
        method: &str,
        route: &Route,
        body_bytes: &Bytes,
    ) -> LambdaResult {
        match method {
            "POST" => {
                let request: shapes::TagResource = body(body_bytes)?;
                self.functions
                    .tag(&route.name, request.tags.unwrap_or_default())
                    .await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            "DELETE" => {
                let keys = route.query_all("tagKeys");
                self.functions.untag(&route.name, keys).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            _ => {
                let (function, _) = self.functions.get(&route.name, None)?;
                Ok(reply(StatusCode::OK, json!({ "Tags": function.tags })))
            }
        }
    }

    /// Put (replace) or Update (merge) FunctionEventInvokeConfig.
    pub(super) async fn put_event_invoke(
        &self,
        route: &Route,
        body_bytes: &Bytes,
        merge: bool,
    ) -> LambdaResult {
        let request: shapes::EventInvokeConfig = body(body_bytes)?;
        let (function, _) = self.functions.get(&route.name, None)?;
        let mut settings = match (merge, function.event_invoke) {
            (true, Some(current)) => current,
            (true, None) => {
                return Err(LambdaError::not_found(format!(
                    "The function {} doesn't have an EventInvokeConfig",
                    self.functions
                        .arn(&route.name, Some(nuage_functions::LATEST))
                )));
            }
            (false, _) => EventInvokeConfig::default(),
        };
        if let Some(n) = request.maximum_retry_attempts {
            settings.maximum_retry_attempts = Some(n.0 as u32);
        }
        if let Some(n) = request.maximum_event_age_in_seconds {
            settings.maximum_event_age_seconds = Some(n.0 as u32);
        }
        if let Some(destinations) = request.destination_config {
            let arn = |d: Option<shapes::OnDestination>| {
                d.and_then(|d| d.destination).filter(|a| !a.is_empty())
            };
            settings.on_success = arn(destinations.on_success);
            settings.on_failure = arn(destinations.on_failure);
        }
        settings.last_modified = nuage_functions::store::now_text();
        self.functions
            .set_event_invoke(&route.name, Some(settings.clone()))
            .await?;
        Ok(reply(
            StatusCode::OK,
            self.event_invoke(&route.name, &settings),
        ))
    }

    pub(super) fn get_event_invoke(&self, route: &Route) -> LambdaResult {
        let (function, _) = self.functions.get(&route.name, None)?;
        let settings = function.event_invoke.ok_or_else(|| {
            LambdaError::not_found(format!(
                "The function {} doesn't have an EventInvokeConfig",
                self.functions
                    .arn(&route.name, Some(nuage_functions::LATEST))
            ))
        })?;
        Ok(reply(
            StatusCode::OK,
            self.event_invoke(&route.name, &settings),
        ))
    }

    pub(super) async fn delete_event_invoke(&self, route: &Route) -> LambdaResult {
        self.functions.set_event_invoke(&route.name, None).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    fn event_invoke(&self, name: &str, settings: &EventInvokeConfig) -> Value {
        let destination = |arn: &Option<String>| match arn {
            Some(arn) => json!({ "Destination": arn }),
            None => json!({}),
        };
        let modified =
            chrono::DateTime::parse_from_str(&settings.last_modified, "%Y-%m-%dT%H:%M:%S%.3f%z")
                .map(|t| t.timestamp_millis() as f64 / 1000.0)
                .unwrap_or(0.0);
        json!({
            "LastModified": modified,
            "FunctionArn": self.functions.arn(name, Some(nuage_functions::LATEST)),
            "MaximumRetryAttempts": settings.maximum_retry_attempts.unwrap_or(2),
            "MaximumEventAgeInSeconds": settings.maximum_event_age_seconds.unwrap_or(21600),
            "DestinationConfig": {
                "OnSuccess": destination(&settings.on_success),
                "OnFailure": destination(&settings.on_failure),
            },
        })
    }

    /// The zip a request gives, inline or from the lake.
    pub(super) async fn code(&self, code: FunctionCode) -> Result<Bytes, LambdaError> {
        if code.image_uri.is_some() {
            return Err(LambdaError::invalid(
                "nuage runs functions packaged as zip files; ImageUri is not supported",
            ));
        }
        if let Some(zip) = code.zip_file {
            return Ok(zip.0);
        }
        let (Some(bucket), Some(key)) = (code.s3_bucket, code.s3_key) else {
            return Err(LambdaError::invalid(
                "Please provide a source for function code: Code.ZipFile, or Code.S3Bucket and \
                 Code.S3Key naming a zip in the lake.",
            ));
        };
        let location = nuage_lake::Location::parse(&format!("s3://{bucket}/{key}"))
            .map_err(|e| LambdaError::invalid(e.to_string()))?;
        self.lake.get_bytes(&location).await.map_err(|_| {
            LambdaError::invalid(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: \
                 The specified key does not exist. (bucket {bucket}, key {key})"
            ))
        })
    }

    /// FunctionConfiguration as Lambda returns it.
    pub(super) fn configuration(&self, config: &Config) -> Value {
        let qualified =
            (config.version != nuage_functions::LATEST).then_some(config.version.as_str());
        let mut out = json!({
            "FunctionName": config.name,
            "FunctionArn": self.functions.arn(&config.name, qualified),
            "Runtime": config.runtime,
            "Role": config.role,
            "Handler": config.handler,
            "CodeSize": config.code_size,
            "Description": config.description,
            "Timeout": config.timeout,
            "MemorySize": config.memory_size,
            "LastModified": config.last_modified,
            "CodeSha256": config.code_sha256,
            "Version": config.version,
            "TracingConfig": { "Mode": "PassThrough" },
            "RevisionId": config.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": { "Size": 512 },
            "SnapStart": { "ApplyOn": "None", "OptimizationStatus": "Off" },
            "LoggingConfig": {
                "LogFormat": "Text",
                "LogGroup": format!("/aws/lambda/{}", config.name),
            },
        });
        if !config.environment.is_empty() {
            out["Environment"] = json!({ "Variables": config.environment });
        }
        if !config.layers.is_empty() {
            let layers = self.functions.layers();
            let listed: Vec<Value> = config
                .layers
                .iter()
                .map(|arn| {
                    let size = layers
                        .resolve(arn)
                        .and_then(|(name, version)| layers.get(&name, version))
                        .map_or(0, |l| l.code_size);
                    json!({ "Arn": arn, "CodeSize": size })
                })
                .collect();
            out["Layers"] = json!(listed);
        }
        out
    }

    fn alias(&self, name: &str, alias: &Alias) -> Value {
        json!({
            "AliasArn": self.functions.arn(name, Some(&alias.name)),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        })
    }

    /// The uploaded zip of a function's code (GetFunction's Code.Location).
    pub(super) async fn code_zip(&self, name: &str, sha: &str) -> LambdaResult {
        let sha = sha.replace('_', "/").replace('-', "+");
        let (function, _) = self.functions.get(name, None)?;
        let known = std::iter::once(&function.latest)
            .chain(function.versions.values())
            .any(|c| c.code_sha256 == sha);
        if !known {
            return Err(LambdaError::not_found(format!(
                "no code {sha} for function {name}"
            )));
        }
        let path = self.functions.zip_path(name, &sha);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| LambdaError::not_found(format!("{}: {e}", path.display())))?;
        Ok(([("content-type", "application/zip")], bytes).into_response())
    }
}

pub(super) fn reply(status: StatusCode, value: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}
