//! Hive built-ins that DataFusion lacks or defines differently, as UDFs.
//!
//! Each is a plain function over Arrow arrays; [`HiveUdf`] adapts it to
//! DataFusion. Arguments are accepted in any type and cast inside, the way Hive
//! converts implicitly (`size` of NULL is -1, `from_unixtime` returns text, ...).
//! Times are UTC: nuage servers have no "local" time zone of their own.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int32Array, Int64Array, ListBuilder,
    StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use nuage_common::java_time::{Flavor, JavaPattern};

mod dates;
mod percentile;
mod trino;

pub(crate) use dates::Formatter;
pub use dates::parse_with_format;
use dates::*;

pub(crate) type Kernel = fn(&[ArrayRef], usize) -> Result<ArrayRef>;

/// A Hive function implemented by a kernel over whole arrays.
#[derive(Debug)]
struct HiveUdf {
    name: &'static str,
    signature: Signature,
    return_type: DataType,
    kernel: Kernel,
}

impl PartialEq for HiveUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for HiveUdf {}

impl Hash for HiveUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for HiveUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        (self.kernel)(&arrays, rows).map(ColumnarValue::Array)
    }
}

pub(crate) fn udf(
    name: &'static str,
    arities: &[usize],
    volatility: Volatility,
    return_type: DataType,
    kernel: Kernel,
) -> ScalarUDF {
    let signatures = arities
        .iter()
        .map(|&n| {
            if n == 0 {
                TypeSignature::Nullary
            } else {
                TypeSignature::Any(n)
            }
        })
        .collect();
    ScalarUDF::from(HiveUdf {
        name,
        signature: Signature::one_of(signatures, volatility),
        return_type,
        kernel,
    })
}

/// `weighted_rating(v, R, m, C)`: IMDB's weighted rating
/// `v/(v+m)*R + m/(v+m)*C` of an item with v votes averaging R, where m is
/// the votes needed to count and C the mean over all items. NULL when an
/// argument is NULL or v + m is 0.
fn weighted_rating(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let numbers = args
        .iter()
        .map(|a| cast(a, &DataType::Float64))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let [v, r, m, c] = [0, 1, 2, 3].map(|i| numbers[i].as_primitive::<Float64Type>());
    let result: Float64Array = (0..v.len())
        .map(|i| {
            if numbers.iter().any(|a| a.is_null(i)) {
                return None;
            }
            let (v, r, m, c) = (v.value(i), r.value(i), m.value(i), c.value(i));
            (v + m != 0.0).then(|| v / (v + m) * r + m / (v + m) * c)
        })
        .collect();
    Ok(Arc::new(result))
}

/// Registers every Hive function on a session (replacing same-named DataFusion ones).
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(datafusion::logical_expr::AggregateUDF::new_from_impl(
        percentile::PercentileApprox::new(),
    ));
    let immutable = Volatility::Immutable;
    let string_list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    for f in [
        udf("split", &[2], immutable, string_list, split),
        udf("size", &[1], immutable, DataType::Int32, size),
        udf(
            "get_json_object",
            &[2],
            immutable,
            DataType::Utf8,
            get_json_object,
        ),
        udf(
            "from_unixtime",
            &[1, 2],
            immutable,
            DataType::Utf8,
            from_unixtime,
        ),
        udf(
            "unix_timestamp",
            &[0, 1, 2],
            Volatility::Stable,
            DataType::Int64,
            unix_timestamp,
        ),
        udf("to_date", &[1], immutable, DataType::Date32, to_date),
        udf("date_add", &[2], immutable, DataType::Date32, date_add),
        udf("date_sub", &[2], immutable, DataType::Date32, date_sub),
        udf("datediff", &[2], immutable, DataType::Int32, datediff),
        udf(
            "regexp_extract",
            &[2, 3],
            immutable,
            DataType::Utf8,
            regexp_extract,
        ),
        udf("date_format", &[2], immutable, DataType::Utf8, date_format),
        udf(
            "weighted_rating",
            &[4],
            immutable,
            DataType::Float64,
            weighted_rating,
        ),
        ScalarUDF::from(HiveUdf {
            name: "concat_ws",
            signature: Signature::variadic_any(immutable),
            return_type: DataType::Utf8,
            kernel: concat_ws,
        }),
    ]
    .into_iter()
    .chain(trino::functions())
    {
        ctx.register_udf(f);
    }
}

fn strings(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8)?)
}

/// `split(str, regex)`: Hive splits on a Java regular expression.
fn split(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let text = strings(&args[0])?;
    let pattern = strings(&args[1])?;
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut out = ListBuilder::new(StringBuilder::new());
    let mut cache: Option<(String, regex::Regex)> = None;
    for i in 0..text.len() {
        if text.is_null(i) || pattern.is_null(i) {
            out.append_null();
            continue;
        }
        let p = pattern.value(i);
        if cache.as_ref().is_none_or(|(cached, _)| cached != p) {
            let re = regex::Regex::new(p).map_err(|e| {
                DataFusionError::Execution(format!("split: bad regular expression {p:?}: {e}"))
            })?;
            cache = Some((p.to_string(), re));
        }
        let re = &cache.as_ref().expect("compiled").1;
        let mut parts: Vec<&str> = re.split(text.value(i)).collect();
        // Java's String.split drops trailing empty strings.
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        for part in parts {
            out.values().append_value(part);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

/// `size(array|map)`: element count, -1 for NULL.
fn size(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let array = &args[0];
    let sizes: Int32Array = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            (0..list.len())
                .map(|i| {
                    Some(if list.is_null(i) {
                        -1
                    } else {
                        list.value_length(i)
                    })
                })
                .collect()
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            (0..list.len())
                .map(|i| {
                    Some(if list.is_null(i) {
                        -1
                    } else {
                        list.value_length(i) as i32
                    })
                })
                .collect()
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            (0..map.len())
                .map(|i| {
                    Some(if map.is_null(i) {
                        -1
                    } else {
                        map.value_length(i)
                    })
                })
                .collect()
        }
        DataType::Null => (0..array.len()).map(|_| Some(-1)).collect(),
        other => return exec_err!("size expects an array or a map, got {other}"),
    };
    Ok(Arc::new(sizes))
}

/// `get_json_object(json, '$.a.b[0]')`: Hive's JSONPath subset; objects and
/// arrays come back as JSON text, strings without quotes.
fn get_json_object(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    extract_json(args, |found| match found {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// Applies a JSONPath (`args[1]`) to JSON text (`args[0]`) row by row and
/// renders what it finds; unparsable JSON or a missing path is NULL.
fn extract_json(
    args: &[ArrayRef],
    render: fn(serde_json::Value) -> Option<String>,
) -> Result<ArrayRef> {
    let json = strings(&args[0])?;
    let path = strings(&args[1])?;
    let (json, path) = (json.as_string::<i32>(), path.as_string::<i32>());
    let out: StringArray = (0..json.len())
        .map(|i| {
            if json.is_null(i) || path.is_null(i) {
                return None;
            }
            let value: serde_json::Value = serde_json::from_str(json.value(i)).ok()?;
            render(json_path(&value, path.value(i))?)
        })
        .collect();
    Ok(Arc::new(out))
}

fn json_path(value: &serde_json::Value, path: &str) -> Option<serde_json::Value> {
    let rest = path.strip_prefix('$')?;
    let mut current = vec![value.clone()];
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                current = current
                    .iter()
                    .filter_map(|v| {
                        if key == "*" {
                            Some(v.clone())
                        } else {
                            v.get(&key).cloned()
                        }
                    })
                    .collect();
            }
            '[' => {
                let mut index = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    index.push(n);
                }
                if index == "*" {
                    current = current
                        .iter()
                        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                        .collect();
                    if current.is_empty() {
                        return None;
                    }
                    return Some(serde_json::Value::Array(current));
                }
                let index: usize = index.trim().parse().ok()?;
                current = current
                    .iter()
                    .filter_map(|v| v.get(index).cloned())
                    .collect();
            }
            _ => return None,
        }
    }
    current.into_iter().next()
}

/// `concat_ws(sep, a, b, ...)`: strings and arrays of strings (flattened), NULLs skipped.
fn concat_ws(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let Some((separator, parts)) = args.split_first() else {
        return exec_err!("concat_ws needs a separator and values: concat_ws(',', a, b)");
    };
    let separator = strings(separator)?;
    let separator = separator.as_string::<i32>();
    let parts: Vec<ArrayRef> = parts
        .iter()
        .map(|a| match a.data_type() {
            DataType::List(_) | DataType::LargeList(_) => Ok(cast(
                a,
                &DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            )?),
            _ => strings(a),
        })
        .collect::<Result<_>>()?;
    let mut out = StringBuilder::new();
    let mut pieces: Vec<String> = Vec::new();
    for row in 0..rows {
        if separator.is_null(row) {
            out.append_null();
            continue;
        }
        pieces.clear();
        for part in &parts {
            if part.is_null(row) {
                continue;
            }
            match part.data_type() {
                DataType::List(_) => {
                    let items = part.as_list::<i32>().value(row);
                    pieces.extend(
                        items
                            .as_string::<i32>()
                            .iter()
                            .flatten()
                            .map(str::to_string),
                    );
                }
                _ => pieces.push(part.as_string::<i32>().value(row).to_string()),
            }
        }
        out.append_value(pieces.join(separator.value(row)));
    }
    Ok(Arc::new(out.finish()))
}

/// `regexp_extract(text, pattern[, group])`: group 1 by default; '' when nothing matches.
fn regexp_extract(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let text = strings(&args[0])?;
    let pattern = strings(&args[1])?;
    let groups = match args.get(2) {
        Some(g) => Some(cast(g, &DataType::Int64)?),
        None => None,
    };
    let (text, pattern) = (text.as_string::<i32>(), pattern.as_string::<i32>());
    let mut cache: Option<(String, regex::Regex)> = None;
    let mut out = StringBuilder::new();
    for i in 0..text.len() {
        if text.is_null(i) || pattern.is_null(i) {
            out.append_null();
            continue;
        }
        let p = pattern.value(i);
        if cache.as_ref().is_none_or(|(cached, _)| cached != p) {
            let re = regex::Regex::new(p).map_err(|e| {
                DataFusionError::Execution(format!(
                    "regexp_extract: bad regular expression {p:?}: {e}"
                ))
            })?;
            cache = Some((p.to_string(), re));
        }
        let re = &cache.as_ref().expect("compiled").1;
        let group = groups
            .as_ref()
            .map_or(1, |g| g.as_primitive::<Int64Type>().value(i)) as usize;
        if group > re.captures_len() - 1 {
            return exec_err!("regexp_extract: group {group} does not exist in {p:?}");
        }
        match re.captures(text.value(i)) {
            Some(caps) => out.append_value(caps.get(group).map_or("", |m| m.as_str())),
            None => out.append_value(""),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[{"c":1},{"c":2}]},"s":"x"}"#).unwrap();
        assert_eq!(json_path(&v, "$.a.b[1].c").unwrap(), serde_json::json!(2));
        assert_eq!(json_path(&v, "$.s").unwrap(), serde_json::json!("x"));
        assert!(json_path(&v, "$.missing").is_none());
    }

    #[test]
    fn java_date_formats() {
        assert_eq!(
            java_to_strftime("yyyy-MM-dd HH:mm:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(java_to_strftime("dd/MMM/yyyy'T'HH").unwrap(), "%d/%b/%YT%H");
    }
}
