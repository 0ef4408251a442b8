//! Hive column types: parsed from DDL text, printed back in Hive's spelling.

use std::fmt;

/// A Hive column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HiveType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    /// precision, scale (Hive's default is decimal(10,0)).
    Decimal(u8, i8),
    String,
    Varchar(u32),
    Char(u32),
    Date,
    Timestamp,
    Binary,
    Array(Box<HiveType>),
    Map(Box<HiveType>, Box<HiveType>),
    Struct(Vec<(String, HiveType)>),
}

impl HiveType {
    /// Parses `int`, `decimal(10,2)`, `array<struct<a:int,b:string>>`, ... (case-insensitive).
    pub fn parse(text: &str) -> Result<HiveType, String> {
        let mut parser = Parser { text, pos: 0 };
        let ty = parser.parse_type()?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(format!(
                "unexpected {:?} after type {ty} in {text:?}",
                &text[parser.pos..]
            ));
        }
        Ok(ty)
    }

    pub fn is_primitive(&self) -> bool {
        !matches!(
            self,
            HiveType::Array(_) | HiveType::Map(..) | HiveType::Struct(_)
        )
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiveType::Boolean => f.write_str("boolean"),
            HiveType::TinyInt => f.write_str("tinyint"),
            HiveType::SmallInt => f.write_str("smallint"),
            HiveType::Int => f.write_str("int"),
            HiveType::BigInt => f.write_str("bigint"),
            HiveType::Float => f.write_str("float"),
            HiveType::Double => f.write_str("double"),
            HiveType::Decimal(p, s) => write!(f, "decimal({p},{s})"),
            HiveType::String => f.write_str("string"),
            HiveType::Varchar(n) => write!(f, "varchar({n})"),
            HiveType::Char(n) => write!(f, "char({n})"),
            HiveType::Date => f.write_str("date"),
            HiveType::Timestamp => f.write_str("timestamp"),
            HiveType::Binary => f.write_str("binary"),
            HiveType::Array(inner) => write!(f, "array<{inner}>"),
            HiveType::Map(k, v) => write!(f, "map<{k},{v}>"),
            HiveType::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}:{ty}")?;
                }
                f.write_str(">")
            }
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.pos += len;
        rest[..len].to_ascii_lowercase()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected '{c}' at position {} of type {:?}",
                self.pos + 1,
                self.text
            ))
        }
    }

    fn number(&mut self) -> Result<u32, String> {
        let word = self.word();
        word.parse()
            .map_err(|_| format!("expected a number, found {word:?} in type {:?}", self.text))
    }

    fn parse_type(&mut self) -> Result<HiveType, String> {
        let name = self.word();
        Ok(match name.as_str() {
            "boolean" | "bool" => HiveType::Boolean,
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" | "long" => HiveType::BigInt,
            "float" | "real" => HiveType::Float,
            "double" => {
                // `double precision`
                let save = self.pos;
                if self.word() != "precision" {
                    self.pos = save;
                }
                HiveType::Double
            }
            "decimal" | "numeric" | "dec" => {
                if self.eat('(') {
                    let p = self.number()?;
                    let s = if self.eat(',') { self.number()? } else { 0 };
                    self.expect(')')?;
                    if !(1..=38).contains(&p) || s > p {
                        return Err(format!(
                            "decimal({p},{s}) is out of range: precision must be 1..38 and scale at most the precision"
                        ));
                    }
                    HiveType::Decimal(p as u8, s as i8)
                } else {
                    HiveType::Decimal(10, 0)
                }
            }
            "string" => HiveType::String,
            "varchar" => {
                self.expect('(')?;
                let n = self.number()?;
                self.expect(')')?;
                HiveType::Varchar(n)
            }
            "char" => {
                self.expect('(')?;
                let n = self.number()?;
                self.expect(')')?;
                HiveType::Char(n)
            }
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "binary" => HiveType::Binary,
            "array" => {
                self.expect('<')?;
                let inner = self.parse_type()?;
                self.expect('>')?;
                HiveType::Array(Box::new(inner))
            }
            "map" => {
                self.expect('<')?;
                let key = self.parse_type()?;
                self.expect(',')?;
                let value = self.parse_type()?;
                self.expect('>')?;
                HiveType::Map(Box::new(key), Box::new(value))
            }
            "struct" => {
                self.expect('<')?;
                let mut fields = Vec::new();
                loop {
                    let name = self.word();
                    if name.is_empty() {
                        return Err(format!("expected a field name in type {:?}", self.text));
                    }
                    self.expect(':')?;
                    fields.push((name, self.parse_type()?));
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect('>')?;
                HiveType::Struct(fields)
            }
            "" => return Err(format!("expected a type name in {:?}", self.text)),
            other => {
                return Err(format!(
                    "unknown type {other:?}; Hive types are boolean, tinyint, smallint, int, bigint, float, double, decimal(p,s), string, varchar(n), char(n), date, timestamp, binary, array<..>, map<..,..>, struct<..>"
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_hive_spellings() {
        for text in [
            "int",
            "decimal(10,2)",
            "array<string>",
            "map<string,array<int>>",
            "struct<a:int,b:struct<c:double>>",
            "varchar(20)",
        ] {
            assert_eq!(HiveType::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(HiveType::parse("INTEGER").unwrap(), HiveType::Int);
        assert_eq!(
            HiveType::parse("Array< String >").unwrap().to_string(),
            "array<string>"
        );
        assert_eq!(
            HiveType::parse("decimal").unwrap(),
            HiveType::Decimal(10, 0)
        );
        assert_eq!(
            HiveType::parse("double precision").unwrap(),
            HiveType::Double
        );
    }

    #[test]
    fn explains_bad_types() {
        assert!(
            HiveType::parse("integr")
                .unwrap_err()
                .contains("unknown type \"integr\"")
        );
        assert!(
            HiveType::parse("array<int")
                .unwrap_err()
                .contains("expected '>'")
        );
        assert!(
            HiveType::parse("decimal(40,2)")
                .unwrap_err()
                .contains("out of range")
        );
    }
}
