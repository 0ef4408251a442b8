#!/usr/bin/env bash
# The Firehose benchmark: start `nuage serve` (release) on a fresh data dir,
# run `nuage bench firehose` against it (CONNECTIONS writers doing
# PutRecordBatch of 500 records for SECONDS), once delivering JSON objects
# and once converting to Parquet; then freshness probes (put to visible in
# SQL). Prints the load generator's figures and the server's peak RSS.
#
#   bash bench/firehose.sh [CONNECTIONS] [SECONDS] [RECORD_BYTES]
set -euo pipefail
connections=${1:-4}
seconds=${2:-10}
record_bytes=${3:-0}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
# NUAGE_SERVER=/path/to/another/nuage runs that binary as the server (an A/B
# of two commits with the same load generator).
server=${NUAGE_SERVER:-$nuage}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for format in json parquet; do
  rm -rf "$work/data"
  "$server" --data-dir "$work/data" serve --listen 127.0.0.1:0 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
  endpoint=$(grep -o "http://[0-9.:]*" "$work/serve.log" | head -1)
  echo "== $format ($connections connections, ${seconds}s, record bytes ${record_bytes:-default})"
  "$nuage" --data-dir "$work/data" bench firehose --endpoint "$endpoint" --format "$format" \
    --connections "$connections" --seconds "$seconds" --record-bytes "$record_bytes" 2>/dev/null
  echo "server peak RSS: $(awk '/VmHWM/ {printf "%d MB", $2/1024}' /proc/$pid/status)"
  kill -TERM "$pid"; wait "$pid" || true
done
