//! Table files in Hive's formats, on Arrow: the types of table columns
//! ([`types`]), readers of text, CSV and JSON for DataFusion's file scans
//! ([`HiveSource`]), writers of every format ([`write`]), codecs
//! ([`compression`]), the files that make up a table ([`files`]), and values
//! as Hive prints them ([`display`]). The SQL engine (nuage-sql), the crawler
//! and Firehose's Parquet conversion (nuage-delivery) all read and write
//! tables through this crate.
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
pub mod display;
pub mod files;
mod json;
mod nested;
mod options;
pub mod parse;
mod source;
mod text;
pub mod types;
pub mod write;

pub use builder::Separators;
pub use nested::lookup_ignore_case;
pub use options::{RowFormat, read_options};
pub use source::HiveSource;
