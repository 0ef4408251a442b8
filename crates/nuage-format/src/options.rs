//! A table's serde and its properties, turned into reader settings.

use std::collections::BTreeMap;

use nuage_catalog::{FileFormat, Table};

use super::builder::Separators;

/// How the rows of a text-based table are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum RowFormat {
    /// LazySimpleSerDe: one row per line, fields split on a byte, no quoting.
    Text(Separators),
    /// OpenCSVSerde: quoted CSV.
    Csv {
        separator: u8,
        quote: u8,
        escape: u8,
    },
    /// One JSON object per line.
    Json {
        /// OpenX `ignore.malformed.json`: a malformed line is a row of NULLs instead of an error.
        ignore_malformed: bool,
        /// OpenX `mapping.<column>` = JSON key.
        mappings: BTreeMap<String, String>,
    },
}

/// Everything the text readers need to know about a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    pub row_format: RowFormat,
    /// Lines skipped at the start of every file (`skip.header.line.count`).
    pub header_lines: usize,
}

/// Reader settings of a table in a text format; None for Parquet.
pub fn read_options(table: &Table) -> Option<ReadOptions> {
    let props = &table.storage.serde_properties;
    let row_format = match table.storage.format {
        FileFormat::Parquet => return None,
        FileFormat::Text => RowFormat::Text(text_separators(props)),
        FileFormat::Csv => RowFormat::Csv {
            separator: first_byte(props.get("separatorChar")).unwrap_or(b','),
            quote: first_byte(props.get("quoteChar")).unwrap_or(b'"'),
            escape: first_byte(props.get("escapeChar")).unwrap_or(b'\\'),
        },
        FileFormat::Json => RowFormat::Json {
            ignore_malformed: props
                .get("ignore.malformed.json")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            mappings: props
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("mapping.")
                        .map(|col| (col.to_lowercase(), v.clone()))
                })
                .collect(),
        },
    };
    Some(ReadOptions {
        row_format,
        header_lines: table.header_lines(),
    })
}

/// LazySimpleSerDe separators from `field.delim`, `collection.delim`,
/// `mapkey.delim`, `serialization.null.format` and `escape.delim`.
pub fn text_separators(props: &BTreeMap<String, String>) -> Separators {
    let mut seps = Separators::default();
    let field = props
        .get("field.delim")
        .or_else(|| props.get("serialization.format"));
    if let Some(b) = delimiter_byte(field) {
        seps.levels[0] = b;
    }
    if let Some(b) = delimiter_byte(
        props
            .get("collection.delim")
            .or_else(|| props.get("colelction.delim")),
    ) {
        seps.levels[1] = b;
    }
    if let Some(b) = delimiter_byte(props.get("mapkey.delim")) {
        seps.levels[2] = b;
    }
    if let Some(null) = props.get("serialization.null.format") {
        seps.null = null.as_bytes().to_vec();
    }
    seps.escape = delimiter_byte(props.get("escape.delim"));
    seps
}

/// A delimiter as Hive reads it: a single character, or a decimal byte value
/// (`'9'` is a tab only when written as a number of two or more digits or
/// below 10 would be ambiguous; Hive treats a lone digit as that byte value too).
pub fn delimiter_byte(value: Option<&String>) -> Option<u8> {
    let value = value?;
    if value.is_empty() {
        return None;
    }
    if value.len() > 1 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u8>().ok();
    }
    if value.len() == 1 && value.as_bytes()[0].is_ascii_digit() {
        return value.parse::<u8>().ok();
    }
    value.bytes().next()
}

fn first_byte(value: Option<&String>) -> Option<u8> {
    value.and_then(|v| v.bytes().next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_as_characters_or_byte_values() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(delimiter_byte(s(",").as_ref()), Some(b','));
        assert_eq!(delimiter_byte(s("\t").as_ref()), Some(b'\t'));
        assert_eq!(delimiter_byte(s("9").as_ref()), Some(9));
        assert_eq!(delimiter_byte(s("124").as_ref()), Some(b'|'));
        assert_eq!(delimiter_byte(s("\u{1}").as_ref()), Some(1));
    }
}
