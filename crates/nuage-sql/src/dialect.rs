//! Tokenizing HiveQL: Hive's string literals and identifiers on top of
//! `sqlparser`'s Hive dialect.
//!
//! Three differences from what `sqlparser` does out of the box:
//! - string literals use Hive's escapes (`'\t'`, `'\001'` octal, `'\u0001'`, `'it\'s'`);
//! - `"text"` is a string literal in expressions (Hive), but an identifier where a
//!   name must stand (after `.`, FROM, JOIN, TABLE, ...), as Athena writes it;
//! - identifiers are case-insensitive even when quoted: `` `movieId` `` is `movieid`.

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr};
use datafusion::sql::sqlparser::dialect::Dialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Word};

/// HiveQL as `sqlparser` should read it: Hive's identifier rules, `a DIV b`,
/// and (when `backslash_escapes`) backslash escapes inside string literals.
#[derive(Debug, Default)]
pub struct HiveQl {
    pub backslash_escapes: bool,
}

impl Dialect for HiveQl {
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_ascii_alphabetic() || ch == '_' || ch == '$' || ch.is_ascii_digit()
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.backslash_escapes
    }

    fn supports_numeric_prefix(&self) -> bool {
        true
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }

    fn require_interval_qualifier(&self) -> bool {
        true
    }

    fn supports_bang_not_operator(&self) -> bool {
        true
    }

    fn supports_group_by_with_modifier(&self) -> bool {
        true
    }

    fn supports_table_sample_before_alias(&self) -> bool {
        true
    }

    /// `a DIV b`: Hive's integer division.
    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        let is_div = matches!(&parser.peek_token().token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("div"));
        if !is_div {
            return None;
        }
        parser.next_token();
        Some(
            parser
                .parse_subexpr(precedence)
                .map(|right| Expr::BinaryOp {
                    left: Box::new(expr.clone()),
                    op: BinaryOperator::MyIntegerDivide,
                    right: Box::new(right),
                }),
        )
    }
}

/// Hive's unescaping of string literals (`BaseSemanticAnalyzer.unescapeSQLString`).
pub fn hive_unescape(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let next = chars[i + 1];
        // \uXXXX
        if next == 'u' && i + 6 <= chars.len() {
            let hex: String = chars[i + 2..i + 6].iter().collect();
            if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                out.push(ch);
                i += 6;
                continue;
            }
        }
        // \ooo octal
        if i + 3 < chars.len() && chars[i + 1..i + 4].iter().all(|d| ('0'..='7').contains(d)) {
            let oct: String = chars[i + 1..i + 4].iter().collect();
            if let Some(ch) = u32::from_str_radix(&oct, 8).ok().and_then(char::from_u32) {
                out.push(ch);
                i += 4;
                continue;
            }
        }
        match next {
            '0' => out.push('\0'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'b' => out.push('\u{8}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'Z' => out.push('\u{1a}'),
            '\\' => out.push('\\'),
            // LIKE wildcards keep their backslash.
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            other => out.push(other),
        }
        i += 2;
    }
    out
}

/// Keywords after which a double-quoted word names something.
fn names_follow(word: &Word) -> bool {
    matches!(
        word.keyword,
        Keyword::FROM
            | Keyword::JOIN
            | Keyword::TABLE
            | Keyword::INTO
            | Keyword::UPDATE
            | Keyword::VIEW
            | Keyword::DATABASE
            | Keyword::SCHEMA
            | Keyword::AS
            | Keyword::EXISTS
            | Keyword::DESCRIBE
            | Keyword::DESC
            | Keyword::BY
    )
}

/// Tokens of a statement with Hive's literal and identifier rules applied.
pub fn tokenize(sql: &str) -> Result<Vec<TokenWithSpan>, ParserError> {
    let mut tokens = Tokenizer::new(
        &HiveQl {
            backslash_escapes: true,
        },
        sql,
    )
    .with_unescape(false)
    .tokenize_with_location()
    .map_err(|e| ParserError::TokenizerError(e.to_string()))?;
    let significant: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, _)| i)
        .collect();
    for (pos, &i) in significant.iter().enumerate() {
        let prev = pos
            .checked_sub(1)
            .map(|p| &tokens[significant[p]].token)
            .cloned();
        let next = significant.get(pos + 1).map(|&n| tokens[n].token.clone());
        let token = &mut tokens[i].token;
        match token {
            Token::SingleQuotedString(s) => *s = hive_unescape(s),
            Token::Word(w) if w.quote_style == Some('`') => w.value = w.value.to_lowercase(),
            Token::Word(w) if w.quote_style == Some('"') => {
                let is_name = matches!(prev, Some(Token::Period))
                    || matches!(next, Some(Token::Period))
                    || matches!(&prev, Some(Token::Word(p)) if p.quote_style.is_none() && names_follow(p));
                if is_name {
                    w.value = w.value.to_lowercase();
                } else {
                    *token = Token::SingleQuotedString(hive_unescape(&w.value));
                }
            }
            _ => {}
        }
    }
    Ok(tokens)
}

/// A parser positioned at the start of HiveQL text as a user wrote it.
pub fn parser(sql: &str) -> Result<Parser<'static>, ParserError> {
    static DIALECT: HiveQl = HiveQl {
        backslash_escapes: true,
    };
    Ok(Parser::new(&DIALECT).with_tokens_with_locations(tokenize(sql)?))
}

/// A parser for SQL that nuage printed from an AST (standard quoting, Hive escapes already applied).
pub fn standard_parser(sql: &str) -> Result<Parser<'static>, ParserError> {
    static DIALECT: HiveQl = HiveQl {
        backslash_escapes: false,
    };
    Parser::new(&DIALECT).try_with_sql(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_escapes() {
        assert_eq!(hive_unescape("\\t"), "\t");
        assert_eq!(hive_unescape("\\001"), "\u{1}");
        assert_eq!(hive_unescape("\\u0002"), "\u{2}");
        assert_eq!(hive_unescape("it\\'s"), "it's");
        assert_eq!(hive_unescape("a\\\\|b"), "a\\|b");
        assert_eq!(hive_unescape("100\\%"), "100\\%");
    }

    #[test]
    fn double_quotes_are_strings_in_expressions_and_names_elsewhere() {
        let tokens = tokenize("SELECT \"Animation\" FROM \"movies\" WHERE x LIKE \"%a%\"").unwrap();
        let strings: Vec<_> = tokens
            .iter()
            .filter_map(|t| match &t.token {
                Token::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(strings, vec!["Animation", "%a%"]);
        assert!(
            tokens
                .iter()
                .any(|t| matches!(&t.token, Token::Word(w) if w.value == "movies"))
        );
    }
}
