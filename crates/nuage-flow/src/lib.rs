//! Continuous SQL over streams: Flink SQL jobs on DataFusion.
//!
//! ```text
//!  CREATE TABLE ... WITH ('connector' = 'kinesis')  ──ddl──> catalog (a stream table)
//!
//!  INSERT INTO sink SELECT ... FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL ...))
//!     │ plan: source, window, sink; the TVF becomes the table __flow_window
//!     ▼
//!  shards ──read──> source::Decoder (json/csv/raw, metadata, computed columns, watermark)
//!     │                 per-shard watermarks; the job's = min over non-idle shards
//!     ▼
//!  window::Window::assign (window_start, window_end, window_time) ──> rows kept per window end
//!     │  watermark passes a window's end
//!     ▼
//!  the SELECT on nuage-sql (joins with lake tables as they are now) ──> sink: lake table / stream
//! ```
//!
//! An interval join of two streams ([`interval`]) runs the SELECT each
//! round on the new rows of either side and the rows the other side keeps.
//!
//! [`jobs::Flow`] keeps the jobs (catalog `jobs` table) and runs them in the
//! server; [`job`] is one job's loop and checkpoint.

pub mod ddl;
pub mod error;
pub mod interval;
mod job;
pub mod jobs;
pub mod kda;
pub mod over;
pub mod plan;
pub mod source;
pub mod table;
pub mod window;

pub use error::{FlowError, Result};
pub use job::Env;
pub use jobs::{Flow, JobStatus};
pub use table::StreamTable;
