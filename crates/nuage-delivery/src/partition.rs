//! Dynamic partitioning's MetadataExtractionQuery: a jq expression (jq 1.6,
//! as Firehose documents it) that turns each JSON record into an object of
//! partition keys, such as
//! `{customer: .customer_id, year: .event_timestamp | strftime("%Y")}`.
//! The jq language is jaq's (jaq-core, jaq-std, jaq-json): the query is
//! compiled once per destination and run on every record.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jaq_core::compile::Filter;
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader, lex, parse};
use jaq_core::{Ctx, Native, Vars, unwrap_valr};
use jaq_json::Val;

use crate::error::{DeliveryError, Result};

type Jq = Filter<Native<JustLut<Val>>>;

#[derive(Clone)]
pub struct Extraction {
    query: String,
    /// The member names of a query that is an object literal (`{a: ..}`);
    /// `None` when only running it can tell.
    keys: Option<Vec<String>>,
    filter: Arc<Jq>,
}

impl fmt::Debug for Extraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Extraction").field(&self.query).finish()
    }
}

impl PartialEq for Extraction {
    fn eq(&self, other: &Self) -> bool {
        self.query == other.query
    }
}

impl Extraction {
    pub fn parse(query: &str) -> Result<Extraction> {
        let filter = compile(query).map_err(|why| {
            DeliveryError::InvalidArgument(format!(
                "MetadataExtractionQuery {query}: {why}; write a jq expression that makes an object, like {{customer: .customer_id, year: .event.year}}"
            ))
        })?;
        Ok(Extraction {
            query: query.to_string(),
            keys: literal_keys(query),
            filter: Arc::new(filter),
        })
    }

    /// Whether the query can yield partition key `key`.
    pub fn has(&self, key: &str) -> bool {
        self.keys
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key))
    }

    /// The record's partition keys, or why it has none.
    pub fn evaluate(&self, record: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
        // serde_json refuses nesting deeper than 128 levels; jaq's reader
        // recurses without a bound, and a record of 200,000 `[` overflowed
        // the stack and aborted the process. Only a checked record reaches it.
        serde_json::from_slice::<serde_json::Value>(record)
            .map_err(|e| format!("the record is not JSON: {e}"))?;
        let input = jaq_json::read::parse_single(record)
            .map_err(|e| format!("the record is not JSON: {e}"))?;
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let output = self
            .filter
            .id
            .run((ctx, input))
            .map(unwrap_valr)
            .next()
            .ok_or("the query gave no value")?
            .map_err(|e| format!("the query failed: {e}"))?;
        let Val::Obj(members) = output else {
            return Err(format!("the query gave {output}, not an object"));
        };
        let mut keys = BTreeMap::new();
        for (name, value) in members.iter() {
            let name = text(name).unwrap_or_else(|| name.to_string());
            let value = match value {
                Val::Null => return Err(format!("the partition key {name} is missing or null")),
                Val::Arr(_) | Val::Obj(_) => {
                    return Err(format!(
                        "the partition key {name} is an object or array, not a value"
                    ));
                }
                other => text(other).unwrap_or_else(|| other.to_string()),
            };
            keys.insert(name, value);
        }
        Ok(keys)
    }
}

/// A string's text (without JSON quotes).
fn text(value: &Val) -> Option<String> {
    match value {
        Val::TStr(bytes) | Val::BStr(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

/// The query as a jaq filter with jq's standard library, or why it is not one.
fn compile(query: &str) -> std::result::Result<Jq, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(
            &arena,
            File {
                code: query,
                path: (),
            },
        )
        .map_err(|errors| {
            let mut why = Vec::new();
            for (_, error) in errors {
                match error {
                    jaq_core::load::Error::Io(e) => {
                        why.extend(e.into_iter().map(|(path, e)| format!("{path}: {e}")))
                    }
                    jaq_core::load::Error::Lex(e) => {
                        why.extend(e.into_iter().map(|(expect, at)| {
                            let expected = match expect {
                                lex::Expect::Delim(open) => format!("the end of {open}"),
                                other => other.as_str().to_string(),
                            };
                            format!("expected {expected} at {}", near(at))
                        }))
                    }
                    jaq_core::load::Error::Parse(e) => {
                        why.extend(e.into_iter().map(|(expect, at): parse::Error<&str>| {
                            format!("expected {} at {}", expect.as_str(), near(at))
                        }))
                    }
                }
            }
            why.join(", ")
        })?;
    jaq_core::Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            errors
                .into_iter()
                .flat_map(|(_, undefined)| undefined)
                .map(|(name, _)| format!("{name} is not defined"))
                .collect::<Vec<_>>()
                .join(", ")
        })
}

/// Where in the query an error is: the text from there (shortened).
fn near(rest: &str) -> String {
    if rest.is_empty() {
        return "the end".into();
    }
    let shown: String = rest.chars().take(20).collect();
    format!("'{shown}'")
}

/// The member names of an object literal `{a: .., "b c": ..}`, by its
/// top-level commas and colons.
fn literal_keys(query: &str) -> Option<Vec<String>> {
    let body = query.trim().strip_prefix('{')?.strip_suffix('}')?;
    let (mut keys, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    let mut members = Vec::new();
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' | '{' if !quoted => depth += 1,
            ')' | ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                members.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&body[start..]);
    for member in members.into_iter().filter(|m| !m.trim().is_empty()) {
        let name = match member.split_once(':') {
            Some((name, _)) => name,
            // `{customer_id}` is short for `{customer_id: .customer_id}`.
            None => member,
        };
        let name = name.trim().trim_start_matches('$').trim_matches('"');
        if name.is_empty() || name.starts_with('(') {
            return None;
        }
        keys.push(name.to_string());
    }
    Some(keys)
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
        assert!(e.has("customer") && e.has("odd") && !e.has("month"));
        assert!(
            e.evaluate(br#"{"customer_id": "c-1"}"#)
                .unwrap_err()
                .contains("year")
        );
        assert!(e.evaluate(b"not json").unwrap_err().contains("not JSON"));
    }

    /// A record nested deeper than a JSON parser should follow is a failed
    /// record, not a stack overflow that takes the server down.
    #[test]
    fn deeply_nested_records_fail_without_a_crash() {
        let e = Extraction::parse("{c: .c}").unwrap();
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(
            e.evaluate(deep.as_bytes())
                .unwrap_err()
                .contains("not JSON")
        );
    }

    /// The example of AWS's dynamic partitioning guide, with jq's strftime.
    #[test]
    fn the_aws_guide_example_runs() {
        let e = Extraction::parse(
            r#"{customer_id: .customer_id, device: .type.device, year: .event_timestamp|strftime("%Y")}"#,
        )
        .unwrap();
        let keys = e
            .evaluate(br#"{"type": {"device": "mobile", "event": "user_clicked_submit_button"}, "customer_id": "1234567890", "event_timestamp": 1565382027, "region": "sample_region"}"#)
            .unwrap();
        assert_eq!(keys["customer_id"], "1234567890");
        assert_eq!(keys["device"], "mobile");
        assert_eq!(keys["year"], "2019");
    }

    #[test]
    fn bad_queries_are_explained() {
        for (bad, why) in [
            ("{customer: .c", "expected"),
            (
                "{c: .a | no_such_function}",
                "no_such_function is not defined",
            ),
        ] {
            let err = Extraction::parse(bad).unwrap_err().to_string();
            assert!(err.contains("MetadataExtractionQuery"), "{err}");
            assert!(err.contains(why), "{err}");
        }
        let not_an_object = Extraction::parse(".customer").unwrap();
        assert!(
            not_an_object
                .evaluate(br#"{"customer": "c"}"#)
                .unwrap_err()
                .contains("not an object")
        );
    }
}
