#!/usr/bin/env bash
# `make bench`: a synthetic catalog (100,000 entities by default) in a scratch tenant of a
# private PostgreSQL; prints ingestion rate and query latencies of an optimised build, in
# process and over HTTP against a server it starts on the same database, and that server's
# memory afterwards, and the plans PostgreSQL chose for those queries in .beacon/bench/plans.txt.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
bash scripts/services.sh start bench
source "$STATE_DIR/bench/env"
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  bash scripts/services.sh stop bench
}
trap cleanup EXIT
# `--sockets 1000` opens a thousand connections on each side.
ulimit -n "$(ulimit -Hn)"
cargo build --release -p server
SERVER="$CARGO_TARGET_DIR/release/server"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The clients are one machine: the per-caller rate limits would measure the limiter instead.
# Only the briefs rows need the server to embed: elsewhere its embedding of a fresh catalog
# (minutes of both cores at 100,000 entities) would be measured along with the requests.
without_model=(-u BEACON_EMBEDDING_MODEL)
[[ " $* " == *" --briefs "* ]] && without_model=()
env "${without_model[@]}" LEPTOS_SITE_ADDR="127.0.0.1:$port" BEACON_COOKIE_SECURE=false RUST_LOG=warn \
  BEACON_RATE_LIMIT_AUTHENTICATED=1000000000 BEACON_RATE_LIMIT_ENTERPRISE=1000000000 \
  "$SERVER" serve >"$STATE_DIR/bench/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$STATE_DIR/bench/server.log"; exit 1; }
  sleep 0.2
done

# Warnings only: the request log of the in-process router rows would bury the table.
RUST_LOG="${RUST_LOG:-warn}" "$SERVER" bench --http "http://127.0.0.1:$port" --plans "$STATE_DIR/bench/plans.txt" "$@"
echo "server memory (RSS) after the HTTP rows: $(( $(ps -o rss= -p "$server_pid") / 1024 )) MiB"
