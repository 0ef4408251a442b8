#!/usr/bin/env bash
# The recommendation benchmark: nuage's similar_by_text / similar_by_ratings
# against scikit-learn on the same data, cold (first call in a fresh
# process: read the table, build the model, answer) and warm (the same call
# again: the cached model answers). Data: the 5,000 film plots and
# MovieLens 100k from scripts/fetch-datasets.sh, then synthetic
# scale-ups (50,000 documents, 1,000,000 ratings) for nuage alone.
#
#   bash bench/recs.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
data=$(bash "$root/scripts/fetch-datasets.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== scikit-learn $(python3 -c 'import sklearn; print(sklearn.__version__)')"
python3 "$root/examples/movies/recs_reference.py" "$data" "$work/reference.json" --time

# Synthetic scale-ups: 50,000 plots (each a shuffle of a real plot's words)
# and 1,000,000 ratings (6,040 users x 3,706 items, popularity skewed).
python3 - "$data" "$work" <<'PY'
import csv, random, sys
data, work = sys.argv[1], sys.argv[2]
csv.field_size_limit(1 << 30)
plots = [r["Plot"] for r in csv.DictReader(open(f"{data}/plots/movies.csv", newline=""))]
rng = random.Random(7)
with open(f"{work}/docs50k.tsv", "w") as f:
    for i in range(50000):
        words = plots[i % len(plots)].replace("\t", " ").replace("\n", " ").split()
        rng.shuffle(words)
        f.write(f"{i}\t{' '.join(words)}\n")
with open(f"{work}/ratings1m.tsv", "w") as f:
    seen = set()
    while len(seen) < 1000000:
        user, item = rng.randrange(6040), int(rng.paretovariate(1.2) * 3) % 3706
        if (user, item) not in seen:
            seen.add((user, item))
            f.write(f"{user}\t{item}\t{rng.randint(1, 5)}\n")
PY

run() { # name, sql: prints the seconds of the cold and the warm call
  local name=$1 sql=$2
  /usr/bin/time -f "peak %M KB" "$nuage" --data-dir "$work/data" sql -e "$sql; $sql" >/dev/null 2>"$work/err"
  local times peak
  times=$(grep -o "Time taken: [0-9.]* seconds" "$work/err" | grep -o "[0-9.]*")
  peak=$(grep -o "peak [0-9]*" "$work/err" | grep -o "[0-9]*")
  echo "nuage $name: cold $(echo "$times" | sed -n 1p) s, warm $(echo "$times" | sed -n 2p) s, peak RSS $((peak / 1024)) MB"
}

"$nuage" --data-dir "$work/data" sql -e "
CREATE TABLE plots (id STRING, title STRING, category STRING, plot STRING)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde' TBLPROPERTIES ('skip.header.line.count'='1');
LOAD DATA LOCAL INPATH '$data/plots/movies.csv' INTO TABLE plots;
CREATE VIEW plot_docs AS SELECT id, concat(title, ' ', plot) AS doc FROM plots;
CREATE TABLE ratings (user_id INT, item_id INT, rating INT, ts BIGINT)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t' TBLPROPERTIES ('skip.header.line.count'='1');
LOAD DATA LOCAL INPATH '$data/ml-100k/ratings.tsv' INTO TABLE ratings;
CREATE TABLE docs50k (id INT, doc STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t';
LOAD DATA LOCAL INPATH '$work/docs50k.tsv' INTO TABLE docs50k;
CREATE TABLE ratings1m (user_id INT, item_id INT, rating INT) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t';
LOAD DATA LOCAL INPATH '$work/ratings1m.tsv' INTO TABLE ratings1m" >/dev/null 2>&1

echo "== nuage (release)"
run "similar_by_text plots" "SELECT * FROM similar_by_text('plots', 'id', 'plot', '1648', 10)"
run "similar_by_text title+plot" "SELECT * FROM similar_by_text('plot_docs', 'id', 'doc', '1648', 10)"
run "similar_by_text unigrams" "SELECT * FROM similar_by_text('plots', 'id', 'plot', '1648', 10, 'ngram_range=(1,1), min_df=2, stop_words=none')"
run "similar_by_ratings ml-100k" "SELECT * FROM similar_by_ratings('ratings', 'user_id', 'item_id', 'rating', 50, 10, 20)"
run "similar_by_text 50,000 docs" "SELECT * FROM similar_by_text('docs50k', 'id', 'doc', 1648, 10)"
run "similar_by_ratings 1,000,000 ratings" "SELECT * FROM similar_by_ratings('ratings1m', 'user_id', 'item_id', 'rating', 5, 10, 20)"
