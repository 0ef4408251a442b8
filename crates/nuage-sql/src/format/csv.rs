//! OpenCSVSerde: quoted CSV, decoded with `csv-core` so quoted fields may hold
//! separators and newlines.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion_datasource::decoder::Decoder;
use std::sync::Arc;

use super::builder::{ColumnBuilder, Separators};
use super::text::{finish_batch, new_builders};

pub struct CsvDecoder {
    reader: csv_core::Reader,
    schema: SchemaRef,
    columns: Arc<[usize]>,
    builders: Vec<ColumnBuilder>,
    batch_size: usize,
    rows: usize,
    skip_records: usize,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    finished: bool,
}

impl std::fmt::Debug for CsvDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvDecoder")
            .field("rows", &self.rows)
            .finish()
    }
}

impl CsvDecoder {
    pub fn new(
        separator: u8,
        quote: u8,
        escape: u8,
        schema: SchemaRef,
        columns: Arc<[usize]>,
        batch_size: usize,
        skip_records: usize,
    ) -> Self {
        let reader = csv_core::ReaderBuilder::new()
            .delimiter(separator)
            .quote(quote)
            .escape(Some(escape))
            .double_quote(true)
            .build();
        let builders = new_builders(&schema, batch_size);
        Self {
            reader,
            schema,
            columns,
            builders,
            batch_size,
            rows: 0,
            skip_records,
            output: vec![0; 4096],
            output_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            finished: false,
        }
    }

    fn record(&mut self) {
        if self.skip_records > 0 {
            self.skip_records -= 1;
        } else {
            let ends = &self.ends[..self.ends_len];
            let plain = Separators {
                null: Vec::new(),
                ..Separators::default()
            };
            for (builder, &index) in self.builders.iter_mut().zip(self.columns.iter()) {
                let field = ends.get(index).map(|&end| {
                    let start = if index == 0 { 0 } else { ends[index - 1] };
                    &self.output[start..end]
                });
                builder.append_text(field, &plain);
            }
            self.rows += 1;
        }
        self.output_len = 0;
        self.ends_len = 0;
    }
}

impl Decoder for CsvDecoder {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        if buf.is_empty() && self.finished {
            return Ok(0);
        }
        let at_end = buf.is_empty();
        let mut consumed = 0;
        loop {
            if !at_end && self.rows >= self.batch_size {
                return Ok(consumed);
            }
            let (result, read, written, ends) = self.reader.read_record(
                &buf[consumed..],
                &mut self.output[self.output_len..],
                &mut self.ends[self.ends_len..],
            );
            // csv-core reports field ends relative to this call's output slice.
            for end in &mut self.ends[self.ends_len..self.ends_len + ends] {
                *end += self.output_len;
            }
            consumed += read;
            self.output_len += written;
            self.ends_len += ends;
            match result {
                csv_core::ReadRecordResult::InputEmpty => return Ok(consumed),
                csv_core::ReadRecordResult::OutputFull => {
                    let len = self.output.len();
                    self.output.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                csv_core::ReadRecordResult::Record => self.record(),
                csv_core::ReadRecordResult::End => {
                    self.finished = true;
                    return Ok(consumed);
                }
            }
        }
    }

    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.rows == 0 {
            return Ok(None);
        }
        let batch = finish_batch(&self.schema, &mut self.builders, self.rows)?;
        self.rows = 0;
        Ok(Some(batch))
    }

    fn can_flush_early(&self) -> bool {
        self.rows >= self.batch_size
    }
}
