//! Event-source mappings: a function fed from a nuage Kinesis stream, as
//! Lambda's pollers do it. Each mapping is `functions/.mappings/<uuid>.json`
//! with its per-shard positions beside it (`<uuid>.checkpoint.json`,
//! rewritten durably after each successful batch), so a restart resumes
//! after the last batch the function finished.
//!
//! ```text
//! stream ── shard reader (poll.rs, one per shard; children after their
//!           parents are read to the end) ── batch (BatchSize, window,
//!           filters) ── invoke (event.rs: Lambda's Kinesis event) ──
//!           ok: checkpoint │ error: retry, bisect, partial failures,
//!                          │        then OnFailure and move on
//! ```

mod event;
pub(crate) mod filter;
mod poll;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::Functions;
use crate::destinations::Destination;
use crate::error::{FunctionError, Result};
use crate::store::parse_function_name;

/// One mapping's settings, as CreateEventSourceMapping gives them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mapping {
    pub uuid: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    pub event_source_arn: String,
    pub batch_size: u32,
    pub maximum_batching_window_seconds: u32,
    pub starting_position: String,
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: u32,
    pub bisect_batch_on_function_error: bool,
    /// -1: until the records expire.
    pub maximum_retry_attempts: i64,
    /// -1: no limit.
    pub maximum_record_age_seconds: i64,
    pub report_batch_item_failures: bool,
    /// FilterCriteria's patterns, as given.
    pub filters: Vec<String>,
    pub on_failure: Option<String>,
    pub enabled: bool,
    pub last_modified_ms: i64,
}

/// What Create/UpdateEventSourceMapping ask for (absent: unchanged on
/// update, Lambda's default on create).
#[derive(Debug, Clone, Default)]
pub struct MappingRequest {
    pub function_name: Option<String>,
    pub event_source_arn: Option<String>,
    pub batch_size: Option<u32>,
    pub maximum_batching_window_seconds: Option<u32>,
    pub starting_position: Option<String>,
    pub starting_position_timestamp: Option<f64>,
    pub parallelization_factor: Option<u32>,
    pub bisect_batch_on_function_error: Option<bool>,
    pub maximum_retry_attempts: Option<i64>,
    pub maximum_record_age_seconds: Option<i64>,
    pub report_batch_item_failures: Option<bool>,
    pub filters: Option<Vec<String>>,
    pub on_failure: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A mapping and how it is doing.
#[derive(Debug, Clone)]
pub struct MappingState {
    pub mapping: Mapping,
    /// Lambda's LastProcessingResult.
    pub last_result: String,
    /// Lambda's State: Enabled, Disabled, Deleting.
    pub state: &'static str,
}

/// A mapping with its poller.
pub(crate) struct Running {
    mapping: Mapping,
    status: Arc<Mutex<String>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn state(&self) -> MappingState {
        MappingState {
            mapping: self.mapping.clone(),
            last_result: self
                .status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            state: if self.mapping.enabled {
                "Enabled"
            } else {
                "Disabled"
            },
        }
    }
}

impl Functions {
    fn mappings_dir(&self) -> PathBuf {
        self.config.dir.join(".mappings")
    }

    /// Starts the mappings saved in the data dir.
    pub(crate) fn resume_mappings(self: &Arc<Self>) {
        let dir = self.mappings_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name.ends_with(".checkpoint.json") {
                continue;
            }
            match std::fs::read(&path).map(|b| serde_json::from_slice::<Mapping>(&b)) {
                Ok(Ok(mapping)) => self.launch(mapping),
                _ => tracing::error!("{}: damaged, mapping not started", path.display()),
            }
        }
    }

    /// CreateEventSourceMapping.
    pub async fn create_mapping(self: &Arc<Self>, request: MappingRequest) -> Result<MappingState> {
        let _admin = self.admin.lock().await;
        let function_text = request.function_name.clone().unwrap_or_default();
        let (name, qualifier) = parse_function_name(&function_text);
        self.get(name, qualifier)?;
        let source = request.event_source_arn.clone().unwrap_or_default();
        let stream = self.mapped_stream(&source)?;
        let exists = self
            .lock_mappings()
            .values()
            .find(|r| r.mapping.function_name == name && r.mapping.event_source_arn == source)
            .map(|r| r.mapping.uuid.clone());
        if let Some(uuid) = exists {
            return Err(FunctionError::Conflict(format!(
                "An event source mapping with Kinesis arn \" {source} \" and function \" {name} \" \
                 already exists. Please update or delete the existing mapping with UUID {uuid}"
            )));
        }
        let Some(starting) = request.starting_position.clone() else {
            return Err(FunctionError::InvalidParameter(
                "1 validation error detected: Value null at 'startingPosition' failed to satisfy \
                 constraint: StartingPosition is required for Kinesis streams: TRIM_HORIZON, \
                 LATEST or AT_TIMESTAMP"
                    .into(),
            ));
        };
        let mut mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            function_name: name.to_string(),
            qualifier: qualifier.map(str::to_string),
            event_source_arn: self
                .streams
                .as_ref()
                .map(|s| s.arn(&stream))
                .unwrap_or(source),
            batch_size: 100,
            maximum_batching_window_seconds: 0,
            starting_position: starting,
            starting_position_timestamp: None,
            parallelization_factor: 1,
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: -1,
            maximum_record_age_seconds: -1,
            report_batch_item_failures: false,
            filters: Vec::new(),
            on_failure: None,
            enabled: true,
            last_modified_ms: chrono::Utc::now().timestamp_millis(),
        };
        apply(&mut mapping, request)?;
        self.save_mapping(&mapping)?;
        let uuid = mapping.uuid.clone();
        self.launch(mapping);
        self.mapping(&uuid)
    }

    pub fn mapping(&self, uuid: &str) -> Result<MappingState> {
        self.lock_mappings()
            .get(uuid)
            .map(Running::state)
            .ok_or_else(|| mapping_not_found(uuid))
    }

    /// ListEventSourceMappings, optionally for one function or source.
    pub fn mappings(&self, function: Option<&str>, source: Option<&str>) -> Vec<MappingState> {
        let function = function.map(|f| parse_function_name(f).0.to_string());
        self.lock_mappings()
            .values()
            .filter(|r| {
                function
                    .as_ref()
                    .is_none_or(|f| r.mapping.function_name == *f)
            })
            .filter(|r| source.is_none_or(|s| r.mapping.event_source_arn == s))
            .map(Running::state)
            .collect()
    }

    /// UpdateEventSourceMapping: the poller restarts with the new settings
    /// from the positions it has reached.
    pub async fn update_mapping(
        self: &Arc<Self>,
        uuid: &str,
        request: MappingRequest,
    ) -> Result<MappingState> {
        let _admin = self.admin.lock().await;
        let mut mapping = self.mapping(uuid)?.mapping;
        if let Some(function) = &request.function_name {
            let (name, qualifier) = parse_function_name(function);
            self.get(name, qualifier)?;
            mapping.function_name = name.to_string();
            mapping.qualifier = qualifier.map(str::to_string);
        }
        apply(&mut mapping, request)?;
        mapping.last_modified_ms = chrono::Utc::now().timestamp_millis();
        self.save_mapping(&mapping)?;
        self.halt(uuid).await;
        self.launch(mapping);
        self.mapping(uuid)
    }

    /// DeleteEventSourceMapping.
    pub async fn delete_mapping(&self, uuid: &str) -> Result<MappingState> {
        let _admin = self.admin.lock().await;
        let mut state = self.mapping(uuid)?;
        self.halt(uuid).await;
        self.lock_mappings().remove(uuid);
        let dir = self.mappings_dir();
        for file in [format!("{uuid}.json"), format!("{uuid}.checkpoint.json")] {
            let path = dir.join(file);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(FunctionError::io("cannot remove", &path)(e));
            }
        }
        state.state = "Deleting";
        Ok(state)
    }

    /// Stops every poller after its current batch (at shutdown).
    pub async fn stop_mappings(&self) {
        let uuids: Vec<String> = self.lock_mappings().keys().cloned().collect();
        for uuid in uuids {
            self.halt(&uuid).await;
        }
    }

    /// The stream an event source ARN names, which must exist.
    fn mapped_stream(&self, arn: &str) -> Result<String> {
        let Some(name) = nuage_streams::Streams::name_from_arn(arn) else {
            return Err(FunctionError::InvalidParameter(format!(
                "nuage maps Kinesis streams to functions (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME); \
                 {arn} is not one"
            )));
        };
        let streams = self.streams.as_ref().ok_or_else(|| {
            FunctionError::InvalidParameter("this nuage runs without streams".into())
        })?;
        streams.describe(name).map_err(|_| {
            FunctionError::InvalidParameter(format!(
                "Stream not found: {arn}. Create the stream first (aws kinesis create-stream)."
            ))
        })?;
        Ok(name.to_string())
    }

    fn save_mapping(&self, mapping: &Mapping) -> Result<()> {
        let dir = self.mappings_dir();
        std::fs::create_dir_all(&dir).map_err(FunctionError::io("cannot create", &dir))?;
        let path = dir.join(format!("{}.json", mapping.uuid));
        let bytes = serde_json::to_vec_pretty(mapping).expect("a mapping serializes");
        nuage_common::durable::write_file(&path, &bytes)
            .map_err(FunctionError::io("cannot write", &path))
    }

    /// Starts (or records, when disabled) a mapping's poller.
    fn launch(self: &Arc<Self>, mapping: Mapping) {
        let (stop, stopped) = watch::channel(false);
        let status = Arc::new(Mutex::new("No records processed".to_string()));
        let task = mapping.enabled.then(|| {
            let checkpoint = self
                .mappings_dir()
                .join(format!("{}.checkpoint.json", mapping.uuid));
            tokio::spawn(poll::run(
                self.clone(),
                mapping.clone(),
                checkpoint,
                stopped,
                status.clone(),
            ))
        });
        self.lock_mappings().insert(
            mapping.uuid.clone(),
            Running {
                mapping,
                status,
                stop,
                task,
            },
        );
    }

    /// Stops a poller and waits for its current batch.
    async fn halt(&self, uuid: &str) {
        let task = {
            let mut mappings = self.lock_mappings();
            let Some(running) = mappings.get_mut(uuid) else {
                return;
            };
            running.stop.send_replace(true);
            running.task.take()
        };
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn lock_mappings(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        crate::lock(&self.mappings)
    }
}

fn mapping_not_found(uuid: &str) -> FunctionError {
    FunctionError::NotFound(format!(
        "The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"
    ))
}

/// A request's settings applied to a mapping, with Lambda's limits for
/// Kinesis sources.
fn apply(mapping: &mut Mapping, request: MappingRequest) -> Result<()> {
    let invalid = |m: String| Err(FunctionError::InvalidParameter(m));
    if let Some(n) = request.batch_size {
        if !(1..=10_000).contains(&n) {
            return invalid(format!(
                "BatchSize {n} is out of range: Kinesis sources take 1 to 10000"
            ));
        }
        mapping.batch_size = n;
    }
    if let Some(n) = request.maximum_batching_window_seconds {
        mapping.maximum_batching_window_seconds = n.min(300);
    }
    if let Some(p) = request.starting_position {
        if !["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].contains(&p.as_str()) {
            return invalid(format!(
                "Unsupported starting position {p} for Kinesis: TRIM_HORIZON, LATEST or AT_TIMESTAMP"
            ));
        }
        mapping.starting_position = p;
    }
    if let Some(t) = request.starting_position_timestamp {
        mapping.starting_position_timestamp = Some(t);
    }
    if mapping.starting_position == "AT_TIMESTAMP" && mapping.starting_position_timestamp.is_none()
    {
        return invalid(
            "StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP".into(),
        );
    }
    if let Some(n) = request.parallelization_factor {
        mapping.parallelization_factor = n;
    }
    if let Some(b) = request.bisect_batch_on_function_error {
        mapping.bisect_batch_on_function_error = b;
    }
    if let Some(n) = request.maximum_retry_attempts {
        mapping.maximum_retry_attempts = n;
    }
    if let Some(n) = request.maximum_record_age_seconds {
        if n != -1 && !(60..=604_800).contains(&n) {
            return invalid(format!(
                "MaximumRecordAgeInSeconds {n} must be -1 (no limit) or between 60 and 604800"
            ));
        }
        mapping.maximum_record_age_seconds = n;
    }
    if let Some(b) = request.report_batch_item_failures {
        mapping.report_batch_item_failures = b;
    }
    if let Some(filters) = request.filters {
        for f in &filters {
            filter::parse(f)?;
        }
        mapping.filters = filters;
    }
    if let Some(on_failure) = request.on_failure {
        if let Some(arn) = &on_failure {
            Destination::parse(arn)?;
        }
        mapping.on_failure = on_failure;
    }
    if let Some(enabled) = request.enabled {
        mapping.enabled = enabled;
    }
    Ok(())
}
