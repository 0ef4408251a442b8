//! Firehose-style delivery: records put to a delivery stream are logged
//! durably, buffered, and written into the lake as objects named the way
//! Firehose names them.
//!
//! Layout: `<data-dir>/firehose/<name>/{delivery.json, checkpoint.json, log/}`.
//! The HTTP API lives in `nuage-server`; this crate knows nothing of HTTP.

mod checkpoint;
pub mod config;
pub mod convert;
pub mod delivery;
pub mod error;
pub mod object;
pub mod partition;
pub mod prefix;
mod source;
pub mod transform;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use nuage_streams::{LogOptions, Streams};

pub use config::{Plan, S3Destination};
pub use delivery::{Delivery, DeliveryMeta, Encryption, Services, Source};
pub use error::{DeliveryError, Result};

/// Delivery streams allowed (AWS's default quota is 50 per region, raised on request).
const MAX_DELIVERY_STREAMS: usize = 5000;

#[derive(Debug, Clone)]
pub struct DeliveriesConfig {
    /// `<data-dir>/firehose`
    pub dir: PathBuf,
    pub log: LogOptions,
    pub account: String,
    pub region: String,
}

impl DeliveriesConfig {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            log: LogOptions::default(),
            account: "000000000000".into(),
            region: "us-east-1".into(),
        }
    }
}

/// What a new delivery stream is made of.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub name: String,
    pub source: Source,
    pub destination: S3Destination,
    pub tags: BTreeMap<String, String>,
    pub encryption: Option<Encryption>,
}

/// All delivery streams, each with its flusher running.
pub struct Deliveries {
    config: DeliveriesConfig,
    services: Arc<Services>,
    /// The Kinesis streams KinesisStreamAsSource delivery streams read.
    sources: Option<Arc<Streams>>,
    streams: RwLock<BTreeMap<String, Arc<Delivery>>>,
}

impl Deliveries {
    /// Opens every delivery stream under `config.dir` and starts their
    /// flushers (which first finish any flush a crash interrupted). Must be
    /// called inside a tokio runtime.
    pub fn open(
        config: DeliveriesConfig,
        services: Services,
        streams: Option<Arc<Streams>>,
    ) -> Result<Self> {
        let services = Arc::new(services);
        let io = |e| DeliveryError::io(config.dir.display().to_string())(e);
        fs::create_dir_all(&config.dir).map_err(io)?;
        let mut deliveries = BTreeMap::new();
        for entry in fs::read_dir(&config.dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if name.starts_with('.') {
                // An unfinished create or delete.
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            if !path.join("delivery.json").exists() {
                continue;
            }
            let delivery = Delivery::open(&path, config.log, services.clone())?;
            deliveries.insert(delivery.meta().name, delivery);
        }
        for delivery in deliveries.values() {
            start(delivery, streams.as_ref());
        }
        Ok(Self {
            config,
            services,
            sources: streams,
            streams: RwLock::new(deliveries),
        })
    }

    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:firehose:{}:{}:deliverystream/{name}",
            self.config.region, self.config.account
        )
    }

    pub fn account(&self) -> &str {
        &self.config.account
    }

    fn not_found(&self, name: &str) -> DeliveryError {
        DeliveryError::NotFound(format!(
            "Firehose {name} under account {} not found.",
            self.config.account
        ))
    }

    pub fn create(&self, new: NewDelivery) -> Result<Arc<Delivery>> {
        let mut streams = self.streams.write().expect("deliveries lock");
        if streams.contains_key(&new.name) {
            return Err(DeliveryError::InUse(format!(
                "Firehose {} under accountId {} already exists",
                new.name, self.config.account
            )));
        }
        if streams.len() >= MAX_DELIVERY_STREAMS {
            return Err(DeliveryError::LimitExceeded(format!(
                "You have already consumed your firehose quota of {MAX_DELIVERY_STREAMS} hoses. Firehose names: {}",
                streams
                    .keys()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let now = nuage_streams::streams::now_ms();
        let meta = DeliveryMeta {
            arn: self.arn(&new.name),
            name: new.name.clone(),
            created_ms: now,
            updated_ms: now,
            version: 1,
            source: new.source,
            destination: new.destination,
            tags: new.tags,
            encryption: new.encryption,
        };
        let delivery = Delivery::create(
            &self.config.dir.join(&new.name),
            meta,
            self.config.log,
            self.services.clone(),
        )?;
        start(&delivery, self.sources.as_ref());
        streams.insert(new.name, delivery.clone());
        Ok(delivery)
    }

    pub fn get(&self, name: &str) -> Result<Arc<Delivery>> {
        self.streams
            .read()
            .expect("deliveries lock")
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    /// Every delivery stream, by name.
    pub fn list(&self) -> Vec<Arc<Delivery>> {
        self.streams
            .read()
            .expect("deliveries lock")
            .values()
            .cloned()
            .collect()
    }

    /// Delivers what the stream has accepted, then deletes it.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let delivery = self
            .streams
            .write()
            .expect("deliveries lock")
            .remove(name)
            .ok_or_else(|| self.not_found(name))?;
        delivery.stop().await;
        let trash = self.config.dir.join(format!(
            ".deleting-{name}-{}",
            nuage_streams::streams::now_ms()
        ));
        let io = |e| DeliveryError::io(format!("deleting {name}"))(e);
        fs::rename(delivery.dir(), &trash).map_err(io)?;
        fs::remove_dir_all(&trash).map_err(io)
    }

    /// Graceful shutdown: every stream delivers what it has.
    pub async fn shutdown(&self) {
        let all = self.list();
        futures::future::join_all(all.iter().map(|d| d.stop())).await;
    }
}

/// Starts a delivery stream's flusher, and the copier from its source stream
/// when it has one and the server's streams are there.
fn start(delivery: &Arc<Delivery>, streams: Option<&Arc<Streams>>) {
    delivery.start();
    if let Some(streams) = streams {
        source::start(delivery, streams);
    }
}
