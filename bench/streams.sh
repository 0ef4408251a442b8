#!/usr/bin/env bash
# The streams benchmark: start `nuage serve` (release) on a fresh data dir,
# run `nuage bench streams` against it (CONNECTIONS writers doing PutRecords
# of 500 x 100-byte records for SECONDS, then one reader per shard draining
# with GetRecords), once with --durability fsync and once with none. Prints
# the load generator's figures and the server's peak RSS.
#
#   bash bench/streams.sh [CONNECTIONS] [SECONDS] [SHARDS]
set -euo pipefail
connections=${1:-8}
seconds=${2:-10}
shards=${3:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
# NUAGE_SERVER=/path/to/another/nuage runs that binary as the server (an A/B
# of two commits with the same load generator).
server=${NUAGE_SERVER:-$nuage}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for durability in fsync none; do
  rm -rf "$work/data"
  "$server" --data-dir "$work/data" serve --listen 127.0.0.1:0 --durability "$durability" 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
  endpoint=$(grep -o "http://[0-9.:]*" "$work/serve.log" | head -1)
  echo "== durability $durability ($connections connections, $shards shards, ${seconds}s)"
  "$nuage" bench streams --endpoint "$endpoint" --connections "$connections" --seconds "$seconds" --shards "$shards" 2>/dev/null
  echo "server peak RSS: $(awk '/VmHWM/ {printf "%d MB", $2/1024}' /proc/$pid/status); on disk: $(du -sh "$work/data/streams" | cut -f1)"
  kill -TERM "$pid"; wait "$pid" || true
done
