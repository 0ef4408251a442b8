//! Column builders that turn text and JSON fields into Arrow values with Hive's
//! forgiving rules: a field that does not parse as its column's type is NULL,
//! never an error.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampNanosecondBuilder, make_builder,
};
use datafusion::arrow::datatypes::DataType;
use serde_json::Value;

use crate::nested::{append_nested_json, append_nested_null, append_nested_text};
use crate::parse::*;

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
    pub(crate) fn at(&self, level: usize) -> u8 {
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
