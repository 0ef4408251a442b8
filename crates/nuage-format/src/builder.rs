//! Column builders that turn text and JSON fields into Arrow values with Hive's
//! forgiving rules: a field that does not parse as its column's type is NULL,
//! never an error.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    ListBuilder, MapBuilder, StringBuilder, StructBuilder, TimestampNanosecondBuilder,
    make_builder,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use serde_json::Value;

/// The separators of one LazySimpleSerDe table, by nesting level:
/// `[field, collection items, map keys, \004, \005, ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Separators {
    pub levels: Vec<u8>,
    /// `serialization.null.format`, `\N` by default.
    pub null: Vec<u8>,
    /// `escape.delim`: the byte before a separator that makes it literal.
    pub escape: Option<u8>,
}

impl Default for Separators {
    fn default() -> Self {
        let mut levels = vec![1u8, 2, 3];
        levels.extend(4u8..=8);
        levels.extend(11u8..=26);
        Self {
            levels,
            null: b"\\N".to_vec(),
            escape: None,
        }
    }
}

impl Separators {
    fn at(&self, level: usize) -> u8 {
        self.levels.get(level).copied().unwrap_or(0)
    }
}

/// One output column being filled row by row.
pub enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Date32(Date32Builder),
    Timestamp(TimestampNanosecondBuilder),
    /// Arrays, maps and structs, built through Arrow's generic builders.
    Nested(Box<dyn ArrayBuilder>, DataType),
}

impl ColumnBuilder {
    pub fn new(ty: &DataType, capacity: usize) -> Self {
        match ty {
            DataType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Int8 => Self::Int8(Int8Builder::with_capacity(capacity)),
            DataType::Int16 => Self::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => Self::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => Self::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => Self::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => Self::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Decimal128(p, s) => Self::Decimal(
                Decimal128Builder::with_capacity(capacity).with_data_type(ty.clone()),
                *p,
                *s,
            ),
            DataType::Utf8 => Self::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Binary => Self::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Date32 => Self::Date32(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(_, _) => {
                Self::Timestamp(TimestampNanosecondBuilder::with_capacity(capacity))
            }
            other => Self::Nested(make_builder(other, capacity), other.clone()),
        }
    }

    pub fn append_null(&mut self) {
        match self {
            Self::Boolean(b) => b.append_null(),
            Self::Int8(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal(b, _, _) => b.append_null(),
            Self::Utf8(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::Date32(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Nested(b, ty) => append_nested_null(b.as_mut(), ty),
        }
    }

    /// Appends one delimited-text field (already known not to be the null marker
    /// when `field` is Some). Complex types split on the separators of `level + 1`.
    pub fn append_text(&mut self, field: Option<&[u8]>, seps: &Separators) {
        let Some(field) = field else {
            return self.append_null();
        };
        match self {
            Self::Boolean(b) => b.append_option(parse_bool(field)),
            Self::Int8(b) => b.append_option(parse_int(field).and_then(|v| i8::try_from(v).ok())),
            Self::Int16(b) => b.append_option(parse_int(field).and_then(|v| i16::try_from(v).ok())),
            Self::Int32(b) => b.append_option(parse_int(field).and_then(|v| i32::try_from(v).ok())),
            Self::Int64(b) => b.append_option(parse_int(field)),
            Self::Float32(b) => b.append_option(parse_float(field).map(|v| v as f32)),
            Self::Float64(b) => b.append_option(parse_float(field)),
            Self::Decimal(b, p, s) => b.append_option(parse_decimal(field, *p, *s)),
            Self::Utf8(b) => match seps.escape {
                Some(escape) if field.contains(&escape) => {
                    b.append_value(String::from_utf8_lossy(&unescape(field, escape)))
                }
                _ => b.append_value(String::from_utf8_lossy(field)),
            },
            Self::Binary(b) => b.append_value(field),
            Self::Date32(b) => b.append_option(parse_date(field)),
            Self::Timestamp(b) => b.append_option(parse_timestamp(field)),
            Self::Nested(b, ty) => append_nested_text(b.as_mut(), ty, field, seps, 1),
        }
    }

    /// Appends one JSON value; values of the wrong shape are NULL.
    pub fn append_json(&mut self, value: Option<&Value>) {
        let value = match value {
            None | Some(Value::Null) => return self.append_null(),
            Some(v) => v,
        };
        match self {
            Self::Utf8(b) => match value {
                Value::String(s) => b.append_value(s),
                other => b.append_value(other.to_string()),
            },
            Self::Nested(b, ty) => append_nested_json(b.as_mut(), ty, value),
            _ => match value {
                Value::String(s) => self.append_text(Some(s.as_bytes()), &Separators::default()),
                Value::Bool(v) => match self {
                    Self::Boolean(b) => b.append_value(*v),
                    other => other.append_null(),
                },
                // Numbers as their text would read, without the text.
                Value::Number(n) => match (self, n.as_i64()) {
                    (Self::Int64(b), Some(v)) => b.append_value(v),
                    (Self::Int32(b), Some(v)) => b.append_option(i32::try_from(v).ok()),
                    (Self::Int16(b), Some(v)) => b.append_option(i16::try_from(v).ok()),
                    (Self::Int8(b), Some(v)) => b.append_option(i8::try_from(v).ok()),
                    (Self::Float64(b), _) => b.append_option(n.as_f64()),
                    (Self::Float32(b), _) => b.append_option(n.as_f64().map(|v| v as f32)),
                    (other, _) => {
                        other.append_text(Some(n.to_string().as_bytes()), &Separators::default())
                    }
                },
                _ => self.append_null(),
            },
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Int8(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal(b, _, _) => Arc::new(b.finish()),
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Binary(b) => Arc::new(b.finish()),
            Self::Date32(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Nested(b, _) => b.finish(),
        }
    }
}

/// Hive's LazyLong: optional sign, digits, and an ignored fractional part
/// (`"12.7"` reads as 12). Anything else, including spaces, is NULL.
pub fn parse_int(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        b'+' => (false, &field[1..]),
        _ => (false, field),
    };
    let (int_part, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    if int_part.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &b in int_part {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = (b - b'0') as i64;
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// Java's Double.parseDouble: surrounding whitespace allowed, NaN and Infinity too.
pub fn parse_float(field: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(field).ok()?.trim();
    let text = text.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(text);
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => text.parse().ok(),
    }
}

fn parse_bool(field: &[u8]) -> Option<bool> {
    if field.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if field.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

fn parse_decimal(field: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let text = std::str::from_utf8(field).ok()?.trim();
    datafusion::arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(
        text, precision, scale,
    )
    .ok()
}

fn parse_date(field: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(field).ok()?.trim();
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// `yyyy-MM-dd HH:mm:ss[.fffffffff]`, also with `T`, ISO 8601 with a zone
/// (`Z`, `+02:00`; read as UTC), or a bare date (midnight).
pub fn parse_timestamp(field: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(field).ok()?.trim();
    plain_timestamp(text.as_bytes()).or_else(|| parse_timestamp_by_formats(text))
}

/// The common shapes `yyyy-MM-dd`, `yyyy-MM-dd[ T]HH:mm` and
/// `yyyy-MM-dd[ T]HH:mm:ss[.f]` (1 to 9 fraction digits) read directly;
/// None for any other shape, which [`parse_timestamp_by_formats`] then
/// reads (with the same answer for these shapes, only slower).
fn plain_timestamp(text: &[u8]) -> Option<i64> {
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    }
    if text.len() < 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        number(&text[..4])? as i32,
        number(&text[5..7])?,
        number(&text[8..10])?,
    )?;
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    let time = &text[10..];
    if !time.is_empty() {
        if time.len() < 6 || !matches!(time[0], b' ' | b'T') || time[3] != b':' {
            return None;
        }
        hour = number(&time[1..3])?;
        minute = number(&time[4..6])?;
        let rest = &time[6..];
        if !rest.is_empty() {
            if rest.len() < 3 || rest[0] != b':' {
                return None;
            }
            second = number(&rest[1..3])?;
            let fraction = &rest[3..];
            if !fraction.is_empty() {
                if !(2..=10).contains(&fraction.len()) || fraction[0] != b'.' {
                    return None;
                }
                let digits = &fraction[1..];
                nanos = number(digits)? * 10u32.pow(9 - digits.len() as u32);
            }
        }
    }
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    date.and_time(time).and_utc().timestamp_nanos_opt()
}

fn parse_timestamp_by_formats(text: &str) -> Option<i64> {
    if text.len() > 19
        && let Ok(ts) = chrono::DateTime::parse_from_rfc3339(text)
    {
        return ts.naive_utc().and_utc().timestamp_nanos_opt();
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return ts.and_utc().timestamp_nanos_opt();
        }
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// Removes escape bytes: `\,` becomes `,` and `\\` becomes `\`.
pub fn unescape(field: &[u8], escape: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b == escape {
            match bytes.next() {
                Some(b'n') if escape == b'\\' => out.push(b'\n'),
                Some(b'r') if escape == b'\\' => out.push(b'\r'),
                Some(&next) => out.push(next),
                None => out.push(b),
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// Splits on `sep`, leaving escaped separators in place.
pub fn split_escaped(field: &[u8], sep: u8, escape: Option<u8>) -> Vec<&[u8]> {
    let Some(escape) = escape else {
        return field.split(|&b| b == sep).collect();
    };
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < field.len() {
        if field[i] == escape {
            i += 2;
            continue;
        }
        if field[i] == sep {
            parts.push(&field[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&field[start..]);
    parts
}

fn append_nested_null(builder: &mut dyn ArrayBuilder, ty: &DataType) {
    let any = builder.as_any_mut();
    match ty {
        DataType::List(_) => any
            .downcast_mut::<ListBuilder<Box<dyn ArrayBuilder>>>()
            .expect("list builder")
            .append_null(),
        DataType::Map(_, _) => any
            .downcast_mut::<MapBuilder<Box<dyn ArrayBuilder>, Box<dyn ArrayBuilder>>>()
            .expect("map builder")
            .append(false)
            .expect("map builder keys and values are aligned"),
        DataType::Struct(fields) => {
            let b = any.downcast_mut::<StructBuilder>().expect("struct builder");
            for (i, f) in fields.iter().enumerate() {
                append_field(b.field_builders_mut()[i].as_mut(), f.data_type(), None);
            }
            b.append_null();
        }
        other => append_field(builder, other, None),
    }
}

/// A leaf value handed down the nested builders.
#[derive(Clone, Copy)]
enum Leaf<'a> {
    Text(&'a [u8]),
    Json(&'a Value),
}

/// Appends a primitive or nested value into a generic builder of type `ty`.
fn append_field(builder: &mut dyn ArrayBuilder, ty: &DataType, leaf: Option<Leaf>) {
    let any = builder.as_any_mut();
    macro_rules! prim {
        ($builder:ty, $parse:expr) => {{
            let b = any
                .downcast_mut::<$builder>()
                .expect("builder matches its type");
            match leaf {
                None => b.append_null(),
                Some(Leaf::Text(t)) => b.append_option($parse(t)),
                Some(Leaf::Json(Value::String(s))) => b.append_option($parse(s.as_bytes())),
                Some(Leaf::Json(Value::Number(n))) => {
                    b.append_option($parse(n.to_string().as_bytes()))
                }
                Some(Leaf::Json(Value::Bool(v))) => {
                    b.append_option($parse(v.to_string().as_bytes()))
                }
                Some(Leaf::Json(_)) => b.append_null(),
            }
        }};
    }
    match ty {
        DataType::Boolean => prim!(BooleanBuilder, parse_bool),
        DataType::Int8 => prim!(Int8Builder, |t| parse_int(t)
            .and_then(|v| i8::try_from(v).ok())),
        DataType::Int16 => prim!(Int16Builder, |t| parse_int(t)
            .and_then(|v| i16::try_from(v).ok())),
        DataType::Int32 => prim!(Int32Builder, |t| parse_int(t)
            .and_then(|v| i32::try_from(v).ok())),
        DataType::Int64 => prim!(Int64Builder, parse_int),
        DataType::Float32 => prim!(Float32Builder, |t| parse_float(t).map(|v| v as f32)),
        DataType::Float64 => prim!(Float64Builder, parse_float),
        DataType::Decimal128(p, s) => prim!(Decimal128Builder, |t| parse_decimal(t, *p, *s)),
        DataType::Date32 => prim!(Date32Builder, parse_date),
        DataType::Timestamp(_, _) => prim!(TimestampNanosecondBuilder, parse_timestamp),
        DataType::Binary => prim!(BinaryBuilder, |t: &[u8]| Some(t.to_vec())),
        DataType::Utf8 => {
            let b = any.downcast_mut::<StringBuilder>().expect("string builder");
            match leaf {
                None => b.append_null(),
                Some(Leaf::Text(t)) => b.append_value(String::from_utf8_lossy(t)),
                Some(Leaf::Json(Value::String(s))) => b.append_value(s),
                Some(Leaf::Json(other)) => b.append_value(other.to_string()),
            }
        }
        DataType::List(_) | DataType::Map(_, _) | DataType::Struct(_) => match leaf {
            None => append_nested_null(builder, ty),
            Some(Leaf::Json(v)) => append_nested_json(builder, ty, v),
            Some(Leaf::Text(_)) => unreachable!("nested text goes through append_nested_text"),
        },
        other => unreachable!("no builder for {other}"),
    }
}

/// Delimited text into an array, map or struct: items split by the separator of
/// `level`, map keys by the one of `level + 1`.
fn append_nested_text(
    builder: &mut dyn ArrayBuilder,
    ty: &DataType,
    field: &[u8],
    seps: &Separators,
    level: usize,
) {
    let null = seps.null.as_slice();
    let child = |b: &mut dyn ArrayBuilder, t: &DataType, text: &[u8], next: usize| {
        if text == null {
            append_field(b, t, None)
        } else if matches!(
            t,
            DataType::List(_) | DataType::Map(_, _) | DataType::Struct(_)
        ) {
            append_nested_text(b, t, text, seps, next)
        } else {
            append_field(b, t, Some(Leaf::Text(text)))
        }
    };
    let any = builder.as_any_mut();
    match ty {
        DataType::List(item) => {
            let b = any
                .downcast_mut::<ListBuilder<Box<dyn ArrayBuilder>>>()
                .expect("list builder");
            if !field.is_empty() {
                for part in split_escaped(field, seps.at(level), seps.escape) {
                    child(b.values().as_mut(), item.data_type(), part, level + 1);
                }
            }
            b.append(true);
        }
        DataType::Map(entries, _) => {
            let DataType::Struct(kv) = entries.data_type() else {
                unreachable!("map entries are structs")
            };
            let b = any
                .downcast_mut::<MapBuilder<Box<dyn ArrayBuilder>, Box<dyn ArrayBuilder>>>()
                .expect("map builder");
            if !field.is_empty() {
                for entry in split_escaped(field, seps.at(level), seps.escape) {
                    let (key, value) = match entry.iter().position(|&c| c == seps.at(level + 1)) {
                        Some(i) => (&entry[..i], Some(&entry[i + 1..])),
                        None => (entry, None),
                    };
                    // Map keys may not be NULL: an unparsable key drops the entry's key to text.
                    append_field(b.keys().as_mut(), kv[0].data_type(), Some(Leaf::Text(key)));
                    match value {
                        Some(v) => child(b.values().as_mut(), kv[1].data_type(), v, level + 2),
                        None => append_field(b.values().as_mut(), kv[1].data_type(), None),
                    }
                }
            }
            b.append(true).expect("map keys and values are aligned");
        }
        DataType::Struct(fields) => {
            let b = any.downcast_mut::<StructBuilder>().expect("struct builder");
            let parts = split_escaped(field, seps.at(level), seps.escape);
            for (i, f) in fields.iter().enumerate() {
                let child_builder = b.field_builders_mut()[i].as_mut();
                match parts.get(i) {
                    Some(part) => child(child_builder, f.data_type(), part, level + 1),
                    None => append_field(child_builder, f.data_type(), None),
                }
            }
            b.append(true);
        }
        other => append_field(builder, other, Some(Leaf::Text(field))),
    }
}

fn append_nested_json(builder: &mut dyn ArrayBuilder, ty: &DataType, value: &Value) {
    let any = builder.as_any_mut();
    match (ty, value) {
        (DataType::List(item), Value::Array(items)) => {
            let b = any
                .downcast_mut::<ListBuilder<Box<dyn ArrayBuilder>>>()
                .expect("list builder");
            for v in items {
                append_field(b.values().as_mut(), item.data_type(), json_leaf(v));
            }
            b.append(true);
        }
        (DataType::Map(entries, _), Value::Object(map)) => {
            let DataType::Struct(kv) = entries.data_type() else {
                unreachable!("map entries are structs")
            };
            let b = any
                .downcast_mut::<MapBuilder<Box<dyn ArrayBuilder>, Box<dyn ArrayBuilder>>>()
                .expect("map builder");
            for (k, v) in map {
                append_field(
                    b.keys().as_mut(),
                    kv[0].data_type(),
                    Some(Leaf::Text(k.as_bytes())),
                );
                append_field(b.values().as_mut(), kv[1].data_type(), json_leaf(v));
            }
            b.append(true).expect("map keys and values are aligned");
        }
        (DataType::Struct(fields), Value::Object(map)) => {
            let b = any.downcast_mut::<StructBuilder>().expect("struct builder");
            for (i, f) in fields.iter().enumerate() {
                let v = lookup_ignore_case(map, f.name());
                append_field(
                    b.field_builders_mut()[i].as_mut(),
                    f.data_type(),
                    v.and_then(json_leaf),
                );
            }
            b.append(true);
        }
        _ => append_nested_null(builder, ty),
    }
}

fn json_leaf(value: &Value) -> Option<Leaf<'_>> {
    match value {
        Value::Null => None,
        v => Some(Leaf::Json(v)),
    }
}

/// A JSON object's member by name, exact match first, then ignoring case.
pub fn lookup_ignore_case<'a>(
    map: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_timestamps_read_as_the_formats_do() {
        let samples = [
            "2025-11-22 09:05:07",
            "2025-11-22T09:05:07.5",
            "2025-11-22 09:05:07.123456789",
            "2025-11-22 09:05",
            "2025-11-22T23:59",
            "2025-11-22",
            "1970-01-01 00:00:00",
            "2024-02-29 12:00:00.01",
        ];
        for text in samples {
            let plain = plain_timestamp(text.as_bytes());
            assert!(plain.is_some(), "{text}");
            assert_eq!(plain, parse_timestamp_by_formats(text), "{text}");
        }
        // Other shapes are left to the formats.
        for text in [
            "2023-02-29 10:00:00",
            "0001-01-01 00:00:00",
            "2025-11-22 24:00:00",
            "2025-11-22 09:05:60",
            "2025-11-22 09:05:07.",
            "2025-11-22 09:05:07.1234567891",
            "2025-11-22T09:05:07Z",
            "2025-11-22 9:05:07",
            "25-11-22",
            "2025-1-22",
        ] {
            assert_eq!(plain_timestamp(text.as_bytes()), None, "{text}");
        }
        assert_eq!(
            parse_timestamp(b"2025-11-22T09:05:07+01:00"),
            parse_timestamp(b"2025-11-22 08:05:07")
        );
        assert_eq!(
            parse_timestamp(b" 2025-11-22 "),
            parse_timestamp(b"2025-11-22")
        );
    }

    #[test]
    fn json_numbers_read_as_their_text_does() {
        let values: Vec<Value> =
            serde_json::from_str("[12, 12.7, -3, 300, 1e3, 18446744073709551615, 2.5e-3]").unwrap();
        for ty in [
            DataType::Int8,
            DataType::Int32,
            DataType::Int64,
            DataType::Float32,
            DataType::Float64,
            DataType::Decimal128(10, 2),
        ] {
            let mut direct = ColumnBuilder::new(&ty, values.len());
            let mut text = ColumnBuilder::new(&ty, values.len());
            for v in &values {
                direct.append_json(Some(v));
                text.append_text(Some(v.to_string().as_bytes()), &Separators::default());
            }
            assert_eq!(direct.finish().to_data(), text.finish().to_data(), "{ty}");
        }
    }
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int32Type;

    #[test]
    fn ints_follow_lazy_long() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b"-7"), Some(-7));
        assert_eq!(parse_int(b"12.9"), Some(12));
        assert_eq!(parse_int(b" 1"), None);
        assert_eq!(parse_int(b"abc"), None);
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"99999999999999999999"), None);
    }

    #[test]
    fn floats_follow_java() {
        assert_eq!(parse_float(b" 3.5 "), Some(3.5));
        assert_eq!(parse_float(b"1e3"), Some(1000.0));
        assert!(parse_float(b"NaN").unwrap().is_nan());
        assert_eq!(parse_float(b"x1"), None);
        assert_eq!(parse_float(b"inf"), None);
    }

    #[test]
    fn bad_fields_become_null() {
        let mut b = ColumnBuilder::new(&DataType::Int32, 4);
        for field in [&b"1"[..], b"oops", b"3"] {
            b.append_text(Some(field), &Separators::default());
        }
        let array = b.finish();
        let ints = array.as_primitive::<Int32Type>();
        assert_eq!(
            ints.iter().collect::<Vec<_>>(),
            vec![Some(1), None, Some(3)]
        );
    }

    #[test]
    fn arrays_and_maps_split_on_collection_separators() {
        let seps = Separators {
            levels: vec![b',', b'|', b':'],
            ..Separators::default()
        };
        let ty = crate::types::arrow_type(&nuage_catalog::HiveType::parse("array<int>").unwrap());
        let mut b = ColumnBuilder::new(&ty, 2);
        b.append_text(Some(b"1|2|x"), &seps);
        b.append_text(None, &seps);
        let array = b.finish();
        let list = array.as_list::<i32>();
        assert_eq!(list.len(), 2);
        assert!(list.is_null(1));
        let first = list.value(0);
        assert_eq!(
            first.as_primitive::<Int32Type>().iter().collect::<Vec<_>>(),
            vec![Some(1), Some(2), None]
        );

        let ty =
            crate::types::arrow_type(&nuage_catalog::HiveType::parse("map<string,int>").unwrap());
        let mut b = ColumnBuilder::new(&ty, 1);
        b.append_text(Some(b"a:1|b:2"), &seps);
        let array = b.finish();
        assert_eq!(array.as_map().value(0).len(), 2);
    }

    #[test]
    fn escaped_separators_stay_in_the_value() {
        assert_eq!(
            split_escaped(b"a\\,b,c", b',', Some(b'\\')),
            vec![&b"a\\,b"[..], b"c"]
        );
        assert_eq!(unescape(b"a\\,b", b'\\'), b"a,b");
    }
}
