//! Values as Hive prints them (the CLI) and writes them (text tables).
//!
//! Hive's CLI prints NULL as `NULL`, doubles the way Java's `Double.toString`
//! does (`3.0`, `1.0E7`), and nested values as JSON-like text
//! (`["a","b"]`, `{"k":1}`). Text tables store the same scalars, but NULL as
//! `\N` and nested values joined with the collection separators.

use std::fmt::Write;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::Separators;

/// How to render values.
#[derive(Debug, Clone, Copy)]
pub enum Style<'a> {
    /// The Hive CLI: NULL as `NULL`, nested values as JSON-like text.
    Cli,
    /// A text table file: NULL as the null marker, nested values split by separators.
    Text(&'a Separators),
}

/// Appends the value at `row` of `array` to `out`.
pub fn write_value(out: &mut String, array: &ArrayRef, row: usize, style: Style) {
    write_at(out, array.as_ref(), row, style, 0, false);
}

/// Null at `row`? (A `NullArray` has no validity bitmap: every row is null.)
pub fn is_null(array: &dyn Array, row: usize) -> bool {
    array.data_type() == &DataType::Null || array.is_null(row)
}

fn write_at(
    out: &mut String,
    array: &dyn Array,
    row: usize,
    style: Style,
    level: usize,
    nested: bool,
) {
    if is_null(array, row) {
        match (style, nested) {
            (Style::Cli, false) => out.push_str("NULL"),
            (Style::Cli, true) => out.push_str("null"),
            (Style::Text(seps), _) => out.push_str(&String::from_utf8_lossy(&seps.null)),
        }
        return;
    }
    match array.data_type() {
        DataType::Utf8 => write_str(out, array.as_string::<i32>().value(row), style, nested),
        DataType::LargeUtf8 => write_str(out, array.as_string::<i64>().value(row), style, nested),
        DataType::Utf8View => write_str(out, array.as_string_view().value(row), style, nested),
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => write!(out, "{}", array.as_primitive::<Int8Type>().value(row)).unwrap(),
        DataType::Int16 => write!(out, "{}", array.as_primitive::<Int16Type>().value(row)).unwrap(),
        DataType::Int32 => write!(out, "{}", array.as_primitive::<Int32Type>().value(row)).unwrap(),
        DataType::Int64 => write!(out, "{}", array.as_primitive::<Int64Type>().value(row)).unwrap(),
        DataType::UInt8 => write!(out, "{}", array.as_primitive::<UInt8Type>().value(row)).unwrap(),
        DataType::UInt16 => {
            write!(out, "{}", array.as_primitive::<UInt16Type>().value(row)).unwrap()
        }
        DataType::UInt32 => {
            write!(out, "{}", array.as_primitive::<UInt32Type>().value(row)).unwrap()
        }
        DataType::UInt64 => {
            write!(out, "{}", array.as_primitive::<UInt64Type>().value(row)).unwrap()
        }
        DataType::Float64 => {
            out.push_str(&java_double(array.as_primitive::<Float64Type>().value(row)))
        }
        DataType::Float32 => {
            out.push_str(&java_float(array.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            match chrono::DateTime::from_timestamp(days as i64 * 86_400, 0) {
                Some(d) => write!(out, "{}", d.format("%Y-%m-%d")).unwrap(),
                None => out.push_str("NULL"),
            }
        }
        DataType::Date64 => {
            let ms = array.as_primitive::<Date64Type>().value(row);
            match chrono::DateTime::from_timestamp_millis(ms) {
                Some(d) => write!(out, "{}", d.format("%Y-%m-%d")).unwrap(),
                None => out.push_str("NULL"),
            }
        }
        DataType::Timestamp(unit, _) => {
            let nanos = match unit {
                TimeUnit::Second => array
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000_000),
                TimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .saturating_mul(1_000),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            write_timestamp(out, nanos);
        }
        DataType::Binary => write_str(
            out,
            &String::from_utf8_lossy(array.as_binary::<i32>().value(row)),
            style,
            nested,
        ),
        DataType::List(_) | DataType::LargeList(_) => {
            let values = if let DataType::List(_) = array.data_type() {
                array.as_list::<i32>().value(row)
            } else {
                array.as_list::<i64>().value(row)
            };
            write_list(out, values.as_ref(), style, level);
        }
        DataType::FixedSizeList(_, _) => {
            let values = array.as_fixed_size_list().value(row);
            write_list(out, values.as_ref(), style, level);
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            match style {
                Style::Cli => {
                    out.push('{');
                    for i in 0..entries.len() {
                        if i > 0 {
                            out.push(',');
                        }
                        let mut key = String::new();
                        write_at(&mut key, keys.as_ref(), i, style, level + 1, true);
                        if key.starts_with('"') {
                            out.push_str(&key);
                        } else {
                            write!(out, "\"{key}\"").unwrap();
                        }
                        out.push(':');
                        write_at(out, values.as_ref(), i, style, level + 1, true);
                    }
                    out.push('}');
                }
                Style::Text(seps) => {
                    for i in 0..entries.len() {
                        if i > 0 {
                            out.push(seps.levels.get(level + 1).copied().unwrap_or(b',') as char);
                        }
                        write_at(out, keys.as_ref(), i, style, level + 2, true);
                        out.push(seps.levels.get(level + 2).copied().unwrap_or(b':') as char);
                        write_at(out, values.as_ref(), i, style, level + 2, true);
                    }
                }
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            match style {
                Style::Cli => {
                    out.push('{');
                    for (i, f) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write!(out, "\"{}\":", f.name()).unwrap();
                        write_at(out, s.column(i).as_ref(), row, style, level + 1, true);
                    }
                    out.push('}');
                }
                Style::Text(seps) => {
                    for i in 0..fields.len() {
                        if i > 0 {
                            out.push(seps.levels.get(level + 1).copied().unwrap_or(b',') as char);
                        }
                        write_at(out, s.column(i).as_ref(), row, style, level + 1, true);
                    }
                }
            }
        }
        DataType::Dictionary(_, _) => {
            let formatted = ArrayFormatter::try_new(array, &FormatOptions::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
            write_str(out, &formatted, style, nested);
        }
        _ => {
            // Decimals, intervals, times: Arrow's own rendering matches Hive's closely enough.
            let formatted = ArrayFormatter::try_new(array, &FormatOptions::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
            out.push_str(&formatted);
        }
    }
}

fn write_list(out: &mut String, values: &dyn Array, style: Style, level: usize) {
    match style {
        Style::Cli => {
            out.push('[');
            for i in 0..values.len() {
                if i > 0 {
                    out.push(',');
                }
                write_at(out, values, i, style, level + 1, true);
            }
            out.push(']');
        }
        Style::Text(seps) => {
            for i in 0..values.len() {
                if i > 0 {
                    out.push(seps.levels.get(level + 1).copied().unwrap_or(b',') as char);
                }
                write_at(out, values, i, style, level + 1, true);
            }
        }
    }
}

fn write_str(out: &mut String, value: &str, style: Style, nested: bool) {
    match style {
        Style::Cli if nested => {
            out.push('"');
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Style::Text(seps) if seps.escape.is_some() => {
            let escape = seps.escape.expect("checked") as char;
            for c in value.chars() {
                if c == escape || (c.is_ascii() && seps.levels.contains(&(c as u8))) || c == '\n' {
                    out.push(escape);
                    out.push(if c == '\n' { 'n' } else { c });
                } else {
                    out.push(c);
                }
            }
        }
        _ => out.push_str(value),
    }
}

/// `yyyy-MM-dd HH:mm:ss[.fff...]` with trailing zeros of the fraction removed.
fn write_timestamp(out: &mut String, nanos: i64) {
    let dt = chrono::DateTime::from_timestamp_nanos(nanos).naive_utc();
    write!(out, "{}", dt.format("%Y-%m-%d %H:%M:%S")).unwrap();
    let frac = nanos.rem_euclid(1_000_000_000);
    if frac != 0 {
        let digits = format!("{frac:09}");
        write!(out, ".{}", digits.trim_end_matches('0')).unwrap();
    }
}

/// Java's `Double.toString`: plain notation for 1e-3 <= |v| < 1e7, otherwise
/// `d.dddE±n`; always at least one digit after the point.
pub fn java_double(v: f64) -> String {
    java_format(v, format!("{v:e}"))
}

/// Java's `Float.toString` (shortest digits of the f32).
pub fn java_float(v: f32) -> String {
    java_format(v as f64, format!("{v:e}"))
}

fn java_format(v: f64, sci: String) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // `sci` looks like "-1.2345e-5": split sign, digits, exponent.
    let (mantissa, exp) = sci.split_once('e').expect("scientific notation");
    let exp: i32 = exp.parse().expect("exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    let abs = v.abs();
    if (1e-3..1e7).contains(&abs) {
        let point = exp + 1; // digits before the decimal point
        let (int_part, frac_part) = if point <= 0 {
            (
                "0".to_string(),
                format!("{}{}", "0".repeat((-point) as usize), digits),
            )
        } else if point as usize >= digits.len() {
            (
                format!("{}{}", digits, "0".repeat(point as usize - digits.len())),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_string(),
                digits[point as usize..].to_string(),
            )
        };
        let frac_part = if frac_part.is_empty() {
            "0".to_string()
        } else {
            frac_part
        };
        format!("{sign}{int_part}.{frac_part}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, ListArray, StringArray};
    use datafusion::arrow::datatypes::Int32Type as I32;
    use std::sync::Arc;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1234567.5), "1234567.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(12345678.9), "1.23456789E7");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(-2.25), "-2.25");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_float(0.1), "0.1");
        assert_eq!(java_double(f64::NAN), "NaN");
    }

    #[test]
    fn nested_values_print_like_the_hive_cli() {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<I32, _, _>(vec![Some(
            vec![Some(1), None, Some(3)],
        )]));
        let mut out = String::new();
        write_value(&mut out, &list, 0, Style::Cli);
        assert_eq!(out, "[1,null,3]");

        let strings: ArrayRef = Arc::new(StringArray::from(vec![None, Some("x")]));
        let mut out = String::new();
        write_value(&mut out, &strings, 0, Style::Cli);
        write_value(&mut out, &strings, 1, Style::Cli);
        assert_eq!(out, "NULLx");

        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![7.0]));
        let mut out = String::new();
        write_value(&mut out, &doubles, 0, Style::Text(&Separators::default()));
        assert_eq!(out, "7.0");
    }
}
