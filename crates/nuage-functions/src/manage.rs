//! The control plane: creating, reading, changing and deleting functions,
//! their versions, aliases, tags and concurrency. Each change is applied to
//! a copy, saved, and only then made visible.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::error::{FunctionError, Result};
use crate::store::{self, Alias, Config, ConfigChanges, Function, LATEST, NewFunction, Store};
use crate::{Functions, UrlConfig};

impl Functions {
    /// CreateFunction.
    pub async fn create(&self, new: NewFunction) -> Result<Function> {
        let _admin = self.admin.lock().await;
        if self.read().contains_key(&new.name) {
            return Err(FunctionError::Conflict(format!(
                "Function already exist: {}",
                new.name
            )));
        }
        let store = self.store.clone();
        let function = blocking(move || {
            prepare_layers(&store, &new.layers)?;
            let function = store.create(new)?;
            store.save(&function)?;
            Ok(function)
        })
        .await?;
        self.write()
            .insert(function.latest.name.clone(), function.clone());
        Ok(function)
    }

    /// A function and the configuration its qualifier names.
    pub fn get(&self, name: &str, qualifier: Option<&str>) -> Result<(Function, Config)> {
        let functions = self.read();
        let function = functions
            .get(name)
            .ok_or_else(|| self.store.not_found(name, qualifier))?;
        let config = function
            .resolve(qualifier)
            .ok_or_else(|| self.store.not_found(name, qualifier))?;
        Ok((function.clone(), config.clone()))
    }

    /// What an invocation needs: the qualifier's configuration and the
    /// function's reserved concurrency (no copy of its other versions).
    pub(crate) fn resolve(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(Config, Option<u32>)> {
        let functions = self.read();
        let function = functions
            .get(name)
            .ok_or_else(|| self.store.not_found(name, qualifier))?;
        let config = function
            .resolve(qualifier)
            .ok_or_else(|| self.store.not_found(name, qualifier))?;
        Ok((config.clone(), function.reserved_concurrency))
    }

    /// ListFunctions: every function's `$LATEST`, by name.
    pub fn list(&self) -> Vec<Config> {
        self.read().values().map(|f| f.latest.clone()).collect()
    }

    /// UpdateFunctionCode.
    pub async fn update_code(
        &self,
        name: &str,
        zip: Bytes,
        publish: bool,
        revision_id: Option<String>,
    ) -> Result<Config> {
        self.change(name, move |store, function| {
            store.update_code(function, &zip, revision_id.as_deref())?;
            if publish {
                return store::publish(function, None);
            }
            Ok(function.latest.clone())
        })
        .await
    }

    /// UpdateFunctionConfiguration.
    pub async fn update_config(&self, name: &str, changes: ConfigChanges) -> Result<Config> {
        if let Some(layers) = changes.layers.clone() {
            let store = self.store.clone();
            blocking(move || prepare_layers(&store, &layers)).await?;
        }
        self.change(name, move |_, function| {
            store::configure(function, changes)?;
            Ok(function.latest.clone())
        })
        .await
    }

    /// PublishVersion.
    pub async fn publish_version(
        &self,
        name: &str,
        code_sha256: Option<String>,
        description: Option<String>,
        revision_id: Option<String>,
    ) -> Result<Config> {
        self.change(name, move |_, function| {
            store::check_revision(&function.latest.revision_id, revision_id.as_deref())?;
            let mut version = store::publish(function, code_sha256.as_deref())?;
            if let Some(description) = description {
                version.description = description;
                let number: u64 = version.version.parse().expect("a published number");
                function.versions.insert(number, version.clone());
            }
            Ok(version)
        })
        .await
    }

    /// ListVersionsByFunction: `$LATEST` and the published versions.
    pub fn versions(&self, name: &str) -> Result<Vec<Config>> {
        let (function, _) = self.get(name, None)?;
        Ok(std::iter::once(function.latest)
            .chain(function.versions.into_values())
            .collect())
    }

    /// DeleteFunction: the whole function, or one published version.
    pub async fn delete(&self, name: &str, qualifier: Option<&str>) -> Result<()> {
        match qualifier {
            None => {
                let _admin = self.admin.lock().await;
                if !self.read().contains_key(name) {
                    return Err(self.store.not_found(name, None));
                }
                let store = self.store.clone();
                let owned = name.to_string();
                blocking(move || store.remove(&owned)).await?;
                self.write().remove(name);
                self.drop_environments(name);
                self.logs.close(&self.store.log_path(name));
                Ok(())
            }
            Some(LATEST) => Err(FunctionError::InvalidParameter(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            )),
            Some(q) => {
                let number: u64 = q.parse().map_err(|_| {
                    FunctionError::InvalidParameter(
                        "Deletion of aliases is not supported. Use DeleteAlias instead.".into(),
                    )
                })?;
                let not_found = self.store.not_found(name, Some(q));
                self.change(name, move |store, function| {
                    let users: Vec<&str> = function
                        .aliases
                        .values()
                        .filter(|a| a.function_version == number.to_string())
                        .map(|a| a.name.as_str())
                        .collect();
                    if !users.is_empty() {
                        return Err(FunctionError::Conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            users.join(", ")
                        )));
                    }
                    function.versions.remove(&number).ok_or(not_found)?;
                    store.collect_code(function);
                    Ok(())
                })
                .await
            }
        }
    }

    /// CreateAlias.
    pub async fn create_alias(
        &self,
        name: &str,
        alias: String,
        version: String,
        description: String,
    ) -> Result<Alias> {
        let arn = self.arn(name, Some(&alias));
        self.change(name, move |_, function| {
            if function.aliases.contains_key(&alias) {
                return Err(FunctionError::Conflict(format!(
                    "Alias already exists: {arn}"
                )));
            }
            check_version(function, &version)?;
            let created = Alias {
                name: alias.clone(),
                function_version: version,
                description,
                revision_id: store::revision(),
            };
            function.aliases.insert(alias, created.clone());
            Ok(created)
        })
        .await
    }

    pub fn alias(&self, name: &str, alias: &str) -> Result<Alias> {
        let (function, _) = self.get(name, None)?;
        function
            .aliases
            .get(alias)
            .cloned()
            .ok_or_else(|| self.alias_not_found(name, alias))
    }

    pub fn aliases(&self, name: &str) -> Result<Vec<Alias>> {
        let (function, _) = self.get(name, None)?;
        Ok(function.aliases.into_values().collect())
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<String>,
        description: Option<String>,
        revision_id: Option<String>,
    ) -> Result<Alias> {
        let missing = self.alias_not_found(name, alias);
        let alias = alias.to_string();
        self.change(name, move |_, function| {
            if let Some(version) = &version {
                check_version(function, version)?;
            }
            let current = function.aliases.get_mut(&alias).ok_or(missing)?;
            if revision_id
                .as_ref()
                .is_some_and(|r| *r != current.revision_id)
            {
                return Err(FunctionError::Precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the \
                     GetFunction/GetAlias API to retrieve the latest Revision Id"
                        .into(),
                ));
            }
            if let Some(version) = version {
                current.function_version = version;
            }
            if let Some(description) = description {
                current.description = description;
            }
            current.revision_id = store::revision();
            Ok(current.clone())
        })
        .await
    }

    pub async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        let alias = alias.to_string();
        self.change(name, move |_, function| {
            function.aliases.remove(&alias);
            Ok(())
        })
        .await
    }

    /// TagResource.
    pub async fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.change(name, move |_, function| {
            function.tags.extend(tags);
            if function.tags.len() > 50 {
                return Err(FunctionError::InvalidParameter(
                    "Number of tags exceeds resource tag limit.".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    /// UntagResource.
    pub async fn untag(&self, name: &str, keys: Vec<String>) -> Result<()> {
        self.change(name, move |_, function| {
            for key in keys {
                function.tags.remove(&key);
            }
            Ok(())
        })
        .await
    }

    /// PutFunctionConcurrency (`Some`) or DeleteFunctionConcurrency.
    pub async fn set_concurrency(&self, name: &str, reserved: Option<u32>) -> Result<()> {
        self.change(name, move |_, function| {
            function.reserved_concurrency = reserved;
            Ok(())
        })
        .await?;
        self.drop_pool(name);
        Ok(())
    }

    /// CreateFunctionUrlConfig / UpdateFunctionUrlConfig (`Some`) or
    /// DeleteFunctionUrlConfig, for `$LATEST` (key `""`) or an alias.
    pub async fn set_url(
        &self,
        name: &str,
        qualifier: Option<String>,
        url: Option<UrlConfig>,
    ) -> Result<()> {
        self.change(name, move |_, function| {
            let key = qualifier.unwrap_or_default();
            match url {
                Some(url) => function.urls.insert(key, url),
                None => function.urls.remove(&key),
            };
            Ok(())
        })
        .await
    }

    /// PutFunctionEventInvokeConfig (`Some`) or its deletion.
    pub async fn set_event_invoke(
        &self,
        name: &str,
        settings: Option<crate::EventInvokeConfig>,
    ) -> Result<()> {
        if let Some(settings) = &settings {
            for arn in settings.on_success.iter().chain(&settings.on_failure) {
                crate::destinations::Destination::parse(arn)?;
            }
        }
        self.change(name, move |_, function| {
            function.event_invoke = settings;
            Ok(())
        })
        .await
    }

    /// The function (and qualifier) whose URL has this id.
    pub fn url_target(&self, id: &str) -> Option<(String, Option<String>, UrlConfig)> {
        self.read().values().find_map(|f| {
            f.urls.iter().find(|(_, u)| u.id == id).map(|(q, u)| {
                let qualifier = (!q.is_empty()).then(|| q.clone());
                (f.latest.name.clone(), qualifier, u.clone())
            })
        })
    }

    /// Applies `edit` to a copy of the function, saves it, then publishes
    /// it; environments of the old configuration stop being reused.
    async fn change<T: Send + 'static>(
        &self,
        name: &str,
        edit: impl FnOnce(&Store, &mut Function) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _admin = self.admin.lock().await;
        let mut function = self
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.store.not_found(name, None))?;
        let store = self.store.clone();
        let (function, value) = blocking(move || {
            let value = edit(&store, &mut function)?;
            store.save(&function)?;
            store.collect_code(&function);
            Ok((function, value))
        })
        .await?;
        self.write().insert(name.to_string(), function);
        self.drop_environments(name);
        Ok(value)
    }

    fn alias_not_found(&self, name: &str, alias: &str) -> FunctionError {
        FunctionError::NotFound(format!("Alias not found: {}", self.arn(name, Some(alias))))
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Function>> {
        self.functions.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Function>> {
        self.functions.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// An alias may name `$LATEST` or a published version.
fn check_version(function: &Function, version: &str) -> Result<()> {
    if version == LATEST
        || version
            .parse()
            .is_ok_and(|n| function.versions.contains_key(&n))
    {
        return Ok(());
    }
    Err(FunctionError::NotFound(format!(
        "Function not found: {}:{version}",
        function.latest.name
    )))
}

/// Runs file work (unzipping, fsyncs) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Checks a function's layers and merges them (once per list), so the
/// function keeps them even if a version is deleted later, as on AWS.
fn prepare_layers(store: &Store, arns: &[String]) -> Result<()> {
    if arns.is_empty() {
        return Ok(());
    }
    let layers = store.layers();
    layers.check(arns)?;
    layers.opt_dir(arns).map(|_| ())
}
