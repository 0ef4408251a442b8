//! Java date patterns (`yyyy-MM-dd HH:mm:ss`), the one place nuage reads them:
//! Hive's `date_format` / `from_unixtime` (SimpleDateFormat, Hive 3), and the
//! DateTimeFormatter patterns of Firehose prefixes and Athena partition
//! projection. Times are UTC, as in Hive and Firehose.
//!
//! A pattern is compiled once ([`JavaPattern::parse`]) and then formats any
//! number of instants without allocating per field; letters that Java would
//! refuse are refused here too, with the letter named, never printed as text.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Which Java class the pattern is written for; a few letters differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `java.text.SimpleDateFormat` (Hive 3's date functions): `S` is the
    /// millisecond number, `u` the day of the week (1 = Monday).
    Simple,
    /// `java.time.format.DateTimeFormatter` (Firehose, Athena): `S` is the
    /// fraction of the second, `u` the year.
    JavaTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// A pattern letter and how many times it was repeated.
    Field(char, usize),
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    tokens: Vec<Token>,
    flavor: Flavor,
}

/// Why a pattern was refused; the message names the pattern and the letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("date pattern '{pattern}' has an unterminated quote; write a quote as ''")]
    UnterminatedQuote { pattern: String },
    #[error(
        "date pattern '{pattern}' uses the letter '{letter}', which is not a pattern letter nuage knows (G y Y M L w W D d F E u a k K h H m s S z Z X); quote literal text, like 'T'"
    )]
    IllegalLetter { pattern: String, letter: char },
}

/// The letters both classes understand (a subset: no week-based fields
/// beyond these, no localized names other than English).
const LETTERS: &str = "GyYMLwWDdFEuakKhHmsSzZX";

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

impl JavaPattern {
    pub fn parse(pattern: &str, flavor: Flavor) -> Result<Self, PatternError> {
        let mut tokens = Vec::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // 'literal', with '' for a quote (inside or outside).
                if chars.get(i + 1) == Some(&'\'') {
                    push_literal(&mut tokens, "'");
                    i += 2;
                    continue;
                }
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(PatternError::UnterminatedQuote {
                                pattern: pattern.to_string(),
                            });
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
                push_literal(&mut tokens, &text);
            } else if c.is_ascii_alphabetic() {
                let mut width = 1;
                while chars.get(i + width) == Some(&c) {
                    width += 1;
                }
                if !LETTERS.contains(c) || (c == 'X' && width > 3) {
                    return Err(PatternError::IllegalLetter {
                        pattern: pattern.to_string(),
                        letter: c,
                    });
                }
                tokens.push(Token::Field(c, width));
                i += width;
            } else {
                let mut buf = [0; 4];
                push_literal(&mut tokens, c.encode_utf8(&mut buf));
                i += 1;
            }
        }
        Ok(Self { tokens, flavor })
    }

    /// Appends `t` in this pattern to `out`.
    pub fn format_into(&self, t: DateTime<Utc>, out: &mut String) {
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field(letter, width) => self.field(*letter, *width, t, out),
            }
        }
    }

    pub fn format(&self, t: DateTime<Utc>) -> String {
        let mut out = String::new();
        self.format_into(t, &mut out);
        out
    }

    /// True when the pattern has a field with this letter (Athena picks a
    /// projection's default interval unit from the finest one).
    pub fn has_letter(&self, letter: char) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Field(c, _) if *c == letter))
    }

    fn field(&self, letter: char, width: usize, t: DateTime<Utc>, out: &mut String) {
        let number = |out: &mut String, v: i64| {
            // Writing into a String cannot fail.
            let _ = write!(out, "{v:0width$}");
        };
        let text =
            |out: &mut String, full: &str| out.push_str(if width >= 4 { full } else { &full[..3] });
        match letter {
            'G' => out.push_str(if t.year() > 0 { "AD" } else { "BC" }),
            'y' | 'Y' if width == 2 => {
                let year = if letter == 'Y' {
                    t.iso_week().year()
                } else {
                    t.year()
                };
                let _ = write!(out, "{:02}", i64::from(year).rem_euclid(100));
            }
            'u' if self.flavor == Flavor::JavaTime && width == 2 => {
                let _ = write!(out, "{:02}", i64::from(t.year()).rem_euclid(100));
            }
            'y' => number(out, i64::from(t.year())),
            'u' if self.flavor == Flavor::JavaTime => number(out, i64::from(t.year())),
            'u' => number(out, i64::from(t.weekday().number_from_monday())),
            'Y' => number(out, i64::from(t.iso_week().year())),
            'M' | 'L' if width >= 3 => text(out, MONTHS[t.month0() as usize]),
            'M' | 'L' => number(out, i64::from(t.month())),
            'w' => number(out, i64::from(t.iso_week().week())),
            'W' => {
                // Week of the month, weeks starting on Sunday (Java's US default).
                let first = t.with_day(1).unwrap_or(t).weekday().num_days_from_sunday();
                number(out, i64::from((t.day() - 1 + first) / 7 + 1))
            }
            'D' => number(out, i64::from(t.ordinal())),
            'd' => number(out, i64::from(t.day())),
            'F' => number(out, i64::from((t.day() - 1) / 7 + 1)),
            'E' => text(out, DAYS[t.weekday().num_days_from_monday() as usize]),
            'a' => out.push_str(if t.hour12().0 { "PM" } else { "AM" }),
            'H' => number(out, i64::from(t.hour())),
            'k' => number(out, i64::from(if t.hour() == 0 { 24 } else { t.hour() })),
            'K' => number(out, i64::from(t.hour() % 12)),
            'h' => number(out, i64::from(t.hour12().1)),
            'm' => number(out, i64::from(t.minute())),
            's' => number(out, i64::from(t.second())),
            'S' if self.flavor == Flavor::Simple => {
                number(out, i64::from(t.timestamp_subsec_millis()))
            }
            'S' => {
                let mut nanos = String::with_capacity(9);
                let _ = write!(nanos, "{:09}", t.timestamp_subsec_nanos() % 1_000_000_000);
                let digits = width.min(9);
                out.push_str(&nanos[..digits]);
                out.extend(std::iter::repeat_n('0', width - digits));
            }
            'z' => out.push_str(if width >= 4 {
                "Coordinated Universal Time"
            } else {
                "UTC"
            }),
            'Z' => out.push_str("+0000"),
            'X' => out.push('Z'),
            _ => unreachable!("parse only keeps the letters of LETTERS"),
        }
    }

    /// chrono's strftime spelling, for parsing text with the pattern
    /// (`unix_timestamp(text, pattern)`, projection ranges). Zone letters
    /// become `%#z`-free literals of UTC: parsed times are UTC.
    pub fn to_strftime(&self) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(&text.replace('%', "%%")),
                Token::Field(letter, width) => out.push_str(&match (*letter, *width) {
                    ('y' | 'Y' | 'u', 2) => "%y".to_string(),
                    ('y' | 'Y', _) => "%Y".to_string(),
                    ('u', _) if self.flavor == Flavor::JavaTime => "%Y".to_string(),
                    ('u', _) => "%u".to_string(),
                    ('M' | 'L', 1 | 2) => "%m".to_string(),
                    ('M' | 'L', 3) => "%b".to_string(),
                    ('M' | 'L', _) => "%B".to_string(),
                    ('d', _) => "%d".to_string(),
                    ('D', _) => "%j".to_string(),
                    ('H', _) => "%H".to_string(),
                    ('k', _) => "%k".to_string(),
                    ('h', _) => "%I".to_string(),
                    ('K', _) => "%l".to_string(),
                    ('m', _) => "%M".to_string(),
                    ('s', _) => "%S".to_string(),
                    ('S', n) => format!("%{}f", n.min(9)),
                    ('E', 1..=3) => "%a".to_string(),
                    ('E', _) => "%A".to_string(),
                    ('a', _) => "%p".to_string(),
                    ('Z', _) => "%z".to_string(),
                    ('X', _) => "Z".to_string(),
                    ('z', _) => "UTC".to_string(),
                    ('w', _) => "%V".to_string(),
                    ('G', _) => "AD".to_string(),
                    (_, _) => String::new(),
                }),
            }
        }
        out
    }
}

fn push_literal(tokens: &mut Vec<Token>, text: &str) {
    match tokens.last_mut() {
        Some(Token::Literal(last)) => last.push_str(text),
        _ => tokens.push(Token::Literal(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn simple(pattern: &str, t: &str) -> String {
        JavaPattern::parse(pattern, Flavor::Simple)
            .unwrap()
            .format(at(t))
    }

    /// Expected texts are what Java's SimpleDateFormat prints with the UTC
    /// zone (Hive 3's date_format); see the class's documentation table.
    #[test]
    fn simple_date_format_letters() {
        let t = "2001-07-04T12:08:56.235Z";
        assert_eq!(
            simple("yyyy.MM.dd G 'at' HH:mm:ss z", t),
            "2001.07.04 AD at 12:08:56 UTC"
        );
        assert_eq!(simple("EEE, MMM d, ''yy", t), "Wed, Jul 4, '01");
        assert_eq!(simple("h:mm a", t), "12:08 PM");
        assert_eq!(simple("K:mm a, z", t), "0:08 PM, UTC");
        assert_eq!(
            simple("yyyyy.MMMMM.dd GGG hh:mm aaa", t),
            "02001.July.04 AD 12:08 PM"
        );
        assert_eq!(
            simple("EEE, d MMM yyyy HH:mm:ss Z", t),
            "Wed, 4 Jul 2001 12:08:56 +0000"
        );
        assert_eq!(simple("yyMMddHHmmssZ", t), "010704120856+0000");
        assert_eq!(
            simple("yyyy-MM-dd'T'HH:mm:ss.SSSZ", t),
            "2001-07-04T12:08:56.235+0000"
        );
        assert_eq!(
            simple("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", t),
            "2001-07-04T12:08:56.235Z"
        );
        assert_eq!(simple("YYYY-'W'ww-u", t), "2001-W27-3");
        assert_eq!(simple("zzzz", t), "Coordinated Universal Time");
        assert_eq!(simple("D F W k", "2001-01-01T00:30:00Z"), "1 1 1 24");
    }

    #[test]
    fn java_time_letters() {
        let p = JavaPattern::parse("uuuu/MM/dd/HH 'x''y' SSS S", Flavor::JavaTime).unwrap();
        assert_eq!(
            p.format(at("2025-11-22T09:05:03.042Z")),
            "2025/11/22/09 x'y 042 0"
        );
    }

    #[test]
    fn bad_patterns_name_the_problem() {
        let err = JavaPattern::parse("yyyy-q", Flavor::Simple).unwrap_err();
        assert_eq!(
            err.to_string(),
            "date pattern 'yyyy-q' uses the letter 'q', which is not a pattern letter nuage knows (G y Y M L w W D d F E u a k K h H m s S z Z X); quote literal text, like 'T'"
        );
        assert!(matches!(
            JavaPattern::parse("'abc", Flavor::Simple),
            Err(PatternError::UnterminatedQuote { .. })
        ));
        assert!(JavaPattern::parse("XXXX", Flavor::Simple).is_err());
    }

    #[test]
    fn strftime_for_parsing() {
        let p = JavaPattern::parse("yyyy-MM-dd'T'HH:mm:ss", Flavor::Simple).unwrap();
        assert_eq!(p.to_strftime(), "%Y-%m-%dT%H:%M:%S");
        let p = JavaPattern::parse("dd/MMM/yyyy:HH:mm:ss Z", Flavor::Simple).unwrap();
        assert_eq!(p.to_strftime(), "%d/%b/%Y:%H:%M:%S %z");
    }
}
