#!/usr/bin/env bash
# The local PostgreSQL cluster under var/pg, owned by the non-root user 'cohort', reachable
# only through a unix socket in var/pg-run; its superuser is for set-up only (see write_auth).
# Usage: pg.sh start|stop|status|psql [args]
source "$(dirname "$0")/common.sh"

# Who may log in as whom, rewritten on every start. Unix socket only (listen_addresses is
# empty), peer authentication: the superuser and the owner role only for root and the cluster's
# own user; the application role for root and cohortd's system user; the watch role for root.
# So cohortd, running as its own system user, gets cohort_app and no more. Other roles (none of
# ours): any local user that can reach the socket.
write_auth() {
  local hba ident
  hba="# Written by scripts/pg.sh on every start: edit it there.
local all $COH_PG_USER,$COH_DB_OWNER peer map=admin
local all $COH_DB_APP peer map=app
local all $COH_DB_WATCH peer map=watch
local all all trust"
  ident="# Written by scripts/pg.sh on every start: edit it there.
admin root $COH_PG_USER
admin root $COH_DB_OWNER
admin $COH_PG_USER $COH_PG_USER
admin $COH_PG_USER $COH_DB_OWNER
app root $COH_DB_APP
app $COH_DAEMON_USER $COH_DB_APP
watch root $COH_DB_WATCH"
  local changed=0
  if [ "$(cat "$COH_PG_DATA/pg_hba.conf" 2>/dev/null)" != "$hba" ] ||
     [ "$(cat "$COH_PG_DATA/pg_ident.conf" 2>/dev/null)" != "$ident" ]; then
    printf '%s\n' "$hba" | as_pg tee "$COH_PG_DATA/pg_hba.conf" >/dev/null
    printf '%s\n' "$ident" | as_pg tee "$COH_PG_DATA/pg_ident.conf" >/dev/null
    changed=1
  fi
  if [ $changed = 1 ] && as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" status >/dev/null 2>&1; then
    log "PostgreSQL: client authentication rewritten, reloading"
    as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" reload >/dev/null
  fi
}

admin_psql() { as_pg psql -h "$COH_PG_RUN" -p "$COH_PG_PORT" -d postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }

# The owner, application and read-only watch roles (LOGIN; no passwords: the socket and peer
# rules above decide), and the database, owned by the owner role when created here.
roles_and_database() {
  admin_psql -c "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$COH_DB_OWNER') THEN
      CREATE ROLE $COH_DB_OWNER LOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$COH_DB_APP') THEN
      CREATE ROLE $COH_DB_APP LOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$COH_DB_WATCH') THEN
      CREATE ROLE $COH_DB_WATCH LOGIN; END IF;
    ALTER ROLE $COH_DB_OWNER LOGIN NOSUPERUSER NOCREATEROLE;
    ALTER ROLE $COH_DB_APP LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
    ALTER ROLE $COH_DB_WATCH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
  END \$\$"
  if ! admin_psql -c "SELECT 1 FROM pg_database WHERE datname='$COH_DB_NAME'" | grep -q 1; then
    admin_psql -c "CREATE DATABASE $COH_DB_NAME OWNER $COH_DB_OWNER"
  fi
}

start() {
  mkdir -p "$COH_VAR"
  reachable_by "$COH_PG_USER"
  install -d -o "$COH_PG_USER" -m 0700 "$COH_PG_DATA"
  # Search only, no listing: any local user may reach the socket; pg_hba.conf decides the rest.
  install -d -o "$COH_PG_USER" -m 0711 "$COH_PG_RUN"
  if [ ! -f "$COH_PG_DATA/PG_VERSION" ]; then
    log "initdb $COH_PG_DATA"
    as_pg "$COH_PG_BIN/initdb" -D "$COH_PG_DATA" -U "$COH_PG_USER" -A peer --auth-local=trust \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  write_auth
  if ! as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" status >/dev/null 2>&1; then
    log "starting PostgreSQL (socket in $COH_PG_RUN, port $COH_PG_PORT, no TCP)"
    as_pg "$COH_PG_BIN/pg_ctl" -D "$COH_PG_DATA" -w -t 60 -l "$COH_PG_DATA/server.log" \
      -o "-c listen_addresses='' -c unix_socket_directories='$COH_PG_RUN' -p $COH_PG_PORT -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
  fi
  roles_and_database
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
