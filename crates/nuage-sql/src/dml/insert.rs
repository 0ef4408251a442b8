//! `INSERT INTO|OVERWRITE` (static and dynamic partitions), `INSERT
//! OVERWRITE [LOCAL] DIRECTORY` and Athena's `UNLOAD`.

use super::*;

/// `INSERT INTO|OVERWRITE TABLE t [PARTITION (...)] [(cols)] SELECT ...|VALUES ...`.
pub async fn insert(
    session: &mut Session,
    overwrite: bool,
    name: &TableName,
    spec: &[(String, Option<String>)],
    columns: &[String],
    source: Box<Query>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_not_view(&table)?;
    let static_partition = static_values(&table, spec)?;
    let dynamic = static_partition.iter().filter(|v| v.is_none()).count();
    let plan = plan_query(session, source).await?;
    let plan = shape_insert(session, &table, plan, columns, dynamic).await?;
    let lake = session.shared.lake.clone();

    if overwrite && table.kind == TableKind::Managed && !table.is_partitioned() {
        let rows = replace_table_data(session, &table, plan).await?;
        return Ok(Output::Done(Some(format!(
            "{rows} rows loaded to {}",
            table.qualified_name()
        ))));
    }
    let existing: BTreeMap<Vec<String>, Location> = if table.is_partitioned() {
        session
            .shared
            .metastore
            .list_partitions(&table.database, &table.name)?
            .into_iter()
            .map(|p| Ok((p.values, parse_location(&p.location)?)))
            .collect::<Result<_>>()?
    } else {
        BTreeMap::new()
    };
    let data_dir = parse_location(&table.data_location())?;
    let mut writer = TableWriter::new(lake, &table, data_dir.clone(), static_partition.clone())
        .with_partition_dirs(existing.clone());
    if let Some(stem) = session.vars.hiveconf.get(crate::session::INSERT_FILE_STEM) {
        writer = writer.with_file_stem(stem);
    }
    let files = write_plan(session, plan, writer).await?;
    if overwrite {
        // Replace what was in each folder that received rows (and a fully static partition even if none came).
        let keep: BTreeSet<String> = files.iter().map(|f| f.location.to_string()).collect();
        let mut dirs: BTreeSet<String> = files.iter().map(|f| f.dir.to_string()).collect();
        if !table.is_partitioned() {
            dirs.insert(data_dir.to_string());
        } else if dynamic == 0 {
            let values: Vec<String> = static_partition.iter().flatten().cloned().collect();
            let dir = existing.get(&values).cloned().unwrap_or_else(|| {
                data_dir.join(&partition_spec(&table.partition_columns, &values))
            });
            dirs.insert(dir.to_string());
        }
        for dir in dirs {
            clear_dir(session, &parse_location(&dir)?, &keep).await?;
        }
    }
    register_partitions(session, &table, &files)?;
    Ok(Output::Done(Some(format!(
        "{} rows loaded to {}",
        rows_of(&files),
        table.qualified_name()
    ))))
}

/// `INSERT OVERWRITE [LOCAL] DIRECTORY 'path' ... SELECT ...`: the rows as files
/// in a folder (text with `\001` between fields unless ROW FORMAT / STORED AS
/// say otherwise). Files already there are replaced once the new ones are written.
pub async fn insert_directory(
    session: &mut Session,
    local: bool,
    path: &str,
    format: CreateTable,
    source: Box<Query>,
) -> Result<Output> {
    let dir = parse_location(path)?;
    if local && !matches!(dir, Location::Local(_)) {
        return Err(semantic!(
            "INSERT OVERWRITE LOCAL DIRECTORY writes a local path, not {path}; drop LOCAL to write to the lake"
        ));
    }
    let plan = plan_query(session, source).await?;
    let columns = result_columns(&plan)?;
    // The folder is written like the data of an external table with these columns.
    let mut table = Table::new(
        &session.database,
        "directory",
        TableKind::External,
        dir.to_string(),
        storage_of(&format, FileFormat::Text)?,
        &session.user,
    );
    table.columns = columns;
    let writer = TableWriter::new(session.shared.lake.clone(), &table, dir.clone(), Vec::new());
    let files = write_plan(session, plan, writer).await?;
    let keep: BTreeSet<String> = files.iter().map(|f| f.location.to_string()).collect();
    clear_dir(session, &dir, &keep).await?;
    Ok(Output::Done(Some(format!(
        "{} rows written to {dir}",
        rows_of(&files)
    ))))
}

/// Athena's `UNLOAD (query) TO 'folder' WITH (format = ..., compression = ...,
/// field_delimiter = ..., partitioned_by = ARRAY[...])`: the rows as files, no
/// table. As in Athena the folder must be empty, and partition columns come
/// last in the SELECT list.
pub async fn unload(
    session: &mut Session,
    query: Box<Query>,
    to: &str,
    options: BTreeMap<String, String>,
) -> Result<Output> {
    let dir = parse_location(to)?;
    let Some(format) = options.get("format") else {
        return Err(semantic!(
            "UNLOAD needs WITH (format = 'PARQUET' | 'JSON' | 'TEXTFILE' | 'CSV')"
        ));
    };
    let (_, existing) = list_data_files(&session.shared.lake, &dir.to_string()).await?;
    if !existing.is_empty() {
        return Err(semantic!(
            "UNLOAD writes only to an empty location, and {dir} holds {} file(s); remove them (dfs -rm -r {dir}) or pick another folder",
            existing.len()
        ));
    }
    let mut create = CreateTable {
        with_options: options.clone(),
        ..Default::default()
    };
    if format.eq_ignore_ascii_case("csv") {
        // Athena's UNLOAD CSV is delimited text with commas.
        create
            .with_options
            .insert("format".into(), "TEXTFILE".into());
        create
            .with_options
            .entry("field_delimiter".into())
            .or_insert_with(|| ",".into());
    }
    let plan = plan_query(session, query).await?;
    let columns = result_columns(&plan)?;
    let partition_names = options
        .get("partitioned_by")
        .map(|p| name_list(p))
        .unwrap_or_default();
    let (data, partitions) = split_partition_columns(&columns, &partition_names)?;
    let mut table = Table::new(
        &session.database,
        "unload",
        TableKind::External,
        dir.to_string(),
        storage_of(&create, FileFormat::Parquet)?,
        &session.user,
    );
    table.columns = data.to_vec();
    table.partition_columns = partitions.to_vec();
    if let Some(c) = options.get("compression") {
        table
            .properties
            .insert("write.compression".into(), c.clone());
    }
    let writer = TableWriter::new(
        session.shared.lake.clone(),
        &table,
        dir.clone(),
        vec![None; partitions.len()],
    );
    let files = write_plan(session, plan, writer).await?;
    Ok(Output::Done(Some(format!(
        "{} rows unloaded to {dir} in {} file(s)",
        rows_of(&files),
        files.len()
    ))))
}

/// Orders the query's columns as the table's data columns (filling unnamed ones
/// with NULL when a column list is given), followed by the dynamic partition columns.
pub(crate) async fn shape_insert(
    session: &Session,
    table: &Table,
    plan: LogicalPlan,
    columns: &[String],
    dynamic: usize,
) -> Result<LogicalPlan> {
    let width = plan.schema().fields().len();
    let targets = if columns.is_empty() {
        table.columns.len()
    } else {
        columns.len()
    };
    if width != targets + dynamic {
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        return Err(semantic!(
            "cannot insert into {}: the query returns {width} columns but the table needs {}{} ({}{})",
            table.qualified_name(),
            targets + dynamic,
            if dynamic > 0 {
                format!(" ({targets} data + {dynamic} dynamic partition)")
            } else {
                String::new()
            },
            if columns.is_empty() {
                names.join(", ")
            } else {
                columns.join(", ")
            },
            if dynamic > 0 {
                ", then the partition values"
            } else {
                ""
            }
        ));
    }
    if columns.is_empty() {
        return Ok(plan);
    }
    for c in columns {
        if !table.columns.iter().any(|t| &t.name == c) {
            return Err(semantic!(
                "table {} has no column {c}; columns are: {}",
                table.qualified_name(),
                column_list(&table.columns)
            ));
        }
    }
    let frame = session.context().execute_logical_plan(plan).await?;
    let source: Vec<DfExpr> = frame
        .schema()
        .columns()
        .into_iter()
        .map(DfExpr::Column)
        .collect();
    let mut exprs: Vec<DfExpr> = table
        .columns
        .iter()
        .map(|c| match columns.iter().position(|n| n == &c.name) {
            Some(i) => source[i].clone().alias(&c.name),
            None => lit(ScalarValue::Null).alias(&c.name),
        })
        .collect();
    exprs.extend(source[columns.len()..].iter().cloned());
    Ok(frame.select(exprs)?.into_unoptimized_plan())
}
