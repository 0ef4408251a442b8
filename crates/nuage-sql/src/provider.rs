//! [`HiveTable`]: a catalog table as a DataFusion `TableProvider`.
//!
//! A scan first prunes partitions with the filters that mention only partition
//! columns (evaluated against the partition values stored in the catalog, so
//! pruned folders are never even listed), then lists the files of what is left
//! and hands them to a `DataSourceExec` with the table's file source.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::datasource::TableProvider;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column as PhysicalColumn;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion_datasource::TableSchema;
use nuage_catalog::{Partition, Table};
use nuage_lake::{Lake, Location};

use crate::projection;
use crate::stats::{QueryStats, human_bytes};
use nuage_format::files::list_data_files;
use nuage_format::types::{arrow_type, schema_of};
use nuage_format::{HiveSource, read_options};

/// A table of the metastore, ready to scan.
#[derive(Debug)]
pub struct HiveTable {
    table: Table,
    partitions: Vec<Partition>,
    schema: SchemaRef,
    lake: Arc<Lake>,
}

impl HiveTable {
    pub fn new(table: Table, partitions: Vec<Partition>, lake: Arc<Lake>) -> Self {
        let mut fields: Vec<FieldRef> =
            schema_of(&table.columns).fields().iter().cloned().collect();
        fields.extend(schema_of(&table.partition_columns).fields().iter().cloned());
        Self {
            schema: Arc::new(Schema::new(fields)),
            table,
            partitions,
            lake,
        }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Hashes what the table reads: its columns, storage and every data
    /// file's name, size, time and e-tag (so INSERT, LOAD, UPDATE and new
    /// files all change it).
    pub async fn fingerprint(&self, hasher: &mut impl std::hash::Hasher) -> Result<()> {
        use std::hash::Hash;
        format!("{:?}{:?}", self.table.columns, self.table.storage).hash(hasher);
        // The table's folder, listed recursively, and the partitions that
        // live elsewhere.
        let root = self.table.data_location();
        let mut locations = vec![root.clone()];
        for partition in &self.partitions {
            partition.values.hash(hasher);
            if !partition.location.starts_with(&root) {
                locations.push(partition.location.clone());
            }
        }
        for location in locations {
            location.hash(hasher);
            let (_, files) = list_data_files(&self.lake, &location).await?;
            for file in files {
                file.location.as_ref().hash(hasher);
                file.size.hash(hasher);
                file.last_modified.hash(hasher);
                file.e_tag.hash(hasher);
            }
        }
        Ok(())
    }

    fn partition_names(&self) -> Vec<String> {
        self.table
            .partition_columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    fn only_partition_columns(&self, expr: &Expr) -> bool {
        let names = self.partition_names();
        let refs = expr.column_refs();
        !refs.is_empty()
            && refs.iter().all(|c| names.contains(&c.name.to_lowercase()))
            && !expr.is_volatile()
    }

    /// The partitions (as folders plus values) that the filters keep.
    fn select_partitions(
        &self,
        state: &dyn Session,
        filters: &[Expr],
        partitions: &[Partition],
    ) -> Result<Vec<(String, Vec<String>)>> {
        if !self.table.is_partitioned() {
            return Ok(vec![(self.table.data_location(), Vec::new())]);
        }
        let filters: Vec<&Expr> = filters
            .iter()
            .filter(|f| self.only_partition_columns(f))
            .collect();
        let rows: Vec<&[String]> = partitions.iter().map(|p| p.values.as_slice()).collect();
        let keep = keep_rows(state, &filters, &self.table.partition_columns, &rows)?;
        Ok(partitions
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(p, _)| (p.location.clone(), p.values.clone()))
            .collect())
    }

    /// Partition projection: each column's values, narrowed by the filters on
    /// that column alone, then their product.
    fn project(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<Partition>> {
        let mut values = Vec::new();
        for column in &self.table.partition_columns {
            let own: Vec<&Expr> = filters
                .iter()
                .filter(|f| {
                    let refs = f.column_refs();
                    !refs.is_empty()
                        && refs
                            .iter()
                            .all(|c| c.name.eq_ignore_ascii_case(&column.name))
                        && !f.is_volatile()
                })
                .collect();
            let all = projection::column_values(&self.table, &column.name, &own)
                .map_err(DataFusionError::Plan)?;
            let rows: Vec<Vec<String>> = all.into_iter().map(|v| vec![v]).collect();
            let slices: Vec<&[String]> = rows.iter().map(Vec::as_slice).collect();
            let keep = keep_rows(state, &own, std::slice::from_ref(column), &slices)?;
            values.push(
                rows.into_iter()
                    .zip(keep)
                    .filter(|(_, k)| *k)
                    .map(|(mut r, _)| r.remove(0))
                    .collect::<Vec<_>>(),
            );
        }
        projection::partitions(&self.table, &values).map_err(DataFusionError::Plan)
    }

    fn partition_scalars(&self, values: &[String]) -> Result<Vec<ScalarValue>> {
        self.table
            .partition_columns
            .iter()
            .zip(values)
            .map(|(column, value)| {
                let text = ScalarValue::Utf8(partition_value(Some(value)).map(str::to_string));
                let ty = arrow_type(&column.hive_type());
                // A value that does not fit the declared type reads as NULL, as in Hive.
                Ok(text.cast_to(&ty).unwrap_or(ScalarValue::try_from(&ty)?))
            })
            .collect()
    }
}

impl HiveTable {
    /// At most how many bytes reading these files takes: whole text files;
    /// for Parquet the footer plus the column chunks of the projected columns.
    async fn bytes_to_read(
        &self,
        location: &str,
        files: &[object_store::ObjectMeta],
        projection: Option<&Vec<usize>>,
    ) -> Result<u64> {
        if read_options(&self.table).is_some() {
            return Ok(files.iter().map(|f| f.size).sum());
        }
        let wanted: Vec<String> = self
            .table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, _)| projection.is_none_or(|p| p.contains(i)))
            .map(|(_, c)| c.name.clone())
            .collect();
        let location = Location::parse(location).map_err(external)?;
        let (store, _) = self.lake.store_for(&location).map_err(external)?;
        let mut total = 0;
        for file in files {
            let metadata = DFParquetMetadata::new(store.as_ref(), file)
                .fetch_metadata()
                .await?;
            let mut chunks = 0u64;
            for group in metadata.row_groups() {
                for column in group.columns() {
                    let name = column.column_descr().path().parts()[0].to_lowercase();
                    if wanted.contains(&name) {
                        chunks += column.compressed_size().max(0) as u64;
                    }
                }
            }
            let footer = file.size.saturating_sub(
                metadata
                    .row_groups()
                    .iter()
                    .map(|g| g.compressed_size().max(0) as u64)
                    .sum::<u64>(),
            );
            total += chunks + footer;
        }
        Ok(total)
    }
}

/// Which rows of partition values pass all the filters (evaluated on one
/// typed column per partition column).
fn keep_rows(
    state: &dyn Session,
    filters: &[&Expr],
    columns: &[nuage_catalog::Column],
    rows: &[&[String]],
) -> Result<Vec<bool>> {
    let mut keep = vec![true; rows.len()];
    if filters.is_empty() || rows.is_empty() {
        return Ok(keep);
    }
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        let text: ArrayRef = Arc::new(StringArray::from_iter(
            rows.iter().map(|r| partition_value(r.get(i))),
        ));
        let ty = arrow_type(&column.hive_type());
        arrays.push(datafusion::arrow::compute::cast(&text, &ty)?);
        fields.push(Field::new(&column.name, ty, true));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    let df_schema = DFSchema::try_from(batch.schema())?;
    for filter in filters {
        let filter = unqualify((*filter).clone())?;
        let physical = state.create_physical_expr(filter, &df_schema)?;
        let result = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
        let mask = result
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DataFusionError::Internal("partition filter is not boolean".into()))?;
        for (i, k) in keep.iter_mut().enumerate() {
            *k &= mask.is_valid(i) && mask.value(i);
        }
    }
    Ok(keep)
}

/// Hive's default partition holds rows whose partition value was NULL.
fn partition_value(value: Option<&String>) -> Option<&str> {
    value
        .map(String::as_str)
        .filter(|v| *v != "__HIVE_DEFAULT_PARTITION__")
}

/// Drops table qualifiers so the expression resolves against the partition batch.
fn unqualify(expr: Expr) -> Result<Expr> {
    Ok(expr
        .transform(|e| match e {
            Expr::Column(c) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
                c.name.to_lowercase(),
            )))),
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

/// Matches table columns to file columns ignoring case, as Hive and Athena do:
/// a Parquet file written by Spark with `movieId` fills the table column
/// `movieid`. An exact match wins over a case-insensitive one.
///
/// DataFusion's own adapter matches by exact name, so it is given the file
/// schema with matching fields renamed to the table's spelling; the columns of
/// the expressions it returns are then given back the file's spelling, which is
/// what the Parquet reader looks columns up by.
#[derive(Debug)]
struct CaseInsensitiveColumns;

impl PhysicalExprAdapterFactory for CaseInsensitiveColumns {
    fn create(
        &self,
        logical: SchemaRef,
        physical: SchemaRef,
    ) -> Result<Arc<dyn PhysicalExprAdapter>> {
        let renamed: Vec<FieldRef> = physical
            .fields()
            .iter()
            .map(|field| {
                if logical.field_with_name(field.name()).is_ok() {
                    return field.clone();
                }
                match logical
                    .fields()
                    .iter()
                    .find(|l| l.name().eq_ignore_ascii_case(field.name()))
                {
                    Some(l) if physical.field_with_name(l.name()).is_err() => {
                        Arc::new(field.as_ref().clone().with_name(l.name()))
                    }
                    _ => field.clone(),
                }
            })
            .collect();
        let renamed = Arc::new(Schema::new_with_metadata(
            renamed,
            physical.metadata().clone(),
        ));
        Ok(Arc::new(FileSpelling {
            inner: DefaultPhysicalExprAdapterFactory.create(logical, renamed)?,
            physical,
        }))
    }
}

#[derive(Debug)]
struct FileSpelling {
    inner: Arc<dyn PhysicalExprAdapter>,
    physical: SchemaRef,
}

impl PhysicalExprAdapter for FileSpelling {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = self.inner.rewrite(expr)?;
        Ok(expr
            .transform(|e| {
                if let Some(column) = e.downcast_ref::<PhysicalColumn>()
                    && let Some(field) = self.physical.fields().get(column.index())
                    && field.name() != column.name()
                {
                    return Ok(Transformed::yes(Arc::new(PhysicalColumn::new(
                        field.name(),
                        column.index(),
                    ))
                        as Arc<dyn PhysicalExpr>));
                }
                Ok(Transformed::no(e))
            })?
            .data)
    }
}

/// Files dealt round-robin into at most `groups` groups (DataFusion splits large
/// files further by byte range).
fn spread(files: Vec<PartitionedFile>, groups: usize) -> Vec<FileGroup> {
    let groups = groups.max(1).min(files.len().max(1));
    let mut out: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
    for (i, file) in files.into_iter().enumerate() {
        out[i % groups].push(file);
    }
    out.into_iter().map(FileGroup::new).collect()
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl TableProvider for HiveTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.only_partition_columns(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected;
        let partitions: &[Partition] =
            if self.table.is_partitioned() && projection::enabled(&self.table) {
                projected = self.project(state, filters)?;
                &projected
            } else {
                &self.partitions
            };
        let selected = self.select_partitions(state, filters, partitions)?;
        let partitions_read = selected.len() as u64;
        let stats = state.config().get_extension::<QueryStats>();
        let max_scan = stats.as_ref().and_then(|s| s.max_scan_bytes());
        let mut estimate = 0u64;
        let mut listed = 0u64;
        // Files grouped by object store (a table's partitions may live in several buckets).
        let mut by_store: BTreeMap<String, (ObjectStoreUrl, Vec<PartitionedFile>)> =
            BTreeMap::new();
        for (location, values) in selected {
            let (url, files) = list_data_files(&self.lake, &location).await?;
            listed += files.len() as u64;
            if max_scan.is_some() {
                estimate += self.bytes_to_read(&location, &files, projection).await?;
            }
            let scalars = self.partition_scalars(&values)?;
            let entry = by_store
                .entry(url.as_str().to_string())
                .or_insert_with(|| (url.clone(), Vec::new()));
            for meta in files {
                let mut file = PartitionedFile::from(meta);
                file.partition_values = scalars.clone();
                entry.1.push(file);
            }
        }
        if let Some(stats) = &stats {
            let (total, read) = if self.table.is_partitioned() {
                (partitions.len() as u64, partitions_read)
            } else {
                (0, 0)
            };
            stats.planned(total, read, listed);
        }
        if let Some(max_scan) = max_scan
            && estimate > max_scan
        {
            return Err(DataFusionError::Plan(format!(
                "reading {} would scan up to {} in {listed} file(s), more than nuage.max_scan_bytes = {}; filter on the partition columns{} to read less, or raise the limit with SET nuage.max_scan_bytes",
                self.table.qualified_name(),
                human_bytes(estimate),
                human_bytes(max_scan),
                if self.table.is_partitioned() {
                    format!(" ({})", self.partition_names().join(", "))
                } else {
                    String::new()
                }
            )));
        }
        let data_schema = schema_of(&self.table.columns);
        let partition_fields: Vec<FieldRef> = schema_of(&self.table.partition_columns)
            .fields()
            .iter()
            .cloned()
            .collect();
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        for (_, (url, files)) in by_store {
            if files.is_empty() {
                continue;
            }
            let table_schema = TableSchema::builder(data_schema.clone())
                .with_table_partition_cols(partition_fields.clone())
                .build();
            let source: Arc<dyn FileSource> = match read_options(&self.table) {
                Some(options) => Arc::new(HiveSource::new(options, table_schema)),
                None => {
                    let mut parquet = ParquetSource::new(table_schema);
                    let predicate = filters.iter().cloned().reduce(|a, b| a.and(b));
                    if let Some(predicate) = predicate {
                        let df_schema = DFSchema::try_from(self.schema.clone())?;
                        if let Ok(physical) =
                            state.create_physical_expr(unqualify(predicate)?, &df_schema)
                        {
                            parquet = parquet.with_predicate(physical);
                        }
                    }
                    Arc::new(parquet)
                }
            };
            let config = FileScanConfigBuilder::new(url, source)
                .with_expr_adapter(Some(Arc::new(CaseInsensitiveColumns)))
                .with_file_groups(spread(files, state.config().target_partitions()))
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
            plans.push(DataSourceExec::from_data_source(config));
        }
        match plans.len() {
            0 => {
                let schema = match projection {
                    Some(p) => Arc::new(self.schema.project(p)?),
                    None => self.schema.clone(),
                };
                Ok(Arc::new(EmptyExec::new(schema)))
            }
            1 => Ok(plans.pop().expect("one plan")),
            _ => UnionExec::try_new(plans),
        }
    }
}
