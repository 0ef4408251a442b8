//! Which program runs a function: Lambda's runtime identifiers mapped onto
//! the interpreters of this machine, and the runtime clients nuage ships
//! (`bootstrap.py`, `bootstrap.js`) that speak the Runtime API for them.

pub(crate) mod api;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{FunctionError, Result};

const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("bootstrap.js");

/// The Python and Node versions nuage accepts (Lambda's supported ones
/// and those deprecated but still invocable), and the OS-only runtimes.
const PYTHONS: &[&str] = &["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"];
const NODES: &[u32] = &[18, 20, 22, 24];
const PROVIDED: &[&str] = &["provided", "provided.al2", "provided.al2023"];

/// A runtime identifier nuage can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    Python(&'static str),
    Node(u32),
    /// The zip's own `bootstrap` executable speaks the Runtime API.
    Provided,
}

impl Runtime {
    /// `python3.12`, `nodejs20.x`, `provided.al2023`; anything else is
    /// refused in Lambda's words with what nuage runs instead.
    pub fn parse(id: &str) -> Result<Self> {
        if let Some(v) = id.strip_prefix("python") {
            if let Some(v) = PYTHONS.iter().find(|p| **p == v) {
                return Ok(Runtime::Python(v));
            }
        } else if let Some(v) = id.strip_prefix("nodejs").and_then(|v| v.strip_suffix(".x")) {
            if let Some(n) = v.parse().ok().filter(|n| NODES.contains(n)) {
                return Ok(Runtime::Node(n));
            }
        } else if PROVIDED.contains(&id) {
            return Ok(Runtime::Provided);
        }
        Err(FunctionError::InvalidParameter(format!(
            "The runtime parameter of {id} is not supported by nuage: it runs python3.9 to \
             python3.14, nodejs18.x to nodejs24.x and provided, provided.al2, provided.al2023 \
             (a zip whose bootstrap executable speaks the Runtime API)."
        )))
    }

    /// Whether the runtime client marks the end of each invocation's
    /// output (nuage's bootstraps do; a `provided` bootstrap does not).
    pub(crate) fn marks_output(&self) -> bool {
        !matches!(self, Runtime::Provided)
    }
}

/// How to start one environment of a function.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Said once in the function's log (an interpreter other than the
    /// runtime's version).
    pub warning: Option<String>,
}

/// The program that runs `runtime` for code unpacked in `code`; nuage's
/// bootstraps live in `runtime_dir`.
pub(crate) fn launch(runtime: &Runtime, code: &Path, runtime_dir: &Path) -> Result<Launch> {
    match runtime {
        Runtime::Python(version) => {
            let (program, warning) = interpreter(
                &format!("python{version}"),
                &["python3"],
                &format!("python{version}"),
                "Python 3 (Debian: apt-get install python3)",
            )?;
            Ok(Launch {
                program,
                args: vec!["-u".into(), runtime_dir.join("bootstrap.py").into()],
                warning,
            })
        }
        Runtime::Node(major) => {
            let (program, warning) = interpreter(
                &format!("node{major}"),
                &["node", "nodejs"],
                &format!("nodejs{major}.x"),
                "Node.js (Debian: apt-get install nodejs)",
            )?;
            let warning = warning.or_else(|| node_mismatch(&program, *major));
            Ok(Launch {
                program,
                args: vec![runtime_dir.join("bootstrap.js").into()],
                warning,
            })
        }
        Runtime::Provided => Ok(Launch {
            program: code.join("bootstrap"),
            args: Vec::new(),
            warning: None,
        }),
    }
}

/// Writes nuage's runtime clients into `runtime_dir` (at every start, so
/// an upgraded nuage brings its own).
pub(crate) fn install_bootstraps(runtime_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(runtime_dir)
        .map_err(FunctionError::io("cannot create", runtime_dir))?;
    for (name, text) in [
        ("bootstrap.py", PYTHON_BOOTSTRAP),
        ("bootstrap.js", NODE_BOOTSTRAP),
    ] {
        let path = runtime_dir.join(name);
        nuage_common::durable::write_file(&path, text.as_bytes())
            .map_err(FunctionError::io("cannot write", &path))?;
    }
    Ok(())
}

/// `exact` on PATH, else the first of `fallbacks` with a warning, else
/// InvalidRuntime saying what to install.
fn interpreter(
    exact: &str,
    fallbacks: &[&str],
    runtime: &str,
    install: &str,
) -> Result<(PathBuf, Option<String>)> {
    static FOUND: OnceLock<Mutex<HashMap<String, Option<PathBuf>>>> = OnceLock::new();
    let found = FOUND.get_or_init(Default::default);
    let lookup = |name: &str| {
        crate::lock(found)
            .entry(name.to_string())
            .or_insert_with(|| on_path(name).filter(|p| runs(p)))
            .clone()
    };
    if let Some(path) = lookup(exact) {
        return Ok((path, None));
    }
    for fallback in fallbacks {
        if let Some(path) = lookup(fallback) {
            let warning = format!(
                "nuage: {exact} is not installed on this machine; running this {runtime} \
                 function on {}",
                path.display()
            );
            return Ok((path, Some(warning)));
        }
    }
    Err(FunctionError::Runtime(format!(
        "{runtime} functions run on this machine's {exact} or {}, and none is on PATH: \
         install {install}, then invoke again.",
        fallbacks.join(" or ")
    )))
}

/// The warning when `node --version` is not the runtime's major version
/// (asked once per program: launch runs at every invocation).
fn node_mismatch(program: &Path, major: u32) -> Option<String> {
    static VERSIONS: OnceLock<Mutex<HashMap<PathBuf, Option<String>>>> = OnceLock::new();
    let version = crate::lock(VERSIONS.get_or_init(Default::default))
        .entry(program.to_path_buf())
        .or_insert_with(|| {
            let output = std::process::Command::new(program)
                .arg("--version")
                .output()
                .ok()?;
            Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
        })
        .clone()?;
    let found: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()?;
    (found != major).then(|| {
        format!(
            "nuage: nodejs{major}.x requested; running on this machine's node {version} ({})",
            program.display()
        )
    })
}

/// Whether `program --version` succeeds: a pyenv shim for a version that
/// is not active is on PATH but cannot run anything.
fn runs(program: &Path) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first executable file named `name` in PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_runtime_ids_map_to_families() {
        assert_eq!(
            Runtime::parse("python3.12").unwrap(),
            Runtime::Python("3.12")
        );
        assert_eq!(Runtime::parse("nodejs20.x").unwrap(), Runtime::Node(20));
        assert_eq!(
            Runtime::parse("provided.al2023").unwrap(),
            Runtime::Provided
        );
        for refused in ["python2.7", "nodejs20", "java21", "python3.12 ", ""] {
            let e = Runtime::parse(refused).unwrap_err().to_string();
            assert!(e.contains("not supported by nuage"), "{refused}: {e}");
        }
    }

    #[test]
    fn a_runtime_without_an_interpreter_says_what_to_install() {
        let e = interpreter(
            "node-nuage-test-none",
            &["nodejs-nuage-test-none"],
            "nodejs20.x",
            "Node.js (Debian: apt-get install nodejs)",
        )
        .unwrap_err();
        assert!(matches!(e, FunctionError::Runtime(_)));
        assert_eq!(
            e.to_string(),
            "nodejs20.x functions run on this machine's node-nuage-test-none or \
             nodejs-nuage-test-none, and none is on PATH: install Node.js (Debian: apt-get \
             install nodejs), then invoke again."
        );
    }
}
