//! Hive types as Arrow types, and back.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use nuage_catalog::{Column, HiveType};

/// The Arrow type nuage uses for a Hive type.
pub fn arrow_type(ty: &HiveType) -> DataType {
    match ty {
        HiveType::Boolean => DataType::Boolean,
        HiveType::TinyInt => DataType::Int8,
        HiveType::SmallInt => DataType::Int16,
        HiveType::Int => DataType::Int32,
        HiveType::BigInt => DataType::Int64,
        HiveType::Float => DataType::Float32,
        HiveType::Double => DataType::Float64,
        HiveType::Decimal(p, s) => DataType::Decimal128(*p, *s),
        HiveType::String | HiveType::Varchar(_) | HiveType::Char(_) => DataType::Utf8,
        HiveType::Date => DataType::Date32,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Nanosecond, None),
        HiveType::Binary => DataType::Binary,
        HiveType::Array(inner) => {
            DataType::List(Arc::new(Field::new("item", arrow_type(inner), true)))
        }
        HiveType::Map(k, v) => DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", arrow_type(k), false),
                    Field::new("value", arrow_type(v), true),
                ])),
                false,
            )),
            false,
        ),
        HiveType::Struct(fields) => DataType::Struct(Fields::from(
            fields
                .iter()
                .map(|(name, ty)| Field::new(name, arrow_type(ty), true))
                .collect::<Vec<_>>(),
        )),
    }
}

/// The Hive type that best holds an Arrow type (for CTAS and views).
pub fn hive_type(ty: &DataType) -> Result<HiveType, String> {
    Ok(match ty {
        DataType::Null => HiveType::String,
        DataType::Boolean => HiveType::Boolean,
        DataType::Int8 => HiveType::TinyInt,
        DataType::Int16 | DataType::UInt8 => HiveType::SmallInt,
        DataType::Int32 | DataType::UInt16 => HiveType::Int,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => HiveType::BigInt,
        DataType::Float16 | DataType::Float32 => HiveType::Float,
        DataType::Float64 => HiveType::Double,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            HiveType::Decimal((*p).min(38), *s)
        }
        DataType::Decimal256(_, s) => HiveType::Decimal(38, *s),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => HiveType::String,
        DataType::Date32 | DataType::Date64 => HiveType::Date,
        DataType::Timestamp(_, _) => HiveType::Timestamp,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => HiveType::Binary,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::FixedSizeList(f, _) => HiveType::Array(Box::new(hive_type(f.data_type())?)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => HiveType::Map(
                Box::new(hive_type(kv[0].data_type())?),
                Box::new(hive_type(kv[1].data_type())?),
            ),
            other => return Err(format!("unsupported map layout {other}")),
        },
        DataType::Struct(fields) => HiveType::Struct(
            fields
                .iter()
                .map(|f| Ok((f.name().to_lowercase(), hive_type(f.data_type())?)))
                .collect::<Result<_, String>>()?,
        ),
        DataType::Dictionary(_, value) => hive_type(value)?,
        other => {
            return Err(format!(
                "Arrow type {other} has no Hive equivalent; CAST it to a Hive type"
            ));
        }
    })
}

/// The Arrow schema of catalog columns (all nullable, as in Hive).
pub fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.hive_type()), true))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_types_survive_a_round_trip_through_arrow() {
        for text in [
            "int",
            "decimal(10,2)",
            "array<string>",
            "map<string,int>",
            "struct<a:int,b:array<double>>",
            "timestamp",
        ] {
            let ty = HiveType::parse(text).unwrap();
            assert_eq!(hive_type(&arrow_type(&ty)).unwrap().to_string(), text);
        }
    }
}
