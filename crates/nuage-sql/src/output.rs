//! [`Output`]: what a statement gives back.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::memory::MemoryStream;

/// What a statement produced.
pub enum Output {
    /// Rows to print.
    Rows(SendableRecordBatchStream),
    /// Nothing to print but `OK`; the text, if any, goes to stderr (like Hive's notes).
    Done(Option<String>),
}

/// A result of text columns, for SHOW and DESCRIBE.
pub fn rows_output(columns: &[&str], rows: Vec<Vec<String>>) -> Output {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.get(i).cloned().unwrap_or_default()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
    Output::Rows(Box::pin(
        MemoryStream::try_new(vec![batch], schema, None).expect("a memory stream"),
    ))
}
