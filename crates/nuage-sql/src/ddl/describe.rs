//! `DESCRIBE [FORMATTED]` and `SHOW CREATE TABLE`, printed as Hive prints them.

use super::*;

pub(crate) fn describe(table: &Table, detailed: bool, partitions: usize) -> Vec<Vec<String>> {
    let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
    let mut rows: Vec<Vec<String>> = Vec::new();
    if detailed {
        rows.push(row("# col_name", "data_type", "comment"));
    }
    for c in &table.columns {
        rows.push(row(
            &c.name,
            &c.data_type,
            c.comment.as_deref().unwrap_or(""),
        ));
    }
    for c in &table.partition_columns {
        rows.push(row(
            &c.name,
            &c.data_type,
            c.comment.as_deref().unwrap_or(""),
        ));
    }
    if table.is_partitioned() {
        rows.push(row("", "", ""));
        rows.push(row("# Partition Information", "", ""));
        rows.push(row("# col_name", "data_type", "comment"));
        for c in &table.partition_columns {
            rows.push(row(
                &c.name,
                &c.data_type,
                c.comment.as_deref().unwrap_or(""),
            ));
        }
    }
    if !detailed {
        return rows;
    }
    let created = chrono::DateTime::from_timestamp(table.created_at, 0)
        .map(|d| d.format("%a %b %d %H:%M:%S UTC %Y").to_string())
        .unwrap_or_default();
    rows.push(row("", "", ""));
    rows.push(row("# Detailed Table Information", "", ""));
    rows.push(row("Database:", &table.database, ""));
    rows.push(row("Owner:", &table.owner, ""));
    rows.push(row("CreateTime:", &created, ""));
    if table.kind != TableKind::View {
        rows.push(row("Location:", &table.location, ""));
        if table.properties.contains_key(SNAPSHOT_PROPERTY) {
            rows.push(row("Data Location:", &table.data_location(), ""));
        }
    }
    rows.push(row("Table Type:", table.kind.as_str(), ""));
    rows.push(row("Table Parameters:", "", ""));
    if table.kind == TableKind::External {
        rows.push(row("", "EXTERNAL", "TRUE"));
    }
    if let Some(comment) = &table.comment {
        rows.push(row("", "comment", comment));
    }
    if table.is_partitioned() {
        rows.push(row("", "numPartitions", &partitions.to_string()));
    }
    for (k, v) in &table.properties {
        rows.push(row("", k, v));
    }
    if table.kind == TableKind::View {
        rows.push(row("", "", ""));
        rows.push(row("# View Information", "", ""));
        rows.push(row(
            "View Original Text:",
            table.view_text.as_deref().unwrap_or(""),
            "",
        ));
        return rows;
    }
    rows.push(row("", "", ""));
    rows.push(row("# Storage Information", "", ""));
    rows.push(row("SerDe Library:", &table.storage.serde, ""));
    rows.push(row("InputFormat:", table.storage.input_format(), ""));
    rows.push(row("OutputFormat:", table.storage.output_format(), ""));
    rows.push(row("Storage Desc Params:", "", ""));
    for (k, v) in &table.storage.serde_properties {
        rows.push(row("", k, &printable(v)));
    }
    rows
}

/// Control characters as Hive shows them (`\t`, `\u0001`).
pub(crate) fn printable(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '\t' => "\\t".to_string(),
            '\n' => "\\n".to_string(),
            c if c.is_control() => format!("\\u{:04X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

pub(crate) fn quote(value: &str) -> String {
    format!("'{}'", printable(value).replace('\'', "\\'"))
}

/// The DDL that recreates a table, in Hive's layout.
pub fn show_create(table: &Table) -> String {
    if table.kind == TableKind::View {
        return format!(
            "CREATE VIEW `{}`.`{}` AS {}",
            table.database,
            table.name,
            table.view_text.as_deref().unwrap_or("")
        );
    }
    let column = |c: &Column| match &c.comment {
        Some(comment) => format!("  `{}` {} COMMENT {}", c.name, c.data_type, quote(comment)),
        None => format!("  `{}` {}", c.name, c.data_type),
    };
    let mut out = format!(
        "CREATE {}TABLE `{}`.`{}`(\n{})\n",
        if table.kind == TableKind::External {
            "EXTERNAL "
        } else {
            ""
        },
        table.database,
        table.name,
        table
            .columns
            .iter()
            .map(column)
            .collect::<Vec<_>>()
            .join(",\n")
    );
    if let Some(comment) = &table.comment {
        out.push_str(&format!("COMMENT {}\n", quote(comment)));
    }
    if table.is_partitioned() {
        out.push_str(&format!(
            "PARTITIONED BY (\n{})\n",
            table
                .partition_columns
                .iter()
                .map(column)
                .collect::<Vec<_>>()
                .join(",\n")
        ));
    }
    out.push_str(&format!(
        "ROW FORMAT SERDE\n  {}\n",
        quote(&table.storage.serde)
    ));
    if !table.storage.serde_properties.is_empty() {
        let props: Vec<String> = table
            .storage
            .serde_properties
            .iter()
            .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
            .collect();
        out.push_str(&format!("WITH SERDEPROPERTIES (\n{})\n", props.join(",\n")));
    }
    out.push_str(&format!(
        "STORED AS INPUTFORMAT\n  {}\nOUTPUTFORMAT\n  {}\nLOCATION\n  {}",
        quote(table.storage.input_format()),
        quote(table.storage.output_format()),
        quote(&table.location)
    ));
    let props: Vec<String> = table
        .properties
        .iter()
        .filter(|(k, _)| k.as_str() != SNAPSHOT_PROPERTY)
        .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
        .collect();
    if !props.is_empty() {
        out.push_str(&format!("\nTBLPROPERTIES (\n{})", props.join(",\n")));
    }
    out
}
