//! The functions service in process: real interpreters running real
//! handlers through the Runtime API.

mod invoke;
mod mappings;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use nuage_functions::{Functions, FunctionsConfig, NewFunction};

/// A zip of `(name, content, executable)` files.
pub fn zip(files: &[(&str, &str, bool)]) -> Bytes {
    let files: Vec<(String, Vec<u8>, bool)> = files
        .iter()
        .map(|(name, content, executable)| {
            (name.to_string(), content.as_bytes().to_vec(), *executable)
        })
        .collect();
    zip_bytes(&files)
}

/// A zip of `(name, bytes, executable)` files.
pub fn zip_bytes(files: &[(String, Vec<u8>, bool)]) -> Bytes {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content, executable) in files {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(content).unwrap();
    }
    Bytes::from(out.finish().unwrap().into_inner())
}

pub fn open(dir: &std::path::Path) -> Arc<Functions> {
    Functions::open(FunctionsConfig::new(dir.join("functions")), None).unwrap()
}

pub fn new_function(name: &str, runtime: &str, handler: &str, zip: Bytes) -> NewFunction {
    NewFunction {
        name: name.into(),
        runtime: runtime.into(),
        handler: handler.into(),
        role: "arn:aws:iam::000000000000:role/x".into(),
        description: String::new(),
        timeout: 3,
        memory_size: 128,
        environment: BTreeMap::new(),
        tags: BTreeMap::new(),
        zip,
        publish: false,
        layers: Vec::new(),
    }
}
