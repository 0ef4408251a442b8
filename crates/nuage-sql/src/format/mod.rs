//! Reading and writing table files in Hive's formats.
//!
//! Parquet goes through DataFusion's own `ParquetSource`. The text formats
//! Hive defines (LazySimpleSerDe delimited text, OpenCSVSerde, the JSON serdes)
//! have rules no Arrow reader follows — unparsable fields become NULL, missing
//! trailing fields are NULL, extra ones are ignored, quotes mean nothing to
//! LazySimpleSerDe — so [`HiveSource`] plugs a reader of ours into DataFusion's
//! file scan machinery, which brings byte-range splitting of large files,
//! projection, partition columns and metrics.
//!
//! ```text
//!  DataSourceExec(FileScanConfig { files with partition values, byte ranges })
//!      └── HiveSource ── HiveOpener ── bytes (decompressed, range-aligned)
//!                                        └── LineDecoder<TextLine | JsonLine> or CsvDecoder
//!                                              └── ColumnBuilder per projected column
//! ```

pub mod builder;
pub mod compression;
mod csv;
mod json;
mod options;
mod source;
mod text;
pub mod write;

pub use builder::Separators;
pub use options::{RowFormat, read_options};
pub use source::HiveSource;
