//! [`HiveSource`]: the DataFusion `FileSource` for Hive's text formats.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_datasource::boundary_stream::AlignedBoundaryStream;
use datafusion_datasource::decoder::{DecoderDeserializer, deserialize_stream};
use datafusion_datasource::file::FileSource;
use datafusion_datasource::file_scan_config::FileScanConfig;
use datafusion_datasource::file_stream::{FileOpenFuture, FileOpener};
use datafusion_datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion_datasource::{FileRange, PartitionedFile, TableSchema};
use futures::{StreamExt, TryStreamExt};
use object_store::{GetOptions, ObjectStore};

use super::compression::codec_of;
use super::csv::CsvDecoder;
use super::json::JsonLine;
use super::options::{ReadOptions, RowFormat};
use super::text::{LineDecoder, TextLine};

/// Reads delimited text, OpenCSV or JSON-lines files of one table.
#[derive(Debug, Clone)]
pub struct HiveSource {
    options: Arc<ReadOptions>,
    table_schema: TableSchema,
    projection: SplitProjection,
    batch_size: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
}

impl HiveSource {
    pub fn new(options: ReadOptions, table_schema: TableSchema) -> Self {
        Self {
            options: Arc::new(options),
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            batch_size: None,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl FileSource for HiveSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let file_schema = self.table_schema.file_schema();
        let columns: Arc<[usize]> = Arc::from(self.projection.file_indices.clone());
        let opener = Arc::new(HiveOpener {
            options: self.options.clone(),
            file_schema: file_schema.clone(),
            projected: Arc::new(file_schema.project(&self.projection.file_indices)?),
            columns,
            batch_size: self.batch_size.unwrap_or(8192),
            store: object_store,
        });
        ProjectionOpener::try_new(self.projection.clone(), opener, file_schema)
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let mut source = self.clone();
        source.batch_size = Some(batch_size);
        Arc::new(source)
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut source = self.clone();
        let merged = self.projection.source.try_merge(projection)?;
        source.projection = SplitProjection::new(self.table_schema.file_schema(), &merged);
        Ok(Some(Arc::new(source)))
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        match self.options.row_format {
            RowFormat::Text(_) => "hive_text",
            RowFormat::Csv { .. } => "hive_csv",
            RowFormat::Json { .. } => "hive_json",
        }
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, ", header_lines={}", self.options.header_lines)
            }
            DisplayFormatType::TreeRender => Ok(()),
        }
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        datafusion::physical_plan::execution_plan::apply_expression_roots(
            self.projection.source.iter(),
            f,
        )
    }

    fn supports_repartitioning(&self) -> bool {
        // Quoted CSV fields may hold newlines, so a byte offset is not a record boundary.
        !matches!(self.options.row_format, RowFormat::Csv { .. })
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        repartition_file_min_size: usize,
        output_ordering: Option<LexOrdering>,
        config: &FileScanConfig,
    ) -> Result<Option<FileScanConfig>> {
        let compressed = config
            .file_groups
            .iter()
            .flat_map(|g| g.files())
            .any(|f| codec_of(f.object_meta.location.as_ref()).is_compressed());
        if compressed || !self.supports_repartitioning() {
            return Ok(None);
        }
        let groups = datafusion_datasource::file_groups::FileGroupPartitioner::new()
            .with_target_partitions(target_partitions)
            .with_repartition_file_min_size(repartition_file_min_size)
            .with_preserve_order_within_groups(output_ordering.is_some())
            .repartition_file_groups(&config.file_groups);
        Ok(groups.map(|groups| {
            let mut config = config.clone();
            config.file_groups = groups;
            config
        }))
    }
}

struct HiveOpener {
    options: Arc<ReadOptions>,
    file_schema: SchemaRef,
    projected: SchemaRef,
    columns: Arc<[usize]>,
    batch_size: usize,
    store: Arc<dyn ObjectStore>,
}

impl FileOpener for HiveOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let options = self.options.clone();
        let store = self.store.clone();
        let file_schema = self.file_schema.clone();
        let projected = self.projected.clone();
        let columns = self.columns.clone();
        let batch_size = self.batch_size;
        Ok(Box::pin(async move {
            let location = file.object_meta.location.clone();
            let codec = codec_of(location.as_ref());
            let starts_file = !matches!(file.range, Some(FileRange { start, .. }) if start != 0);
            let bytes = match &file.range {
                Some(range) => AlignedBoundaryStream::new(
                    store.clone(),
                    location.clone(),
                    range.start as u64,
                    range.end as u64,
                    file.object_meta.size,
                    b'\n',
                )
                .await?
                .map_err(DataFusionError::from)
                .boxed(),
                None => store
                    .get_opts(&location, GetOptions::default())
                    .await?
                    .into_stream()
                    .map_err(DataFusionError::from)
                    .boxed(),
            };
            let input = codec.decompress_stream(bytes)?.fuse();
            let skip = if starts_file { options.header_lines } else { 0 };
            let stream = match &options.row_format {
                RowFormat::Text(seps) => {
                    let decoder = LineDecoder::new(
                        TextLine::new(seps.clone()),
                        projected,
                        columns,
                        batch_size,
                        skip,
                    );
                    deserialize_stream(input, DecoderDeserializer::new(decoder))
                }
                RowFormat::Json {
                    ignore_malformed,
                    mappings,
                } => {
                    let parser = JsonLine {
                        names: file_schema
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect(),
                        ignore_malformed: *ignore_malformed,
                        mappings: mappings.clone(),
                        path: location.to_string(),
                    };
                    let decoder = LineDecoder::new(parser, projected, columns, batch_size, skip);
                    deserialize_stream(input, DecoderDeserializer::new(decoder))
                }
                RowFormat::Csv {
                    separator,
                    quote,
                    escape,
                } => {
                    let decoder = CsvDecoder::new(
                        *separator, *quote, *escape, projected, columns, batch_size, skip,
                    );
                    deserialize_stream(input, DecoderDeserializer::new(decoder))
                }
            };
            Ok(stream.map_err(DataFusionError::from).boxed())
        }))
    }
}
