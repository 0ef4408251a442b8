//! Layers, as Lambda's REST API (2018-10-31) shapes them: publish, get
//! (by name and number, or by ARN), list, delete; the zip downloads from
//! `Content.Location`.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use nuage_functions::layers::{LayerVersion, NewLayerVersion};
use serde_json::{Value, json};

use super::errors::{LambdaError, LambdaResult};
use super::functions::reply;
use super::shapes;
use super::{Lambda, body};

impl Lambda {
    pub(super) async fn publish_layer_version(
        &self,
        name: &str,
        origin: &str,
        body_bytes: &Bytes,
    ) -> LambdaResult {
        let request: shapes::PublishLayerVersion = body(body_bytes)?;
        let Some(content) = request.content else {
            return Err(LambdaError::invalid(
                "Content is required: a ZipFile, or an S3Bucket and S3Key naming a zip in the lake",
            ));
        };
        let zip = self.code(content).await?;
        let layers = self.functions.layers();
        let new = NewLayerVersion {
            name: name.to_string(),
            description: request.description.unwrap_or_default(),
            compatible_runtimes: request.compatible_runtimes.unwrap_or_default(),
            compatible_architectures: request.compatible_architectures.unwrap_or_default(),
            license_info: request.license_info,
            zip: zip.to_vec(),
        };
        let layer = tokio::task::spawn_blocking(move || layers.publish(new))
            .await
            .map_err(|e| LambdaError::service(e.to_string()))??;
        Ok(reply(
            StatusCode::CREATED,
            self.layer_version(&layer, origin),
        ))
    }

    pub(super) fn get_layer_version(
        &self,
        name: &str,
        version: &str,
        origin: &str,
    ) -> LambdaResult {
        let version = number(version)?;
        let layer = self.functions.layers().get(name, version)?;
        Ok(reply(StatusCode::OK, self.layer_version(&layer, origin)))
    }

    /// GetLayerVersionByArn (`GET /layers?find=LayerVersion&Arn=...`).
    pub(super) fn get_layer_version_by_arn(&self, arn: &str, origin: &str) -> LambdaResult {
        let layers = self.functions.layers();
        let (name, version) = layers
            .resolve(arn)
            .map_err(|_| LambdaError::not_found(format!("Layer version {arn} does not exist.")))?;
        let layer = layers.get(&name, version)?;
        Ok(reply(StatusCode::OK, self.layer_version(&layer, origin)))
    }

    /// ListLayerVersions, newest first, as Lambda lists them.
    pub(super) fn list_layer_versions(&self, name: &str, origin: &str) -> LambdaResult {
        let versions = self.functions.layers().versions(name)?;
        let listed: Vec<Value> = versions
            .iter()
            .rev()
            .map(|v| self.layer_version(v, origin))
            .collect();
        Ok(reply(StatusCode::OK, json!({ "LayerVersions": listed })))
    }

    /// ListLayers: each layer with its latest version.
    pub(super) fn list_layers(&self, origin: &str) -> LambdaResult {
        let layers = self.functions.layers();
        let mut listed = Vec::new();
        for name in layers.names()? {
            if let Some(latest) = layers.versions(&name)?.last() {
                listed.push(json!({
                    "LayerName": name,
                    "LayerArn": layers.arn(&name, None),
                    "LatestMatchingVersion": self.layer_version(latest, origin),
                }));
            }
        }
        Ok(reply(StatusCode::OK, json!({ "Layers": listed })))
    }

    pub(super) async fn delete_layer_version(&self, name: &str, version: &str) -> LambdaResult {
        let version = number(version)?;
        let layers = self.functions.layers();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || layers.delete(&name, version))
            .await
            .map_err(|e| LambdaError::service(e.to_string()))??;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// The zip a layer version was published from (its Content.Location).
    pub(super) async fn layer_zip(&self, name: &str, version: &str) -> LambdaResult {
        let version = number(version)?;
        let layers = self.functions.layers();
        layers.get(name, version)?;
        let bytes = tokio::fs::read(layers.zip_path(name, version))
            .await
            .map_err(|e| LambdaError::not_found(e.to_string()))?;
        Ok(([("content-type", "application/zip")], bytes).into_response())
    }

    fn layer_version(&self, layer: &LayerVersion, origin: &str) -> Value {
        let layers = self.functions.layers();
        let mut out = json!({
            "Content": {
                "Location": format!("{origin}/_nuage/lambda/layers/{}/{}", layer.name, layer.version),
                "CodeSha256": layer.code_sha256,
                "CodeSize": layer.code_size,
            },
            "LayerArn": layers.arn(&layer.name, None),
            "LayerVersionArn": layers.arn(&layer.name, Some(layer.version)),
            "Description": layer.description,
            "CreatedDate": layer.created,
            "Version": layer.version,
            "CompatibleRuntimes": layer.compatible_runtimes,
            "CompatibleArchitectures": layer.compatible_architectures,
        });
        if let Some(license) = &layer.license_info {
            out["LicenseInfo"] = json!(license);
        }
        out
    }
}

fn number(text: &str) -> Result<u64, LambdaError> {
    text.parse().map_err(|_| {
        LambdaError::invalid(format!(
            "VersionNumber {text:?} is not a layer version number (1, 2, ...)"
        ))
    })
}
