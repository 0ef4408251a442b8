//! The metastore as DataFusion's catalog: databases are schemas, and every
//! lookup reads the metastore, so tables created by another process (a server
//! on the same data dir) are seen at once.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{TableProvider, ViewTable};
use nuage_catalog::TableKind;

use crate::provider::HiveTable;
use crate::shared::Shared;
use crate::system::{SYSTEM, SystemSchema};

#[derive(Debug)]
pub struct MetastoreCatalog {
    shared: Arc<Shared>,
}

impl MetastoreCatalog {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl CatalogProvider for MetastoreCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.shared
            .metastore
            .list_databases()
            .map(|dbs| dbs.into_iter().map(|d| d.name).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([SYSTEM.to_string()])
            .collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name.eq_ignore_ascii_case(SYSTEM) {
            return Some(Arc::new(SystemSchema::new(self.shared.clone())));
        }
        let exists = self
            .shared
            .metastore
            .get_database(name)
            .ok()
            .flatten()
            .is_some();
        exists.then(|| {
            Arc::new(MetastoreSchema {
                database: name.to_lowercase(),
                shared: self.shared.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

#[derive(Debug)]
pub struct MetastoreSchema {
    database: String,
    shared: Arc<Shared>,
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl SchemaProvider for MetastoreSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared
            .metastore
            .list_tables(&self.database)
            .map(|tables| tables.into_iter().map(|t| t.name).collect())
            .unwrap_or_default();
        let temporary = self
            .shared
            .temporary
            .lock()
            .expect("temporary tables poisoned");
        names.extend(
            temporary
                .keys()
                .filter(|(db, _)| db == &self.database)
                .map(|(_, t)| t.clone()),
        );
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let key = (self.database.clone(), name.to_lowercase());
        if let Some(table) = self
            .shared
            .temporary
            .lock()
            .expect("temporary tables poisoned")
            .get(&key)
        {
            return Ok(Some(table.clone()));
        }
        let Some(table) = self
            .shared
            .metastore
            .get_table(&self.database, name)
            .map_err(external)?
        else {
            return Ok(None);
        };
        if table.kind == TableKind::View {
            let text = table.view_text.clone().unwrap_or_default();
            let plan = (self.shared.plan_view)(&self.shared, &table.database, &text)
                .await
                .map_err(|e| {
                    DataFusionError::Plan(format!("view {}: {e}", table.qualified_name()))
                })?;
            return Ok(Some(Arc::new(ViewTable::new(plan, Some(text)))));
        }
        if let Some(connector) = table.properties.get("connector") {
            return Err(DataFusionError::Plan(format!(
                "{} is a stream table ('connector' = '{connector}'): a batch query cannot read it; \
                 read it in a continuous job (INSERT INTO <table> SELECT ... FROM {}), which `nuage serve` runs",
                table.qualified_name(),
                table.name
            )));
        }
        let partitions = if table.is_partitioned() {
            self.shared
                .metastore
                .list_partitions(&self.database, name)
                .map_err(external)?
        } else {
            Vec::new()
        };
        Ok(Some(Arc::new(HiveTable::new(
            table,
            partitions,
            self.shared.lake.clone(),
        ))))
    }

    fn table_exist(&self, name: &str) -> bool {
        let key = (self.database.clone(), name.to_lowercase());
        if self
            .shared
            .temporary
            .lock()
            .expect("temporary tables poisoned")
            .contains_key(&key)
        {
            return true;
        }
        matches!(
            self.shared.metastore.get_table(&self.database, name),
            Ok(Some(_))
        )
    }
}
