//! dataProcessingOptions: how a flow's lines become records (SINGLELINE,
//! CSVTOJSON, LOGTOJSON with the Agent's log formats).

use super::*;

/// How lines become records.
#[derive(Debug)]
pub(super) enum Processing {
    SingleLine,
    CsvToJson {
        fields: Vec<String>,
        delimiter: char,
    },
    LogToJson {
        pattern: regex::Regex,
        fields: Vec<String>,
    },
}

impl Processing {
    pub(super) fn parse(option: &Map<String, Value>) -> anyhow::Result<Processing> {
        let text = |k: &str| option.get(k).and_then(Value::as_str);
        let fields = |k: &str| -> Vec<String> {
            option
                .get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        match text("optionName") {
            Some("SINGLELINE") => Ok(Processing::SingleLine),
            Some("CSVTOJSON") => {
                let fields = fields("customFieldNames");
                anyhow::ensure!(!fields.is_empty(), "CSVTOJSON needs customFieldNames");
                let delimiter = text("delimiter").unwrap_or(",");
                let mut chars = delimiter.chars();
                let (Some(delimiter), None) = (chars.next(), chars.next()) else {
                    anyhow::bail!("CSVTOJSON delimiter must be one character, not {delimiter:?}");
                };
                Ok(Processing::CsvToJson { fields, delimiter })
            }
            Some("LOGTOJSON") => {
                let (pattern, default_fields): (String, &[&str]) =
                    match (text("matchPattern"), text("logFormat")) {
                        (Some(p), _) => (p.to_string(), &[]),
                        (None, Some("COMMONAPACHELOG")) => (
                            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\S+) (\S+)"#.into(),
                            &["host", "ident", "authuser", "datetime", "request", "response", "bytes"],
                        ),
                        (None, Some("COMBINEDAPACHELOG")) => (
                            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "([^"]*)" (\S+) (\S+) "([^"]*)" "([^"]*)""#.into(),
                            &[
                                "host", "ident", "authuser", "datetime", "request", "response",
                                "bytes", "referer", "agent",
                            ],
                        ),
                        (None, Some("SYSLOG" | "RFC3164SYSLOG")) => (
                            r"^(\w{3}\s+\d+ \d{2}:\d{2}:\d{2}) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$".into(),
                            &["timestamp", "hostname", "program", "processid", "message"],
                        ),
                        (None, other) => anyhow::bail!(
                            "LOGTOJSON logFormat {other:?} is not supported by nuage; use COMMONAPACHELOG, COMBINEDAPACHELOG, SYSLOG or a matchPattern with customFieldNames"
                        ),
                    };
                let pattern = regex::Regex::new(&pattern)
                    .map_err(|e| anyhow::anyhow!("LOGTOJSON matchPattern: {e}"))?;
                let mut fields = fields("customFieldNames");
                if fields.is_empty() {
                    fields = default_fields.iter().map(|f| f.to_string()).collect();
                }
                anyhow::ensure!(
                    fields.len() == pattern.captures_len() - 1,
                    "LOGTOJSON has {} field names for {} groups of its pattern",
                    fields.len(),
                    pattern.captures_len() - 1
                );
                Ok(Processing::LogToJson { pattern, fields })
            }
            other => anyhow::bail!(
                "dataProcessingOptions optionName {other:?} is not one of SINGLELINE, CSVTOJSON, LOGTOJSON"
            ),
        }
    }

    /// One record's text (without its final newline), transformed.
    pub(super) fn apply(&self, text: &str) -> String {
        match self {
            Processing::SingleLine => text.lines().map(str::trim).collect::<Vec<_>>().join(""),
            Processing::CsvToJson { fields, delimiter } => {
                let values: Vec<&str> = text.split(*delimiter).collect();
                let object: Map<String, Value> = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let v = values.get(i).map_or(Value::Null, |v| Value::from(*v));
                        (f.clone(), v)
                    })
                    .collect();
                Value::Object(object).to_string()
            }
            Processing::LogToJson { pattern, fields } => match pattern.captures(text) {
                Some(groups) => {
                    let object: Map<String, Value> = fields
                        .iter()
                        .enumerate()
                        .filter_map(|(i, f)| {
                            groups
                                .get(i + 1)
                                .map(|m| (f.clone(), Value::from(m.as_str())))
                        })
                        .collect();
                    Value::Object(object).to_string()
                }
                // The agent sends lines that do not match as they are.
                None => text.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processing(option: Value) -> Processing {
        Processing::parse(option.as_object().unwrap()).unwrap()
    }

    #[test]
    fn csv_lines_become_json_objects() {
        let p = processing(json!({"optionName": "CSVTOJSON",
            "customFieldNames": ["car", "amount", "lane"], "delimiter": "\t"}));
        let got: Value = serde_json::from_str(&p.apply("a42\t3.5")).unwrap();
        assert_eq!(got, json!({"car": "a42", "amount": "3.5", "lane": null}));
    }

    #[test]
    fn apache_and_syslog_lines_become_json_objects() {
        let p = processing(json!({"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG"}));
        let line =
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326"#;
        let got: Value = serde_json::from_str(&p.apply(line)).unwrap();
        assert_eq!(got["host"], "127.0.0.1");
        assert_eq!(got["authuser"], "frank");
        assert_eq!(got["request"], "GET /a.gif HTTP/1.0");
        assert_eq!(got["bytes"], "2326");

        let p = processing(json!({"optionName": "LOGTOJSON", "logFormat": "SYSLOG"}));
        let line = "Mar 12 12:00:08 server2 rcd[308]: Loaded 12 packages";
        let got: Value = serde_json::from_str(&p.apply(line)).unwrap();
        assert_eq!(got["program"], "rcd");
        assert_eq!(got["processid"], "308");
        assert_eq!(got["message"], "Loaded 12 packages");

        // A line the pattern does not match goes as it is.
        assert_eq!(p.apply("not syslog"), "not syslog");
    }

    #[test]
    fn unknown_options_are_refused_with_the_supported_ones() {
        let option = json!({"optionName": "ADDEC2METADATA"});
        let err = Processing::parse(option.as_object().unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("SINGLELINE, CSVTOJSON, LOGTOJSON"),
            "{err}"
        );
        let option = json!({"optionName": "LOGTOJSON", "matchPattern": "^(\\w+) (\\w+)$",
            "customFieldNames": ["only-one"]});
        let err = Processing::parse(option.as_object().unwrap()).unwrap_err();
        assert!(
            err.to_string().contains("1 field names for 2 groups"),
            "{err}"
        );
    }

    #[test]
    fn single_line_joins_a_multi_line_record() {
        let p = processing(json!({"optionName": "SINGLELINE"}));
        assert_eq!(
            p.apply("{\n  \"a\": 1,\n  \"b\": 2\n}"),
            "{\"a\": 1,\"b\": 2}"
        );
    }
}
