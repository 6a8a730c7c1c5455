# Shared shell settings for the project's scripts. Sourced, never run.
# Selects the Rust toolchain that can build wasm32, puts project tools on PATH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="$ROOT/.beacon"          # git-ignored: service data, logs, demo credentials
mkdir -p "$STATE_DIR"

# Build artefacts outlive a clone (CI clones afresh): share one target dir per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/beacon/target}"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
# CI builds each commit once: incremental caches there only cost disk.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

# rustup's stable has no wasm32 std on machines without internet; setup.sh then links
# Debian's rustc-web as the rustup toolchain "system" with a self-built wasm32 std.
if [ -z "${RUSTUP_TOOLCHAIN:-}" ] && command -v rustup >/dev/null \
   && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
   && rustup toolchain list 2>/dev/null | grep -q '^system'; then
  export RUSTUP_TOOLCHAIN=system
fi

# Each step says when it started (wall-clock and minutes into the run): CI logs show where time goes.
log() { printf '\033[1;34m==>\033[0m [%s +%dm%02ds] %s\n' "$(date -u +%H:%M:%S)" $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# The wasm-bindgen version Cargo.lock resolved; the CLI must match it exactly.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Every clone path builds its own copy of the workspace crates into the shared target dir;
# on a small disk, drop old artefacts before a build rather than fail half-way.
prune_build_cache() {
  mkdir -p "$CARGO_TARGET_DIR"
  local free_kb; free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
  if [ "${free_kb:-0}" -lt $((15 * 1024 * 1024)) ]; then
    log "less than 15 GB free: pruning build artefacts older than a day"
    rm -rf "$CARGO_TARGET_DIR"/debug/incremental
    find "$CARGO_TARGET_DIR" -type f -path '*/deps/*' -mtime +0 -delete
  fi
}

# The size of the WASM the browser downloads, raw and as brotli would send it.
report_site_size() {
  local wasm="$ROOT/target/site/pkg/beacon.wasm"
  [ -f "$wasm" ] || return 0
  log "site WASM: $(stat -c %s "$wasm") bytes, $(brotli -c -q 11 "$wasm" | wc -c) bytes with brotli"
}
