//! `LOAD DATA [LOCAL] INPATH ... [OVERWRITE] INTO TABLE`: files moved or
//! copied into the table's folder, renamed like Hive on a clash.

use super::*;

/// `LOAD DATA [LOCAL] INPATH ... [OVERWRITE] INTO TABLE t [PARTITION (...)]`.
pub async fn load_data(
    session: &mut Session,
    local: bool,
    path: &str,
    overwrite: bool,
    name: &TableName,
    partition: &[(String, String)],
) -> Result<Output> {
    let table = session.table(name)?;
    require_not_view(&table)?;
    let values = static_values(
        &table,
        &partition
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect::<Vec<_>>(),
    )?;
    if values.iter().any(Option::is_none) {
        return Err(semantic!(
            "table {} is partitioned by {}; name the partition: LOAD DATA ... INTO TABLE {} PARTITION ({})",
            table.qualified_name(),
            column_list(&table.partition_columns),
            table.name,
            table
                .partition_columns
                .iter()
                .map(|c| format!("{}='...'", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let values: Vec<String> = values.into_iter().flatten().collect();
    let source = parse_location(path)?;
    if local && !matches!(source, Location::Local(_)) {
        return Err(semantic!(
            "LOAD DATA LOCAL reads a local path, not {path}; drop LOCAL to load from the lake"
        ));
    }
    let lake = session.shared.lake.clone();
    let (_, files) = list_data_files(&lake, &source.to_string()).await?;
    if files.is_empty() {
        return Err(semantic!(
            "no files to load at {path}: the path does not exist or holds no data files"
        ));
    }
    let (source_store, _) = lake.store_for(&source)?;

    // Where the files go.
    let existing = if table.is_partitioned() {
        session
            .shared
            .metastore
            .list_partitions(&table.database, &table.name)?
            .into_iter()
            .find(|p| p.values == values)
    } else {
        None
    };
    let dest = match (&existing, table.is_partitioned()) {
        (Some(p), _) => parse_location(&p.location)?,
        (None, true) => parse_location(&table.data_location())?
            .join(&partition_spec(&table.partition_columns, &values)),
        (None, false) => parse_location(&table.data_location())?,
    };
    let (dest_store, _) = lake.store_for(&dest)?;
    let (_, before) = list_data_files(&lake, &dest.to_string()).await?;
    let mut taken: BTreeSet<String> = before
        .iter()
        .filter_map(|m| m.location.filename().map(str::to_string))
        .collect();

    let mut loaded = BTreeSet::new();
    for meta in &files {
        let file_name = meta.location.filename().unwrap_or("data").to_string();
        let target_name = unique_name(&file_name, &taken);
        taken.insert(target_name.clone());
        let target = dest.join(&target_name);
        let (_, target_path) = lake.store_for(&target)?;
        // Stream the bytes (files may be larger than memory), then remove the source when moving.
        let mut upload = object_store::buffered::BufWriter::new(dest_store.clone(), target_path);
        let mut stream = source_store.get(&meta.location).await?.into_stream();
        use tokio::io::AsyncWriteExt;
        while let Some(chunk) = stream.next().await {
            upload
                .write_all(&chunk?)
                .await
                .map_err(|source| SqlError::Io {
                    path: target.to_string(),
                    source,
                })?;
        }
        upload.shutdown().await.map_err(|source| SqlError::Io {
            path: target.to_string(),
            source,
        })?;
        loaded.insert(target.to_string());
        if !local {
            source_store.delete(&meta.location).await?;
        }
    }
    if overwrite {
        clear_dir(session, &dest, &loaded).await?;
    }
    if table.is_partitioned() && existing.is_none() {
        let partition = Partition::new(values, dest.to_string());
        session.shared.metastore.add_partitions(
            &table.database,
            &table.name,
            &[partition],
            true,
        )?;
    }
    Ok(Output::Done(Some(format!(
        "Loading data to table {}",
        table.qualified_name()
    ))))
}

/// `name`, or `name_copy_N` when taken (Hive's rule for LOAD DATA).
pub(crate) fn unique_name(name: &str, taken: &BTreeSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    (1..)
        .map(|n| format!("{stem}_copy_{n}{ext}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some name is free")
}
