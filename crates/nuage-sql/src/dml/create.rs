//! `CREATE TABLE ... AS SELECT` (Hive's and Athena's), temporary tables,
//! and the storage a CREATE statement asks for.

use super::*;

/// `CREATE TEMPORARY TABLE t (cols)` or `... AS SELECT`: an in-memory table for
/// this session only, shadowing a catalog table of the same name.
pub async fn create_temporary(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let key = (session.database_of(&name), name.name.clone());
    if session
        .shared
        .temporary
        .lock()
        .expect("temporary tables poisoned")
        .contains_key(&key)
    {
        if create.if_not_exists {
            return Ok(Output::Done(None));
        }
        return Err(semantic!(
            "temporary table {}.{} already exists",
            key.0,
            key.1
        ));
    }
    let (schema, batches) = match create.query.clone() {
        Some(query) => {
            let plan = plan_query(session, query).await?;
            let columns = result_columns(&plan)?;
            let frame = session.context().execute_logical_plan(plan).await?;
            let batches = frame.collect().await?;
            let schema = nuage_format::types::schema_of(&columns);
            let batches = batches
                .into_iter()
                .map(|b| {
                    let columns = b
                        .columns()
                        .iter()
                        .zip(schema.fields())
                        .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
                        schema.clone(),
                        columns,
                    )?)
                })
                .collect::<Result<Vec<_>>>()?;
            (schema, batches)
        }
        None => {
            let columns = create
                .columns
                .iter()
                .map(|c| {
                    Column::new(&c.name, &c.data_type)
                        .map_err(|e| semantic!("column {}: {e}", c.name))
                })
                .collect::<Result<Vec<_>>>()?;
            (nuage_format::types::schema_of(&columns), Vec::new())
        }
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
    session
        .shared
        .temporary
        .lock()
        .expect("temporary tables poisoned")
        .insert(key.clone(), std::sync::Arc::new(table));
    Ok(Output::Done(Some(format!(
        "{rows} rows in temporary table {}.{}",
        key.0, key.1
    ))))
}

/// Hive columns for a query's result (`_cN` for unnamed expressions).
pub(crate) fn result_columns(plan: &LogicalPlan) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::new();
    for (i, field) in plan.schema().fields().iter().enumerate() {
        let name = column_name(field.name(), i);
        let ty = hive_type(field.data_type()).map_err(|e| semantic!("column {name}: {e}"))?;
        if columns.iter().any(|c| c.name == name) {
            return Err(semantic!(
                "the query returns column {name} twice; give each column a distinct alias"
            ));
        }
        columns.push(Column {
            name,
            data_type: ty.to_string(),
            comment: None,
        });
    }
    Ok(columns)
}

/// Storage of a new table from STORED AS, ROW FORMAT and Athena's WITH (format = ...).
pub fn storage_of(create: &CreateTable, default: FileFormat) -> Result<StorageFormat> {
    let mut format = None;
    if let Some(f) = create.with_options.get("format") {
        format = Some(FileFormat::parse(f).ok_or_else(|| {
            semantic!("format {f:?} is not supported; use PARQUET, JSON or TEXTFILE")
        })?);
    }
    if let Some(stored) = &create.stored_as {
        let parsed = FileFormat::parse(stored).ok_or_else(|| {
            semantic!("STORED AS {stored} is not supported; nuage stores TEXTFILE, PARQUET and JSONFILE (ORC, AVRO and SEQUENCEFILE are not read)")
        })?;
        // STORED AS TEXTFILE with a JSON or CSV serde keeps the serde's format.
        if format.is_none()
            && !(parsed == FileFormat::Text
                && create
                    .row_format
                    .as_ref()
                    .is_some_and(|r| r.serde.is_some()))
        {
            format = Some(parsed);
        }
    }
    let mut storage = match &create.row_format {
        Some(row) => match &row.serde {
            Some(serde) => {
                let serde_format = StorageFormat::format_of_serde(serde).ok_or_else(|| {
                    semantic!(
                        "serde {serde} is not supported; nuage reads LazySimpleSerDe, OpenCSVSerde, \
                         org.apache.hive.hcatalog.data.JsonSerDe, org.openx.data.jsonserde.JsonSerDe and ParquetHiveSerDe"
                    )
                })?;
                let mut storage = StorageFormat::new(format.unwrap_or(serde_format));
                if format.is_none() || format == Some(serde_format) {
                    storage.serde = serde.clone();
                }
                storage
            }
            None => StorageFormat::new(format.unwrap_or(FileFormat::Text)),
        },
        None => StorageFormat::new(format.unwrap_or(default)),
    };
    if let Some(row) = &create.row_format {
        storage.serde_properties.extend(row.properties.clone());
    }
    if let Some(delim) = create.with_options.get("field_delimiter") {
        storage
            .serde_properties
            .insert("field.delim".into(), delim.clone());
    }
    Ok(storage)
}

/// `CREATE TABLE t [...] AS SELECT ...` (Hive) and `CREATE TABLE t WITH (...) AS SELECT ...` (Athena).
pub async fn create_table_as(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let database = session.database_of(&name);
    let Some(db) = session.shared.metastore.get_database(&database)? else {
        return Err(semantic!(
            "database {database} does not exist; SHOW DATABASES lists the ones that do"
        ));
    };
    if session
        .shared
        .metastore
        .get_table(&database, &name.name)?
        .is_some()
    {
        if create.if_not_exists {
            return Ok(Output::Done(None));
        }
        return Err(semantic!("table {database}.{} already exists", name.name));
    }
    let athena = !create.with_options.is_empty();
    let storage = storage_of(
        &create,
        if athena {
            FileFormat::Parquet
        } else {
            FileFormat::Text
        },
    )?;
    let partition_names: Vec<String> = if let Some(p) = create.with_options.get("partitioned_by") {
        name_list(p)
    } else {
        create
            .partitioned_by
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    let plan = plan_query(session, create.query.clone().expect("CTAS has a query")).await?;
    let columns = result_columns(&plan)?;
    let (data, partitions) = split_partition_columns(&columns, &partition_names)?;
    let external = create.external || create.with_options.contains_key("external_location");
    let location = match create
        .with_options
        .get("external_location")
        .or(create.location.as_ref())
    {
        Some(l) => parse_location(l)?.to_string(),
        None => format!("{}/{}", db.location.trim_end_matches('/'), name.name),
    };
    let (_, existing) = list_data_files(&session.shared.lake, &location).await?;
    if !existing.is_empty() {
        return Err(semantic!(
            "location {location} already holds {} file(s); CREATE TABLE AS SELECT writes a new table, so choose an empty location",
            existing.len()
        ));
    }
    let kind = if external {
        TableKind::External
    } else {
        TableKind::Managed
    };
    let mut table = Table::new(
        &database,
        &name.name,
        kind,
        location,
        storage,
        &session.user,
    );
    table.columns = data.to_vec();
    table.partition_columns = partitions.to_vec();
    table.properties = create.properties.clone();
    if let Some(c) = create.with_options.get("write_compression") {
        table
            .properties
            .insert("write.compression".into(), c.clone());
    }
    table.comment = create.comment.clone();
    let data_dir = parse_location(&table.data_location())?;
    let writer = TableWriter::new(
        session.shared.lake.clone(),
        &table,
        data_dir.clone(),
        vec![None; table.partition_columns.len()],
    );
    let files = match write_plan(session, plan, writer).await {
        Ok(files) => files,
        Err(e) => {
            let _ = session.shared.lake.remove(&data_dir, true).await;
            return Err(e);
        }
    };
    session.shared.metastore.create_table(&table, false)?;
    register_partitions(session, &table, &files)?;
    Ok(Output::Done(Some(format!(
        "{} rows loaded to {}",
        rows_of(&files),
        table.qualified_name()
    ))))
}

/// Hive's name for a result column: the alias, or `_cN` for an unnamed expression.
pub fn column_name(name: &str, index: usize) -> String {
    let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty();
    if plain {
        name.to_lowercase()
    } else {
        format!("_c{index}")
    }
}
