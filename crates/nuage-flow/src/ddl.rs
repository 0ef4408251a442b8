//! Flink's `CREATE TABLE ... WITH ('connector' = ...)`, read with
//! sqlparser's tokenizer and expression parser: columns with Flink types,
//! `METADATA [FROM 'key'] [VIRTUAL]`, computed columns (`name AS expr`),
//! `WATERMARK FOR col AS expr`, `PRIMARY KEY (...) NOT ENFORCED`,
//! `PARTITIONED BY (...)` and the WITH options.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use nuage_catalog::HiveType;

use crate::error::{FlowError, Result};
use crate::table::{ColumnKind, StreamColumn, StreamTable, Watermark};

/// The connectors a stream table may name.
pub const CONNECTORS: &[&str] = &["kinesis", "firehose", "lambda"];
const METADATA_KEYS: &[&str] = &["timestamp", "partition-key", "sequence-number", "shard-id"];

/// A Flink CREATE TABLE, or `None` when `sql` is another statement (a Hive
/// CREATE TABLE has no WITH options after its columns).
pub struct CreateStream {
    pub table: StreamTable,
    pub if_not_exists: bool,
}

pub fn parse_create(sql: &str, database: &str) -> Option<Result<CreateStream>> {
    let dialect = GenericDialect {};
    let mut p = Parser::new(&dialect).try_with_sql(sql).ok()?;
    if !p.parse_keyword(Keyword::CREATE) {
        return None;
    }
    let _ = p.parse_keyword(Keyword::TEMPORARY);
    if !p.parse_keyword(Keyword::TABLE) {
        return None;
    }
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.parse_object_name(false).ok()?;
    if !has_with_options(sql) {
        return None;
    }
    let parts: Vec<String> = name.0.iter().map(|p| p.to_string()).collect();
    let (db, table) = match parts.as_slice() {
        [t] => (database.to_string(), unquote(t)),
        [d, t] => (unquote(d), unquote(t)),
        _ => {
            return Some(Err(FlowError::Invalid(format!(
                "table name {name} has too many parts: write TABLE or DATABASE.TABLE"
            ))));
        }
    };
    Some(
        parse_body(&mut p, sql, db.to_lowercase(), table.to_lowercase()).map(|table| {
            CreateStream {
                table,
                if_not_exists,
            }
        }),
    )
}

fn unquote(ident: &str) -> String {
    ident.trim_matches(|c| c == '`' || c == '"').to_string()
}

/// Whether a `WITH (` follows the column list at the top level.
fn has_with_options(sql: &str) -> bool {
    let dialect = GenericDialect {};
    let Ok(tokens) =
        datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&dialect, sql).tokenize()
    else {
        return false;
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut depth = 0i32;
    let mut closed_columns = false;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    closed_columns = true;
                }
            }
            Token::Word(w) if depth == 0 && w.keyword == Keyword::AS => return false,
            Token::Word(w) if depth == 0 && closed_columns && w.keyword == Keyword::WITH => {
                return matches!(tokens.get(i + 1), Some(Token::LParen));
            }
            _ => {}
        }
    }
    false
}

fn is_word(token: &Token, text: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(text))
}

fn err(e: impl std::fmt::Display) -> FlowError {
    FlowError::Invalid(e.to_string())
}

fn parse_body(p: &mut Parser, sql: &str, database: String, name: String) -> Result<StreamTable> {
    p.expect_token(&Token::LParen).map_err(err)?;
    let mut columns: Vec<(StreamColumn, HiveType)> = Vec::new();
    let mut watermark = None;
    loop {
        if is_word(&p.peek_token().token, "WATERMARK") {
            p.next_token();
            p.expect_keyword(Keyword::FOR).map_err(err)?;
            let column = unquote(&p.parse_identifier().map_err(err)?.to_string());
            p.expect_keyword(Keyword::AS).map_err(err)?;
            let expr = p.parse_expr().map_err(err)?.to_string();
            watermark = Some(Watermark { column, expr });
        } else if p.parse_keyword(Keyword::PRIMARY) {
            // PRIMARY KEY (a, b) NOT ENFORCED: Flink keeps it as a hint only.
            p.expect_keyword(Keyword::KEY).map_err(err)?;
            p.expect_token(&Token::LParen).map_err(err)?;
            p.parse_comma_separated(|p| p.parse_identifier())
                .map_err(err)?;
            p.expect_token(&Token::RParen).map_err(err)?;
            if !p.parse_keywords(&[Keyword::NOT, Keyword::ENFORCED]) {
                return Err(FlowError::Invalid(
                    "Flink does not support ENFORCED mode for PRIMARY KEY constraint: \
                     write PRIMARY KEY (...) NOT ENFORCED"
                        .into(),
                ));
            }
        } else {
            columns.push(parse_column(p)?);
        }
        if p.consume_token(&Token::Comma) {
            continue;
        }
        p.expect_token(&Token::RParen).map_err(err)?;
        break;
    }
    if p.parse_keyword(Keyword::COMMENT) {
        p.parse_literal_string().map_err(err)?;
    }
    let mut partitioned_by = Vec::new();
    if p.parse_keywords(&[Keyword::PARTITIONED, Keyword::BY]) {
        p.expect_token(&Token::LParen).map_err(err)?;
        partitioned_by = p
            .parse_comma_separated(|p| p.parse_identifier())
            .map_err(err)?
            .into_iter()
            .map(|i| unquote(&i.to_string()))
            .collect();
        p.expect_token(&Token::RParen).map_err(err)?;
    }
    p.expect_keyword(Keyword::WITH).map_err(err)?;
    p.expect_token(&Token::LParen).map_err(err)?;
    let mut options = BTreeMap::new();
    loop {
        if p.consume_token(&Token::RParen) {
            break;
        }
        let key = p.parse_literal_string().map_err(|_| {
            FlowError::Invalid("WITH options are 'key' = 'value' pairs of quoted strings".into())
        })?;
        p.expect_token(&Token::Eq).map_err(err)?;
        let value = p.parse_literal_string().map_err(|_| {
            FlowError::Invalid(format!("option '{key}': its value must be a quoted string"))
        })?;
        options.insert(key, value);
        if !p.consume_token(&Token::Comma) {
            p.expect_token(&Token::RParen).map_err(err)?;
            break;
        }
    }
    let _ = p.consume_token(&Token::SemiColon);
    if p.peek_token().token != Token::EOF {
        return Err(FlowError::Invalid(format!(
            "unexpected {} after the WITH options",
            p.peek_token().token
        )));
    }
    let table = StreamTable {
        database,
        name,
        columns,
        watermark,
        partitioned_by,
        options,
        statement: sql.trim().trim_end_matches(';').to_string(),
    };
    validate(&table)?;
    Ok(table)
}

fn parse_column(p: &mut Parser) -> Result<(StreamColumn, HiveType)> {
    let name = unquote(&p.parse_identifier().map_err(err)?.to_string());
    if p.parse_keyword(Keyword::AS) {
        let expr = p.parse_expr().map_err(err)?.to_string();
        skip_comment(p)?;
        // Typed when a job plans it (it depends on the other columns).
        let column = StreamColumn {
            name,
            flink_type: String::new(),
            kind: ColumnKind::Computed { expr },
        };
        return Ok((column, HiveType::String));
    }
    let flink_type = type_text(p);
    if flink_type.is_empty() {
        return Err(FlowError::Invalid(format!("column {name} has no type")));
    }
    let ty = flink_type_to_hive(&flink_type)
        .map_err(|e| FlowError::Invalid(format!("column {name}: {e}")))?;
    let mut kind = ColumnKind::Physical;
    if p.parse_keyword(Keyword::METADATA) {
        let key = if p.parse_keyword(Keyword::FROM) {
            p.parse_literal_string().map_err(err)?
        } else {
            name.clone()
        };
        if !METADATA_KEYS.contains(&key.as_str()) {
            return Err(FlowError::Invalid(format!(
                "column {name}: the kinesis connector has no metadata key '{key}'; \
                 it has {}",
                METADATA_KEYS.join(", ")
            )));
        }
        let is_virtual = p.parse_keyword(Keyword::VIRTUAL);
        kind = ColumnKind::Metadata { key, is_virtual };
    }
    skip_comment(p)?;
    Ok((
        StreamColumn {
            name,
            flink_type,
            kind,
        },
        ty,
    ))
}

fn skip_comment(p: &mut Parser) -> Result<()> {
    if p.parse_keyword(Keyword::COMMENT) {
        p.parse_literal_string().map_err(err)?;
    }
    Ok(())
}

/// The tokens of a type, up to the column's end or its METADATA / COMMENT.
fn type_text(p: &mut Parser) -> String {
    let mut text = String::new();
    let mut depth = 0i32;
    loop {
        let token = p.peek_token().token;
        match &token {
            Token::EOF => break,
            Token::Comma | Token::RParen if depth == 0 => break,
            Token::Word(w)
                if depth == 0 && matches!(w.keyword, Keyword::METADATA | Keyword::COMMENT) =>
            {
                break;
            }
            Token::LParen | Token::Lt => depth += 1,
            Token::RParen | Token::Gt => depth -= 1,
            Token::ShiftRight => depth -= 2,
            _ => {}
        }
        p.next_token();
        if !text.is_empty() && matches!(token, Token::Word(_)) && !text.ends_with(['<', '(']) {
            text.push(' ');
        }
        text.push_str(&token.to_string());
    }
    text
}

/// Flink's SQL types as Hive types (what the catalog and the SQL engine
/// use): STRING, VARCHAR(n), BOOLEAN, TINYINT ... DECIMAL(p, s), DATE,
/// TIMESTAMP(p) [WITHOUT TIME ZONE], TIMESTAMP_LTZ(p), BYTES, ARRAY<T>,
/// MAP<K, V>, ROW<name T, ...>; `NOT NULL` is accepted.
pub fn flink_type_to_hive(text: &str) -> std::result::Result<HiveType, String> {
    let mut reader = TypeReader {
        text: text.as_bytes(),
        pos: 0,
    };
    let ty = reader.read()?;
    reader.skip_ws();
    if reader.pos < reader.text.len() {
        return Err(format!(
            "unexpected {:?} in type {text}",
            &text[reader.pos..]
        ));
    }
    Ok(ty)
}

struct TypeReader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl TypeReader<'_> {
    fn skip_ws(&mut self) {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.pos;
        while self
            .text
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'`')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.text[start..self.pos]).to_string()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.text.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' in a type", c as char))
        }
    }

    /// `(n)` or `(p, s)` if present.
    fn args(&mut self) -> std::result::Result<Vec<u32>, String> {
        let mut args = Vec::new();
        if self.eat(b'(') {
            loop {
                let n = self.word();
                args.push(n.parse().map_err(|_| format!("{n:?} is not a length"))?);
                if !self.eat(b',') {
                    break;
                }
            }
            self.expect(b')')?;
        }
        Ok(args)
    }

    fn keywords(&mut self, words: &[&str]) -> bool {
        let save = self.pos;
        for w in words {
            if !self.word().eq_ignore_ascii_case(w) {
                self.pos = save;
                return false;
            }
        }
        true
    }

    fn read(&mut self) -> std::result::Result<HiveType, String> {
        let word = self.word().to_ascii_uppercase();
        let ty = match word.as_str() {
            "STRING" => HiveType::String,
            "VARCHAR" | "CHAR" => {
                self.args()?;
                HiveType::String
            }
            "BOOLEAN" => HiveType::Boolean,
            "TINYINT" => HiveType::TinyInt,
            "SMALLINT" => HiveType::SmallInt,
            "INT" | "INTEGER" => HiveType::Int,
            "BIGINT" => HiveType::BigInt,
            "FLOAT" | "REAL" => HiveType::Float,
            "DOUBLE" => {
                self.keywords(&["PRECISION"]);
                HiveType::Double
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let args = self.args()?;
                let precision = args.first().copied().unwrap_or(10);
                let scale = args.get(1).copied().unwrap_or(0);
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(format!("DECIMAL({precision}, {scale}) is out of range"));
                }
                HiveType::Decimal(precision as u8, scale as i8)
            }
            "DATE" => HiveType::Date,
            "TIMESTAMP" | "TIMESTAMP_LTZ" => {
                self.args()?;
                let _ = self.keywords(&["WITHOUT", "TIME", "ZONE"])
                    || self.keywords(&["WITH", "LOCAL", "TIME", "ZONE"]);
                HiveType::Timestamp
            }
            "BYTES" | "VARBINARY" | "BINARY" => {
                self.args()?;
                HiveType::Binary
            }
            "ARRAY" => {
                self.expect(b'<')?;
                let element = self.read()?;
                self.expect(b'>')?;
                HiveType::Array(Box::new(element))
            }
            "MAP" => {
                self.expect(b'<')?;
                let key = self.read()?;
                self.expect(b',')?;
                let value = self.read()?;
                self.expect(b'>')?;
                HiveType::Map(Box::new(key), Box::new(value))
            }
            "ROW" => {
                let close = if self.eat(b'<') {
                    b'>'
                } else {
                    self.expect(b'(')?;
                    b')'
                };
                let mut fields = Vec::new();
                loop {
                    let name = self.word().trim_matches('`').to_string();
                    let ty = self.read()?;
                    fields.push((name, ty));
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(close)?;
                HiveType::Struct(fields)
            }
            "" => return Err("a type is missing".into()),
            other => {
                return Err(format!(
                    "type {other} is not supported in stream tables (STRING, BOOLEAN, INT, BIGINT, \
                     DOUBLE, DECIMAL(p, s), DATE, TIMESTAMP(p), BYTES, ARRAY, MAP and ROW are)"
                ));
            }
        };
        let _ = self.keywords(&["NOT", "NULL"]) || self.keywords(&["NULL"]);
        Ok(ty)
    }
}

/// What Flink would refuse when the table is used, refused at CREATE.
fn validate(table: &StreamTable) -> Result<()> {
    let connector = table.connector();
    if connector.is_empty() {
        return Err(FlowError::Invalid(format!(
            "table {} has no 'connector' option: stream tables use 'connector' = 'kinesis' \
             (or 'firehose' as a sink); lake tables are created with Hive DDL",
            table.name
        )));
    }
    if !CONNECTORS.contains(&connector) {
        return Err(FlowError::Invalid(format!(
            "connector '{connector}' is not supported: use 'kinesis', 'firehose' or 'lambda' \
             (lake tables are created with Hive DDL and are sinks of jobs as they are)"
        )));
    }
    if connector == "firehose" && table.option("delivery-stream").is_none() {
        return Err(FlowError::Invalid(format!(
            "table {}: the firehose connector needs 'delivery-stream' = '<name>'",
            table.name
        )));
    }
    if connector == "lambda" && table.option("function").is_none() {
        return Err(FlowError::Invalid(format!(
            "table {}: the lambda connector (nuage's: a sink that invokes a function with \
             the rows) needs 'function' = '<name or ARN>'",
            table.name
        )));
    }
    if connector == "kinesis" {
        table.stream_name()?;
    }
    let format = table.option("format").unwrap_or("json");
    if !["json", "csv", "raw", "debezium-json"].contains(&format) {
        return Err(FlowError::Invalid(format!(
            "table {}: format '{format}' is not supported (json, csv, raw, or debezium-json \
             for an updating result)",
            table.name
        )));
    }
    if let Some(wm) = &table.watermark {
        match table.column(&wm.column) {
            Some((_, HiveType::Timestamp)) => {}
            Some((c, _)) if matches!(c.kind, ColumnKind::Computed { .. }) => {}
            Some(_) => {
                return Err(FlowError::Invalid(format!(
                    "WATERMARK FOR {}: the rowtime attribute must be of type TIMESTAMP or TIMESTAMP_LTZ",
                    wm.column
                )));
            }
            None => {
                return Err(FlowError::Invalid(format!(
                    "WATERMARK FOR {}: the rowtime attribute field '{}' is not defined in the table",
                    wm.column, wm.column
                )));
            }
        }
    }
    let position = crate::source::StartPosition::of(table)?;
    let _ = position;
    Ok(())
}
