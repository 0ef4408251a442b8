//! `UPDATE`, `DELETE` and `TRUNCATE` of managed tables: the new content is
//! written as a snapshot and switched in one catalog transaction.

use super::*;

/// `UPDATE t SET c = expr, ... [WHERE cond]` on a managed table.
pub async fn update(
    session: &mut Session,
    name: &TableName,
    assignments: Vec<(String, Expr)>,
    selection: Option<Expr>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "UPDATE")?;
    for (column, _) in &assignments {
        if table.partition_columns.iter().any(|c| &c.name == column) {
            return Err(semantic!("partition column {column} cannot be updated"));
        }
        if !table.columns.iter().any(|c| &c.name == column) {
            return Err(semantic!(
                "table {} has no column {column}; columns are: {}",
                table.qualified_name(),
                column_list(&table.columns)
            ));
        }
    }
    let select: Vec<String> = table
        .columns
        .iter()
        .chain(&table.partition_columns)
        .map(|c| match assignments.iter().find(|(n, _)| n == &c.name) {
            Some((_, value)) => match &selection {
                Some(cond) => format!(
                    "CASE WHEN ({cond}) THEN ({value}) ELSE `{0}` END AS `{0}`",
                    c.name
                ),
                None => format!("({value}) AS `{}`", c.name),
            },
            None => format!("`{}`", c.name),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM `{}`.`{}`",
        select.join(", "),
        table.database,
        table.name
    );
    let plan = plan_sql(session, &sql).await?;
    let rows = replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(Some(format!(
        "{} rewritten ({rows} rows)",
        table.qualified_name()
    ))))
}

/// `DELETE FROM t [WHERE cond]` on a managed table.
pub async fn delete(
    session: &mut Session,
    name: &TableName,
    selection: Option<Expr>,
) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "DELETE")?;
    let filter = match &selection {
        Some(cond) => format!("WHERE NOT coalesce(({cond}), false)"),
        None => "WHERE false".to_string(),
    };
    let sql = format!(
        "SELECT * FROM `{}`.`{}` {filter}",
        table.database, table.name
    );
    let plan = plan_sql(session, &sql).await?;
    let rows = replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(Some(format!(
        "{} rewritten ({rows} rows kept)",
        table.qualified_name()
    ))))
}

/// `TRUNCATE TABLE t`: a managed table keeps its definition and loses its rows.
pub async fn truncate(session: &mut Session, name: &TableName) -> Result<Output> {
    let table = session.table(name)?;
    require_managed(&table, "TRUNCATE")?;
    let sql = format!(
        "SELECT * FROM `{}`.`{}` WHERE false",
        table.database, table.name
    );
    let plan = plan_sql(session, &sql).await?;
    replace_table_data(session, &table, plan).await?;
    Ok(Output::Done(None))
}
