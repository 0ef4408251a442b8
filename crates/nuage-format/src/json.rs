//! JSON lines: Hive's JsonSerDe and the OpenX JsonSerDe.

use std::collections::BTreeMap;

use datafusion::arrow::error::ArrowError;
use serde_json::Value;

use super::builder::ColumnBuilder;
use super::nested::lookup_ignore_case;
use super::text::LineParser;

#[derive(Debug)]
pub struct JsonLine {
    /// Column names of the file schema (lowercase), by file index.
    pub names: Vec<String>,
    pub ignore_malformed: bool,
    pub mappings: BTreeMap<String, String>,
    /// Where we are reading, for error messages.
    pub path: String,
}

impl LineParser for JsonLine {
    fn parse(
        &mut self,
        line: &[u8],
        columns: &[usize],
        builders: &mut [ColumnBuilder],
    ) -> Result<bool, ArrowError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            // Blank lines hold no record.
            return Ok(false);
        }
        let parsed = serde_json::from_slice::<Value>(line);
        let object = match parsed {
            Ok(Value::Object(map)) => Some(map),
            Ok(Value::Null) => None,
            Ok(other) if !self.ignore_malformed => {
                return Err(ArrowError::ParseError(format!(
                    "{}: expected one JSON object per line, found {}; set 'ignore.malformed.json'='true' in SERDEPROPERTIES to read such lines as NULL rows",
                    self.path,
                    kind(&other)
                )));
            }
            Ok(_) => None,
            Err(e) if !self.ignore_malformed => {
                let snippet: String =
                    String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned();
                return Err(ArrowError::ParseError(format!(
                    "{}: malformed JSON ({e}) in line {snippet:?}; set 'ignore.malformed.json'='true' in SERDEPROPERTIES to read such lines as NULL rows",
                    self.path
                )));
            }
            Err(_) => None,
        };
        for (builder, &index) in builders.iter_mut().zip(columns) {
            let value = object.as_ref().and_then(|map| {
                let name = &self.names[index];
                let key = self.mappings.get(name).unwrap_or(name);
                lookup_ignore_case(map, key)
            });
            builder.append_json(value);
        }
        Ok(true)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
