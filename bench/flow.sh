#!/usr/bin/env bash
# The continuous-SQL benchmark: `nuage bench flow` against a fresh `nuage
# serve` (release) on the same data dir: EVENTS toll events already in a
# SHARDS-shard stream, the 30-minute tumbling count per station joined with
# a minimums table into a Parquet table (events/s until every window is
# committed), then the delay from a window's end to its committed row.
#
#   bash bench/flow.sh [EVENTS] [SHARDS] [--kda | --join | --updating]
#
# With --kda the count runs as a Kinesis Analytics application (its SQL
# dialect and API) into a stream instead. With --join, EVENTS orders and
# EVENTS shipments on two streams are interval-joined (within 5 minutes)
# into a Parquet table instead. With --updating, the count per station runs
# without a window (an updating result) into a debezium-json stream.
set -euo pipefail
events=${1:-1000000}
shards=${2:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$nuage" --data-dir "$work/data" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
"$nuage" --data-dir "$work/data" bench flow --endpoint "http://127.0.0.1:$port" \
  --events "$events" --shards "$shards" "${@:3}"
awk '/VmHWM/ {printf "server peak RSS: %d MB\n", $2/1024}' "/proc/$pid/status"
