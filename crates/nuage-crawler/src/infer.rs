//! Type inference as Glue's classifiers do it: each sampled value gets the
//! narrowest type that reads it back, and types widen across values and files
//! (bigint -> double -> string; date -> timestamp; anything mixed -> string).
//!
//! `None` means "only NULLs seen so far"; a column that stays `None` becomes
//! `string`, as in Glue.

use nuage_catalog::HiveType;
use serde_json::Value;

use nuage_format::parse::parse_timestamp;

/// The type of one text field (a CSV cell, a JSON string); `None` for empty.
pub fn text_type(field: &str) -> Option<HiveType> {
    let field = field.trim();
    if field.is_empty() || field == "\\N" {
        return None;
    }
    Some(if is_integer(field) {
        HiveType::BigInt
    } else if is_double(field) {
        HiveType::Double
    } else if field.eq_ignore_ascii_case("true") || field.eq_ignore_ascii_case("false") {
        HiveType::Boolean
    } else if is_date(field) {
        HiveType::Date
    } else if looks_like_timestamp(field)
        && is_plain_timestamp(field).unwrap_or_else(|| parse_timestamp(field.as_bytes()).is_some())
    {
        HiveType::Timestamp
    } else {
        HiveType::String
    })
}

/// The type of a JSON value; objects become structs and arrays arrays.
pub fn json_type(value: &Value) -> Option<HiveType> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(HiveType::Boolean),
        Value::Number(n) if n.is_i64() => Some(HiveType::BigInt),
        // u64 beyond i64 and fractions both read as double.
        Value::Number(_) => Some(HiveType::Double),
        Value::String(s) => match text_type(s) {
            // Numbers written as JSON strings stay strings: the writer meant text.
            Some(HiveType::BigInt | HiveType::Double | HiveType::Boolean) | None => {
                Some(HiveType::String)
            }
            other => other,
        },
        Value::Array(items) => {
            let element = items.iter().map(json_type).fold(None, widen_opt);
            Some(HiveType::Array(Box::new(
                element.unwrap_or(HiveType::String),
            )))
        }
        Value::Object(map) => {
            let fields = map
                .iter()
                .map(|(k, v)| (k.to_lowercase(), json_type(v)))
                .collect();
            Some(struct_of(fields))
        }
    }
}

/// A struct from fields whose types may still be unknown (they become string).
pub fn struct_of(fields: Vec<(String, Option<HiveType>)>) -> HiveType {
    HiveType::Struct(
        fields
            .into_iter()
            .map(|(name, ty)| (name, ty.unwrap_or(HiveType::String)))
            .collect(),
    )
}

pub fn widen_opt(a: Option<HiveType>, b: Option<HiveType>) -> Option<HiveType> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => Some(widen(a, b)),
    }
}

/// The narrowest type that holds values of both types.
pub fn widen(a: HiveType, b: HiveType) -> HiveType {
    use HiveType::*;
    if a == b {
        return a;
    }
    match (a, b) {
        (a, b) if numeric_rank(&a).is_some() && numeric_rank(&b).is_some() => {
            if numeric_rank(&a) >= numeric_rank(&b) {
                a
            } else {
                b
            }
        }
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        (Array(a), Array(b)) => Array(Box::new(widen(*a, *b))),
        (Struct(a), Struct(b)) => {
            let mut fields = a;
            for (name, ty) in b {
                match fields.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, existing)) => *existing = widen(existing.clone(), ty),
                    None => fields.push((name, ty)),
                }
            }
            Struct(fields)
        }
        (Map(ka, va), Map(kb, vb)) => Map(Box::new(widen(*ka, *kb)), Box::new(widen(*va, *vb))),
        _ => String,
    }
}

fn numeric_rank(ty: &HiveType) -> Option<u8> {
    Some(match ty {
        HiveType::TinyInt => 1,
        HiveType::SmallInt => 2,
        HiveType::Int => 3,
        HiveType::BigInt => 4,
        HiveType::Decimal(..) => 5,
        HiveType::Float => 6,
        HiveType::Double => 7,
        _ => return None,
    })
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        // A leading zero (zip codes, ids like 007) means text, as Glue reads it.
        && (digits.len() == 1 || !digits.starts_with('0'))
        && text.parse::<i64>().is_ok()
}

fn is_double(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    // Only plain decimal notation: "NaN", "inf" and "1e5" stay strings.
    body.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        // 007 and 0123.5 are codes, not numbers.
        && !(body.len() > 1 && body.starts_with('0') && body.as_bytes()[1].is_ascii_digit())
        && body.bytes().any(|b| b.is_ascii_digit())
        && text.parse::<f64>().is_ok()
}

/// `yyyy-MM-dd`, checked by hand: the crawler asks this of every sampled field.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return false;
    };
    chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 16 && bytes[4] == b'-' && bytes[7] == b'-' && matches!(bytes[10], b' ' | b'T')
}

/// `yyyy-MM-dd HH:mm:ss[.fff]` (or with `T`), the common case, without
/// chrono's format parser; anything else goes to [`parse_timestamp`].
fn is_plain_timestamp(text: &str) -> Option<bool> {
    let b = text.as_bytes();
    if b.len() < 19 || b[13] != b':' || b[16] != b':' || !is_date(&text[..10]) {
        return None;
    }
    let (Some(h), Some(m), Some(s)) = (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    else {
        return Some(false);
    };
    let fraction_ok = match &b[19..] {
        [] => true,
        [b'.', rest @ ..] => {
            !rest.is_empty() && rest.len() <= 9 && rest.iter().all(u8::is_ascii_digit)
        }
        _ => return None,
    };
    Some(h < 24 && m < 60 && s < 60 && fraction_ok)
}

/// Glue's rule for a header: every field of the first row is text (not a
/// number, boolean, date or timestamp), and the rows below are not all text.
pub fn looks_like_header<S: AsRef<str>>(first: &[S], rows: &[Vec<S>]) -> bool {
    let text = |f: &S| matches!(text_type(f.as_ref()), Some(HiveType::String));
    if first.is_empty()
        || !first.iter().all(text)
        || first
            .iter()
            .any(|f| f.as_ref().trim().chars().count() > 255)
    {
        return false;
    }
    let columns = first.len();
    (0..columns).any(|i| {
        let ty = rows
            .iter()
            .filter_map(|r| r.get(i))
            .map(|f| text_type(f.as_ref()))
            .fold(None, widen_opt);
        ty.is_some_and(|t| t != HiveType::String)
    })
}

/// A column name as Glue writes it: lowercase, anything but letters, digits
/// and `_` replaced by `_`; empty names become `colN`.
pub fn column_name(raw: &str, index: usize) -> String {
    let name: std::string::String = raw
        .trim()
        .trim_matches('"')
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.trim_matches('_').is_empty() {
        format!("col{index}")
    } else {
        name
    }
}

/// A table name by Glue's rules: like a column name, from a folder or file name.
pub fn table_name(folder: &str) -> String {
    let name = column_name(folder, 0);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HiveType::*;

    #[test]
    fn text_fields() {
        assert_eq!(text_type("42"), Some(BigInt));
        assert_eq!(text_type("-3.5"), Some(Double));
        assert_eq!(text_type("1e3"), Some(Double));
        assert_eq!(text_type("007"), Some(String));
        assert_eq!(text_type("True"), Some(Boolean));
        assert_eq!(text_type("2024-01-31"), Some(Date));
        assert_eq!(text_type("2024-01-31 10:00:00"), Some(Timestamp));
        assert_eq!(text_type("2024-01-31T10:00:00Z"), Some(Timestamp));
        assert_eq!(text_type("2024-01-31 10:00:00.125"), Some(Timestamp));
        assert_eq!(text_type("2024-02-30 10:00:00"), Some(String));
        assert_eq!(text_type("2024-01-31 25:00:00"), Some(String));
        assert_eq!(text_type("2024-01-31 10:00"), Some(Timestamp));
        assert_eq!(text_type("2024-13-31"), Some(String));
        assert_eq!(text_type("NaN"), Some(String));
        assert_eq!(text_type(""), None);
        assert_eq!(text_type("99999999999999999999"), Some(Double));
    }

    #[test]
    fn widening() {
        assert_eq!(widen(BigInt, Double), Double);
        assert_eq!(widen(Int, BigInt), BigInt);
        assert_eq!(widen(Date, Timestamp), Timestamp);
        assert_eq!(widen(Boolean, BigInt), String);
        assert_eq!(
            widen(
                Struct(vec![("a".into(), BigInt)]),
                Struct(vec![("a".into(), Double), ("b".into(), String)])
            ),
            Struct(vec![("a".into(), Double), ("b".into(), String)])
        );
    }

    #[test]
    fn json_values() {
        let v: Value =
            serde_json::json!({"A": 1, "b": [1, 2.5], "c": {"d": null}, "e": "2024-01-01"});
        assert_eq!(
            json_type(&v).unwrap().to_string(),
            "struct<a:bigint,b:array<double>,c:struct<d:string>,e:date>"
        );
    }

    #[test]
    fn headers() {
        let row = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(looks_like_header(
            &row(&["id", "name"]),
            &[row(&["1", "x"]), row(&["2", "y"])]
        ));
        assert!(!looks_like_header(
            &row(&["a", "b"]),
            &[row(&["c", "d"]), row(&["e", "f"])]
        ));
        assert!(!looks_like_header(&row(&["1", "x"]), &[row(&["2", "y"])]));
        assert_eq!(column_name("User Id", 0), "user_id");
        assert_eq!(column_name("", 3), "col3");
        assert_eq!(table_name("2024"), "_2024");
    }
}
