//! FilterCriteria: Lambda's event filtering, in EventBridge's pattern
//! language. A pattern is a JSON object; each key must be present in the
//! record with a value one of the listed matchers accepts: a literal
//! (string, number, boolean, null), `{"prefix"}`, `{"suffix"}`,
//! `{"equals-ignore-case"}`, `{"anything-but"}`, `{"numeric": [op, n,
//! ...]}` or `{"exists": bool}`. A record passes if any filter matches.

use serde_json::Value;

use crate::error::{FunctionError, Result};

/// One filter's pattern, checked when the mapping is created.
pub(crate) fn parse(pattern: &str) -> Result<Value> {
    let value: Value =
        serde_json::from_str(pattern).map_err(|e| invalid(pattern, &e.to_string()))?;
    check(&value).map_err(|why| invalid(pattern, &why))?;
    Ok(value)
}

fn invalid(pattern: &str, why: &str) -> FunctionError {
    FunctionError::InvalidParameter(format!(
        "Invalid filter pattern definition: {pattern} ({why})"
    ))
}

fn check(pattern: &Value) -> std::result::Result<(), String> {
    let Value::Object(fields) = pattern else {
        return Err("a pattern is a JSON object".into());
    };
    for (key, value) in fields {
        match value {
            Value::Object(_) => check(value)?,
            Value::Array(matchers) => {
                for matcher in matchers {
                    if let Value::Object(m) = matcher {
                        let known = [
                            "prefix",
                            "suffix",
                            "equals-ignore-case",
                            "anything-but",
                            "numeric",
                            "exists",
                        ];
                        if m.len() != 1
                            || !known.contains(&m.keys().next().map(String::as_str).unwrap_or(""))
                        {
                            return Err(format!("unknown matcher {matcher} for {key}"));
                        }
                    }
                }
            }
            _ => {
                return Err(format!(
                    "the value of {key} must be an array of matchers or an object"
                ));
            }
        }
    }
    Ok(())
}

/// Whether `record` passes any of `filters` (no filters: every record).
pub(crate) fn passes(filters: &[Value], record: &Value) -> bool {
    filters.is_empty() || filters.iter().any(|f| matches(f, Some(record)))
}

fn matches(pattern: &Value, value: Option<&Value>) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(key, sub)| {
            let inner = value.and_then(|v| v.get(key));
            matches(sub, inner)
        }),
        Value::Array(matchers) => matchers.iter().any(|m| leaf(m, value)),
        _ => false,
    }
}

/// One matcher against a field (`None`: the field is absent); a field that
/// is an array matches if any of its elements does.
fn leaf(matcher: &Value, value: Option<&Value>) -> bool {
    if let Value::Object(m) = matcher
        && let Some(Value::Bool(wanted)) = m.get("exists")
    {
        return value.is_some() == *wanted;
    }
    match value {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|item| one(matcher, item)),
        Some(v) => one(matcher, v),
    }
}

fn one(matcher: &Value, value: &Value) -> bool {
    let Value::Object(m) = matcher else {
        return match (matcher, value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            _ => matcher == value,
        };
    };
    let Some((op, arg)) = m.iter().next() else {
        return false;
    };
    let text = value.as_str();
    match op.as_str() {
        "prefix" => text
            .zip(arg.as_str())
            .is_some_and(|(t, p)| t.starts_with(p)),
        "suffix" => text.zip(arg.as_str()).is_some_and(|(t, s)| t.ends_with(s)),
        "equals-ignore-case" => text
            .zip(arg.as_str())
            .is_some_and(|(t, s)| t.eq_ignore_ascii_case(s)),
        "anything-but" => match arg {
            Value::Array(excluded) => !excluded.iter().any(|e| one(e, value)),
            Value::Object(_) => !one(arg, value),
            other => !one(other, value),
        },
        "numeric" => value.as_f64().is_some_and(|n| numeric(arg, n)),
        _ => false,
    }
}

/// `[">", 0, "<=", 5]`: every comparison holds.
fn numeric(conditions: &Value, n: f64) -> bool {
    let Value::Array(items) = conditions else {
        return false;
    };
    items.chunks(2).all(|pair| match pair {
        [Value::String(op), bound] => {
            let Some(b) = bound.as_f64() else {
                return false;
            };
            match op.as_str() {
                "=" => n == b,
                ">" => n > b,
                ">=" => n >= b,
                "<" => n < b,
                "<=" => n <= b,
                _ => false,
            }
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_as_eventbridge_documents_them() {
        let record = json!({"data": {"status": "Completed", "fare": 12.5, "tags": ["a", "b"]}, "kinesis": {"partitionKey": "k1"}});
        let yes = [
            r#"{"data": {"status": ["Completed"]}}"#,
            r#"{"data": {"fare": [{"numeric": [">", 10, "<=", 20]}]}}"#,
            r#"{"data": {"status": [{"prefix": "Comp"}]}}"#,
            r#"{"data": {"tags": ["b"]}}"#,
            r#"{"data": {"missing": [{"exists": false}]}}"#,
            r#"{"data": {"status": [{"anything-but": ["Cancelled"]}]}}"#,
            r#"{"kinesis": {"partitionKey": [{"equals-ignore-case": "K1"}]}}"#,
        ];
        for pattern in yes {
            assert!(passes(&[parse(pattern).unwrap()], &record), "{pattern}");
        }
        let no = [
            r#"{"data": {"status": ["Cancelled"]}}"#,
            r#"{"data": {"fare": [{"numeric": ["<", 10]}]}}"#,
            r#"{"data": {"status": [{"exists": false}]}}"#,
            r#"{"data": {"status": [{"anything-but": "Completed"}]}}"#,
        ];
        for pattern in no {
            assert!(!passes(&[parse(pattern).unwrap()], &record), "{pattern}");
        }
        assert!(parse(r#"{"data": "x"}"#).is_err());
        assert!(parse("not json").is_err());
    }
}
