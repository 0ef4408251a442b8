#!/usr/bin/env bash
# The S3 benchmark: `nuage bench s3` (CONNECTIONS connections PUT then GET
# SMALL-byte objects for SECONDS each; one PUT and one GET of LARGE_MB MB;
# the disk's sequential write speed for reference) against, in turn:
#   - nuage serve (release, fresh data dir, no access keys),
#   - moto's server (`python3 -m moto.server`, from moto[server] on PyPI),
#   - s3s-fs, the s3s project's file-system server, if S3S_FS names its
#     binary (`cargo install s3s-fs --version '~0.14' --features binary`).
# All three store on the same disk (a fresh folder under TMPDIR). Then S3
# Select over a SELECT_MB MB CSV object (a count, a filter, every record),
# beside a plain GET of it (0 skips it).
#
#   bash bench/s3.sh [CONNECTIONS] [SECONDS] [LARGE_MB] [SMALL_BYTES] [SELECT_MB]
set -euo pipefail
connections=${1:-16}
seconds=${2:-10}
large_mb=${3:-256}
small=${4:-4096}
select_mb=${5:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release -q -p nuage --manifest-path "$root/Cargo.toml"
nuage="${CARGO_TARGET_DIR:-$root/target}/release/nuage"
server=${NUAGE_SERVER:-$nuage}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
peak_rss() { awk '/VmHWM/ {printf "%d MB", $2/1024}' "/proc/$1/status"; }

run() {
  local name=$1 port=$2 pid=$3 disk=$4
  shift 4
  wait_port "$port"
  echo "== $name ($connections connections, ${seconds}s per phase, ${small}-byte small objects, ${large_mb} MB large object)"
  "$nuage" bench s3 --endpoint "http://127.0.0.1:$port" --connections "$connections" --seconds "$seconds" \
    --small-bytes "$small" --large-mb "$large_mb" --disk-dir "$disk" \
    --select-mb "$select_mb" "$@"
  echo "server peak RSS: $(peak_rss "$pid")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

port=$(free_port)
mkdir -p "$work/nuage"
"$server" --data-dir "$work/nuage" serve --listen "127.0.0.1:$port" --s3-lifecycle-every 1 2>"$work/nuage.log" &
pid=$!; pids+=("$pid")
# nuage also times a lifecycle rule expiring the small objects (moto and
# s3s-fs do not carry lifecycle rules out).
run "nuage serve" "$port" "$pid" "$work/nuage" --lifecycle

if python3 -c "import moto.server" 2>/dev/null; then
  port=$(free_port)
  mkdir -p "$work/moto"
  (cd "$work/moto" && exec python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1) &
  pid=$!; pids+=("$pid")
  run "moto server $(python3 -c 'import moto; print(moto.__version__)')" "$port" "$pid" "$work/moto"
else
  echo "== moto: skipped (python3 -m pip install 'moto[server]')"
fi

if [ -n "${S3S_FS:-}" ]; then
  port=$(free_port)
  mkdir -p "$work/s3s-fs"
  "$S3S_FS" --host 127.0.0.1 --port "$port" "$work/s3s-fs" >/dev/null 2>&1 &
  pid=$!; pids+=("$pid")
  run "s3s-fs $("$S3S_FS" --version | awk '{print $2}')" "$port" "$pid" "$work/s3s-fs"
else
  echo "== s3s-fs: skipped (set S3S_FS to its binary)"
fi
