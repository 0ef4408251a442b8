//! `CREATE TABLE ... AS SELECT` (Hive's and Athena's), temporary tables,
//! and the storage a CREATE statement asks for.

use super::*;

pub(crate) fn columns_of(defs: &[ColumnDef]) -> Result<Vec<Column>> {
    defs.iter()
        .map(|d| {
            let mut column = Column::new(&d.name, &d.data_type)
                .map_err(|e| semantic!("column {}: {e}", d.name))?;
            column.comment = d.comment.clone();
            Ok(column)
        })
        .collect()
}

pub(crate) async fn create_table(session: &mut Session, create: CreateTable) -> Result<Output> {
    let name = create.name.clone().expect("CREATE TABLE has a name");
    let database = session.database_of(&name);
    let metastore = session.shared.metastore.clone();
    let Some(db) = metastore.get_database(&database)? else {
        return Err(semantic!(
            "database {database} does not exist; SHOW DATABASES lists the ones that do"
        ));
    };
    let default_location = format!("{}/{}", db.location.trim_end_matches('/'), name.name);
    let table = if let Some(like) = &create.like {
        let source = session.table(like)?;
        if source.kind == TableKind::View {
            return Err(semantic!(
                "CREATE TABLE LIKE needs a table, and {} is a view",
                source.qualified_name()
            ));
        }
        let kind = if create.external {
            TableKind::External
        } else {
            TableKind::Managed
        };
        let location = match &create.location {
            Some(l) => Location::parse(l)?.to_string(),
            None => default_location,
        };
        let mut table = Table::new(
            &database,
            &name.name,
            kind,
            location,
            source.storage,
            &session.user,
        );
        table.columns = source.columns;
        table.partition_columns = source.partition_columns;
        table.properties = source.properties;
        table.properties.remove(SNAPSHOT_PROPERTY);
        table.comment = source.comment;
        table
    } else {
        if create.columns.is_empty() {
            return Err(semantic!(
                "CREATE TABLE {} needs columns: CREATE TABLE {} (name type, ...), or AS SELECT",
                name,
                name
            ));
        }
        let storage = storage_of(&create, FileFormat::Text)?;
        let mut kind = if create.external {
            TableKind::External
        } else {
            TableKind::Managed
        };
        let mut properties = create.properties.clone();
        if properties
            .get("EXTERNAL")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            kind = TableKind::External;
        }
        properties.remove("EXTERNAL");
        let location = match create
            .location
            .as_ref()
            .or(create.with_options.get("external_location"))
        {
            Some(l) => Location::parse(l)?.to_string(),
            None => default_location,
        };
        if create.partitioned_by.iter().any(|c| c.data_type.is_empty()) {
            return Err(semantic!(
                "PARTITIONED BY needs a type for each column, as in PARTITIONED BY (year STRING)"
            ));
        }
        let mut table = Table::new(
            &database,
            &name.name,
            kind,
            location,
            storage,
            &session.user,
        );
        table.columns = columns_of(&create.columns)?;
        table.partition_columns = columns_of(&create.partitioned_by)?;
        table.properties = properties;
        table.comment = create.comment.clone();
        table
    };
    // A table that exists already is fine with IF NOT EXISTS; the metastore says which.
    metastore.create_table(&table, create.if_not_exists)?;
    Ok(Output::Done(None))
}
