//! The `system` database: the catalog and the query history as tables, read
//! fresh from the metastore on every query.
//!
//! - `system.queries`: every statement — user, text, start, duration, rows,
//!   bytes and files scanned, state, error (who spent what);
//! - `system.tables`, `system.columns`, `system.partitions`: the catalog.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::SchemaProvider;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{MemTable, TableProvider};
use nuage_catalog::{Metastore, TableKind, partition_spec};

use crate::shared::Shared;

pub const SYSTEM: &str = "system";
pub const TABLES: [&str; 4] = ["queries", "tables", "columns", "partitions"];

#[derive(Debug)]
pub struct SystemSchema {
    shared: Arc<Shared>,
}

impl SystemSchema {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let metastore = self.shared.metastore.as_ref();
        let batch = match name.to_lowercase().as_str() {
            "queries" => queries(metastore)?,
            "tables" => tables(metastore)?,
            "columns" => columns(metastore)?,
            "partitions" => partitions(metastore)?,
            _ => return Ok(None),
        };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name.to_lowercase().as_str())
    }
}

/// Columns of a system table, built value by value.
enum Col {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Time(Vec<Option<i64>>),
}

struct Builder {
    fields: Vec<Field>,
    columns: Vec<Col>,
}

impl Builder {
    fn new(spec: &[(&str, DataType)]) -> Self {
        Self {
            fields: spec
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect(),
            columns: spec
                .iter()
                .map(|(_, t)| match t {
                    DataType::Int64 => Col::Int(Vec::new()),
                    DataType::Boolean => Col::Bool(Vec::new()),
                    DataType::Timestamp(..) => Col::Time(Vec::new()),
                    _ => Col::Text(Vec::new()),
                })
                .collect(),
        }
    }

    fn text(&mut self, i: usize, v: Option<String>) {
        if let Col::Text(c) = &mut self.columns[i] {
            c.push(v);
        }
    }

    fn int(&mut self, i: usize, v: Option<i64>) {
        match &mut self.columns[i] {
            Col::Int(c) | Col::Time(c) => c.push(v),
            _ => {}
        }
    }

    fn bool(&mut self, i: usize, v: bool) {
        if let Col::Bool(c) = &mut self.columns[i] {
            c.push(Some(v));
        }
    }

    fn finish(self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(|c| match c {
                Col::Text(v) => Arc::new(StringArray::from(v)) as ArrayRef,
                Col::Int(v) => Arc::new(Int64Array::from(v)),
                Col::Bool(v) => Arc::new(BooleanArray::from(v)),
                Col::Time(v) => Arc::new(TimestampMillisecondArray::from(v)),
            })
            .collect();
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(self.fields)),
            arrays,
        )?)
    }
}

const TIME: DataType = DataType::Timestamp(TimeUnit::Millisecond, None);

fn queries(metastore: &dyn Metastore) -> Result<RecordBatch> {
    let mut b = Builder::new(&[
        ("query_id", DataType::Utf8),
        ("user", DataType::Utf8),
        ("database", DataType::Utf8),
        ("statement", DataType::Utf8),
        ("start_time", TIME),
        ("duration_ms", DataType::Int64),
        ("rows", DataType::Int64),
        ("bytes_scanned", DataType::Int64),
        ("files_scanned", DataType::Int64),
        ("state", DataType::Utf8),
        ("error", DataType::Utf8),
    ]);
    for q in metastore.list_queries().map_err(external)? {
        b.text(0, Some(q.query_id));
        b.text(1, Some(q.user));
        b.text(2, Some(q.database));
        b.text(3, Some(q.statement));
        b.int(4, Some(q.started_ms));
        b.int(5, Some(q.duration_ms));
        b.int(6, q.rows.map(|r| r as i64));
        b.int(7, Some(q.bytes_scanned as i64));
        b.int(8, Some(q.files_scanned as i64));
        b.text(9, Some(q.state));
        b.text(10, q.error);
    }
    b.finish()
}

fn all_tables(metastore: &dyn Metastore) -> Result<Vec<nuage_catalog::Table>> {
    let mut out = Vec::new();
    for db in metastore.list_databases().map_err(external)? {
        out.extend(metastore.list_tables(&db.name).map_err(external)?);
    }
    Ok(out)
}

fn tables(metastore: &dyn Metastore) -> Result<RecordBatch> {
    let mut b = Builder::new(&[
        ("database", DataType::Utf8),
        ("table_name", DataType::Utf8),
        ("table_type", DataType::Utf8),
        ("location", DataType::Utf8),
        ("format", DataType::Utf8),
        ("serde", DataType::Utf8),
        ("owner", DataType::Utf8),
        ("create_time", TIME),
        ("columns", DataType::Int64),
        ("partition_keys", DataType::Utf8),
        ("partitions", DataType::Int64),
        ("properties", DataType::Utf8),
    ]);
    for t in all_tables(metastore)? {
        let view = t.kind == TableKind::View;
        let partitions = if t.is_partitioned() {
            metastore
                .list_partitions(&t.database, &t.name)
                .map_err(external)?
                .len() as i64
        } else {
            0
        };
        b.text(0, Some(t.database.clone()));
        b.text(1, Some(t.name.clone()));
        b.text(2, Some(t.kind.as_str().to_string()));
        b.text(3, (!view).then(|| t.location.clone()));
        b.text(4, (!view).then(|| t.storage.format.as_str().to_string()));
        b.text(5, (!view).then(|| t.storage.serde.clone()));
        b.text(6, Some(t.owner.clone()));
        b.int(7, Some(t.created_at * 1000));
        b.int(8, Some(t.columns.len() as i64));
        b.text(
            9,
            Some(
                t.partition_columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        );
        b.int(10, Some(partitions));
        b.text(
            11,
            Some(serde_json::to_string(&t.properties).unwrap_or_default()),
        );
    }
    b.finish()
}

fn columns(metastore: &dyn Metastore) -> Result<RecordBatch> {
    let mut b = Builder::new(&[
        ("database", DataType::Utf8),
        ("table_name", DataType::Utf8),
        ("column_name", DataType::Utf8),
        ("ordinal_position", DataType::Int64),
        ("data_type", DataType::Utf8),
        ("is_partition_key", DataType::Boolean),
        ("comment", DataType::Utf8),
    ]);
    for t in all_tables(metastore)? {
        let all = t
            .columns
            .iter()
            .map(|c| (c, false))
            .chain(t.partition_columns.iter().map(|c| (c, true)));
        for (i, (c, partition)) in all.enumerate() {
            b.text(0, Some(t.database.clone()));
            b.text(1, Some(t.name.clone()));
            b.text(2, Some(c.name.clone()));
            b.int(3, Some(i as i64 + 1));
            b.text(4, Some(c.data_type.clone()));
            b.bool(5, partition);
            b.text(6, c.comment.clone());
        }
    }
    b.finish()
}

fn partitions(metastore: &dyn Metastore) -> Result<RecordBatch> {
    let mut b = Builder::new(&[
        ("database", DataType::Utf8),
        ("table_name", DataType::Utf8),
        ("partition", DataType::Utf8),
        ("location", DataType::Utf8),
        ("create_time", TIME),
    ]);
    for t in all_tables(metastore)? {
        if !t.is_partitioned() {
            continue;
        }
        for p in metastore
            .list_partitions(&t.database, &t.name)
            .map_err(external)?
        {
            b.text(0, Some(t.database.clone()));
            b.text(1, Some(t.name.clone()));
            b.text(2, Some(partition_spec(&t.partition_columns, &p.values)));
            b.text(3, Some(p.location));
            b.int(4, Some(p.created_at * 1000));
        }
    }
    b.finish()
}
