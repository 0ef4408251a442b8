//! Arrays, maps and structs: from LazySimpleSerDe text (collection and map
//! key separators by nesting level) and from JSON values.

use datafusion::arrow::array::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, MapBuilder,
    StringBuilder, StructBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::DataType;
use serde_json::Value;

use crate::builder::Separators;
use crate::parse::*;

pub(crate) fn append_nested_null(builder: &mut dyn ArrayBuilder, ty: &DataType) {
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
pub(crate) enum Leaf<'a> {
    Text(&'a [u8]),
    Json(&'a Value),
}

/// Appends a primitive or nested value into a generic builder of type `ty`.
pub(crate) fn append_field(builder: &mut dyn ArrayBuilder, ty: &DataType, leaf: Option<Leaf>) {
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
pub(crate) fn append_nested_text(
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

pub(crate) fn append_nested_json(builder: &mut dyn ArrayBuilder, ty: &DataType, value: &Value) {
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

pub(crate) fn json_leaf(value: &Value) -> Option<Leaf<'_>> {
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
