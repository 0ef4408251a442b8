#!/usr/bin/env bash
# The agent benchmark: write LINES CSV lines (about 60 bytes each) to a log
# file, start `nuage serve` (release, fsync durability) on a fresh data dir
# with a 2-shard stream, then time `nuage agent` sending the whole file
# (CSVTOJSON when PROCESSING=csv, lines as they are when PROCESSING=none)
# until its checkpoint reaches the file's end. Prints lines/s, MB/s of log
# read and the agent's peak RSS.
#
#   bash bench/agent.sh [LINES] [PROCESSING]
set -euo pipefail
lines=${1:-1000000}
processing=${2:-csv}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/logs"
python3 - "$work/logs/tolls.log" "$lines" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"car-{random.randrange(100000):05d},{random.randrange(100, 2000) / 100},lane-{i % 8},2026-12-02T07:{i // 60 % 60:02d}:{i % 60:02d}Z\n")
PY
size=$(stat -c %s "$work/logs/tolls.log")

"$nuage" --data-dir "$work/data" serve --listen 127.0.0.1:0 2>"$work/serve.log" &
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
endpoint=$(grep -o "http://[0-9.:]*" "$work/serve.log" | head -1)
"$nuage" stream create tolls --shards 2 --endpoint "$endpoint" >/dev/null

options='[]'
if [ "$processing" = csv ]; then
  options='[{"optionName": "CSVTOJSON", "customFieldNames": ["car", "amount", "lane", "time"]}]'
fi
cat >"$work/agent.json" <<JSON
{"checkpointFile": "$work/checkpoints.json",
 "flows": [{"filePattern": "$work/logs/tolls.log", "kinesisStream": "tolls",
            "maxBufferAgeMillis": 1000, "dataProcessingOptions": $options}]}
JSON

echo "== agent: $lines lines ($((size / 1000000)) MB), processing $processing, into a 2-shard stream (fsync)"
start=$(date +%s.%N)
"$nuage" --data-dir "$work/data" agent --config "$work/agent.json" --endpoint "$endpoint" 2>"$work/agent.log" &
agent=$!
peak=0
until [ -f "$work/checkpoints.json" ] && grep -q "\"offset\": $size" "$work/checkpoints.json"; do
  rss=$(awk '/VmHWM/ {print $2}' /proc/$agent/status 2>/dev/null || echo 0)
  [ "$rss" -gt "$peak" ] && peak=$rss
  kill -0 "$agent" || { cat "$work/agent.log"; exit 1; }
  sleep 0.05
done
end=$(date +%s.%N)
python3 -c "
s = $end - $start
print(f'sent {$lines} lines in {s:.2f} s: {$lines / s:,.0f} lines/s, {$size / s / 1e6:.1f} MB/s of log')"
echo "agent peak RSS: $((peak / 1024)) MB"
