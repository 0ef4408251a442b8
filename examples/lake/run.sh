#!/usr/bin/env bash
# The data-lake scenario: MovieLens 100k laid out as a lake (daily gzip CSV
# under year=/month=/day=/, JSON items under plain folders), crawled like a
# Glue crawler, queried like Athena, converted to partitioned Parquet with
# CTAS, queried again; each statement prints the bytes it scanned.
#
#   bash examples/lake/run.sh          (data dir: ./nuage-data, or NUAGE_DATA_DIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
datasets=$(bash "$root/scripts/fetch-datasets.sh")
data_dir=${NUAGE_DATA_DIR:-nuage-data}
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"

rm -rf "$data_dir/lake/lake"
python3 "$here/make_lake.py" "$datasets" "$data_dir/lake/lake"
"$nuage" --data-dir "$data_dir" crawl s3://lake/ --database movielens
"$nuage" --data-dir "$data_dir" sql --header -f "$here/queries.hql"
