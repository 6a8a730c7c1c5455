#!/usr/bin/env bash
# `make test`: set up, start private services, run every Rust test against them, build the
# debug and the optimised site, serve the optimised one, run Backstage's npm catalog client
# against it, and run the Playwright suite in Debian's Chromium with JS on and off.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

bash scripts/setup.sh
prune_build_cache
external_db=${DATABASE_URL:-}
bash scripts/services.sh start test
source "$STATE_DIR/test/env"
server_pid=
oidc_pid=
saml_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  # Node and Python exit on SIGTERM with a non-zero status: expected here, not a failure.
  [ -n "$oidc_pid" ] && kill "$oidc_pid" 2>/dev/null && { wait "$oidc_pid" 2>/dev/null || true; }
  [ -n "$saml_pid" ] && kill "$saml_pid" 2>/dev/null && { wait "$saml_pid" 2>/dev/null || true; }
  bash scripts/services.sh stop test
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Waits until `url` answers; if the process behind it dies first, shows its log and fails.
wait_for() { # url pid log
  for _ in $(seq 100); do
    curl -fs "$1" >/dev/null && return
    kill -0 "$2" 2>/dev/null || { cat "$3"; exit 1; }
    sleep 0.2
  done
  echo "$1 did not answer within 20 s" >&2; cat "$3"; exit 1
}

if [ -z "$external_db" ]; then
  # Our own cluster: start every run from an empty database, and an empty Redis (tenant ids
  # start again at 1, so last run's counters and de-duplication keys would apply to new tenants).
  admin_url="${DATABASE_URL%/*}/postgres"
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS beacon WITH (FORCE)" -c "CREATE DATABASE beacon"
  redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null
fi

log "format and lints"
cargo fmt --all --check
cargo clippy -q -p app -p server --tests -- -D warnings
cargo clippy -q -p frontend --target wasm32-unknown-unknown -- -D warnings

log "Rust tests"
cargo nextest run -p app -p server

log "building the site: debug, then the optimised one that users run and the browsers test"
cargo leptos build
cargo leptos build --release
report_site_size
SERVER="$CARGO_TARGET_DIR/release/server"
if [ -z "$external_db" ]; then
  # The browsers start from what a new installation has: the Rust tests wrote to the shared
  # parts of the database too (the plugin directory refreshed from their fixture registry).
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS beacon WITH (FORCE)" -c "CREATE DATABASE beacon"
  redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null
fi

slug="e2e$(date +%s)"
output=$("$SERVER" tenant create --slug "$slug" --name "E2E Corp" --admin-email "admin@$slug.example.com")
export E2E_TENANT=$slug E2E_ADMIN_EMAIL="admin@$slug.example.com"
E2E_ADMIN_PASSWORD=$(sed -n 's/^one-time password: //p' <<<"$output")
"$SERVER" catalog import --tenant "$slug" server/demo/backstage-examples/all.yaml server/demo/backstage-examples/acme-corp.yaml
"$SERVER" briefs import --tenant "$slug" server/demo/yc-companies/yc-companies-all.jsonl.gz
# The embeddings the server's worker would compute over the first minutes, computed now on both
# cores: the browsers then meet the discovery users get, and no background work competes.
"$SERVER" briefs embed --tenant "$slug"
export E2E_ADMIN_PASSWORD
# Half a year of history for the archive page: 500 events six months back, a 30-day retention,
# and the months past it archived the way the server's archiver does it.
export BEACON_AUDIT_ARCHIVE="$STATE_DIR/test/audit-archive"
rm -rf "$BEACON_AUDIT_ARCHIVE"
schema=$(psql -tA "$DATABASE_URL" -c "SELECT schema_name FROM control.tenants WHERE slug = '$slug'")
psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<SQL
SET search_path = $schema;
SELECT audit_ensure_months(date_trunc('month', now()) - interval '6 months', now());
INSERT INTO audit_events (occurred_at, actor, action, target, outcome, severity, ip)
SELECT date_trunc('month', now()) - interval '6 months' + interval '2 days' + g * interval '1 minute',
       'archived@example.com', 'catalog.entities_imported', 'component:default/old-' || g, 'success', 'medium', '10.0.0.1'
  FROM generate_series(1, 500) AS g;
UPDATE audit_retention SET hot_days = 30, updated_by = 'scripts/test.sh';
SQL
"$SERVER" audit archive --tenant "$slug"
E2E_PORT=$(free_port)
# The registry journey starts a second server of this build (end2end/tests/registry.spec.ts).
export E2E_PORT E2E_SERVER="$SERVER"

# Locations in the end-to-end tests are served from loopback. Every browser of the suite
# comes from 127.0.0.1, so the per-address limit of anonymous requests (100 a minute, tested in
# the Rust suite) would count the whole suite's sign-ins as one visitor's.
LEPTOS_SITE_ADDR="127.0.0.1:$E2E_PORT" BEACON_COOKIE_SECURE=false BEACON_FETCH_PRIVATE_NETWORKS=true \
  BEACON_RATE_LIMIT_ANONYMOUS=100000 "$SERVER" serve >"$STATE_DIR/test/server.log" 2>&1 &
server_pid=$!
wait_for "http://127.0.0.1:$E2E_PORT/api/health" "$server_pid" "$STATE_DIR/test/server.log"

# A real OpenID Connect provider for the single sign-on journey.
OIDC_PORT=$(free_port)
OIDC_PORT=$OIDC_PORT OIDC_REDIRECT_URI="http://$slug.localhost:$E2E_PORT/sso/callback" \
  node end2end/oidc/provider.mjs >"$STATE_DIR/test/oidc.log" 2>&1 &
oidc_pid=$!
export E2E_OIDC_ISSUER="http://127.0.0.1:$OIDC_PORT"
wait_for "$E2E_OIDC_ISSUER/.well-known/openid-configuration" "$oidc_pid" "$STATE_DIR/test/oidc.log"

# A real SAML 2.0 IdP (pysaml2, signing with xmlsec1) for the SAML journey.
SAML_PORT=$(free_port)
"$STATE_DIR/saml-venv/bin/python" end2end/saml/idp.py --port "$SAML_PORT" >"$STATE_DIR/test/saml.log" 2>&1 &
saml_pid=$!
export E2E_SAML_IDP="http://127.0.0.1:$SAML_PORT"
wait_for "$E2E_SAML_IDP/metadata" "$saml_pid" "$STATE_DIR/test/saml.log"

log "Backstage catalog-client conformance"
node --test end2end/conformance/

log "Playwright"
e2e_status=0
npx playwright test -c end2end/playwright.config.ts || e2e_status=$?
# One plain summary line for CI, whatever Playwright's own reporter prints.
node -e 'const s = require("./end2end/test-results/results.json").stats;
  console.log(`e2e: ${s.expected + s.flaky} passed, ${s.unexpected} failed, ${s.skipped} skipped`)'
exit "$e2e_status"
