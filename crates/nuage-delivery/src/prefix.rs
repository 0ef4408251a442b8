//! Custom prefixes for S3 objects: `!{timestamp:yyyy/MM/dd}`,
//! `!{firehose:random-string}`, `!{firehose:error-output-type}`,
//! `!{partitionKeyFromQuery:key}`, and the default `YYYY/MM/dd/HH/` layout
//! when a prefix has no expressions. Times are UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::error::{DeliveryError, Result};

/// A parsed Prefix or ErrorOutputPrefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Time(Vec<TimeItem>),
    RandomString,
    ErrorOutputType,
    FromQuery(String),
    FromLambda(String),
}

/// One item of a Java DateTimeFormatter pattern.
#[derive(Debug, Clone, PartialEq)]
enum TimeItem {
    Literal(String),
    Field(char, usize),
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
                "timestamp" => Part::Time(parse_time_pattern(value)?),
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
                Part::Time(items) => format_time(items, ctx.time, &mut out),
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

/// Parses a Java DateTimeFormatter pattern (the letters that make sense in
/// a path: y u M d D H h m s S a E, quoted literals, and punctuation).
fn parse_time_pattern(pattern: &str) -> Result<Vec<TimeItem>> {
    let mut items = Vec::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // 'literal', with '' for a quote.
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(DeliveryError::InvalidArgument(format!(
                            "!{{timestamp:{pattern}}} has an unterminated quote"
                        )));
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            if text.is_empty() {
                text.push('\'');
            }
            items.push(TimeItem::Literal(text));
        } else if c.is_ascii_alphabetic() {
            let mut width = 1;
            while chars.get(i + width) == Some(&c) {
                width += 1;
            }
            if !"yuMdDHhmsSaE".contains(c) {
                return Err(DeliveryError::InvalidArgument(format!(
                    "!{{timestamp:{pattern}}} uses the pattern letter '{c}', which nuage does not support; use y, M, d, D, H, h, m, s, S, a, E and 'quoted text'"
                )));
            }
            items.push(TimeItem::Field(c, width));
            i += width;
        } else {
            items.push(TimeItem::Literal(c.to_string()));
            i += 1;
        }
    }
    Ok(items)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn format_time(items: &[TimeItem], t: DateTime<Utc>, out: &mut String) {
    let padded = |out: &mut String, v: i64, width: usize| out.push_str(&format!("{v:0width$}"));
    for item in items {
        match *item {
            TimeItem::Literal(ref s) => out.push_str(s),
            TimeItem::Field('y' | 'u', 2) => padded(out, i64::from(t.year()).rem_euclid(100), 2),
            TimeItem::Field('y' | 'u', w) => padded(out, i64::from(t.year()), w),
            TimeItem::Field('M', 3) => out.push_str(&MONTHS[t.month0() as usize][..3]),
            TimeItem::Field('M', w) if w >= 4 => out.push_str(MONTHS[t.month0() as usize]),
            TimeItem::Field('M', w) => padded(out, i64::from(t.month()), w),
            TimeItem::Field('d', w) => padded(out, i64::from(t.day()), w),
            TimeItem::Field('D', w) => padded(out, i64::from(t.ordinal()), w),
            TimeItem::Field('H', w) => padded(out, i64::from(t.hour()), w),
            TimeItem::Field('h', w) => padded(out, i64::from(t.hour12().1), w),
            TimeItem::Field('m', w) => padded(out, i64::from(t.minute()), w),
            TimeItem::Field('s', w) => padded(out, i64::from(t.second()), w),
            TimeItem::Field('S', w) => {
                let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                out.push_str(&format!("{nanos:0<w$}")[..w]);
            }
            TimeItem::Field('a', _) => out.push_str(if t.hour12().0 { "PM" } else { "AM" }),
            TimeItem::Field('E', w) => {
                let day = DAYS[t.weekday().num_days_from_monday() as usize];
                out.push_str(if w >= 4 { day } else { &day[..3] });
            }
            TimeItem::Field(..) => {}
        }
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
            ("!{timestamp:yyyyQ}", "pattern letter 'Q'"),
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
