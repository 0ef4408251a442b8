//! Flink's windowing table-valued functions: TUMBLE, HOP and CUMULATE as
//! Flink documents them. [`rewrite`] finds `TABLE(TUMBLE(TABLE t,
//! DESCRIPTOR(ts), INTERVAL '30' MINUTES))` in a statement and puts a table
//! name in its place; [`Window::assign`] adds `window_start`, `window_end`
//! and `window_time` to a batch of rows (a HOP or CUMULATE row once per
//! window it belongs to).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, RecordBatch, TimestampNanosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{FlowError, Result};

const MS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowKind {
    Tumble,
    Hop {
        slide: i64,
    },
    Cumulate {
        step: i64,
    },
    /// Flink's SESSION: per key, rows less than `size` (the gap) apart.
    Session,
    /// Kinesis Analytics' STAGGER: per key, a window of `size` opened by
    /// the first row that falls in none.
    Stagger,
}

impl WindowKind {
    /// Windows that depend on the other rows of their key: assigned when
    /// they close ([`keyed_windows`]), not row by row.
    pub fn is_keyed(self) -> bool {
        matches!(self, WindowKind::Session | WindowKind::Stagger)
    }
}

/// One windowing TVF of a statement (sizes in nanoseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kind: WindowKind,
    pub size: i64,
    pub offset: i64,
    /// The table it windows, as written.
    pub table: String,
    /// The DESCRIPTOR's time column.
    pub time_column: String,
    /// SESSION's and STAGGER's PARTITION BY columns.
    pub partition_by: Vec<String>,
}

/// A statement with its windowing TVF replaced by `name`.
pub struct Rewritten {
    pub text: String,
    pub window: Option<Window>,
}

fn tokens(sql: &str) -> Result<Vec<Token>> {
    Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| FlowError::Invalid(e.to_string()))
}

fn word_is(token: &Token, text: &str) -> bool {
    matches!(token, Token::Word(w) if w.value.eq_ignore_ascii_case(text))
}

/// Replaces the statement's windowing TVF by `name` and Flink's plural
/// interval units (`INTERVAL '30' MINUTES`) by singular ones.
pub fn rewrite(sql: &str, name: &str) -> Result<Rewritten> {
    let tokens = tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut window = None;
    let mut i = 0;
    while i < tokens.len() {
        if word_is(&tokens[i], "TABLE")
            && let Some(open) = next_solid(&tokens, i + 1)
            && tokens[open] == Token::LParen
            && let Some(f) = next_solid(&tokens, open + 1)
            && ["TUMBLE", "HOP", "CUMULATE", "SESSION", "STAGGER"]
                .iter()
                .any(|n| word_is(&tokens[f], n))
        {
            let end = matching_paren(&tokens, open)?;
            let this = parse_tvf(&tokens[f..end])?;
            // The same window twice is fine (e.g. the windows that fired,
            // joined with the counts in them); different ones are not.
            if window.as_ref().is_some_and(|w| *w != this) {
                return Err(FlowError::Unsupported(
                    "two different windowing table functions in one statement".into(),
                ));
            }
            window = Some(this);
            out.push_str(name);
            i = end + 1;
            continue;
        }
        out.push_str(&singular(&tokens[i]));
        i += 1;
    }
    Ok(Rewritten { text: out, window })
}

fn singular(token: &Token) -> String {
    if let Token::Word(w) = token {
        for unit in ["SECONDS", "MINUTES", "HOURS", "DAYS"] {
            if w.value.eq_ignore_ascii_case(unit) && w.quote_style.is_none() {
                return unit[..unit.len() - 1].to_string();
            }
        }
    }
    token.to_string()
}

fn next_solid(tokens: &[Token], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)))
}

fn matching_paren(tokens: &[Token], open: usize) -> Result<usize> {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(FlowError::Invalid("unbalanced parentheses".into()))
}

/// `TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset])`,
/// `HOP(TABLE t, DESCRIPTOR(ts), slide, size [, offset])`,
/// `CUMULATE(TABLE t, DESCRIPTOR(ts), step, size [, offset])`; arguments
/// may be named (`DATA =>`, `TIMECOL =>`, `SIZE =>`, `SLIDE =>`, `STEP =>`,
/// `OFFSET =>`).
fn parse_tvf(tokens: &[Token]) -> Result<Window> {
    let solid: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let function = solid[0].to_string().to_uppercase();
    // Split the arguments at top-level commas.
    let mut args: Vec<Vec<&Token>> = vec![Vec::new()];
    let mut depth = 0;
    for t in &solid[2..solid.len() - 1] {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("one argument at least").push(t);
    }
    let mut positional = Vec::new();
    let mut named = std::collections::HashMap::new();
    for arg in args {
        if arg.len() > 2 && matches!(arg[1], Token::Arrow | Token::RArrow) {
            named.insert(arg[0].to_string().to_uppercase(), arg[2..].to_vec());
        } else {
            positional.push(arg);
        }
    }
    let usage = || {
        FlowError::Invalid(format!(
            "{function} takes (TABLE t, DESCRIPTOR(time_column), {}[, offset])",
            match function.as_str() {
                "TUMBLE" | "STAGGER" => "size",
                "SESSION" => "gap",
                "HOP" => "slide, size",
                _ => "step, size",
            }
        ))
    };
    let mut data = match named.remove("DATA") {
        Some(d) => d,
        None if !positional.is_empty() => positional.remove(0),
        None => return Err(usage()),
    };
    // SESSION(TABLE t PARTITION BY a, b, DESCRIPTOR(ts), gap): the
    // partition columns run on until the DESCRIPTOR.
    let mut partition_by = Vec::new();
    if let Some(at) = data.iter().position(|t| word_is(t, "PARTITION")) {
        if !data.get(at + 1).is_some_and(|t| word_is(t, "BY")) {
            return Err(usage());
        }
        let mut columns: Vec<Vec<&Token>> = vec![data[at + 2..].to_vec()];
        data.truncate(at);
        while !positional.is_empty()
            && !positional[0]
                .first()
                .is_some_and(|t| word_is(t, "DESCRIPTOR"))
        {
            columns.push(positional.remove(0));
        }
        for column in columns {
            let text: String = column
                .iter()
                .filter(|t| !matches!(t, Token::LParen | Token::RParen))
                .map(|t| t.to_string())
                .collect();
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                partition_by.push(name.trim_matches('`').to_lowercase());
            }
        }
    }
    let mut take_arg = |key: &str| -> Option<Vec<&Token>> {
        named.remove(key).or_else(|| {
            if positional.is_empty() {
                None
            } else {
                Some(positional.remove(0))
            }
        })
    };
    let table = match data.as_slice() {
        [t, rest @ ..] if word_is(t, "TABLE") && !rest.is_empty() => {
            rest.iter().map(|t| t.to_string()).collect::<String>()
        }
        _ => return Err(usage()),
    };
    if !partition_by.is_empty() && !matches!(function.as_str(), "SESSION" | "STAGGER") {
        return Err(FlowError::Invalid(format!(
            "{function} takes no PARTITION BY (SESSION does)"
        )));
    }
    let timecol = take_arg("TIMECOL").ok_or_else(usage)?;
    let time_column = match timecol.as_slice() {
        [d, Token::LParen, c, Token::RParen] if word_is(d, "DESCRIPTOR") => {
            c.to_string().trim_matches('`').to_string()
        }
        _ => return Err(usage()),
    };
    let (kind, size) = match function.as_str() {
        "TUMBLE" => (
            WindowKind::Tumble,
            interval(&take_arg("SIZE").ok_or_else(usage)?)?,
        ),
        "SESSION" => (
            WindowKind::Session,
            interval(&take_arg("GAP").ok_or_else(usage)?)?,
        ),
        "STAGGER" => (
            WindowKind::Stagger,
            interval(&take_arg("SIZE").ok_or_else(usage)?)?,
        ),
        hop_or_cumulate => {
            // HOP(slide, size) and CUMULATE(step, maxSize), in Flink's words.
            let (unit_arg, unit_word, size_word) = if hop_or_cumulate == "HOP" {
                ("SLIDE", "slide", "size")
            } else {
                ("STEP", "step", "maxSize")
            };
            let unit = interval(&take_arg(unit_arg).ok_or_else(usage)?)?;
            let size = interval(&take_arg("SIZE").ok_or_else(usage)?)?;
            if size % unit != 0 {
                return Err(FlowError::Invalid(format!(
                    "{function} table function based aggregate requires {size_word} must be an integral \
                     multiple of {unit_word}, but got {size_word} {} ms and {unit_word} {} ms",
                    size / MS,
                    unit / MS
                )));
            }
            let kind = if hop_or_cumulate == "HOP" {
                WindowKind::Hop { slide: unit }
            } else {
                WindowKind::Cumulate { step: unit }
            };
            (kind, size)
        }
    };
    let offset = match take_arg("OFFSET") {
        Some(arg) => interval(&arg)?,
        None => 0,
    };
    if !positional.is_empty() || !named.is_empty() {
        return Err(usage());
    }
    if kind.is_keyed() && offset != 0 {
        return Err(usage());
    }
    Ok(Window {
        kind,
        size,
        offset,
        table,
        time_column,
        partition_by,
    })
}

/// An interval's text (`INTERVAL '30' DAY`) in nanoseconds.
pub fn interval_text(text: &str) -> Result<i64> {
    let tokens: Vec<Token> = tokens(text)?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let refs: Vec<&Token> = tokens.iter().collect();
    interval(&refs)
}

/// `INTERVAL '30' MINUTE(S)` (or `'10' SECOND`, `'1' HOUR`, `'1' DAY`) in
/// nanoseconds.
fn interval(tokens: &[&Token]) -> Result<i64> {
    let text: String = tokens
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let bad = || {
        FlowError::Invalid(format!(
            "{text} is not an interval: write INTERVAL 'n' SECOND, MINUTE, HOUR or DAY"
        ))
    };
    let [kw, value, unit, ..] = tokens else {
        return Err(bad());
    };
    if !matches!(kw, Token::Word(w) if w.keyword == Keyword::INTERVAL) {
        return Err(bad());
    }
    let n: i64 = match value {
        Token::SingleQuotedString(s) | Token::Number(s, _) => {
            s.trim().parse().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    let unit = unit.to_string().to_uppercase();
    let ns = match unit.trim_end_matches('S') {
        "MILLISECOND" => MS,
        "SECOND" => 1000 * MS,
        "MINUTE" => 60_000 * MS,
        "HOUR" => 3_600_000 * MS,
        "DAY" => 86_400_000 * MS,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(FlowError::Invalid(format!(
            "{text}: a window's size must be positive"
        )));
    }
    Ok(n * ns)
}

/// The columns a window adds.
pub fn window_fields() -> [Field; 3] {
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
    [
        Field::new("window_start", ts.clone(), false),
        Field::new("window_end", ts.clone(), false),
        Field::new("window_time", ts, false),
    ]
}

impl Window {
    pub fn schema(&self, input: &Schema) -> SchemaRef {
        let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(window_fields());
        Arc::new(Schema::new(fields))
    }

    /// The rows of `batch` with their windows, and for each output row the
    /// input row it comes from; rows without event time are left out.
    pub fn assign(
        &self,
        batch: &RecordBatch,
        time: &TimestampNanosecondArray,
    ) -> Result<(RecordBatch, Vec<u32>)> {
        let mut rows: Vec<u32> = Vec::with_capacity(batch.num_rows());
        let mut starts: Vec<i64> = Vec::with_capacity(batch.num_rows());
        let mut ends: Vec<i64> = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if time.is_null(row) {
                continue;
            }
            let ts = time.value(row);
            self.windows_of(ts, |start, end| {
                rows.push(row as u32);
                starts.push(start);
                ends.push(end);
            });
        }
        // One window per row and no row left out (TUMBLE without null
        // times): the columns as they are, not copied.
        let identity = rows.len() == batch.num_rows()
            && rows.iter().enumerate().all(|(i, &r)| r as usize == i);
        let mut columns: Vec<ArrayRef> = if identity {
            batch.columns().to_vec()
        } else {
            let indices = UInt32Array::from(rows.clone());
            batch
                .columns()
                .iter()
                .map(|c| take(c.as_ref(), &indices, None))
                .collect::<std::result::Result<_, _>>()?
        };
        let times: Vec<i64> = ends.iter().map(|e| e - MS).collect();
        columns.push(Arc::new(TimestampNanosecondArray::from(starts)));
        columns.push(Arc::new(TimestampNanosecondArray::from(ends)));
        columns.push(Arc::new(TimestampNanosecondArray::from(times)));
        let out = RecordBatch::try_new(self.schema(&batch.schema()), columns)?;
        Ok((out, rows))
    }

    /// Calls `f(start, end)` for each window holding an event at `ts`.
    pub fn windows_of(&self, ts: i64, mut f: impl FnMut(i64, i64)) {
        let floor = |ts: i64, unit: i64| ts - (ts - self.offset).rem_euclid(unit);
        match self.kind {
            WindowKind::Tumble => {
                let start = floor(ts, self.size);
                f(start, start + self.size);
            }
            WindowKind::Hop { slide } => {
                let last = floor(ts, slide);
                let mut start = last - self.size + slide;
                while start <= last {
                    f(start, start + self.size);
                    start += slide;
                }
            }
            WindowKind::Cumulate { step } => {
                let start = floor(ts, self.size);
                let mut end = floor(ts, step) + step;
                while end <= start + self.size {
                    f(start, end);
                    end += step;
                }
            }
            // A row's own window, before it merges with its key's others.
            WindowKind::Session | WindowKind::Stagger => f(ts, ts + self.size),
        }
    }
}

/// The distinct window ends of an assigned batch, for bucketing.
pub fn window_ends(batch: &RecordBatch) -> Option<&TimestampNanosecondArray> {
    batch
        .column_by_name("window_end")?
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()
}

/// The windows of one key's row times (sorted): `(start, end, first row,
/// rows)` in order. SESSION: rows less than `size` apart share a window,
/// which ends `size` after its last row. STAGGER: a window opens at a row
/// that falls in none and lasts `size`.
pub fn keyed_windows(kind: WindowKind, size: i64, times: &[i64]) -> Vec<(i64, i64, usize, usize)> {
    let mut out = Vec::new();
    let Some(&first) = times.first() else {
        return out;
    };
    let (mut start, mut last, mut from) = (first, first, 0);
    for (i, &t) in times.iter().enumerate().skip(1) {
        let same = match kind {
            WindowKind::Session => t < last + size,
            _ => t < start + size,
        };
        if same {
            last = last.max(t);
        } else {
            let end = if kind == WindowKind::Session {
                last + size
            } else {
                start + size
            };
            out.push((start, end, from, i - from));
            (start, last, from) = (t, t, i);
        }
    }
    let end = if kind == WindowKind::Session {
        last + size
    } else {
        start + size
    };
    out.push((start, end, from, times.len() - from));
    out
}
