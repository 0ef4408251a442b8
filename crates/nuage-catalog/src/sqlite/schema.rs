//! The metastore's tables, as numbered migrations recorded in
//! `PRAGMA user_version`.

use rusqlite::Connection;

/// Migrations, applied in order; the index + 1 is the schema version.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE databases (
    name        TEXT PRIMARY KEY,
    comment     TEXT,
    location    TEXT NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE TABLE tables (
    id              INTEGER PRIMARY KEY,
    db              TEXT NOT NULL REFERENCES databases(name),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    location        TEXT NOT NULL,
    storage         TEXT NOT NULL,
    properties      TEXT NOT NULL DEFAULT '{}',
    comment         TEXT,
    view_text       TEXT,
    view_expanded   TEXT,
    owner           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    UNIQUE (db, name)
);
CREATE TABLE columns (
    table_id      INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    is_partition  INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    name          TEXT NOT NULL,
    type          TEXT NOT NULL,
    comment       TEXT,
    PRIMARY KEY (table_id, is_partition, position)
);
CREATE TABLE partitions (
    table_id    INTEGER NOT NULL REFERENCES tables(id) ON DELETE CASCADE,
    spec        TEXT NOT NULL,
    vals        TEXT NOT NULL,
    location    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (table_id, spec)
);
"#,
    r#"
CREATE TABLE queries (
    id             INTEGER PRIMARY KEY,
    query_id       TEXT NOT NULL,
    user           TEXT NOT NULL,
    db             TEXT NOT NULL,
    statement      TEXT NOT NULL,
    started_ms     INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    rows           INTEGER,
    bytes_scanned  INTEGER NOT NULL,
    files_scanned  INTEGER NOT NULL,
    state          TEXT NOT NULL,
    error          TEXT
);
"#,
    r#"
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    db          TEXT NOT NULL,
    statement   TEXT NOT NULL,
    state       TEXT NOT NULL,
    error       TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
"#,
];

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()
}
