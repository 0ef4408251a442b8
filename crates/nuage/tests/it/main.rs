//! End-to-end tests of the `nuage` binary: the movie example on MovieLens,
//! `kill -9` in the middle of UPDATE, the crawler, the CLI's output contract,
//! and `nuage serve` through the AWS SDKs for Kinesis and Firehose.

mod cli;
mod crash;
mod crawl;
mod firehose;
mod flow;
mod flow_joins;
mod kda;
mod lambda;
mod lambda_mappings;
mod movies;
mod recs;
mod s3;
mod s3_access_logs;
mod s3_api;
mod s3_encryption;
mod s3_lifecycle;
mod s3_select;
mod s3_settings;
mod s3_versions;
mod s3_website;
mod streams;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn nuage(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nuage"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("NUAGE_DATA_DIR");
    command
}

/// Runs and returns (stdout, stderr), failing the test with both if the command failed.
pub fn run_ok(command: &mut Command) -> (String, String) {
    let output: Output = command.output().expect("nuage runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    );
    assert!(
        output.status.success(),
        "nuage failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// Fails the test with what to install when python3 lacks a module that an
/// oracle (scikit-learn) or a peer (moto) of the test needs.
pub fn require_python(module: &str, package: &str) {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test needs the Python package {package}: python3 -m pip install '{package}' (.ci/run installs it)"
    );
}

/// Runs `tests/it/<script>` with python3 and `args`; fails the test with
/// its output when it fails.
pub fn run_python(script: &str, args: &[&std::ffi::OsStr]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .join(script);
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}
