//! Dynamic partitioning's MetadataExtractionQuery: a jq object such as
//! `{customer: .customer_id, year: .event.year}`, evaluated on each JSON
//! record to get its partition keys. The paths nuage understands are
//! `.field`, `.a.b` and `."quoted key"`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{DeliveryError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    keys: Vec<(String, Vec<String>)>,
}

impl Extraction {
    pub fn parse(query: &str) -> Result<Extraction> {
        let invalid = |why: &str| {
            DeliveryError::InvalidArgument(format!(
                "MetadataExtractionQuery {query}: {why}; write a jq object like {{customer: .customer_id, year: .event.year}}"
            ))
        };
        let body = query
            .trim()
            .strip_prefix('{')
            .and_then(|q| q.strip_suffix('}'))
            .ok_or_else(|| invalid("it is not a {...} object"))?;
        let mut keys = Vec::new();
        for member in split_top_level(body) {
            let (name, path) = member.split_once(':').ok_or_else(|| {
                invalid("every member needs a name and a path, like name: .field")
            })?;
            let name = name.trim().trim_matches('"').to_string();
            if name.is_empty() {
                return Err(invalid("a member has no name"));
            }
            let path = parse_path(path.trim()).ok_or_else(|| {
                invalid("nuage evaluates paths made of .field steps (.a, .a.b, .\"a b\")")
            })?;
            keys.push((name, path));
        }
        if keys.is_empty() {
            return Err(invalid("it defines no keys"));
        }
        Ok(Extraction { keys })
    }

    pub fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|(k, _)| k == key)
    }

    /// The record's partition keys, or why it has none.
    pub fn evaluate(&self, record: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
        let value: Value =
            serde_json::from_slice(record).map_err(|e| format!("the record is not JSON: {e}"))?;
        let mut out = BTreeMap::new();
        for (name, path) in &self.keys {
            let mut at = &value;
            for step in path {
                at = at.get(step).unwrap_or(&Value::Null);
            }
            let text = match at {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return Err(format!("the partition key {name} is missing or null")),
                _ => {
                    return Err(format!(
                        "the partition key {name} is an object or array, not a value"
                    ));
                }
            };
            out.insert(name.clone(), text);
        }
        Ok(out)
    }
}

/// Splits on commas outside quotes.
fn split_top_level(body: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// `.a.b."c d"` into its steps.
fn parse_path(path: &str) -> Option<Vec<String>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.')?;
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"')?;
            steps.push(quoted[..end].to_string());
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let step = &rest[..end];
            if step.is_empty() || !step.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            steps.push(step.to_string());
            rest = &rest[end..];
        }
    }
    (!steps.is_empty()).then_some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_fields_and_nested_fields() {
        let e = Extraction::parse(r#"{customer: .customer_id, year: .event.year, "odd": ."a b"}"#)
            .unwrap();
        let keys = e
            .evaluate(br#"{"customer_id": "c-1", "event": {"year": 2026}, "a b": true}"#)
            .unwrap();
        assert_eq!(keys["customer"], "c-1");
        assert_eq!(keys["year"], "2026");
        assert_eq!(keys["odd"], "true");
        assert!(
            e.evaluate(br#"{"customer_id": "c-1"}"#)
                .unwrap_err()
                .contains("year")
        );
        assert!(e.evaluate(b"not json").unwrap_err().contains("not JSON"));
    }

    #[test]
    fn unsupported_queries_are_explained() {
        for bad in ["customer: .c", "{customer: .c | ascii}", "{}", "{c: .a[0]}"] {
            let err = Extraction::parse(bad).unwrap_err().to_string();
            assert!(err.contains("MetadataExtractionQuery"), "{err}");
        }
    }
}
