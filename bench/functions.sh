#!/usr/bin/env bash
# The Lambda benchmark: `nuage bench functions` against a fresh `nuage serve`
# (release, no access keys): cold starts, warm RequestResponse latency of a
# no-op Python handler (1 and CONNECTIONS callers), and the throughput of a
# Kinesis event-source mapping (RECORDS records on SHARDS shards, BatchSize
# BATCH) into a Python handler that counts them, and the delay from a file
# written into a bucket with a notification to its function's call.
#
#   bash bench/functions.sh [SECONDS] [CONNECTIONS] [RECORDS] [SHARDS] [BATCH]
set -euo pipefail
seconds=${1:-5}
connections=${2:-4}
records=${3:-500000}
shards=${4:-2}
batch=${5:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$nuage" --data-dir "$work/data" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
"$nuage" --data-dir "$work/data" bench functions --endpoint "http://127.0.0.1:$port" --seconds "$seconds" \
  --connections "$connections" --records "$records" --shards "$shards" --batch-size "$batch"
awk '/VmHWM/ {printf "server peak RSS: %d MB\n", $2/1024}' "/proc/$pid/status"
