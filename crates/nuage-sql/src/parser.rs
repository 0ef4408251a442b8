//! HiveQL statements that nuage executes itself (DDL, LOAD, INSERT, UPDATE...),
//! parsed with `sqlparser`'s primitives; queries stay `sqlparser` ASTs that
//! DataFusion plans.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::{Expr, ObjectName, Query, Statement as SqlStatement};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::dialect;

/// A table name as written: `[db.]table`, lowercased.
#[derive(Debug, Clone, PartialEq)]
pub struct TableName {
    pub database: Option<String>,
    pub name: String,
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.database {
            Some(db) => write!(f, "{db}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A column definition: name, Hive type text, comment.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: String,
    pub comment: Option<String>,
}

/// `ROW FORMAT ...` of a CREATE TABLE.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowFormat {
    /// The serde class (`ROW FORMAT SERDE '...'`); None for `ROW FORMAT DELIMITED`.
    pub serde: Option<String>,
    /// DELIMITED clauses and WITH SERDEPROPERTIES, as serde properties.
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateTable {
    pub name: Option<TableName>,
    pub external: bool,
    pub temporary: bool,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    /// `PARTITIONED BY (c type, ...)`; for CTAS the types may be empty (names only).
    pub partitioned_by: Vec<ColumnDef>,
    pub comment: Option<String>,
    pub row_format: Option<RowFormat>,
    pub stored_as: Option<String>,
    pub location: Option<String>,
    pub properties: BTreeMap<String, String>,
    /// Athena's `WITH (format = 'PARQUET', ...)`.
    pub with_options: BTreeMap<String, String>,
    pub like: Option<TableName>,
    pub query: Option<Box<Query>>,
}

/// `PARTITION (k='v', ...)` with every value given.
pub type PartitionSpec = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub enum AlterTable {
    AddColumns(Vec<ColumnDef>),
    ReplaceColumns(Vec<ColumnDef>),
    ChangeColumn {
        old: String,
        new: ColumnDef,
    },
    RenameTo(TableName),
    AddPartitions {
        if_not_exists: bool,
        partitions: Vec<(PartitionSpec, Option<String>)>,
    },
    DropPartitions {
        if_exists: bool,
        partitions: Vec<PartitionSpec>,
    },
    SetProperties(BTreeMap<String, String>),
    SetSerdeProperties(BTreeMap<String, String>),
    SetLocation(String),
}

/// One HiveQL statement.
#[derive(Debug, Clone)]
pub enum HiveStatement {
    /// SELECT, WITH, VALUES, EXPLAIN: planned by DataFusion.
    Query(Box<SqlStatement>),
    Use(String),
    CreateDatabase {
        name: String,
        if_not_exists: bool,
        comment: Option<String>,
        location: Option<String>,
        properties: BTreeMap<String, String>,
    },
    DropDatabase {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    ShowDatabases {
        like: Option<String>,
    },
    DescribeDatabase(String),
    CreateTable(Box<CreateTable>),
    CreateView {
        name: TableName,
        or_replace: bool,
        if_not_exists: bool,
        text: String,
        comment: Option<String>,
    },
    DropTable {
        name: TableName,
        if_exists: bool,
        view: bool,
    },
    Truncate(TableName),
    Alter {
        name: TableName,
        op: AlterTable,
    },
    ShowTables {
        database: Option<String>,
        like: Option<String>,
        views: bool,
    },
    /// `SHOW PARTITIONS t [PARTITION (k='v', ...)]`: all, or those matching a partial spec.
    ShowPartitions(TableName, PartitionSpec),
    ShowCreateTable(TableName),
    ShowColumns(TableName),
    /// `SHOW TBLPROPERTIES t [('key')]`.
    ShowTblProperties(TableName, Option<String>),
    ShowFunctions,
    Describe {
        name: TableName,
        extended: bool,
        formatted: bool,
    },
    MsckRepair(TableName),
    /// `ANALYZE TABLE t COMPUTE STATISTICS ...`, accepted as a no-op.
    Analyze(TableName),
    LoadData {
        local: bool,
        path: String,
        overwrite: bool,
        table: TableName,
        partition: Vec<(String, String)>,
    },
    Insert {
        overwrite: bool,
        table: TableName,
        partition: Vec<(String, Option<String>)>,
        columns: Vec<String>,
        source: Box<Query>,
    },
    /// `INSERT OVERWRITE [LOCAL] DIRECTORY 'path' [ROW FORMAT ...] [STORED AS ...] SELECT ...`
    InsertDirectory {
        local: bool,
        path: String,
        format: Box<CreateTable>,
        source: Box<Query>,
    },
    /// Athena's `UNLOAD (SELECT ...) TO 'location' WITH (format = ..., ...)`.
    Unload {
        query: Box<Query>,
        to: String,
        options: BTreeMap<String, String>,
    },
    Update {
        table: TableName,
        assignments: Vec<(String, Expr)>,
        selection: Option<Expr>,
    },
    Delete {
        table: TableName,
        selection: Option<Expr>,
    },
}

/// Parses one statement (without its trailing `;`).
pub fn parse(sql: &str) -> Result<HiveStatement, ParserError> {
    let mut p = dialect::parser(sql)?;
    let statement = Statements { p: &mut p, sql }.statement()?;
    if p.peek_token().token != Token::EOF {
        return Err(unexpected(&p, "the end of the statement"));
    }
    Ok(statement)
}

/// An error naming the token found, with its line and column.
fn unexpected(p: &Parser, expected: &str) -> ParserError {
    let found = p.peek_token();
    ParserError::ParserError(format!(
        "expected {expected}, found {} at line {}, column {}",
        found.token, found.span.start.line, found.span.start.column
    ))
}

struct Statements<'p, 'a> {
    p: &'p mut Parser<'a>,
    sql: &'p str,
}

impl Statements<'_, '_> {
    /// The next token is the unquoted word `w` (any case).
    fn peek_word(&self, w: &str) -> bool {
        self.peek_nth_word(0, w)
    }

    fn peek_nth_word(&self, n: usize, w: &str) -> bool {
        matches!(&self.p.peek_nth_token(n).token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
    }

    /// Consumes the word `w` if it is next.
    fn word(&mut self, w: &str) -> bool {
        if self.peek_word(w) {
            self.p.next_token();
            true
        } else {
            false
        }
    }

    /// Consumes the words in order, or nothing.
    fn words(&mut self, ws: &[&str]) -> bool {
        if ws.iter().enumerate().all(|(i, w)| self.peek_nth_word(i, w)) {
            for _ in ws {
                self.p.next_token();
            }
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), ParserError> {
        if self.word(w) {
            Ok(())
        } else {
            Err(unexpected(self.p, &w.to_uppercase()))
        }
    }

    fn expect_words(&mut self, ws: &[&str]) -> Result<(), ParserError> {
        for w in ws {
            self.expect_word(w)?;
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, ParserError> {
        match self.p.next_token().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Ok(s),
            _ => {
                self.p.prev_token();
                Err(unexpected(self.p, "a quoted string"))
            }
        }
    }

    fn ident(&mut self) -> Result<String, ParserError> {
        match self.p.next_token().token {
            Token::Word(w) => Ok(w.value.to_lowercase()),
            _ => {
                self.p.prev_token();
                Err(unexpected(self.p, "a name"))
            }
        }
    }

    fn table_name(&mut self) -> Result<TableName, ParserError> {
        let name: ObjectName = self.p.parse_object_name(false)?;
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|part| {
                part.as_ident()
                    .map(|i| i.value.to_lowercase())
                    .unwrap_or_else(|| part.to_string())
            })
            .collect();
        match parts.as_slice() {
            [table] => Ok(TableName {
                database: None,
                name: table.clone(),
            }),
            [db, table] => Ok(TableName {
                database: Some(db.clone()),
                name: table.clone(),
            }),
            _ => Err(ParserError::ParserError(format!(
                "table name {name} has too many parts; write table or database.table"
            ))),
        }
    }

    fn if_not_exists(&mut self) -> bool {
        self.words(&["if", "not", "exists"])
    }

    fn if_exists(&mut self) -> bool {
        self.words(&["if", "exists"])
    }

    /// `('k'='v', ...)` property lists (keys may also be bare words).
    fn properties(&mut self) -> Result<BTreeMap<String, String>, ParserError> {
        self.p.expect_token(&Token::LParen)?;
        let mut props = BTreeMap::new();
        if self.p.consume_token(&Token::RParen) {
            return Ok(props);
        }
        loop {
            let key = match self.p.peek_token().token {
                Token::SingleQuotedString(_) | Token::DoubleQuotedString(_) => self.string()?,
                _ => self.ident()?,
            };
            self.p.expect_token(&Token::Eq)?;
            let value = match self.p.next_token().token {
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
                Token::Number(n, _) => n,
                Token::Word(w) => w.value,
                _ => {
                    self.p.prev_token();
                    return Err(unexpected(self.p, "a property value"));
                }
            };
            props.insert(key, value);
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.p.expect_token(&Token::RParen)?;
        Ok(props)
    }

    /// Athena's `WITH (k = 'v', partitioned_by = ARRAY['a','b'])`.
    fn with_options(&mut self) -> Result<BTreeMap<String, String>, ParserError> {
        self.p.expect_token(&Token::LParen)?;
        let mut props = BTreeMap::new();
        loop {
            let key = self.ident()?;
            self.p.expect_token(&Token::Eq)?;
            let value = if self.word("array") {
                self.p.expect_token(&Token::LBracket)?;
                let mut items = Vec::new();
                loop {
                    items.push(self.string()?);
                    if !self.p.consume_token(&Token::Comma) {
                        break;
                    }
                }
                self.p.expect_token(&Token::RBracket)?;
                items.join(",")
            } else {
                match self.p.next_token().token {
                    Token::SingleQuotedString(s) => s,
                    Token::Number(n, _) => n,
                    Token::Word(w) => w.value,
                    _ => {
                        self.p.prev_token();
                        return Err(unexpected(self.p, "an option value"));
                    }
                }
            };
            props.insert(key, value);
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.p.expect_token(&Token::RParen)?;
        Ok(props)
    }

    /// A Hive type, read as text up to the next top-level `,`, `)` or COMMENT.
    fn type_text(&mut self) -> Result<String, ParserError> {
        let mut depth = 0i32;
        let mut text = String::new();
        loop {
            let token = self.p.peek_token().token;
            match &token {
                Token::EOF => break,
                Token::Comma | Token::RParen if depth == 0 => break,
                Token::Word(w)
                    if depth == 0
                        && w.quote_style.is_none()
                        && w.value.eq_ignore_ascii_case("comment") =>
                {
                    break;
                }
                Token::Lt | Token::LParen => depth += 1,
                Token::Gt | Token::RParen => depth -= 1,
                Token::ShiftRight => depth -= 2,
                Token::Whitespace(_) => {}
                _ => {}
            }
            self.p.next_token();
            match token {
                Token::Word(w) => text.push_str(&w.value),
                other => text.push_str(&other.to_string()),
            }
            if depth < 0 {
                return Err(unexpected(self.p, "a balanced type"));
            }
        }
        if text.is_empty() {
            return Err(unexpected(self.p, "a column type"));
        }
        nuage_catalog::HiveType::parse(&text).map_err(ParserError::ParserError)?;
        Ok(text)
    }

    fn column_defs(&mut self, types_required: bool) -> Result<Vec<ColumnDef>, ParserError> {
        self.p.expect_token(&Token::LParen)?;
        let mut columns = Vec::new();
        loop {
            let name = self.ident()?;
            let data_type = if !types_required
                && matches!(self.p.peek_token().token, Token::Comma | Token::RParen)
            {
                String::new()
            } else {
                self.type_text()?
            };
            let comment = if self.word("comment") {
                Some(self.string()?)
            } else {
                None
            };
            columns.push(ColumnDef {
                name,
                data_type,
                comment,
            });
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.p.expect_token(&Token::RParen)?;
        Ok(columns)
    }

    /// `PARTITION (k='v', k2)` specs; values are optional for dynamic partitions.
    fn partition_spec(&mut self) -> Result<Vec<(String, Option<String>)>, ParserError> {
        self.p.expect_token(&Token::LParen)?;
        let mut spec = Vec::new();
        loop {
            let key = self.ident()?;
            let value = if self.p.consume_token(&Token::Eq) {
                Some(match self.p.next_token().token {
                    Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s,
                    Token::Number(n, _) => n,
                    Token::Word(w) => w.value,
                    _ => {
                        self.p.prev_token();
                        return Err(unexpected(self.p, "a partition value"));
                    }
                })
            } else {
                None
            };
            spec.push((key, value));
            if !self.p.consume_token(&Token::Comma) {
                break;
            }
        }
        self.p.expect_token(&Token::RParen)?;
        Ok(spec)
    }

    fn static_partition_spec(&mut self) -> Result<Vec<(String, String)>, ParserError> {
        self.partition_spec()?
            .into_iter()
            .map(|(k, v)| {
                v.map(|v| (k.clone(), v)).ok_or_else(|| {
                    ParserError::ParserError(format!(
                        "partition column {k} needs a value here, as in PARTITION ({k}='...')"
                    ))
                })
            })
            .collect()
    }

    fn statement(&mut self) -> Result<HiveStatement, ParserError> {
        if self.peek_word("select")
            || self.peek_word("with")
            || self.peek_word("values")
            || self.peek_word("explain")
            || self.p.peek_token().token == Token::LParen
        {
            if self.peek_word("explain") {
                return Ok(HiveStatement::Query(Box::new(self.p.parse_statement()?)));
            }
            let query = self.p.parse_query()?;
            return Ok(HiveStatement::Query(Box::new(SqlStatement::Query(query))));
        }
        if self.word("use") {
            return Ok(HiveStatement::Use(self.ident()?));
        }
        if self.word("unload") {
            self.p.expect_token(&Token::LParen)?;
            let query = self.p.parse_query()?;
            self.p.expect_token(&Token::RParen)?;
            self.expect_word("to")?;
            let to = self.string()?;
            self.expect_word("with")?;
            let options = self
                .with_options()?
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect();
            return Ok(HiveStatement::Unload { query, to, options });
        }
        if self.word("create") {
            return self.create();
        }
        if self.word("drop") {
            return self.drop();
        }
        if self.word("show") {
            return self.show();
        }
        if self.word("describe") || self.word("desc") {
            if self.word("database") || self.word("schema") {
                self.word("extended");
                return Ok(HiveStatement::DescribeDatabase(self.ident()?));
            }
            let extended = self.word("extended");
            let formatted = self.word("formatted");
            return Ok(HiveStatement::Describe {
                name: self.table_name()?,
                extended,
                formatted,
            });
        }
        if self.word("alter") {
            return self.alter();
        }
        if self.word("msck") {
            self.word("repair");
            self.expect_word("table")?;
            let name = self.table_name()?;
            // ADD/DROP/SYNC PARTITIONS are accepted; nuage always adds missing ones.
            if self.word("add") || self.word("drop") || self.word("sync") {
                self.expect_word("partitions")?;
            }
            return Ok(HiveStatement::MsckRepair(name));
        }
        if self.word("load") {
            self.expect_word("data")?;
            let local = self.word("local");
            self.expect_word("inpath")?;
            let path = self.string()?;
            let overwrite = self.word("overwrite");
            self.expect_words(&["into", "table"])?;
            let table = self.table_name()?;
            let partition = if self.word("partition") {
                self.static_partition_spec()?
            } else {
                Vec::new()
            };
            return Ok(HiveStatement::LoadData {
                local,
                path,
                overwrite,
                table,
                partition,
            });
        }
        if self.word("insert") {
            let overwrite = if self.word("overwrite") {
                let local = self.word("local");
                if self.word("directory") {
                    return self.insert_directory(local);
                }
                self.expect_word("table")?;
                true
            } else {
                self.expect_word("into")?;
                self.word("table");
                false
            };
            let table = self.table_name()?;
            let partition = if self.word("partition") {
                self.partition_spec()?
            } else {
                Vec::new()
            };
            self.if_not_exists();
            let mut columns = Vec::new();
            if self.p.peek_token().token == Token::LParen
                && !self.peek_nth_word(1, "select")
                && !self.peek_nth_word(1, "with")
            {
                self.p.expect_token(&Token::LParen)?;
                loop {
                    columns.push(self.ident()?);
                    if !self.p.consume_token(&Token::Comma) {
                        break;
                    }
                }
                self.p.expect_token(&Token::RParen)?;
            }
            let source = self.p.parse_query()?;
            return Ok(HiveStatement::Insert {
                overwrite,
                table,
                partition,
                columns,
                source,
            });
        }
        if self.word("update") {
            let table = self.table_name()?;
            self.expect_word("set")?;
            let mut assignments = Vec::new();
            loop {
                let column = self.ident()?;
                self.p.expect_token(&Token::Eq)?;
                assignments.push((column, self.p.parse_expr()?));
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
            let selection = if self.word("where") {
                Some(self.p.parse_expr()?)
            } else {
                None
            };
            return Ok(HiveStatement::Update {
                table,
                assignments,
                selection,
            });
        }
        if self.word("delete") {
            self.expect_word("from")?;
            let table = self.table_name()?;
            let selection = if self.word("where") {
                Some(self.p.parse_expr()?)
            } else {
                None
            };
            return Ok(HiveStatement::Delete { table, selection });
        }
        if self.word("analyze") {
            // nuage keeps no table statistics of its own: accept and skip the rest.
            self.expect_word("table")?;
            let name = self.table_name()?;
            while self.p.peek_token().token != Token::EOF {
                self.p.next_token();
            }
            return Ok(HiveStatement::Analyze(name));
        }
        if self.word("truncate") {
            self.word("table");
            return Ok(HiveStatement::Truncate(self.table_name()?));
        }
        Err(unexpected(
            self.p,
            "a statement (SELECT, CREATE, DROP, ALTER, SHOW, DESCRIBE, USE, LOAD DATA, INSERT, UPDATE, DELETE, MSCK, SET)",
        ))
    }

    fn create(&mut self) -> Result<HiveStatement, ParserError> {
        if self.word("database") || self.word("schema") {
            let if_not_exists = self.if_not_exists();
            let name = self.ident()?;
            let mut comment = None;
            let mut location = None;
            let mut properties = BTreeMap::new();
            loop {
                if self.word("comment") {
                    comment = Some(self.string()?);
                } else if self.word("location") {
                    location = Some(self.string()?);
                } else if self.words(&["with", "dbproperties"]) {
                    properties = self.properties()?;
                } else {
                    break;
                }
            }
            return Ok(HiveStatement::CreateDatabase {
                name,
                if_not_exists,
                comment,
                location,
                properties,
            });
        }
        let or_replace = self.words(&["or", "replace"]);
        if self.word("view") {
            let if_not_exists = self.if_not_exists();
            let name = self.table_name()?;
            let comment = if self.word("comment") {
                Some(self.string()?)
            } else {
                None
            };
            if self.word("tblproperties") {
                self.properties()?;
            }
            self.expect_word("as")?;
            // Keep the query text as written, for SHOW CREATE TABLE and for planning later.
            let start = self.p.peek_token().span.start;
            let query = self.p.parse_query()?;
            let text =
                text_from(self.sql, start.line, start.column).unwrap_or_else(|| query.to_string());
            return Ok(HiveStatement::CreateView {
                name,
                or_replace,
                if_not_exists,
                text,
                comment,
            });
        }
        let mut create = CreateTable {
            temporary: self.word("temporary"),
            external: self.word("external"),
            ..CreateTable::default()
        };
        self.expect_word("table")?;
        create.if_not_exists = self.if_not_exists();
        create.name = Some(self.table_name()?);
        if self.word("like") {
            create.like = Some(self.table_name()?);
        }
        if self.p.peek_token().token == Token::LParen {
            create.columns = self.column_defs(true)?;
        }
        loop {
            if self.word("comment") {
                create.comment = Some(self.string()?);
            } else if self.words(&["partitioned", "by"]) {
                create.partitioned_by = self.column_defs(false)?;
            } else if self.words(&["clustered", "by"]) {
                // Bucketing does not change what a query returns; accepted and ignored.
                self.column_defs(false)?;
                if self.words(&["sorted", "by"]) {
                    self.skip_parens()?;
                }
                self.expect_word("into")?;
                self.p.next_token();
                self.expect_word("buckets")?;
            } else if self.words(&["row", "format"]) {
                create.row_format = Some(self.row_format()?);
            } else if self.words(&["with", "serdeproperties"]) {
                let props = self.properties()?;
                create
                    .row_format
                    .get_or_insert_with(RowFormat::default)
                    .properties
                    .extend(props);
            } else if self.words(&["stored", "as"]) {
                if self.word("inputformat") {
                    let input = self.string()?;
                    self.expect_word("outputformat")?;
                    self.string()?;
                    create.stored_as = Some(if input.to_lowercase().contains("parquet") {
                        "PARQUET".into()
                    } else {
                        "TEXTFILE".into()
                    });
                } else {
                    create.stored_as = Some(self.ident()?.to_uppercase());
                }
            } else if self.word("location") {
                create.location = Some(self.string()?);
            } else if self.word("tblproperties") {
                create.properties = self.properties()?;
            } else if self.peek_word("with") && self.p.peek_nth_token(1).token == Token::LParen {
                self.p.next_token();
                create.with_options = self.with_options()?;
            } else {
                break;
            }
        }
        if self.word("as") {
            create.query = Some(self.p.parse_query()?);
        }
        Ok(HiveStatement::CreateTable(Box::new(create)))
    }

    fn insert_directory(&mut self, local: bool) -> Result<HiveStatement, ParserError> {
        let path = self.string()?;
        let mut format = CreateTable::default();
        loop {
            if self.words(&["row", "format"]) {
                format.row_format = Some(self.row_format()?);
            } else if self.words(&["stored", "as"]) {
                format.stored_as = Some(self.ident()?.to_uppercase());
            } else {
                break;
            }
        }
        let source = self.p.parse_query()?;
        Ok(HiveStatement::InsertDirectory {
            local,
            path,
            format: Box::new(format),
            source,
        })
    }

    fn skip_parens(&mut self) -> Result<(), ParserError> {
        self.p.expect_token(&Token::LParen)?;
        let mut depth = 1;
        while depth > 0 {
            match self.p.next_token().token {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                Token::EOF => return Err(unexpected(self.p, "')'")),
                _ => {}
            }
        }
        Ok(())
    }

    fn row_format(&mut self) -> Result<RowFormat, ParserError> {
        let mut format = RowFormat::default();
        if self.word("serde") {
            format.serde = Some(self.string()?);
            if self.words(&["with", "serdeproperties"]) {
                format.properties = self.properties()?;
            }
            return Ok(format);
        }
        self.expect_word("delimited")?;
        loop {
            if self.words(&["fields", "terminated", "by"]) {
                let v = self.string()?;
                format.properties.insert("field.delim".into(), v.clone());
                format.properties.insert("serialization.format".into(), v);
                if self.words(&["escaped", "by"]) {
                    format
                        .properties
                        .insert("escape.delim".into(), self.string()?);
                }
            } else if self.words(&["collection", "items", "terminated", "by"]) {
                format
                    .properties
                    .insert("collection.delim".into(), self.string()?);
            } else if self.words(&["map", "keys", "terminated", "by"]) {
                format
                    .properties
                    .insert("mapkey.delim".into(), self.string()?);
            } else if self.words(&["lines", "terminated", "by"]) {
                let v = self.string()?;
                if v != "\n" {
                    return Err(ParserError::ParserError(format!(
                        "LINES TERMINATED BY {v:?} is not supported: like Hive, nuage only splits lines on '\\n'"
                    )));
                }
                format.properties.insert("line.delim".into(), v);
            } else if self.words(&["null", "defined", "as"]) {
                format
                    .properties
                    .insert("serialization.null.format".into(), self.string()?);
            } else if self.words(&["escaped", "by"]) {
                format
                    .properties
                    .insert("escape.delim".into(), self.string()?);
            } else {
                break;
            }
        }
        Ok(format)
    }

    fn drop(&mut self) -> Result<HiveStatement, ParserError> {
        if self.word("database") || self.word("schema") {
            let if_exists = self.if_exists();
            let name = self.ident()?;
            let cascade = self.word("cascade");
            self.word("restrict");
            return Ok(HiveStatement::DropDatabase {
                name,
                if_exists,
                cascade,
            });
        }
        let view = if self.word("view") {
            true
        } else {
            self.expect_word("table")?;
            false
        };
        let if_exists = self.if_exists();
        let name = self.table_name()?;
        self.word("purge");
        Ok(HiveStatement::DropTable {
            name,
            if_exists,
            view,
        })
    }

    fn show(&mut self) -> Result<HiveStatement, ParserError> {
        if self.word("databases") || self.word("schemas") {
            self.word("like");
            let like = self.maybe_pattern()?;
            return Ok(HiveStatement::ShowDatabases { like });
        }
        let views = self.word("views");
        if views || self.word("tables") {
            let database = if self.word("in") || self.word("from") {
                Some(self.ident()?)
            } else {
                None
            };
            self.word("like");
            let like = self.maybe_pattern()?;
            return Ok(HiveStatement::ShowTables {
                database,
                like,
                views,
            });
        }
        if self.word("partitions") {
            let name = self.table_name()?;
            let filter = if self.word("partition") {
                self.static_partition_spec()?
            } else {
                Vec::new()
            };
            return Ok(HiveStatement::ShowPartitions(name, filter));
        }
        if self.words(&["create", "table"]) || self.words(&["create", "view"]) {
            return Ok(HiveStatement::ShowCreateTable(self.table_name()?));
        }
        if self.word("columns") {
            if !(self.word("in") || self.word("from")) {
                return Err(unexpected(self.p, "IN"));
            }
            let mut name = self.table_name()?;
            if self.word("in") || self.word("from") {
                name.database = Some(self.ident()?);
            }
            return Ok(HiveStatement::ShowColumns(name));
        }
        if self.word("tblproperties") {
            let name = self.table_name()?;
            let key = if self.p.consume_token(&Token::LParen) {
                let key = self.string()?;
                self.p.expect_token(&Token::RParen)?;
                Some(key)
            } else {
                None
            };
            return Ok(HiveStatement::ShowTblProperties(name, key));
        }
        if self.word("functions") {
            self.word("like");
            self.maybe_pattern()?;
            return Ok(HiveStatement::ShowFunctions);
        }
        Err(unexpected(
            self.p,
            "DATABASES, TABLES, PARTITIONS, CREATE TABLE, COLUMNS, TBLPROPERTIES or FUNCTIONS",
        ))
    }

    fn maybe_pattern(&mut self) -> Result<Option<String>, ParserError> {
        Ok(match self.p.peek_token().token {
            Token::SingleQuotedString(_) | Token::DoubleQuotedString(_) => Some(self.string()?),
            Token::Word(_) => Some(self.ident()?),
            _ => None,
        })
    }

    fn alter(&mut self) -> Result<HiveStatement, ParserError> {
        if !self.word("table") {
            self.expect_word("view")?;
        }
        let name = self.table_name()?;
        if self.words(&["recover", "partitions"]) {
            // EMR's and Athena's spelling of MSCK REPAIR TABLE.
            return Ok(HiveStatement::MsckRepair(name));
        }
        let op = if self.words(&["add", "columns"]) {
            AlterTable::AddColumns(self.column_defs(true)?)
        } else if self.words(&["replace", "columns"]) {
            AlterTable::ReplaceColumns(self.column_defs(true)?)
        } else if self.word("change") {
            self.word("column");
            let old = self.ident()?;
            let new_name = self.ident()?;
            let data_type = self.type_text()?;
            let comment = if self.word("comment") {
                Some(self.string()?)
            } else {
                None
            };
            AlterTable::ChangeColumn {
                old,
                new: ColumnDef {
                    name: new_name,
                    data_type,
                    comment,
                },
            }
        } else if self.words(&["rename", "to"]) {
            AlterTable::RenameTo(self.table_name()?)
        } else if self.word("add") {
            let if_not_exists = self.if_not_exists();
            let mut partitions = Vec::new();
            while self.word("partition") {
                let spec = self.static_partition_spec()?;
                let location = if self.word("location") {
                    Some(self.string()?)
                } else {
                    None
                };
                partitions.push((spec, location));
            }
            if partitions.is_empty() {
                return Err(unexpected(self.p, "PARTITION (...) or COLUMNS (...)"));
            }
            AlterTable::AddPartitions {
                if_not_exists,
                partitions,
            }
        } else if self.word("drop") {
            let if_exists = self.if_exists();
            let mut partitions = Vec::new();
            loop {
                self.expect_word("partition")?;
                partitions.push(self.static_partition_spec()?);
                if !self.p.consume_token(&Token::Comma) {
                    break;
                }
            }
            self.word("purge");
            AlterTable::DropPartitions {
                if_exists,
                partitions,
            }
        } else if self.words(&["set", "tblproperties"]) {
            AlterTable::SetProperties(self.properties()?)
        } else if self.words(&["set", "serdeproperties"]) {
            AlterTable::SetSerdeProperties(self.properties()?)
        } else if self.words(&["set", "location"]) {
            AlterTable::SetLocation(self.string()?)
        } else {
            return Err(unexpected(
                self.p,
                "ADD COLUMNS, REPLACE COLUMNS, CHANGE, RENAME TO, ADD PARTITION, DROP PARTITION, SET TBLPROPERTIES, SET SERDEPROPERTIES or SET LOCATION",
            ));
        };
        Ok(HiveStatement::Alter { name, op })
    }
}

/// The text of `sql` from (line, column) (1-based) to the end.
fn text_from(sql: &str, line: u64, column: u64) -> Option<String> {
    let mut offset = 0;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col: usize = l
                .chars()
                .take(column as usize - 1)
                .map(char::len_utf8)
                .sum();
            return Some(sql[offset + col..].trim().to_string());
        }
        offset += l.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_external_table_with_row_format_and_properties() {
        let sql = "CREATE EXTERNAL TABLE IF NOT EXISTS movies.ratings (userId INT, movieId INT COMMENT 'the film', tags array<string>, m map<string,struct<a:int,b:array<int>>>)
            COMMENT 'MovieLens' PARTITIONED BY (year STRING)
            ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' ESCAPED BY '\\\\' COLLECTION ITEMS TERMINATED BY '|' MAP KEYS TERMINATED BY ':' NULL DEFINED AS ''
            STORED AS TEXTFILE LOCATION 's3://movies/ratings/' TBLPROPERTIES ('skip.header.line.count'='1')";
        let HiveStatement::CreateTable(create) = parse(sql).unwrap() else {
            panic!()
        };
        assert!(create.external && create.if_not_exists);
        assert_eq!(create.name.as_ref().unwrap().to_string(), "movies.ratings");
        let names: Vec<_> = create
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.to_lowercase()))
            .collect();
        assert_eq!(names[0], ("userid", "int".to_string()));
        assert_eq!(names[3].1, "map<string,struct<a:int,b:array<int>>>");
        assert_eq!(create.columns[1].comment.as_deref(), Some("the film"));
        assert_eq!(create.partitioned_by[0].name, "year");
        let props = &create.row_format.as_ref().unwrap().properties;
        assert_eq!(props["field.delim"], ",");
        assert_eq!(props["escape.delim"], "\\");
        assert_eq!(props["collection.delim"], "|");
        assert_eq!(props["serialization.null.format"], "");
        assert_eq!(create.stored_as.as_deref(), Some("TEXTFILE"));
        assert_eq!(create.location.as_deref(), Some("s3://movies/ratings/"));
        assert_eq!(create.properties["skip.header.line.count"], "1");
    }

    #[test]
    fn serde_tables_and_ctas() {
        let sql = "CREATE TABLE t ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"') STORED AS TEXTFILE AS SELECT 1 AS x";
        let HiveStatement::CreateTable(create) = parse(sql).unwrap() else {
            panic!()
        };
        let format = create.row_format.unwrap();
        assert_eq!(
            format.serde.as_deref(),
            Some("org.apache.hadoop.hive.serde2.OpenCSVSerde")
        );
        assert_eq!(format.properties["quoteChar"], "\"");
        assert!(create.query.is_some());

        let sql = "CREATE TABLE p WITH (format = 'PARQUET', partitioned_by = ARRAY['year']) AS SELECT * FROM t";
        let HiveStatement::CreateTable(create) = parse(sql).unwrap() else {
            panic!()
        };
        assert_eq!(create.with_options["format"], "PARQUET");
        assert_eq!(create.with_options["partitioned_by"], "year");
    }

    #[test]
    fn dml_statements() {
        match parse(
            "LOAD DATA LOCAL INPATH '/tmp/x.csv' OVERWRITE INTO TABLE r PARTITION (year='2024')",
        )
        .unwrap()
        {
            HiveStatement::LoadData {
                local,
                path,
                overwrite,
                table,
                partition,
            } => {
                assert!(local && overwrite);
                assert_eq!(path, "/tmp/x.csv");
                assert_eq!(table.name, "r");
                assert_eq!(partition, vec![("year".to_string(), "2024".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        match parse("INSERT OVERWRITE TABLE r PARTITION (year) SELECT a, b, y FROM s").unwrap() {
            HiveStatement::Insert {
                overwrite,
                partition,
                ..
            } => {
                assert!(overwrite);
                assert_eq!(partition, vec![("year".to_string(), None)]);
            }
            other => panic!("{other:?}"),
        }
        match parse("UPDATE vote SET wr = v / (v + 10) * r, x = 1 WHERE id > 3").unwrap() {
            HiveStatement::Update {
                assignments,
                selection,
                ..
            } => {
                assert_eq!(assignments.len(), 2);
                assert!(selection.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("ALTER TABLE vote ADD COLUMNS (wr FLOAT)").unwrap(),
            HiveStatement::Alter {
                op: AlterTable::AddColumns(_),
                ..
            }
        ));
    }

    #[test]
    fn insert_overwrite_directory() {
        match parse("INSERT OVERWRITE LOCAL DIRECTORY '/tmp/out' ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' SELECT 1").unwrap() {
            HiveStatement::InsertDirectory { local, path, format, .. } => {
                assert!(local);
                assert_eq!(path, "/tmp/out");
                assert_eq!(format.row_format.unwrap().properties["field.delim"], ",");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_token_and_position() {
        let err = parse("CREATE TABLE t (a INT) STORED AS\n  PARQUET LOCATION")
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a quoted string, found EOF"), "{err}");
        let err = parse("SELEC 1").unwrap_err().to_string();
        assert!(err.contains("found SELEC at line 1, column 1"), "{err}");
    }

    #[test]
    fn view_text_is_kept_as_written() {
        match parse("CREATE VIEW v AS\nSELECT a FROM t WHERE b = 'x'").unwrap() {
            HiveStatement::CreateView { text, .. } => {
                assert_eq!(text, "SELECT a FROM t WHERE b = 'x'")
            }
            other => panic!("{other:?}"),
        }
    }
}
