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
            // csv-core reports field ends from the record's start, as if its
            // output were one buffer, even when the record spans calls.
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    /// Records longer than the output buffer, cut anywhere between calls.
    #[test]
    fn records_split_across_calls_keep_their_fields() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("plot", DataType::Utf8, true),
            Field::new("tail", DataType::Utf8, true),
        ]));
        let long = "word, \"quoted\"\n".repeat(600);
        let text = format!("1,\"{}\",x\n2,short,y\n", long.replace('"', "\"\""));
        for chunk in [1, 7, 4096, text.len()] {
            let mut decoder = CsvDecoder::new(
                b',',
                b'"',
                b'\\',
                schema.clone(),
                Arc::from([0, 1, 2]),
                100,
                0,
            );
            for part in text.as_bytes().chunks(chunk) {
                let mut at = 0;
                while at < part.len() {
                    at += decoder.decode(&part[at..]).unwrap();
                }
            }
            decoder.decode(&[]).unwrap();
            let batch = decoder.flush().unwrap().unwrap();
            let column = |i: usize| batch.column(i).as_string::<i32>().clone();
            assert_eq!(batch.num_rows(), 2, "chunks of {chunk}");
            assert_eq!(column(0).value(0), "1");
            assert_eq!(column(1).value(0), long, "chunks of {chunk}");
            assert_eq!(column(2).value(0), "x");
            assert_eq!(column(1).value(1), "short");
            assert_eq!(column(2).value(1), "y");
        }
    }
}
