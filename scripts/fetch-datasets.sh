#!/usr/bin/env bash
# Fetches the public data sets that the examples, tests and benchmarks use.
# They ship inside PyPI wheels, so pip downloads them; nothing here is ever
# committed (the MovieLens terms do not allow redistribution).
#
#   bash scripts/fetch-datasets.sh [DEST]
#
# DEST defaults to $NUAGE_DATASETS, else ~/.cache/nuage-datasets. Prints DEST.
# What it writes (tab-separated files keep their one header line):
#   DEST/ml-100k/ratings.tsv  user_id item_id rating timestamp   (100,000 rows)
#   DEST/ml-100k/items.tsv    item_id movie_title release_year class
#   DEST/ml-100k/users.tsv    user_id age gender occupation zip_code
#   DEST/plots/movies.csv     ID,Title,Category,Plot             (5,000 films)
# Files already there are kept, so a second run costs nothing.
set -euo pipefail
dest=${1:-${NUAGE_DATASETS:-$HOME/.cache/nuage-datasets}}

need() { # command, what to install
  command -v "$1" >/dev/null 2>&1 || {
    echo "fetch-datasets: $1 is missing; install $2 and run again" >&2
    exit 1
  }
}

# Downloads one wheel and unpacks the named members into $tmp/<package>.
unpack() { # package version member...
  local package=$1 version=$2
  shift 2
  python3 -m pip download --no-deps --quiet --only-binary=:all: \
    -d "$tmp/$package" "$package==$version" >&2 || {
    echo "fetch-datasets: pip could not download $package==$version from PyPI" >&2
    exit 1
  }
  unzip -q -o "$tmp/$package"/*.whl "$@" -d "$tmp/$package/x"
}

# RecBole's atomic files name columns like user_id:token; keep the names.
plain_header() {
  sed '1s/:[a-z_]*//g' "$1"
}

have_movielens() { [ -s "$dest/ml-100k/ratings.tsv" ] && [ -s "$dest/ml-100k/items.tsv" ] && [ -s "$dest/ml-100k/users.tsv" ]; }
have_plots() { [ -s "$dest/plots/movies.csv" ]; }

if ! have_movielens || ! have_plots; then
  need python3 "Python 3 (with pip)"
  need unzip "unzip (apt-get install unzip)"
  python3 -m pip --version >/dev/null 2>&1 || {
    echo "fetch-datasets: python3 has no pip; install it (apt-get install python3-pip)" >&2
    exit 1
  }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
fi

if ! have_movielens; then
  unpack recbole 1.2.1 'recbole/dataset_example/ml-100k/*'
  from=$tmp/recbole/x/recbole/dataset_example/ml-100k
  mkdir -p "$dest/ml-100k.part"
  plain_header "$from/ml-100k.inter" >"$dest/ml-100k.part/ratings.tsv"
  plain_header "$from/ml-100k.item" >"$dest/ml-100k.part/items.tsv"
  plain_header "$from/ml-100k.user" >"$dest/ml-100k.part/users.tsv"
  # Whole or not at all: an interrupted run leaves no half folder behind.
  rm -rf "$dest/ml-100k"
  mv "$dest/ml-100k.part" "$dest/ml-100k"
fi

if ! have_plots; then
  unpack moviebox 0.3.0 'moviebox/dataset/movies.csv'
  mkdir -p "$dest/plots"
  cp "$tmp/moviebox/x/moviebox/dataset/movies.csv" "$dest/plots/movies.csv.part"
  mv "$dest/plots/movies.csv.part" "$dest/plots/movies.csv"
fi

echo "$dest"
