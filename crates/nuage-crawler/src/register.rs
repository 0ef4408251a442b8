//! A found table into the catalog: create it, or add new columns and
//! partitions to the existing one (never dropping any), with the storage
//! format its files need.

use std::collections::BTreeSet;

use nuage_catalog::{
    Column, FileFormat, HiveType, OPENX_JSON_SERDE, Partition, StorageFormat, Table, TableKind,
};
use nuage_lake::Location;

use crate::error::{Result, invalid};
use crate::infer;
use crate::sample::{FileSchema, Layout};
use crate::tables::{folder_display, partitioning};
use crate::{Action, CrawlOptions, Found, Sampled, Shared, TableReport};
use nuage_format::compression::Codec;

/// Creates or updates the catalog table of one found folder.
pub(crate) fn apply(
    shared: &Shared<'_>,
    root: &Location,
    database: &str,
    name: &str,
    found: &Found,
    sampled: &[Sampled],
    options: &CrawlOptions,
) -> Result<TableReport> {
    let location = folder_display(root, &found.folder);
    let (keys, partition_folders) = partitioning(found, sampled);
    let mut notes = Vec::new();
    if found.merged {
        notes.push(
            "its files have different columns; merged them (a column a file lacks reads as NULL)"
                .to_string(),
        );
    }
    let mut columns = Vec::new();
    for (column, ty) in &found.schema.columns {
        if keys.contains(column) {
            notes.push(format!(
                "column {column} is also a partition key; the partition folder's value is used"
            ));
            continue;
        }
        let ty = ty.clone().unwrap_or(HiveType::String);
        let column = Column::new(column, &ty.to_string())
            .or_else(|_| Column::new(column, "string"))
            .map_err(|e| invalid!("column {column}: {e}"))?;
        columns.push(column);
    }
    let partition_columns: Vec<Column> = keys
        .iter()
        .map(|k| Column::new(k, "string").expect("string is a type"))
        .collect();
    let size: u64 = found.files.iter().map(|&i| sampled[i].meta.size).sum();
    let mut storage = storage_of(&found.schema);
    let malformed = sampled
        .iter()
        .any(|f| f.schema.is_err() && f.relative.starts_with(&found.folder));
    if malformed && found.schema.layout == Layout::Json {
        // Queries would stop at the malformed lines the crawl skipped.
        storage
            .serde_properties
            .insert("ignore.malformed.json".into(), "true".into());
        notes.push(
            "some files are not valid JSON lines; set 'ignore.malformed.json'='true' so their bad lines read as NULL rows"
                .into(),
        );
    }
    let mut table = Table::new(
        database,
        name,
        TableKind::External,
        location.clone(),
        storage,
        &options.owner,
    );
    table.columns = columns;
    table.partition_columns = partition_columns;
    let props = &mut table.properties;
    props.insert(
        "classification".into(),
        found.schema.layout.classification().into(),
    );
    props.insert(
        "compressionType".into(),
        codec_name(found.schema.codec).into(),
    );
    props.insert("objectCount".into(), found.files.len().to_string());
    props.insert("sizeKey".into(), size.to_string());
    props.insert("UPDATED_BY_CRAWLER".into(), "nuage".into());
    if let Layout::Delimited { header: true, .. } = found.schema.layout {
        props.insert("skip.header.line.count".into(), "1".into());
    }
    let partitions: Vec<Partition> = partition_folders
        .iter()
        .map(|(values, folder)| Partition::new(values.clone(), format!("{location}/{folder}")))
        .collect();

    let mut report = TableReport {
        name: format!("{database}.{name}"),
        location: location.clone(),
        action: Action::Created,
        format: format_description(&found.schema),
        columns: table.columns.clone(),
        partition_columns: table.partition_columns.clone(),
        files: found.files.len(),
        partitions: partitions.len(),
        partitions_added: partitions.len(),
        notes,
    };
    let existing = shared.metastore.get_table(database, name)?;
    let Some(existing) = existing else {
        if !options.dry_run {
            shared.metastore.create_table(&table, false)?;
            if !partitions.is_empty() {
                shared
                    .metastore
                    .add_partitions(database, name, &partitions, true)?;
            }
        }
        return Ok(report);
    };

    // An existing table: same place and shape, then only additions.
    if existing.location.trim_end_matches('/') != location.trim_end_matches('/') {
        report.action = Action::Conflict(format!(
            "a table {database}.{name} already exists at {}; crawl with --table or --table-prefix to name this one differently",
            existing.location
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    let existing_keys: Vec<&str> = existing
        .partition_columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if existing_keys != keys.iter().map(String::as_str).collect::<Vec<_>>() {
        report.action = Action::Conflict(format!(
            "the folders now give partition keys ({}) but the table has ({}); nuage never changes partition keys of an existing table",
            keys.join(", "),
            existing_keys.join(", ")
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    if existing.storage.format != table.storage.format {
        report.action = Action::Conflict(format!(
            "the files are now {} but the table reads {}; nuage never changes the format of an existing table",
            table.storage.format.as_str(),
            existing.storage.format.as_str()
        ));
        report.partitions_added = 0;
        return Ok(report);
    }
    let mut updated = existing.clone();
    let mut changes = Vec::new();
    for column in &table.columns {
        match updated.columns.iter_mut().find(|c| c.name == column.name) {
            None => {
                changes.push(format!("added column {} {}", column.name, column.data_type));
                updated.columns.push(column.clone());
            }
            Some(old) if old.data_type != column.data_type => {
                let wide = infer::widen(old.hive_type(), column.hive_type());
                if wide.to_string() != old.data_type {
                    changes.push(format!(
                        "column {} {} -> {}",
                        column.name, old.data_type, wide
                    ));
                    old.data_type = wide.to_string();
                }
            }
            Some(_) => {}
        }
    }
    for key in ["objectCount", "sizeKey"] {
        updated
            .properties
            .insert(key.into(), table.properties[key].clone());
    }
    let known: BTreeSet<Vec<String>> = shared
        .metastore
        .list_partitions(database, name)?
        .into_iter()
        .map(|p| p.values)
        .collect();
    let new_partitions: Vec<Partition> = partitions
        .into_iter()
        .filter(|p| !known.contains(&p.values))
        .collect();
    report.partitions_added = new_partitions.len();
    report.partitions = known.len() + new_partitions.len();
    report.columns = updated.columns.clone();
    if !changes.is_empty() {
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        updated.properties.insert(
            "nuage.crawler.last_change".into(),
            format!("{stamp}: {}", changes.join("; ")),
        );
    }
    if !options.dry_run {
        shared.metastore.update_table(&updated)?;
        if !new_partitions.is_empty() {
            shared
                .metastore
                .add_partitions(database, name, &new_partitions, true)?;
        }
    }
    report.action = if changes.is_empty() {
        Action::Unchanged
    } else {
        Action::Updated(changes)
    };
    Ok(report)
}

/// The serde a file layout needs: LazySimpleSerDe for plain delimited text,
/// OpenCSVSerde once fields are quoted, OpenX for JSON (as Glue picks).
pub(crate) fn storage_of(schema: &FileSchema) -> StorageFormat {
    match &schema.layout {
        Layout::Delimited {
            delimiter, quoted, ..
        } => {
            let delimiter = (*delimiter as char).to_string();
            // StorageFormat::new gives OpenCSVSerde for Csv and LazySimpleSerDe for Text.
            let (format, properties) = if *quoted {
                (
                    FileFormat::Csv,
                    vec![("separatorChar", delimiter), ("quoteChar", "\"".into())],
                )
            } else {
                (FileFormat::Text, vec![("field.delim", delimiter)])
            };
            let mut storage = StorageFormat::new(format);
            for (key, value) in properties {
                storage.serde_properties.insert(key.into(), value);
            }
            storage
        }
        Layout::Json => {
            let mut storage = StorageFormat::new(FileFormat::Json);
            storage.serde = OPENX_JSON_SERDE.into();
            storage
        }
        Layout::Parquet => StorageFormat::new(FileFormat::Parquet),
    }
}

pub(crate) fn codec_name(codec: Codec) -> &'static str {
    use datafusion_datasource::file_compression_type::FileCompressionType as C;
    match codec {
        Codec::Snappy => "snappy",
        Codec::Streaming(c) if c == C::GZIP => "gzip",
        Codec::Streaming(c) if c == C::ZSTD => "zstd",
        Codec::Streaming(c) if c == C::BZIP2 => "bzip2",
        Codec::Streaming(c) if c == C::XZ => "xz",
        Codec::Streaming(_) => "none",
    }
}

pub(crate) fn format_description(schema: &FileSchema) -> String {
    let mut text = match &schema.layout {
        Layout::Delimited {
            delimiter, header, ..
        } => {
            let d = match delimiter {
                b'\t' => "\\t".to_string(),
                d => (*d as char).to_string(),
            };
            format!(
                "csv ('{d}', {})",
                if *header { "header" } else { "no header" }
            )
        }
        Layout::Json => "json".into(),
        Layout::Parquet => "parquet".into(),
    };
    let codec = codec_name(schema.codec);
    if codec != "none" {
        text.push_str(&format!(", {codec}"));
    }
    text
}
