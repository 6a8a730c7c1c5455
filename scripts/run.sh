#!/usr/bin/env bash
# `make run`: set up, start private PostgreSQL + Redis (unless DATABASE_URL / REDIS_URL are
# given), build, migrate, provision the demo tenant `acme`, and serve on port 3000.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
prune_build_cache
bash scripts/services.sh start dev
source "$STATE_DIR/dev/env"
# Archived months of the audit log stay with the rest of the development data.
export BEACON_AUDIT_ARCHIVE=${BEACON_AUDIT_ARCHIVE:-$STATE_DIR/dev/audit-archive}
trap 'bash scripts/services.sh stop dev; log "services stopped"' EXIT

log "building the optimised site (the first build takes a while; later ones only what changed)"
cargo leptos build --release
SERVER="$CARGO_TARGET_DIR/release/server"
"$SERVER" migrate >/dev/null

CREDENTIALS="$STATE_DIR/dev/demo-credentials"
if ! "$SERVER" tenant list | awk 'NR > 1 { print $1 }' | grep -qx acme; then
  output=$("$SERVER" tenant create --slug acme --name "Acme Corp" --admin-email admin@acme.example.com --admin-name "Acme Admin")
  password=$(sed -n 's/^one-time password: //p' <<<"$output")
  printf 'email: admin@acme.example.com\npassword: %s\n' "$password" >"$CREDENTIALS"
fi
# Backstage's own example catalog, so the demo catalog is not empty (re-imports are no-ops).
"$SERVER" catalog import --tenant acme server/demo/backstage-examples/all.yaml server/demo/backstage-examples/acme-corp.yaml
# The YC directory as the demo's company data for competitive briefs (re-imports update in place).
"$SERVER" briefs import --tenant acme server/demo/yc-companies/yc-companies-all.jsonl.gz
# Their sentence embeddings on both cores (about three minutes the first time, nothing after):
# the server's own worker would take a quarter of an hour at half a core.
"$SERVER" briefs embed --tenant acme

if [ -f "$CREDENTIALS" ]; then signin=$(tr '\n' ' ' <"$CREDENTIALS"); else
  signin="admin@acme.example.com and the one-time password printed when acme was created"; fi
cat <<MSG

  Beacon is starting at  http://acme.localhost:3000
  Sign in with           $signin
  Mail it sends          arrives as files in .beacon/dev/mail/new/ (a local SMTP catcher)
  Stop with Ctrl-C (the data stays in .beacon/dev for the next run).

MSG
BEACON_COOKIE_SECURE=false "$SERVER" serve
