//! Custom prefixes for S3 objects: `!{timestamp:yyyy/MM/dd}`,
//! `!{firehose:random-string}`, `!{firehose:error-output-type}`,
//! `!{partitionKeyFromQuery:key}`, and the default `YYYY/MM/dd/HH/` layout
//! when a prefix has no expressions. Times are UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use nuage_common::java_time::{Flavor, JavaPattern};

use crate::error::{DeliveryError, Result};

/// A parsed Prefix or ErrorOutputPrefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Time(JavaPattern),
    RandomString,
    ErrorOutputType,
    FromQuery(String),
    FromLambda(String),
}

/// What an object's prefix is evaluated with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Arrival of the oldest record in the object.
    pub time: DateTime<Utc>,
    /// `!{firehose:random-string}`: 11 characters.
    pub random: &'a str,
    pub error_output_type: Option<&'a str>,
    pub keys: Option<&'a BTreeMap<String, String>>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template> {
        let invalid = |m: String| DeliveryError::InvalidArgument(m);
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let body_start = start + 2;
            let end = rest[body_start..].find('}').ok_or_else(|| {
                invalid(format!(
                    "prefix {text} has an unterminated !{{ expression; write !{{namespace:value}}"
                ))
            })? + body_start;
            let body = &rest[body_start..end];
            let (namespace, value) = body.split_once(':').ok_or_else(|| {
                invalid(format!(
                    "prefix expression !{{{body}}} needs a namespace and a value, like !{{timestamp:yyyy}}"
                ))
            })?;
            parts.push(match namespace {
                "timestamp" => Part::Time(
                    JavaPattern::parse(value, Flavor::JavaTime).map_err(|e| {
                        invalid(format!("prefix expression !{{timestamp:{value}}}: {e}"))
                    })?,
                ),
                "firehose" => match value {
                    "random-string" => Part::RandomString,
                    "error-output-type" => Part::ErrorOutputType,
                    _ => {
                        return Err(invalid(format!(
                            "!{{firehose:{value}}} is not a firehose expression; use random-string or error-output-type"
                        )));
                    }
                },
                "partitionKeyFromQuery" if !value.is_empty() => Part::FromQuery(value.to_string()),
                "partitionKeyFromLambda" if !value.is_empty() => {
                    Part::FromLambda(value.to_string())
                }
                _ => {
                    return Err(invalid(format!(
                        "prefix expression !{{{body}}}: the namespace must be timestamp, firehose, partitionKeyFromQuery or partitionKeyFromLambda, with a value"
                    )));
                }
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn has_expressions(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Literal(_)))
    }

    pub fn has_error_output_type(&self) -> bool {
        self.parts.contains(&Part::ErrorOutputType)
    }

    pub fn has_partition_keys(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::FromQuery(_) | Part::FromLambda(_)))
    }

    pub fn uses_lambda_keys(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::FromLambda(_)))
    }

    pub fn partition_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::FromQuery(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// The evaluated prefix. Without expressions it is the literal text
    /// followed by the error output type (for errors) and `YYYY/MM/dd/HH/`.
    pub fn render(&self, ctx: &Context<'_>) -> String {
        let mut out = String::new();
        if !self.has_expressions() {
            for part in &self.parts {
                if let Part::Literal(s) = part {
                    out.push_str(s);
                }
            }
            if let Some(kind) = ctx.error_output_type {
                out.push_str(kind);
                out.push('/');
            }
            let t = ctx.time;
            out.push_str(&format!(
                "{:04}/{:02}/{:02}/{:02}/",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ));
            return out;
        }
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Time(pattern) => pattern.format_into(ctx.time, &mut out),
                Part::RandomString => out.push_str(ctx.random),
                Part::ErrorOutputType => out.push_str(ctx.error_output_type.unwrap_or_default()),
                Part::FromQuery(key) => {
                    if let Some(v) = ctx.keys.and_then(|k| k.get(key)) {
                        out.push_str(v);
                    }
                }
                Part::FromLambda(_) => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    fn render(template: &str, error: Option<&str>) -> String {
        let keys = BTreeMap::from([("customer".to_string(), "c-7".to_string())]);
        Template::parse(template).unwrap().render(&Context {
            // 2025-11-22T09:05:03.042Z, a Saturday
            time: at(1_763_802_303_042),
            random: "046b6c7f-0b",
            error_output_type: error,
            keys: Some(&keys),
        })
    }

    #[test]
    fn prefixes_without_expressions_get_the_hourly_layout() {
        assert_eq!(render("", None), "2025/11/22/09/");
        assert_eq!(render("raw/", None), "raw/2025/11/22/09/");
        assert_eq!(
            render("errors/", Some("processing-failed")),
            "errors/processing-failed/2025/11/22/09/"
        );
    }

    #[test]
    fn expressions_are_evaluated() {
        assert_eq!(
            render("dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/", None),
            "dt=2025-11-22/h=09/"
        );
        assert_eq!(
            render("!{timestamp:yy MMM d EEE h:mm:ss.SSS a}", None),
            "25 Nov 22 Sat 9:05:03.042 AM"
        );
        assert_eq!(
            render(
                "c=!{partitionKeyFromQuery:customer}/!{firehose:random-string}/",
                None
            ),
            "c=c-7/046b6c7f-0b/"
        );
        assert_eq!(
            render(
                "e/!{firehose:error-output-type}/",
                Some("processing-failed")
            ),
            "e/processing-failed/"
        );
        assert_eq!(render("it''s !{timestamp:''yyyy''}", None), "it''s '2025'");
    }

    #[test]
    fn bad_expressions_are_explained() {
        for (bad, needle) in [
            ("a/!{timestamp:yyyy", "unterminated !{"),
            ("!{timestamp:yyyyQ}", "the letter 'Q'"),
            ("!{firehose:uuid}", "random-string or error-output-type"),
            ("!{nope:x}", "namespace must be"),
            ("!{timestamp}", "needs a namespace and a value"),
            ("!{timestamp:'x}", "unterminated quote"),
        ] {
            let err = Template::parse(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
