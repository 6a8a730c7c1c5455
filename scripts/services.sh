#!/usr/bin/env bash
# Private PostgreSQL, Redis and (but for bench) an SMTP catcher for development and tests,
# under .beacon/<name>/.
#   services.sh start NAME   starts them (reusing data) and writes .beacon/NAME/env
#   services.sh stop NAME    stops them
# DATABASE_URL / REDIS_URL already in the environment are used as they are instead.
source "$(dirname "$0")/lib.sh"

action=${1:?start|stop}
name=${2:?instance name}
dir="$STATE_DIR/$name"
mkdir -p "$dir"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

# initdb refuses to run as root: run PostgreSQL as Debian's postgres user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

smtp_answers() { python3 -c 'import smtplib,sys; smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=1).quit()' "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }

start_postgres() {
  local data="$dir/pg" port
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"; [ "$(id -u)" = 0 ] && chown postgres "$data"
    as_pg "$PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C >"$dir/initdb.log"
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port=$(cat "$dir/pg.port")
  else
    port=$(cat "$dir/pg.port" 2>/dev/null || true)
    if [ -z "$port" ] || ! port_free "$port"; then port=$(free_port); fi
    echo "$port" >"$dir/pg.port"
    # Durability only costs time for throwaway test data; dev and bench keep PostgreSQL's defaults.
    local durability=""
    if [ "$name" = test ]; then durability="-c fsync=off -c synchronous_commit=off"; fi
    # PostgreSQL's stock memory settings (128 MB of buffers, a checkpoint every 1 GB of WAL)
    # are for tiny machines: at 100k entities the catalog's indexes no longer fit, and an
    # import spends its time evicting pages and writing whole pages after each checkpoint.
    local memory="-c shared_buffers=1GB -c max_wal_size=4GB"
    # The bench writes the plans of its queries with auto_explain, which is off until it asks.
    if [ "$name" = bench ]; then memory="$memory -c shared_preload_libraries=auto_explain"; fi
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=200 $memory $durability" start >/dev/null
  fi
  as_pg psql -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='beacon'" | grep -q 1 \
    || as_pg psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE beacon" 
  echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/beacon"
}

start_redis() {
  local port
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then
    port=$(cat "$dir/redis.port")
  else
    port=$(free_port); echo "$port" >"$dir/redis.port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "export REDIS_URL=redis://127.0.0.1:$port"
}

# An SMTP catcher (aiosmtpd) for development and tests: every mail the server sends lands as a
# file in .beacon/NAME/mail/new/ (Maildir), where people and tests read it.
start_smtp() {
  local port maildir="$dir/mail"
  mkdir -p "$maildir"/{tmp,new,cur}
  if [ -f "$dir/smtp.pid" ] && kill -0 "$(cat "$dir/smtp.pid")" 2>/dev/null; then
    port=$(cat "$dir/smtp.port")
  else
    # A port found free can be taken before the catcher binds it (an outgoing connection's
    # local port, say): then the catcher exits, and it is started again on another port. It is
    # ready when it answers SMTP, not merely when something holds the port.
    local pid attempt
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      nohup "$STATE_DIR/mail-venv/bin/python" -m aiosmtpd -n -l "127.0.0.1:$port" \
        -c aiosmtpd.handlers.Mailbox "$maildir" >"$dir/smtp.log" 2>&1 &
      pid=$!
      for _ in $(seq 50); do
        smtp_answers "$port" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      smtp_answers "$port" && break
      kill "$pid" 2>/dev/null || true
      log "the SMTP catcher could not listen on $port (attempt $attempt): $(tail -1 "$dir/smtp.log")"
    done
    echo "$port" >"$dir/smtp.port"
    echo "$pid" >"$dir/smtp.pid"
  fi
  echo "export BEACON_SMTP_URL=smtp://127.0.0.1:$port"
  echo "export BEACON_MAILDIR=$maildir"
}

case $action in
  start)
    {
      if [ -n "${DATABASE_URL:-}" ]; then echo "export DATABASE_URL=$DATABASE_URL"; else start_postgres; fi
      if [ -n "${REDIS_URL:-}" ]; then echo "export REDIS_URL=$REDIS_URL"; else start_redis; fi
      if [ -n "${BEACON_SMTP_URL:-}" ]; then echo "export BEACON_SMTP_URL=$BEACON_SMTP_URL";
      elif [ "$name" != bench ]; then start_smtp; fi
      # The server's secret key (token signing, field encryption): made once per environment
      # and kept with its data, so sessions, tokens and encrypted secrets survive restarts.
      if [ -n "${BEACON_SECRET_KEYS:-}" ]; then echo "export BEACON_SECRET_KEYS=$BEACON_SECRET_KEYS"; else
        [ -s "$dir/secret-keys" ] || (umask 077; echo "k$(date +%Y%m%d):$(head -c 32 /dev/urandom | base64 -w0)" >"$dir/secret-keys")
        echo "export BEACON_SECRET_KEYS=$(cat "$dir/secret-keys")"
      fi
      # The bearer token Prometheus presents to /metrics (cat $dir/metrics-token).
      if [ -n "${BEACON_METRICS_TOKEN:-}" ]; then echo "export BEACON_METRICS_TOKEN=$BEACON_METRICS_TOKEN"; else
        [ -s "$dir/metrics-token" ] || (umask 077; head -c 24 /dev/urandom | base64 -w0 | tr '+/' '-_' >"$dir/metrics-token")
        echo "export BEACON_METRICS_TOKEN=$(cat "$dir/metrics-token")"
      fi
      # The sentence-embedding model scripts/setup.sh unpacked.
      echo "export BEACON_EMBEDDING_MODEL=${BEACON_EMBEDDING_MODEL:-$STATE_DIR/models/all-minilm-l6-v2}"
    } >"$dir/env"
    log "services $name ready: $(grep -v -e SECRET -e TOKEN "$dir/env" | tr '\n' ' ')"
    ;;
  stop)
    if [ -f "$dir/pg/PG_VERSION" ]; then as_pg "$PG_BIN/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true; fi
    if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -f "$dir/redis.pid"; fi
    if [ -f "$dir/smtp.pid" ]; then kill "$(cat "$dir/smtp.pid")" 2>/dev/null || true; rm -f "$dir/smtp.pid"; fi
    ;;
esac
