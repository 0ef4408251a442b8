use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use nuage_format::display::{Style, write_value};
use nuage_sql::{Output, Session, SqlError};
use sqllogictest::{DBOutput, DefaultColumnType};

/// A nuage session as a sqllogictest database.
struct NuageDb {
    session: Session,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl sqllogictest::AsyncDB for NuageDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        match self
            .session
            .execute(sql.trim().trim_end_matches(';'))
            .await?
        {
            Output::Done(_) => Ok(DBOutput::StatementComplete(0)),
            Output::Rows(mut stream) => {
                let width = stream.schema().fields().len();
                let mut rows = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(SqlError::from)?;
                    for row in 0..batch.num_rows() {
                        let values = batch
                            .columns()
                            .iter()
                            .map(|column| {
                                let mut text = String::new();
                                write_value(&mut text, column, row, Style::Cli);
                                // One line per row: a newline inside a value shows as \n.
                                if text.is_empty() {
                                    "(empty)".to_string()
                                } else {
                                    text.replace('\n', "\\n")
                                }
                            })
                            .collect();
                        rows.push(values);
                    }
                }
                Ok(DBOutput::Rows {
                    types: vec![DefaultColumnType::Any; width],
                    rows,
                })
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "nuage"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

async fn connect() -> Result<NuageDb, SqlError> {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let scratch = dir.path().join("scratch");
    copy_dir(&fixtures, &scratch);
    let config = nuage_common::Config::default().with_data_dir(dir.path().join("nuage-data"));
    let mut session = Session::open(&config).await?;
    session
        .vars
        .hiveconf
        .insert("fixtures".into(), fixtures.display().to_string());
    session
        .vars
        .hiveconf
        .insert("scratch".into(), scratch.display().to_string());
    Ok(NuageDb { session, _dir: dir })
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_files() {
    let complete = std::env::var("NUAGE_SLT_COMPLETE").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for file in slt_files() {
        let mut runner = sqllogictest::Runner::new(|| async { connect().await });
        if complete {
            runner
                .update_test_file(
                    &file,
                    "\t",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("completing {}: {e}", file.display()));
        } else if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} slt file(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
