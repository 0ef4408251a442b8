#!/usr/bin/env bash
# The lake benchmark: crawl FILES small CSV files (default 10,000 of 1,000 rows,
# under year=/month=/day=/ folders), then one aggregate over CSV, over the same
# rows as day-partitioned Parquet (CTAS), and over one month of that Parquet.
# Prints wall seconds, peak RSS and bytes scanned of each step.
#
#   bash bench/lake.sh [FILES] [ROWS_PER_FILE]
set -euo pipefail
files=${1:-10000}
rows=${2:-1000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=${NUAGE_BENCH_DIR:-$HOME/.cache/nuage-bench}/lake-$files-$rows
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"

if [ ! -e "$work/done" ]; then
  rm -rf "$work" && mkdir -p "$work/data/lake/bench"
  python3 "$here/make_clicks.py" "$work/data/lake/bench/clicks" "$files" "$rows"
  touch "$work/done"
fi
rm -f "$work/data/catalog.db"* && rm -rf "$work/data/lake/bench/clicks_parquet"
echo "data: $files files, $((files * rows)) rows, $(du -sh "$work/data/lake/bench/clicks" | cut -f1) of CSV"

# step NAME COMMAND...: wall seconds and peak RSS of one command.
step() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kb < "$work/time"
  local scanned=""
  if grep -q bytes_scanned "$work/err"; then
    scanned=$(python3 -c "import json,sys; s=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print(f\"{s['bytes_scanned']} bytes scanned, {s['files_scanned']} files, {s['partitions_read']}/{s['partitions_total']} partitions\")" "$work/err")
  fi
  printf '%-34s %7.2f s  %6d MB peak  %s\n' "$name" "$secs" $((kb / 1024)) "$scanned"
}
# query NAME SQL: one statement, with its cost from --stats json.
query() { step "$1" "$nuage" --data-dir "$work/data" sql -S --stats json -e "$2"; }

step "crawl ($files files)" "$nuage" --data-dir "$work/data" crawl s3://bench/clicks/ --database bench
query "query CSV" "SELECT count(*), sum(amount) FROM bench.clicks"
query "CTAS to Parquet by day" "CREATE TABLE bench.clicks_parquet WITH (format = 'PARQUET', external_location = 's3://bench/clicks_parquet/', partitioned_by = ARRAY['year', 'month', 'day']) AS SELECT * FROM bench.clicks"
query "query Parquet" "SELECT count(*), sum(amount) FROM bench.clicks_parquet"
query "query Parquet, one month (pruned)" "SELECT count(*), sum(amount) FROM bench.clicks_parquet WHERE month = '01'"
query "query CSV, one month (pruned)" "SELECT count(*), sum(amount) FROM bench.clicks WHERE month = '01'"
step "re-crawl (nothing new)" "$nuage" --data-dir "$work/data" crawl s3://bench/clicks/ --database bench
