#!/usr/bin/env bash
# Times the movie queries (bench/movies_queries.hql) with nuage and with DuckDB
# on the same files: MovieLens 100k, and a generated copy with ROWS ratings
# (default 25,000,000, the size of the seed's data), each as tab-separated text
# and as Parquet. Prints wall seconds and peak RSS for every run.
#
#   bash bench/movies.sh [ROWS]
#
# With SPARK=1 it also runs the statements with `spark-sql -f` (pyspark from
# PyPI, Java 17), installing pyspark if needed.
set -euo pipefail
rows=${1:-25000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=${NUAGE_BENCH_DIR:-$HOME/.cache/nuage-bench}
mkdir -p "$work"
data=$(bash "$root/scripts/fetch-datasets.sh")
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install -q duckdb
if [ "${SPARK:-0}" = 1 ]; then
  command -v spark-sql >/dev/null || python3 -m pip install -q pyspark
fi
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"

# MovieLens 100k without its header line, as a folder of one file.
mkdir -p "$work/ml-100k/csv"
tail -n +2 "$data/ml-100k/ratings.tsv" > "$work/ml-100k/csv/ratings.tsv"

# A generated copy: deterministic users, items skewed towards popular ones, ratings 1-5.
if [ ! -e "$work/gen-$rows/done" ]; then
  rm -rf "$work/gen-$rows" && mkdir -p "$work/gen-$rows/csv"
  "$nuage" --data-dir "$work/gen-$rows/nuage-data" sql -S -e "
    CREATE EXTERNAL TABLE gen (user_id INT, item_id INT, rating INT, ts BIGINT)
      ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t' LOCATION '$work/gen-$rows/csv';
    INSERT INTO gen SELECT
      CAST(((value * 2654435761) % 4294967296) % 162541 + 1 AS INT),
      CAST(floor(59047 * power((value * 0.6180339887) % 1.0, 3)) + 1 AS INT),
      CAST(((value * 7 + value DIV 13) % 5) + 1 AS INT),
      789652009 + value % 100000000
    FROM range($rows)"
  touch "$work/gen-$rows/done"
fi

measure() { # label command... -> prints "label: seconds s, peak RSS MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/out.txt" 2> "$work/err.txt" || { cat "$work/err.txt"; exit 1; }
  read -r secs kb < "$work/time.txt"
  printf '%-34s %8.2f s  %7.0f MB peak RSS\n' "$label" "$secs" "$((kb / 1024))"
}

for set in ml-100k "gen-$rows"; do
  dir="$work/$set"
  nd="$dir/nuage-data"
  # Parquet copy, written by nuage, read by both engines.
  if [ ! -d "$dir/parquet" ]; then
    "$nuage" --data-dir "$nd" sql -S -e "
      DROP TABLE IF EXISTS r_csv; DROP TABLE IF EXISTS r_pq;
      CREATE EXTERNAL TABLE r_csv (user_id INT, item_id INT, rating INT, ts BIGINT)
        ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t' LOCATION '$dir/csv';
      CREATE EXTERNAL TABLE r_pq STORED AS PARQUET LOCATION '$dir/parquet' AS SELECT * FROM r_csv"
  fi
  size_csv=$(du -sm "$dir/csv" | cut -f1); size_pq=$(du -sm "$dir/parquet" | cut -f1)
  echo "== $set: $(cat "$dir"/csv/* | wc -l) rows; CSV ${size_csv} MB, Parquet ${size_pq} MB"
  for format in csv parquet; do
    stored="ROW FORMAT DELIMITED FIELDS TERMINATED BY '\t'"
    [ "$format" = parquet ] && stored="STORED AS PARQUET"
    "$nuage" --data-dir "$nd" sql -S -e "DROP TABLE IF EXISTS ratings;
      CREATE EXTERNAL TABLE ratings (user_id INT, item_id INT, rating INT, ts BIGINT) $stored LOCATION '$dir/$format'"
    measure "nuage  $set $format" "$nuage" --data-dir "$nd" sql -S -f "$here/movies_queries.hql"
    cp "$work/out.txt" "$work/nuage.out"
    measure "duckdb $set $format" python3 "$here/duckdb_movies.py" "$format" "$dir/$format"
    python3 "$here/same_answers.py" "$work/nuage.out" "$work/out.txt" || true
    if [ "${SPARK:-0}" = 1 ]; then
      mkdir -p "$work/spark"
      { echo "DROP TABLE IF EXISTS ratings;"
        echo "CREATE EXTERNAL TABLE ratings (user_id INT, item_id INT, rating INT, ts BIGINT) $stored LOCATION '$dir/$format';"
        grep -v '^--' "$here/movies_queries.hql"; } > "$work/spark/queries.hql"
      (cd "$work/spark" && measure "spark  $set $format" spark-sql -S -f "$work/spark/queries.hql")
      python3 "$here/same_answers.py" "$work/nuage.out" "$work/out.txt" || true
    fi
  done
done
