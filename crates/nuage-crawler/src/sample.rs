//! What one file holds: its format (by extension, then by content), and the
//! columns and types of a sample (the first 1 MB or 1,000 records, as Glue's
//! classifiers read), or for Parquet the schema in its footer.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use nuage_catalog::HiveType;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore};
use serde_json::Value;

use super::infer::{column_name, json_type, looks_like_header, text_type, widen_opt};
use nuage_format::compression::{Codec, codec_of, strip_codec_extension};
use nuage_format::types::hive_type;

/// Bytes of (decompressed) text a sample reads at most.
pub const SAMPLE_BYTES: usize = 1024 * 1024;
/// Records a sample reads at most.
pub const SAMPLE_RECORDS: usize = 1000;

/// How the rows of a file are laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Delimited {
        delimiter: u8,
        header: bool,
        /// Some field was in double quotes: OpenCSVSerde must read it.
        quoted: bool,
    },
    Json,
    Parquet,
}

impl Layout {
    /// Glue's `classification` table property.
    pub fn classification(&self) -> &'static str {
        match self {
            Layout::Delimited { .. } => "csv",
            Layout::Json => "json",
            Layout::Parquet => "parquet",
        }
    }

    /// Whether columns are matched by name (else by position).
    pub fn named_columns(&self) -> bool {
        !matches!(self, Layout::Delimited { header: false, .. })
    }
}

/// The inferred schema of one file.
#[derive(Debug, Clone)]
pub struct FileSchema {
    pub layout: Layout,
    pub codec: Codec,
    /// Columns in file order; `None` while only NULLs were seen.
    pub columns: Vec<(String, Option<HiveType>)>,
}

/// Whether a CSV file's first row is a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderChoice {
    /// Glue's rule (see [`looks_like_header`]).
    #[default]
    Detect,
    Yes,
    No,
}

/// Reads the start of a file and infers its schema; the error says why the
/// file cannot be crawled.
pub async fn sample(
    store: &Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    header: HeaderChoice,
) -> Result<FileSchema, String> {
    let name = meta.location.filename().unwrap_or_default().to_string();
    let codec = codec_of(&name);
    let base = strip_codec_extension(&name).to_ascii_lowercase();
    let extension = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if matches!(extension, "parquet" | "parq") {
        return parquet_schema(store, meta).await;
    }
    let fetch = (meta.size as usize).min(SAMPLE_BYTES);
    let bytes = store
        .get_opts(
            &meta.location,
            GetOptions {
                range: Some(GetRange::Bounded(0..fetch as u64)),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("cannot read: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    if !codec.is_compressed() && bytes.starts_with(b"PAR1") {
        return parquet_schema(store, meta).await;
    }
    let truncated_input = fetch < meta.size as usize;
    let data = codec
        .decompress_prefix(bytes, SAMPLE_BYTES)
        .map_err(|e| format!("cannot decompress: {e}"))?;
    let truncated = truncated_input || data.len() >= SAMPLE_BYTES;
    if data.iter().take(4096).any(|b| *b == 0) {
        return Err(
            "binary content that is not Parquet; nuage crawls CSV/TSV, JSON lines and Parquet"
                .into(),
        );
    }
    let mut text = String::from_utf8_lossy(&data).into_owned();
    if truncated {
        // The last line of a cut sample is incomplete.
        match text.rfind('\n') {
            Some(end) => text.truncate(end),
            None => return Err("no complete line in the first 1 MB".into()),
        }
    }
    let first = text.trim_start().chars().next();
    let columns_from_json = match extension {
        "json" | "jsonl" | "ndjson" => true,
        "csv" | "tsv" | "psv" | "tab" => false,
        _ => first == Some('{'),
    };
    let columns = if columns_from_json {
        json_columns(&text)?
    } else {
        return delimited_schema(&text, extension, header, codec);
    };
    Ok(FileSchema {
        layout: Layout::Json,
        codec,
        columns,
    })
}

async fn parquet_schema(
    store: &Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
) -> Result<FileSchema, String> {
    let schema = DFParquetMetadata::new(store.as_ref(), meta)
        .fetch_schema()
        .await
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let ty = hive_type(field.data_type()).unwrap_or(HiveType::String);
            (field.name().to_lowercase(), Some(ty))
        })
        .collect();
    Ok(FileSchema {
        layout: Layout::Parquet,
        codec: Codec::NONE,
        columns,
    })
}

/// Columns of JSON lines: keys in order of first appearance, types widened.
fn json_columns(text: &str) -> Result<Vec<(String, Option<HiveType>)>, String> {
    let mut columns: Vec<(String, Option<HiveType>)> = Vec::new();
    let mut records = 0;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if records == 0 && line.trim_start().starts_with('[') {
            return Err(
                "a JSON array document; nuage reads JSON lines (one object per line)".into(),
            );
        }
        let object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(format!(
                    "line {}: not a JSON object; JSON tables hold one object per line",
                    number + 1
                ));
            }
            Err(e) => return Err(format!("line {}: malformed JSON ({e})", number + 1)),
        };
        for (key, value) in &object {
            let key = key.to_lowercase();
            let ty = json_type(value);
            match columns.iter_mut().find(|(name, _)| *name == key) {
                Some((_, existing)) => *existing = widen_opt(existing.take(), ty),
                None => columns.push((key, ty)),
            }
        }
        records += 1;
        if records >= SAMPLE_RECORDS {
            break;
        }
    }
    if records == 0 {
        return Err("empty: no record to infer a schema from".into());
    }
    Ok(columns)
}

fn delimited_schema(
    text: &str,
    extension: &str,
    header: HeaderChoice,
    codec: Codec,
) -> Result<FileSchema, String> {
    let delimiter = match extension {
        "tsv" | "tab" => b'\t',
        "psv" => b'|',
        _ => sniff_delimiter(text),
    };
    let (rows, quoted) = split_records(text, delimiter, SAMPLE_RECORDS + 1);
    let Some(first) = rows.first() else {
        return Err("empty: no record to infer a schema from".into());
    };
    let has_header = match header {
        HeaderChoice::Yes => true,
        HeaderChoice::No => false,
        HeaderChoice::Detect => looks_like_header(first, &rows[1..]),
    };
    let data = if has_header { &rows[1..] } else { &rows[..] };
    let width = data
        .iter()
        .map(Vec::len)
        .chain(has_header.then_some(first.len()))
        .max()
        .unwrap_or(0);
    let mut columns: Vec<(String, Option<HiveType>)> = Vec::with_capacity(width);
    for i in 0..width {
        let mut name = match has_header {
            true => first
                .get(i)
                .map_or(format!("col{i}"), |h| column_name(h, i)),
            false => format!("col{i}"),
        };
        if columns.iter().any(|(n, _)| *n == name) {
            name = format!("{name}_{i}");
        }
        let mut ty = None;
        for field in data.iter().filter_map(|row| row.get(i)) {
            ty = widen_opt(ty, text_type(field));
            if ty == Some(HiveType::String) {
                // Nothing is wider than string: the rest cannot change it.
                break;
            }
        }
        columns.push((name, ty));
    }
    Ok(FileSchema {
        layout: Layout::Delimited {
            delimiter,
            header: has_header,
            quoted,
        },
        codec,
        columns,
    })
}

/// The delimiter among comma, tab, pipe and semicolon that splits the most
/// lines into the same number (> 1) of fields; comma when none does.
fn sniff_delimiter(text: &str) -> u8 {
    let sample: String = text.lines().take(50).collect::<Vec<_>>().join("\n");
    let mut best = (b',', 0usize, 0usize);
    for candidate in [b',', b'\t', b'|', b';'] {
        let (rows, _) = split_records(&sample, candidate, 50);
        let mut counts: std::collections::HashMap<usize, usize> = Default::default();
        for row in &rows {
            *counts.entry(row.len()).or_default() += 1;
        }
        let (width, lines) = counts
            .into_iter()
            .filter(|(w, _)| *w > 1)
            .max_by_key(|(w, n)| (*n, *w))
            .unwrap_or((0, 0));
        if (lines, width) > (best.1, best.2) {
            best = (candidate, lines, width);
        }
    }
    best.0
}

/// Records of delimited text with CSV quoting (a quoted field may hold the
/// delimiter, `""` and newlines); also says whether any field was quoted.
/// Unquoted fields borrow from the text: the crawler splits every sampled row.
fn split_records(text: &str, delimiter: u8, limit: usize) -> (Vec<Vec<Cow<'_, str>>>, bool) {
    let bytes = text.as_bytes();
    let mut rows = Vec::new();
    let mut row: Vec<Cow<'_, str>> = Vec::new();
    let mut quoted_any = false;
    let mut pos = 0;
    while pos < bytes.len() && rows.len() < limit {
        // One field starting at `pos`.
        let field: Cow<'_, str>;
        if bytes[pos] == b'"' {
            quoted_any = true;
            let mut value = String::new();
            let mut i = pos + 1;
            loop {
                match memchr::memchr(b'"', &bytes[i..]) {
                    Some(q) => {
                        value.push_str(&text[i..i + q]);
                        i += q + 1;
                        if bytes.get(i) == Some(&b'"') {
                            value.push('"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    None => {
                        value.push_str(&text[i..]);
                        i = bytes.len();
                        break;
                    }
                }
            }
            // Anything between the closing quote and the delimiter is kept, as OpenCSV does.
            let end = bytes[i..]
                .iter()
                .position(|b| *b == delimiter || *b == b'\n')
                .map_or(bytes.len(), |p| i + p);
            value.push_str(text[i..end].trim_end_matches('\r'));
            field = Cow::Owned(value);
            pos = end;
        } else {
            let end = bytes[pos..]
                .iter()
                .position(|b| *b == delimiter || *b == b'\n')
                .map_or(bytes.len(), |p| pos + p);
            field = Cow::Borrowed(text[pos..end].trim_end_matches('\r'));
            pos = end;
        }
        row.push(field);
        match bytes.get(pos) {
            Some(b) if *b == delimiter => {
                pos += 1;
                if pos == bytes.len() {
                    row.push(Cow::Borrowed(""));
                }
            }
            _ => {
                // End of line or of text: the row is complete.
                pos += 1;
                let line = std::mem::take(&mut row);
                if !(line.len() == 1 && line[0].is_empty()) {
                    rows.push(line);
                }
            }
        }
    }
    if !row.is_empty() {
        rows.push(row);
    }
    (rows, quoted_any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(text: &str) -> FileSchema {
        delimited_schema(text, "csv", HeaderChoice::Detect, Codec::NONE).unwrap()
    }

    fn described(s: &FileSchema) -> String {
        s.columns
            .iter()
            .map(|(n, t)| format!("{n}:{}", t.clone().unwrap_or(HiveType::String)))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn csv_with_header_and_quotes() {
        let s = schema("id,name,score\n1,\"Smith, J\",2.5\n2,Doe,3\n");
        assert_eq!(described(&s), "id:bigint,name:string,score:double");
        assert_eq!(
            s.layout,
            Layout::Delimited {
                delimiter: b',',
                header: true,
                quoted: true
            }
        );
    }

    #[test]
    fn delimiters_and_no_header() {
        let s = schema("1|a|2024-01-01\n2|b|2024-01-02\n");
        assert_eq!(described(&s), "col0:bigint,col1:string,col2:date");
        assert!(matches!(
            s.layout,
            Layout::Delimited {
                delimiter: b'|',
                header: false,
                ..
            }
        ));
        let s = schema("a;b\n1;2,5\n");
        assert_eq!(described(&s), "a:bigint,b:string");
        let s = schema("x\ty\n1\t2\n");
        assert!(matches!(
            s.layout,
            Layout::Delimited {
                delimiter: b'\t',
                ..
            }
        ));
    }

    #[test]
    fn json_lines() {
        let columns = json_columns("{\"a\":1}\n{\"a\":2.5,\"B\":{\"c\":true}}\n").unwrap();
        assert_eq!(
            columns,
            vec![
                ("a".into(), Some(HiveType::Double)),
                (
                    "b".into(),
                    Some(HiveType::Struct(vec![("c".into(), HiveType::Boolean)]))
                )
            ]
        );
        assert!(
            json_columns("{\"a\":1}\n{oops\n")
                .unwrap_err()
                .contains("line 2")
        );
    }
}
