#!/usr/bin/env bash
# The local PostgreSQL cluster under var/pg, owned by the non-root user 'cohort', reachable
# only through a unix socket in var/pg-run. Usage: pg.sh start|stop|status|psql [args]
source "$(dirname "$0")/common.sh"

# The cluster's user must be able to reach var/: grant search (x) on the ancestors if needed.
ensure_reachable() {
  local d=$COH_ROOT
  while [ "$d" != / ]; do
    if ! runuser -u "$COH_PG_USER" -- test -x "$d"; then
      log "granting o+x on $d so the cluster user can reach var/"
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
}

start() {
  mkdir -p "$COH_VAR"
  ensure_reachable
  install -d -o "$COH_PG_USER" -m 0700 "$COH_PG_DATA" "$COH_PG_RUN"
  if [ ! -f "$COH_PG_DATA/PG_VERSION" ]; then
    log "initdb $COH_PG_DATA"
    as_pg "$COH_PG_BIN/initdb" -D "$COH_PG_DATA" -U "$COH_PG_USER" -A peer --auth-local=trust \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" status >/dev/null 2>&1; then
    return 0
  fi
  log "starting PostgreSQL (socket in $COH_PG_RUN, port $COH_PG_PORT, no TCP)"
  as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" -w -t 60 -l "$COH_PG_DATA/server.log" \
    -o "-c listen_addresses='' -c unix_socket_directories='$COH_PG_RUN' -p $COH_PG_PORT -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  if ! as_pg psql -h "$COH_PG_RUN" -p "$COH_PG_PORT" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$COH_DB_NAME'" | grep -q 1; then
    as_pg psql -h "$COH_PG_RUN" -p "$COH_PG_PORT" -d postgres -qc "CREATE DATABASE $COH_DB_NAME"
  fi
}

stop() {
  if [ -f "$COH_PG_DATA/PG_VERSION" ]; then
    as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" -w -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" status ;;
  psql) shift; as_pg psql -h "$COH_PG_RUN" -p "$COH_PG_PORT" -d "$COH_DB_NAME" "$@" ;;
  *) die "usage: pg.sh start|stop|status|psql [args]" ;;
esac
