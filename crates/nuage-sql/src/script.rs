//! HiveQL scripts: splitting into statements and `${...}` substitution.

use std::collections::BTreeMap;

/// One statement of a script and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
}

/// Splits a script on `;`, ignoring semicolons inside quotes (`'`, `"`, `` ` ``)
/// and comments (`-- ...` to end of line, `/* ... */`). Empty statements are dropped.
pub fn split_statements(script: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    let push = |current: &mut String, start_line: usize, out: &mut Vec<Statement>| {
        let text = current.trim();
        if !is_blank(text) {
            out.push(Statement {
                text: text.to_string(),
                line: start_line,
            });
        }
        current.clear();
    };
    while let Some(c) = chars.next() {
        if current.trim().is_empty() && !c.is_whitespace() {
            start_line = line;
        }
        if c == '\n' {
            line += 1;
        }
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' && q != '`' {
                    if let Some(next) = chars.next() {
                        if next == '\n' {
                            line += 1;
                        }
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    current.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    // A comment runs to the end of the line; keep the newline.
                    for next in chars.by_ref() {
                        if next == '\n' {
                            line += 1;
                            current.push('\n');
                            break;
                        }
                    }
                }
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    let mut prev = ' ';
                    for next in chars.by_ref() {
                        if next == '\n' {
                            line += 1;
                            current.push('\n');
                        }
                        if prev == '*' && next == '/' {
                            break;
                        }
                        prev = next;
                    }
                    current.push(' ');
                }
                ';' => push(&mut current, start_line, &mut out),
                c => current.push(c),
            },
        }
    }
    push(&mut current, start_line, &mut out);
    out
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Session variables: `hiveconf` (what `SET k=v` writes), `hivevar`, and the environment.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    pub hiveconf: BTreeMap<String, String>,
    pub hivevar: BTreeMap<String, String>,
}

impl Variables {
    /// Replaces `${hiveconf:k}`, `${hivevar:k}`, `${env:K}`, `${system:k}` and `${k}`
    /// (hivevar first, then hiveconf). Unknown variables stay as written, as in Hive.
    /// Substitution repeats (a value may itself hold `${...}`) up to 40 times.
    pub fn substitute(&self, text: &str) -> String {
        let mut current = text.to_string();
        for _ in 0..40 {
            let next = self.substitute_once(&current);
            if next == current {
                break;
            }
            current = next;
        }
        current
    }

    fn substitute_once(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = &after[..end];
            match self.lookup(name) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let name = name.trim();
        if let Some((namespace, key)) = name.split_once(':') {
            return match namespace {
                "hiveconf" => self.hiveconf.get(key).cloned(),
                "hivevar" => self.hivevar.get(key).cloned(),
                "env" => std::env::var(key).ok(),
                "system" => match key {
                    "user.name" => std::env::var("USER").ok(),
                    _ => None,
                },
                _ => None,
            };
        }
        self.hivevar
            .get(name)
            .or_else(|| self.hiveconf.get(name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let script = "-- header; comment\nSELECT 'a;b' FROM t;\n\n/* block; */ SELECT `x;y`\n  FROM u; ;\nSELECT \"q;\" -- trailing;\n";
        let statements = split_statements(script);
        let texts: Vec<_> = statements.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "SELECT 'a;b' FROM t",
                "SELECT `x;y`\n  FROM u",
                "SELECT \"q;\""
            ]
        );
        assert_eq!(
            statements.iter().map(|s| s.line).collect::<Vec<_>>(),
            vec![2, 4, 6]
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let statements = split_statements("SELECT 'it\\'s; fine'; SELECT 2");
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].text, "SELECT 'it\\'s; fine'");
    }

    #[test]
    fn substitutes_namespaced_and_bare_variables() {
        let mut vars = Variables::default();
        vars.hiveconf.insert("data".into(), "/tmp/movies".into());
        vars.hivevar.insert("db".into(), "films".into());
        vars.hivevar.insert("nested".into(), "${db}_x".into());
        assert_eq!(
            vars.substitute("LOAD DATA INPATH '${hiveconf:data}/r.csv' INTO TABLE ${hivevar:db}.r ${db} ${data} ${nested} ${unknown}"),
            "LOAD DATA INPATH '/tmp/movies/r.csv' INTO TABLE films.r films /tmp/movies films_x ${unknown}"
        );
    }
}
