//! Kinesis Analytics (SQL) applications on the continuous-SQL engine.
//!
//! ```text
//!  CreateApplication ─> Application (inputs, code, outputs, reference data)
//!                         kept in <data-dir>/flow/applications/<name>.json
//!  StartApplication  ─> run::plans: code ─dialect─> one JobPlan per pump
//!                         (input schema -> source table, outputs -> sinks,
//!                          reference objects -> tables bound in the job)
//!                     ─> Flow::run_plan, job ids kda-<app>-<pump>
//! ```
//!
//! The edge (nuage-server's `kinesisanalytics`) checks requests against
//! AWS's constraints; this module holds the rules of the service itself.

pub mod dialect;
pub mod discover;
pub mod model;
mod run;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{FlowError, Result};
use crate::job::Env;
use crate::jobs::Flow;
use model::{
    Application, Input, Output, ReferenceDataSource, StoredInput, StoredOutput, StoredReference,
};

pub use model::{READY, RUNNING};

/// At most this many outputs per application (AWS's limit).
pub const MAX_OUTPUTS: usize = 3;

pub struct Applications {
    flow: Arc<Flow>,
    env: Env,
    dir: PathBuf,
    /// One change at a time (versions are checked and bumped under it).
    lock: tokio::sync::Mutex<()>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn not_found(name: &str) -> FlowError {
    FlowError::NotFound(format!("Application {name} is not found."))
}

impl Applications {
    /// The applications of a data dir; those left RUNNING run again, from
    /// where they stopped.
    pub async fn open(flow: Arc<Flow>, env: Env, data_dir: &std::path::Path) -> Result<Arc<Self>> {
        let dir = data_dir.join("flow").join("applications");
        std::fs::create_dir_all(&dir)?;
        let apps = Arc::new(Applications {
            flow,
            env,
            dir,
            lock: tokio::sync::Mutex::new(()),
        });
        for app in apps.all()? {
            if app.status == RUNNING
                && let Err(e) = apps.launch(&app, None).await
            {
                tracing::error!("application {}: cannot run again: {e}", app.name);
            }
        }
        Ok(apps)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn load(&self, name: &str) -> Result<Application> {
        let bytes = match std::fs::read(self.path(name)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(name)),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| FlowError::Invalid(format!("application file of {name} is damaged: {e}")))
    }

    fn save(&self, app: &Application) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(app).expect("an application serializes");
        nuage_common::durable::write_file(&self.path(&app.name), &bytes)?;
        Ok(())
    }

    /// Every application, by name.
    pub fn all(&self) -> Result<Vec<Application>> {
        let mut apps = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(name) = path.file_stem().and_then(|s| s.to_str())
            {
                apps.push(self.load(name)?);
            }
        }
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    pub fn describe(&self, name: &str) -> Result<Application> {
        self.load(name)
    }

    /// The application an ARN names.
    pub fn by_arn(&self, arn: &str) -> Result<Application> {
        let name = arn
            .rsplit_once("application/")
            .map(|(_, n)| n)
            .unwrap_or_default();
        match self.load(name) {
            Ok(app) if app.arn == arn => Ok(app),
            _ => Err(FlowError::NotFound(format!("Resource {arn} is not found."))),
        }
    }

    pub fn arn(&self, name: &str) -> String {
        let config = self.env.streams.config();
        format!(
            "arn:aws:kinesisanalytics:{}:{}:application/{name}",
            config.region, config.account
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        name: &str,
        description: Option<String>,
        inputs: Vec<Input>,
        outputs: Vec<Output>,
        logging: Vec<serde_json::Value>,
        code: String,
        tags: BTreeMap<String, String>,
    ) -> Result<Application> {
        let _guard = self.lock.lock().await;
        if self.path(name).exists() {
            return Err(FlowError::InUse(format!(
                "Application {name} already exists."
            )));
        }
        if inputs.len() > 1 {
            return Err(FlowError::InvalidArgument(
                "An application can have at most one input.".into(),
            ));
        }
        if outputs.len() > MAX_OUTPUTS {
            return Err(FlowError::LimitExceeded(format!(
                "An application can have at most {MAX_OUTPUTS} outputs."
            )));
        }
        dialect::parse(&code)?;
        let now = now_ms();
        let mut app = Application {
            name: name.to_string(),
            description,
            arn: self.arn(name),
            status: READY.into(),
            create_ms: now,
            update_ms: now,
            version: 1,
            code,
            inputs: Vec::new(),
            outputs: Vec::new(),
            references: Vec::new(),
            logging: Vec::new(),
            tags,
            last_id: 0,
        };
        for input in inputs {
            check_input(&input)?;
            let id = app.next_id();
            app.inputs.push(StoredInput {
                id,
                input,
                starting_position: None,
            });
        }
        for output in outputs {
            check_output(&app, &output)?;
            let id = app.next_id();
            app.outputs.push(StoredOutput { id, output });
        }
        for option in logging {
            let id = app.next_id();
            app.logging.push(model::StoredLogging { id, option });
        }
        self.save(&app)?;
        Ok(app)
    }

    /// Applies `change` to the application at `version` and bumps it; a
    /// running application runs on with the change.
    pub async fn change(
        &self,
        name: &str,
        version: i64,
        change: impl FnOnce(&mut Application) -> Result<()>,
    ) -> Result<Application> {
        let _guard = self.lock.lock().await;
        let mut app = self.load(name)?;
        if app.version != version {
            return Err(FlowError::ConcurrentModification(format!(
                "Provided application version id ({version}) does not match the current \
                 application version id ({}); describe the application for its current version.",
                app.version
            )));
        }
        let before = app.clone();
        change(&mut app)?;
        dialect::parse(&app.code)?;
        app.version += 1;
        app.update_ms = now_ms();
        if app.status == RUNNING {
            // Plan first: a change the running application cannot take is
            // refused and the application runs on unchanged.
            let plans = run::plans(&self.env, &app).await?;
            self.halt(&before).await;
            self.run(plans, None)?;
        }
        self.save(&app)?;
        Ok(app)
    }

    pub async fn update(
        &self,
        name: &str,
        version: i64,
        update: &model::ApplicationUpdate,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            app.apply(update).map_err(FlowError::NotFound)?;
            for input in &app.inputs {
                check_input(&input.input)?;
            }
            Ok(())
        })
        .await
    }

    pub async fn add_logging(
        &self,
        name: &str,
        version: i64,
        option: serde_json::Value,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            let id = app.next_id();
            app.logging.push(model::StoredLogging { id, option });
            Ok(())
        })
        .await
    }

    pub async fn delete_logging(&self, name: &str, version: i64, id: &str) -> Result<Application> {
        self.change(name, version, |app| {
            let app_name = app.name.clone();
            remove_by_id(
                &mut app.logging,
                id,
                "CloudWatch logging option",
                &app_name,
                |l| &l.id,
            )
        })
        .await
    }

    /// Adds a Lambda preprocessor to an input.
    pub async fn add_processing(
        &self,
        name: &str,
        version: i64,
        id: &str,
        config: serde_json::Value,
    ) -> Result<Application> {
        preprocessor_of(&config)?;
        self.change(name, version, |app| {
            let input = app.inputs.iter_mut().find(|i| i.id == id).ok_or_else(|| {
                FlowError::NotFound(format!(
                    "Input id {id} is not found in application {}.",
                    app.name
                ))
            })?;
            input.input.input_processing_configuration = Some(config);
            Ok(())
        })
        .await
    }

    /// Removes an input's Lambda preprocessor.
    pub async fn delete_processing(
        &self,
        name: &str,
        version: i64,
        id: &str,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            let input = app.inputs.iter_mut().find(|i| i.id == id).ok_or_else(|| {
                FlowError::NotFound(format!(
                    "Input id {id} is not found in application {}.",
                    app.name
                ))
            })?;
            input.input.input_processing_configuration = None;
            Ok(())
        })
        .await
    }

    pub async fn add_input(&self, name: &str, version: i64, input: Input) -> Result<Application> {
        check_input(&input)?;
        self.change(name, version, |app| {
            if !app.inputs.is_empty() {
                return Err(FlowError::InvalidArgument(
                    "An application can have at most one input; it has one already.".into(),
                ));
            }
            let id = app.next_id();
            app.inputs.push(StoredInput {
                id,
                input,
                starting_position: None,
            });
            Ok(())
        })
        .await
    }

    pub async fn add_output(
        &self,
        name: &str,
        version: i64,
        output: Output,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            check_output(app, &output)?;
            if app.outputs.len() >= MAX_OUTPUTS {
                return Err(FlowError::LimitExceeded(format!(
                    "An application can have at most {MAX_OUTPUTS} outputs."
                )));
            }
            let id = app.next_id();
            app.outputs.push(StoredOutput { id, output });
            Ok(())
        })
        .await
    }

    pub async fn delete_output(&self, name: &str, version: i64, id: &str) -> Result<Application> {
        self.change(name, version, |app| {
            let app_name = app.name.clone();
            remove_by_id(&mut app.outputs, id, "Output", &app_name, |o| &o.id)
        })
        .await
    }

    pub async fn add_reference(
        &self,
        name: &str,
        version: i64,
        source: ReferenceDataSource,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            let table = source.table_name.clone().unwrap_or_default();
            if app
                .references
                .iter()
                .any(|r| r.source.table_name.as_deref() == Some(table.as_str()))
            {
                return Err(FlowError::InvalidArgument(format!(
                    "Reference data source with table name {table} already exists."
                )));
            }
            let id = app.next_id();
            app.references.push(StoredReference { id, source });
            Ok(())
        })
        .await
    }

    pub async fn delete_reference(
        &self,
        name: &str,
        version: i64,
        id: &str,
    ) -> Result<Application> {
        self.change(name, version, |app| {
            let app_name = app.name.clone();
            remove_by_id(&mut app.references, id, "Reference", &app_name, |r| &r.id)
        })
        .await
    }

    /// StartApplication: `positions` by input id (NOW, TRIM_HORIZON,
    /// LAST_STOPPED_POINT).
    pub async fn start(&self, name: &str, positions: &[(String, String)]) -> Result<()> {
        let _guard = self.lock.lock().await;
        let mut app = self.load(name)?;
        if app.status == RUNNING {
            return Err(FlowError::InUse(format!(
                "Application {name} is already running."
            )));
        }
        if app.inputs.is_empty() {
            return Err(FlowError::InvalidConfiguration(format!(
                "Application {name} has no input: add one (AddApplicationInput) before starting it."
            )));
        }
        for (id, position) in positions {
            let input = app.inputs.iter_mut().find(|i| i.id == *id).ok_or_else(|| {
                FlowError::InvalidArgument(format!(
                    "Input id {id} is not found in application {name}."
                ))
            })?;
            input.starting_position = Some(position.clone());
        }
        let position = app.inputs[0]
            .starting_position
            .clone()
            .unwrap_or_else(|| "NOW".into());
        self.launch(&app, Some(&position)).await?;
        app.status = RUNNING.into();
        app.update_ms = now_ms();
        self.save(&app)
    }

    /// Plans and runs every pump. `position` None resumes from the
    /// checkpoints (a server restart or a change).
    async fn launch(&self, app: &Application, position: Option<&str>) -> Result<()> {
        let plans = run::plans(&self.env, app).await.map_err(|e| match e {
            FlowError::CodeValidation(m) | FlowError::Invalid(m) | FlowError::Unsupported(m) => {
                FlowError::InvalidConfiguration(m)
            }
            other => other,
        })?;
        self.run(plans, position)
    }

    /// Runs an application's plans, each from `position` (None: from its
    /// checkpoint).
    fn run(
        &self,
        plans: Vec<(String, crate::plan::JobPlan)>,
        position: Option<&str>,
    ) -> Result<()> {
        for (id, mut plan) in plans {
            let initpos = match position {
                Some("TRIM_HORIZON") => {
                    self.flow.reset(&id)?;
                    "TRIM_HORIZON"
                }
                Some("LAST_STOPPED_POINT") | None => "LATEST",
                Some(_) => {
                    self.flow.reset(&id)?;
                    "LATEST"
                }
            };
            plan.source
                .options
                .insert("scan.stream.initpos".into(), initpos.into());
            self.flow.run_plan(&id, plan);
        }
        Ok(())
    }

    async fn halt(&self, app: &Application) {
        for id in run::job_ids(app) {
            self.flow.halt(&id).await;
        }
    }

    pub async fn stop(&self, name: &str) -> Result<()> {
        let _guard = self.lock.lock().await;
        let mut app = self.load(name)?;
        self.halt(&app).await;
        if app.status != READY {
            app.status = READY.into();
            app.update_ms = now_ms();
            self.save(&app)?;
        }
        Ok(())
    }

    /// DeleteApplication: `create_ms` must be the application's creation
    /// time (as DescribeApplication gives it), to the second: the SDKs
    /// send whole seconds.
    pub async fn delete(&self, name: &str, create_ms: i64) -> Result<()> {
        let _guard = self.lock.lock().await;
        let app = self.load(name)?;
        if app.create_ms.div_euclid(1000) != create_ms.div_euclid(1000) {
            return Err(FlowError::ConcurrentModification(format!(
                "Provided create timestamp does not match application {name}'s creation time; \
                 describe the application for it."
            )));
        }
        self.halt(&app).await;
        for id in run::job_ids(&app) {
            self.flow.reset(&id)?;
        }
        for stream in run::hidden_streams(&app) {
            let _ = self.env.streams.delete(&stream, true);
        }
        std::fs::remove_file(self.path(name))?;
        Ok(())
    }

    /// Tags of the application an ARN names: changed with `change`.
    pub async fn retag(
        &self,
        arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<()>,
    ) -> Result<()> {
        let _guard = self.lock.lock().await;
        let mut app = self.by_arn(arn)?;
        change(&mut app.tags)?;
        self.save(&app)
    }

    /// Why a running application's pumps failed, if any did.
    pub fn errors(&self, app: &Application) -> Vec<String> {
        run::job_ids(app)
            .iter()
            .filter_map(|id| self.flow.error(id).map(|e| format!("{id}: {e}")))
            .collect()
    }

    pub fn env(&self) -> &Env {
        &self.env
    }
}

/// The name a stream's ARN ends with (`...:stream/NAME`).
pub fn name_in_arn(arn: &str) -> &str {
    arn.rsplit_once('/').map(|(_, n)| n).unwrap_or(arn)
}

/// The bucket of `arn:aws:s3:::BUCKET`.
pub fn bucket_in_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or_default()
}

/// The function an InputProcessingConfiguration names
/// (`{"InputLambdaProcessor": {"ResourceARN": ..., "RoleARN": ...}}`).
pub fn preprocessor_of(config: &serde_json::Value) -> Result<String> {
    config["InputLambdaProcessor"]["ResourceARN"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            FlowError::InvalidArgument(
                "InputProcessingConfiguration must name InputLambdaProcessor.ResourceARN (a function ARN)"
                    .into(),
            )
        })
}

/// Removes the item with `id`; a ResourceNotFoundException when none has it.
fn remove_by_id<T>(
    items: &mut Vec<T>,
    id: &str,
    what: &str,
    app: &str,
    id_of: impl Fn(&T) -> &String,
) -> Result<()> {
    let before = items.len();
    items.retain(|item| id_of(item) != id);
    if items.len() == before {
        return Err(FlowError::NotFound(format!(
            "{what} id {id} is not found in application {app}."
        )));
    }
    Ok(())
}

/// One source (a Kinesis stream; Firehose as an input is not served) and a
/// schema the engine can read.
fn check_input(input: &Input) -> Result<()> {
    if input.kinesis_firehose_input.is_some() {
        return Err(FlowError::InvalidArgument(
            "nuage reads application inputs from Kinesis streams only (KinesisStreamsInput); \
             a Firehose delivery stream as input is not supported"
                .into(),
        ));
    }
    if input.kinesis_streams_input.is_none() {
        return Err(FlowError::InvalidArgument(
            "Input must specify a streaming source: KinesisStreamsInput or KinesisFirehoseInput."
                .into(),
        ));
    }
    if let Some(config) = &input.input_processing_configuration {
        preprocessor_of(config)?;
    }
    if let Some(schema) = &input.input_schema {
        run::check_schema(schema)?;
    }
    Ok(())
}

fn check_output(app: &Application, output: &Output) -> Result<()> {
    let given = [
        output.kinesis_streams_output.is_some(),
        output.kinesis_firehose_output.is_some(),
        output.lambda_output.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(FlowError::InvalidArgument(
            "Output must specify exactly one destination: KinesisStreamsOutput, \
             KinesisFirehoseOutput or LambdaOutput."
                .into(),
        ));
    }
    let name = output.name.clone().unwrap_or_default();
    if app
        .outputs
        .iter()
        .any(|o| o.output.name.as_deref() == Some(name.as_str()))
    {
        return Err(FlowError::InvalidArgument(format!(
            "Output with in-application stream name {name} already exists."
        )));
    }
    Ok(())
}
