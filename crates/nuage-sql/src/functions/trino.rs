//! The Trino functions Athena users write most, where DataFusion lacks them
//! or means something else: `element_at` (arrays and maps), `date_parse`
//! (MySQL-style formats), `from_iso8601_timestamp`/`_date`,
//! `json_extract_scalar` and `json_extract`.
//! (`date_trunc`, `regexp_like`, `split_part` and `cardinality` are
//! DataFusion's own and behave as in Trino; `approx_percentile` is rewritten
//! to `approx_percentile_cont`.)

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::functions_nested::extract::array_element_udf;
use datafusion::functions_nested::map_extract::map_extract_udf;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{extract_json, parse_with_format, strings, udf};
use nuage_format::parse::parse_timestamp;

pub fn functions() -> Vec<ScalarUDF> {
    let immutable = Volatility::Immutable;
    let timestamp = DataType::Timestamp(TimeUnit::Nanosecond, None);
    vec![
        ScalarUDF::from(ElementAt {
            signature: Signature::any(2, immutable),
        }),
        udf("date_parse", &[2], immutable, timestamp.clone(), date_parse),
        udf(
            "from_iso8601_timestamp",
            &[1],
            immutable,
            timestamp,
            from_iso8601_timestamp,
        ),
        udf(
            "from_iso8601_date",
            &[1],
            immutable,
            DataType::Date32,
            from_iso8601_date,
        ),
        udf(
            "json_extract_scalar",
            &[2],
            immutable,
            DataType::Utf8,
            |args, _| json_extract(args, true),
        ),
        udf(
            "json_extract",
            &[2],
            immutable,
            DataType::Utf8,
            |args, _| json_extract(args, false),
        ),
    ]
}

/// `element_at(array, i)`: 1-based, negative counts from the end, NULL when
/// out of range; `element_at(map, key)`: the value or NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ElementAt {
    signature: Signature,
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[0] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                Ok(f.data_type().clone())
            }
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Ok(kv[1].data_type().clone()),
                other => exec_err!("element_at: unexpected map layout {other}"),
            },
            DataType::Null => Ok(DataType::Null),
            other => exec_err!("element_at takes an array or a map, not {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match args.args[0].data_type() {
            DataType::Map(..) => {
                // map_extract gives a one-element list of the value.
                let rows = args.number_rows;
                let list_type = DataType::List(Arc::new(Field::new_list_field(
                    args.return_field.data_type().clone(),
                    true,
                )));
                let list = map_extract_udf().invoke_with_args(ScalarFunctionArgs {
                    args: args.args.clone(),
                    arg_fields: args.arg_fields.clone(),
                    number_rows: rows,
                    return_field: Arc::new(Field::new("values", list_type, true)),
                    config_options: args.config_options.clone(),
                })?;
                array_element_udf().invoke_with_args(ScalarFunctionArgs {
                    args: vec![list, ColumnarValue::Scalar(ScalarValue::Int64(Some(1)))],
                    ..args
                })
            }
            _ => {
                let mut args = args;
                let index = args.args[1].cast_to(&DataType::Int64, None)?;
                args.args[1] = index;
                array_element_udf().invoke_with_args(args)
            }
        }
    }
}

/// MySQL's format letters (as Trino's `date_parse` reads them) in chrono's spelling.
fn mysql_to_chrono(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = match chars.next() {
            Some('i') => "%M",
            Some('s') | Some('S') => "%S",
            Some('f') => "%6f",
            Some('c') => "%m",
            Some('e') => "%d",
            Some('M') => "%B",
            Some('W') => "%A",
            Some('T') => "%H:%M:%S",
            Some('r') => "%I:%M:%S %p",
            Some('h') | Some('l') => "%I",
            Some('k') => "%H",
            Some('Y') => "%Y",
            Some('y') => "%y",
            Some('m') => "%m",
            Some('d') => "%d",
            Some('H') => "%H",
            Some('I') => "%I",
            Some('p') => "%p",
            Some('b') => "%b",
            Some('a') => "%a",
            Some('j') => "%j",
            Some('%') => "%%",
            Some(other) => {
                out.push(other);
                continue;
            }
            None => break,
        };
        out.push_str(spec);
    }
    out
}

/// `date_parse(text, format)` -> timestamp; NULL when the text does not match.
fn date_parse(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let text = strings(&args[0])?;
    let formats = strings(&args[1])?;
    let (text, formats) = (text.as_string::<i32>(), formats.as_string::<i32>());
    let out: datafusion::arrow::array::TimestampNanosecondArray = (0..text.len())
        .map(|i| {
            if text.is_null(i) || formats.is_null(i) {
                return None;
            }
            let format = mysql_to_chrono(formats.value(i));
            parse_with_format(text.value(i).trim(), &format)
                .and_then(|ts| ts.and_utc().timestamp_nanos_opt())
        })
        .collect();
    Ok(Arc::new(out))
}

fn from_iso8601_timestamp(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let text = strings(&args[0])?;
    let out: datafusion::arrow::array::TimestampNanosecondArray = text
        .as_string::<i32>()
        .iter()
        .map(|v| v.and_then(|v| parse_timestamp(v.as_bytes())))
        .collect();
    Ok(Arc::new(out))
}

fn from_iso8601_date(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let text = strings(&args[0])?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let out: Date32Array = text
        .as_string::<i32>()
        .iter()
        .map(|v| {
            let date = chrono::NaiveDate::parse_from_str(v?.trim(), "%Y-%m-%d").ok()?;
            i32::try_from((date - epoch).num_days()).ok()
        })
        .collect();
    Ok(Arc::new(out))
}

/// `json_extract_scalar` gives the text of a string, number or boolean (NULL
/// for objects and arrays); `json_extract` gives any value as JSON text.
fn json_extract(args: &[ArrayRef], scalar_only: bool) -> Result<ArrayRef> {
    if scalar_only {
        extract_json(args, |found| match found {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Null
            | serde_json::Value::Object(_)
            | serde_json::Value::Array(_) => None,
            other => Some(other.to_string()),
        })
    } else {
        extract_json(args, |found| Some(found.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_formats() {
        assert_eq!(mysql_to_chrono("%Y-%m-%d %H:%i:%s"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(mysql_to_chrono("%d/%b/%Y:%T"), "%d/%b/%Y:%H:%M:%S");
    }
}
