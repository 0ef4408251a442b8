//! Folders to tables: the highest folder whose files share a schema and sit
//! at one depth, the schema merge rules, and the partition keys of the
//! folders in between.

use std::collections::{BTreeMap, BTreeSet};

use nuage_catalog::{HiveType, unescape_partition_value};
use nuage_lake::Location;

use crate::infer::{self, widen_opt};
use crate::sample::{FileSchema, Layout};
use crate::{CrawlReport, Folder, Found, Sampled};
use nuage_format::compression::Codec;

/// The table folders under `folder` (at `path`), deepest-first only when the
/// whole subtree does not form one table.
pub(crate) fn find_tables(
    folder: &Folder,
    path: &mut Vec<String>,
    sampled: &[Sampled],
    found: &mut Vec<Found>,
    report: &mut CrawlReport,
) {
    let files = folder.all_files();
    if files.is_empty() {
        return;
    }
    let depth = sampled[files[0]].relative.len() - 1 - path.len();
    let same_depth = files
        .iter()
        .all(|&i| sampled[i].relative.len() - 1 - path.len() == depth);
    let leaf = folder.children.is_empty();
    if same_depth && let Some((schema, merged)) = merge_all(&files, sampled, leaf) {
        found.push(Found {
            folder: path.clone(),
            files,
            schema,
            merged,
        });
        return;
    }
    if leaf {
        report.skipped.extend(files.iter().map(|&i| {
            (
                sampled[i].relative.join("/"),
                format!(
                    "the files of {}/ do not share one schema and delimited files cannot be merged (columns are read by position); move each schema to its own folder and crawl again",
                    path.join("/")
                ),
            )
        }));
        return;
    }
    for &i in &folder.files {
        report.skipped.push((
            sampled[i].relative.join("/"),
            "lies next to folders of other schemas, so no table location holds it alone; move it into a folder of its own".into(),
        ));
    }
    for (name, child) in &folder.children {
        path.push(name.clone());
        find_tables(child, path, sampled, found, report);
        path.pop();
    }
}

/// The schema of all the files, if they share one (see the module docs);
/// `force` merges self-describing formats that differ. The flag says whether
/// differing schemas were merged.
pub(crate) fn merge_all(
    files: &[usize],
    sampled: &[Sampled],
    force: bool,
) -> Option<(FileSchema, bool)> {
    let mut schemas = files.iter().map(|&i| {
        sampled[i]
            .schema
            .as_ref()
            .expect("only sampled files are in the tree")
    });
    let mut merged = schemas.next()?.clone();
    let mut differed = false;
    for schema in schemas {
        let similar = similar(&merged, schema);
        if !similar {
            differed = true;
            let self_describing = matches!(schema.layout, Layout::Json | Layout::Parquet);
            if !(force && self_describing && schema.layout == merged.layout) {
                return None;
            }
        }
        merge_into(&mut merged, schema);
    }
    Some((merged, differed))
}

/// Same layout, and columns that line up (by name: 70% of the smaller set; by
/// position: no conflicting types).
pub(crate) fn similar(a: &FileSchema, b: &FileSchema) -> bool {
    let same_layout = match (&a.layout, &b.layout) {
        (
            Layout::Delimited {
                delimiter: da,
                header: ha,
                ..
            },
            Layout::Delimited {
                delimiter: db,
                header: hb,
                ..
            },
        ) => da == db && ha == hb,
        (x, y) => x == y,
    };
    if !same_layout {
        return false;
    }
    if let Layout::Delimited { header: true, .. } = a.layout {
        // Named by the header but read by position: one header must extend the other.
        return a
            .columns
            .iter()
            .zip(&b.columns)
            .all(|((x, _), (y, _))| x == y);
    }
    if a.layout.named_columns() {
        let names_a: BTreeSet<&str> = a.columns.iter().map(|(n, _)| n.as_str()).collect();
        let names_b: BTreeSet<&str> = b.columns.iter().map(|(n, _)| n.as_str()).collect();
        let common = names_a.intersection(&names_b).count();
        let smaller = names_a.len().min(names_b.len()).max(1);
        common * 10 >= smaller * 7
    } else {
        a.columns
            .iter()
            .zip(&b.columns)
            .all(|((_, x), (_, y))| match (x, y) {
                (Some(x), Some(y)) => {
                    x == y || infer::widen(x.clone(), y.clone()) != HiveType::String
                }
                _ => true,
            })
    }
}

pub(crate) fn merge_into(merged: &mut FileSchema, other: &FileSchema) {
    if let (
        Layout::Delimited { quoted, .. },
        Layout::Delimited {
            quoted: other_quoted,
            ..
        },
    ) = (&mut merged.layout, &other.layout)
    {
        *quoted |= *other_quoted;
    }
    if merged.codec != other.codec {
        // Mixed codecs are fine for reading (each file by its extension).
        merged.codec = Codec::NONE;
    }
    let by_name = merged.layout.named_columns();
    for (i, (name, ty)) in other.columns.iter().enumerate() {
        let slot = if by_name {
            merged.columns.iter_mut().find(|(n, _)| n == name)
        } else {
            merged.columns.get_mut(i)
        };
        match slot {
            Some((_, existing)) => *existing = widen_opt(existing.take(), ty.clone()),
            None => merged.columns.push((name.clone(), ty.clone())),
        }
    }
}

pub(crate) fn folder_display(root: &Location, folder: &[String]) -> String {
    let mut location = root.clone();
    for part in folder {
        location = location.join(part);
    }
    location.to_string().trim_end_matches('/').to_string()
}

/// Partition columns and each file's partition values, from the folders
/// between the table folder and the files.
pub(crate) fn partitioning(
    found: &Found,
    sampled: &[Sampled],
) -> (Vec<String>, BTreeMap<Vec<String>, String>) {
    let start = found.folder.len();
    let levels: Vec<Vec<&str>> = found
        .files
        .iter()
        .map(|&i| {
            let rel = &sampled[i].relative;
            rel[start..rel.len() - 1]
                .iter()
                .map(String::as_str)
                .collect()
        })
        .collect();
    let depth = levels.first().map_or(0, Vec::len);
    let keys: Vec<String> = (0..depth)
        .map(|level| {
            let named: BTreeSet<Option<String>> = levels
                .iter()
                .map(|l| {
                    l[level]
                        .split_once('=')
                        .map(|(k, _)| infer::column_name(k, level))
                })
                .collect();
            match named.into_iter().collect::<Vec<_>>().as_slice() {
                [Some(key)] => key.clone(),
                _ => format!("partition_{level}"),
            }
        })
        .collect();
    let mut partitions = BTreeMap::new();
    if depth == 0 {
        return (keys, partitions);
    }
    for l in &levels {
        let values: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(level, folder)| match folder.split_once('=') {
                Some((_, value)) if !keys[level].starts_with("partition_") => {
                    unescape_partition_value(value)
                }
                _ => folder.to_string(),
            })
            .collect();
        partitions.insert(values, l.join("/"));
    }
    (keys, partitions)
}
