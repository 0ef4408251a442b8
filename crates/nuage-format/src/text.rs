//! Line-oriented decoding shared by delimited text and JSON lines.

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion_datasource::decoder::Decoder;

use super::builder::{ColumnBuilder, Separators};

/// Turns one line into one row of the projected columns (returns false when the
/// line holds no row, like a blank line of JSON).
pub trait LineParser: Send + std::fmt::Debug {
    /// `columns[i]` is the file-schema index of projected column `i`.
    fn parse(
        &mut self,
        line: &[u8],
        columns: &[usize],
        builders: &mut [ColumnBuilder],
    ) -> Result<bool, ArrowError>;
}

/// LazySimpleSerDe rows.
#[derive(Debug)]
pub struct TextLine {
    pub seps: Separators,
    fields: Vec<(usize, usize)>,
}

impl TextLine {
    pub fn new(seps: Separators) -> Self {
        Self {
            seps,
            fields: Vec::new(),
        }
    }
}

impl LineParser for TextLine {
    fn parse(
        &mut self,
        line: &[u8],
        columns: &[usize],
        builders: &mut [ColumnBuilder],
    ) -> Result<bool, ArrowError> {
        let needed = columns.iter().max().map_or(0, |m| m + 1);
        self.fields.clear();
        let sep = self.seps.levels[0];
        let mut start = 0;
        match self.seps.escape {
            // The common case: find separators with SIMD.
            None => {
                for end in memchr::memchr_iter(sep, line) {
                    if self.fields.len() + 1 >= needed {
                        break;
                    }
                    self.fields.push((start, end));
                    start = end + 1;
                }
            }
            Some(escape) => {
                let mut i = 0;
                while i < line.len() && self.fields.len() + 1 < needed {
                    let b = line[i];
                    if b == escape {
                        i += 2;
                        continue;
                    }
                    if b == sep {
                        self.fields.push((start, i));
                        start = i + 1;
                    }
                    i += 1;
                }
            }
        }
        // The field holding the rest of the line ends at the next separator, if any.
        if self.fields.len() < needed {
            let rest = &line[start.min(line.len())..];
            let end = match self.seps.escape {
                None => memchr::memchr(sep, rest).map_or(line.len(), |e| start + e),
                Some(_) => {
                    split_escaped_end(rest, sep, self.seps.escape).map_or(line.len(), |e| start + e)
                }
            };
            self.fields.push((start, end));
        }
        for (builder, &index) in builders.iter_mut().zip(columns) {
            let field = self.fields.get(index).map(|&(s, e)| &line[s..e]);
            let field = field.filter(|f| *f != self.seps.null.as_slice());
            builder.append_text(field, &self.seps);
        }
        Ok(true)
    }
}

/// Splits a byte stream into lines, skips header lines, and hands each line to a
/// [`LineParser`], emitting a batch every `batch_size` rows.
#[derive(Debug)]
pub struct LineDecoder<P: LineParser> {
    parser: P,
    schema: SchemaRef,
    columns: Arc<[usize]>,
    builders: Vec<ColumnBuilder>,
    batch_size: usize,
    rows: usize,
    carry: Vec<u8>,
    skip_lines: usize,
    finished: bool,
}

impl std::fmt::Debug for ColumnBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ColumnBuilder")
    }
}

impl<P: LineParser> LineDecoder<P> {
    /// `schema` is the projected file schema; `columns` the file indices it holds.
    pub fn new(
        parser: P,
        schema: SchemaRef,
        columns: Arc<[usize]>,
        batch_size: usize,
        skip_lines: usize,
    ) -> Self {
        let builders = new_builders(&schema, batch_size);
        Self {
            parser,
            schema,
            columns,
            builders,
            batch_size,
            rows: 0,
            carry: Vec::new(),
            skip_lines,
            finished: false,
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<(), ArrowError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.skip_lines > 0 {
            self.skip_lines -= 1;
            return Ok(());
        }
        if self.parser.parse(line, &self.columns, &mut self.builders)? {
            self.rows += 1;
        }
        Ok(())
    }
}

pub fn new_builders(schema: &SchemaRef, capacity: usize) -> Vec<ColumnBuilder> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnBuilder::new(f.data_type(), capacity))
        .collect()
}

pub fn finish_batch(
    schema: &SchemaRef,
    builders: &mut [ColumnBuilder],
    rows: usize,
) -> Result<RecordBatch, ArrowError> {
    let columns = builders.iter_mut().map(|b| b.finish()).collect();
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
}

impl<P: LineParser> Decoder for LineDecoder<P> {
    fn decode(&mut self, buf: &[u8]) -> Result<usize, ArrowError> {
        if buf.is_empty() {
            // End of input: a last line without a newline is still a row.
            if !self.finished && !self.carry.is_empty() {
                let last = std::mem::take(&mut self.carry);
                self.line(&last)?;
            }
            self.finished = true;
            return Ok(0);
        }
        let mut consumed = 0;
        while self.rows < self.batch_size {
            match memchr(b'\n', &buf[consumed..]) {
                Some(end) => {
                    let end = consumed + end;
                    if self.carry.is_empty() {
                        self.line(&buf[consumed..end])?;
                    } else {
                        let mut line = std::mem::take(&mut self.carry);
                        line.extend_from_slice(&buf[consumed..end]);
                        self.line(&line)?;
                    }
                    consumed = end + 1;
                }
                None => {
                    self.carry.extend_from_slice(&buf[consumed..]);
                    consumed = buf.len();
                    break;
                }
            }
        }
        Ok(consumed)
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

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

/// Where the first unescaped `sep` of `field` is.
fn split_escaped_end(field: &[u8], sep: u8, escape: Option<u8>) -> Option<usize> {
    let mut i = 0;
    while i < field.len() {
        if Some(field[i]) == escape {
            i += 2;
            continue;
        }
        if field[i] == sep {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema};

    fn decode_all(input: &[&[u8]], skip: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let seps = Separators {
            levels: vec![b','],
            ..Separators::default()
        };
        let mut d = LineDecoder::new(
            TextLine::new(seps),
            schema,
            Arc::from(vec![0, 1]),
            100,
            skip,
        );
        for chunk in input {
            assert_eq!(d.decode(chunk).unwrap(), chunk.len());
        }
        d.decode(&[]).unwrap();
        d.flush().unwrap().unwrap()
    }

    #[test]
    fn lines_split_across_chunks_and_a_last_line_without_newline() {
        let batch = decode_all(&[b"id,name\n1,Toy St", b"ory\r\nx,GoldenEye\n3"], 1);
        assert_eq!(batch.num_rows(), 3);
        let ids: Vec<_> = batch.column(0).as_primitive::<Int32Type>().iter().collect();
        assert_eq!(ids, vec![Some(1), None, Some(3)]);
        let names: Vec<_> = batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(names, vec![Some("Toy Story"), Some("GoldenEye"), None]);
    }

    #[test]
    fn extra_fields_are_ignored_and_null_marker_is_null() {
        let batch = decode_all(&[b"1,a,extra,more\n\\N,\\N\n"], 0);
        let names: Vec<_> = batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(names, vec![Some("a"), None]);
    }
}
