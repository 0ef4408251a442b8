//! Integration tests of nuage-sql: the `.slt` files under `tests/slt`, each run
//! on a fresh data directory with the fixtures of `tests/data` copied to a
//! scratch folder (`${hiveconf:scratch}`) that LOAD DATA may move files out of.
//!
//! `NUAGE_SLT_COMPLETE=1 cargo test -p nuage-sql --test it` rewrites the
//! expected results from what nuage prints (review the diff before committing).

mod slt;
