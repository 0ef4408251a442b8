//! The recommendation queries of `examples/movies/recs.hql` on the film
//! plots and MovieLens 100k, against scikit-learn's answers computed during
//! the test by `examples/movies/recs_reference.py`.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::movies::{datasets, percentile};
use crate::{nuage, repo_root, require_python, run_ok};

/// The rows printed after each `== name` marker line.
fn sections(stdout: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = Some(name.to_string());
            out.entry(name.to_string()).or_default();
        } else if let Some(name) = &current {
            let fields = line.split('\t').map(str::to_string).collect();
            out.get_mut(name).unwrap().push(fields);
        }
    }
    out
}

/// nuage's top k equals scikit-learn's: each key's value is scikit-learn's
/// value for that key, and the values are scikit-learn's k best (so ties
/// at the edge may pick either key).
fn same_neighbours(what: &str, rows: &[Vec<String>], reference: &Value) {
    let all = reference["all"].as_object().unwrap();
    let top = reference["top"].as_array().unwrap();
    assert_eq!(rows.len(), top.len(), "{what}: {rows:?}");
    for (row, best) in rows.iter().zip(top) {
        let value: f64 = row[1].parse().unwrap();
        let theirs = all[&row[0]].as_f64().unwrap();
        assert!(
            (value - theirs).abs() < 1e-6,
            "{what}: {} is {value} in nuage, {theirs} in scikit-learn",
            row[0]
        );
        let best = best[1].as_f64().unwrap();
        assert!(
            (value - best).abs() < 1e-6,
            "{what}: nuage's {} ({value}) is not scikit-learn's next best ({best}): {rows:?} vs {top:?}",
            row[0]
        );
    }
}

#[test]
fn recommendations_equal_scikit_learn_on_movielens_and_film_plots() {
    require_python("sklearn", "scikit-learn");
    let data = datasets();
    let dir = tempfile::tempdir().unwrap();
    let reference_file = dir.path().join("reference.json");
    let status = Command::new("python3")
        .arg(repo_root().join("examples/movies/recs_reference.py"))
        .arg(&data)
        .arg(&reference_file)
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "examples/movies/recs_reference.py failed (its error is above)"
    );
    let reference: Value =
        serde_json::from_slice(&std::fs::read(&reference_file).unwrap()).unwrap();

    let (stdout, _) = run_ok(
        nuage(dir.path())
            .args(["sql", "-f"])
            .arg(repo_root().join("examples/movies/recs.hql"))
            .arg("--hiveconf")
            .arg(format!("data={}", data.display())),
    );
    let got = sections(&stdout);
    for (section, kind, key) in [
        ("plots like 1648", "plots", "1648"),
        ("plots like 0", "plots", "0"),
        ("plots like 2500", "plots", "2500"),
        ("title+plot like 1648", "plots_title", "1648"),
        ("unigrams like 1648", "plots_unigrams", "1648"),
        ("rated like 50", "ratings", "50"),
        ("rated like 1", "ratings", "1"),
        ("rated like 181", "ratings", "181"),
    ] {
        same_neighbours(section, &got[section], &reference[kind][key]);
    }
    // Star Wars' neighbours come with their titles.
    assert_eq!(got["rated like 50"][0].len(), 3);

    // The weighted ratings, from the raw file.
    let ratings = std::fs::read_to_string(data.join("ml-100k/ratings.tsv")).unwrap();
    let mut per_item: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for line in ratings.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        per_item
            .entry(f[1].parse().unwrap())
            .or_default()
            .push(f[2].parse().unwrap());
    }
    let m = percentile(per_item.values().map(|r| r.len() as f64).collect(), 0.9);
    let averages: Vec<f64> = per_item
        .values()
        .map(|r| r.iter().sum::<f64>() / r.len() as f64)
        .collect();
    let c = averages.iter().sum::<f64>() / averages.len() as f64;
    let mut expected: Vec<f64> = per_item
        .values()
        .filter(|r| r.len() as f64 >= m)
        .map(|r| {
            let (v, avg) = (r.len() as f64, r.iter().sum::<f64>() / r.len() as f64);
            ((v / (v + m) * avg + m / (v + m) * c) * 1e4).round() / 1e4
        })
        .collect();
    expected.sort_by(|a, b| b.total_cmp(a));
    let wr: Vec<f64> = got["weighted rating"]
        .iter()
        .map(|row| row[2].parse().unwrap())
        .collect();
    assert_eq!(wr, expected[..10]);
}
