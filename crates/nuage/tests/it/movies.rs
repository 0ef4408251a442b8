//! The movie example of `examples/movies` on MovieLens 100k, checked against
//! answers computed here directly from the data files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use crate::{nuage, repo_root, run_ok};

/// MovieLens 100k and the film plots, fetched by the repository's own script
/// into `$NUAGE_DATASETS` or `~/.cache/nuage-datasets`.
pub fn datasets() -> PathBuf {
    let script = repo_root().join("scripts/fetch-datasets.sh");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs scripts/fetch-datasets.sh");
    assert!(
        output.status.success(),
        "scripts/fetch-datasets.sh failed (it needs python3 with pip, unzip and access to PyPI):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Hive's exact percentile: linear interpolation between closest ranks.
pub fn percentile(mut values: Vec<f64>, p: f64) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let position = p * (values.len() - 1) as f64;
    let (lower, upper) = (position.floor() as usize, position.ceil() as usize);
    values[lower] + (position - lower as f64) * (values[upper] - values[lower])
}

#[test]
fn the_example_script_answers_like_the_data_says() {
    let data = datasets().join("ml-100k");
    let dir = tempfile::tempdir().unwrap();
    let script = repo_root().join("examples/movies/init_rs.hql");
    let (stdout, stderr) = run_ok(
        nuage(dir.path())
            .args(["sql", "-f"])
            .arg(&script)
            .arg("--hiveconf")
            .arg(format!("data={}", data.display())),
    );
    assert!(stderr.contains("Data scanned: "), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();

    // The oracle: the same figures from the raw files.
    let ratings = std::fs::read_to_string(data.join("ratings.tsv")).unwrap();
    let mut per_movie: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    let mut per_user: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for line in ratings.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (user, movie, rating): (i64, i64, f64) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        per_movie.entry(movie).or_default().push(rating);
        per_user.entry(user).or_default().push(rating);
    }
    let items = std::fs::read_to_string(data.join("items.tsv")).unwrap();
    let titles: BTreeMap<i64, String> = items
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[1].to_string())
        })
        .collect();
    let animations = items
        .lines()
        .skip(1)
        .filter(|l| l.contains("Animation"))
        .count();
    let picky = per_user
        .values()
        .filter(|r| r.len() > 5 && r.iter().sum::<f64>() / r.len() as f64 > 4.0)
        .count();

    assert_eq!(
        lines[0],
        per_movie.len().to_string(),
        "COUNT(DISTINCT movieId)"
    );
    assert_eq!(
        lines[1],
        animations.to_string(),
        "genres LIKE '%Animation%'"
    );
    assert_eq!(
        lines[2],
        picky.to_string(),
        "users with > 5 ratings averaging > 4"
    );

    let averages: Vec<f64> = per_movie
        .values()
        .map(|r| r.iter().sum::<f64>() / r.len() as f64)
        .collect();
    let counts: Vec<f64> = per_movie.values().map(|r| r.len() as f64).collect();
    let c = percentile(averages, 0.5);
    let m = percentile(counts, 0.9);
    let stats: Vec<f64> = lines[8].split('\t').map(|v| v.parse().unwrap()).collect();
    assert!(
        (stats[0] - c).abs() < 1e-9 && (stats[1] - m).abs() < 1e-9,
        "C and m: {:?} vs {c} {m}",
        stats
    );

    // Weighted ratings: the top 10 titles in order.
    let mut weighted: Vec<(f64, &str)> = per_movie
        .iter()
        .map(|(movie, r)| {
            let (v, avg) = (r.len() as f64, r.iter().sum::<f64>() / r.len() as f64);
            (
                (v / (v + m) * avg + m / (m + v) * c) as f32 as f64,
                titles[movie].as_str(),
            )
        })
        .collect();
    weighted.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(b.1)));
    let expected: Vec<&str> = weighted.iter().take(10).map(|(_, t)| *t).collect();
    let got: Vec<&str> = lines[9..19]
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(got, expected);

    // Genre counts from LATERAL VIEW explode(split(...)).
    let mut genres: BTreeMap<String, usize> = BTreeMap::new();
    for line in items.lines().skip(1) {
        let class = line.split('\t').nth(3).unwrap_or("");
        for g in class.split(' ').collect::<BTreeSet<_>>() {
            *genres.entry(g.to_string()).or_default() += 1;
        }
    }
    assert_eq!(lines[19], format!("Drama\t{}", genres["Drama"]));
    assert_eq!(lines.len(), 29, "{stdout}");
}
