#!/usr/bin/env bash
# Everything both README commands share: dependencies, build, local cluster, master key,
# config file, migrations. Idempotent: a second run reuses the cluster and its data.
source "$(dirname "$0")/common.sh"
bash "$COH_ROOT/scripts/install-deps.sh"
log "building"
bash "$COH_ROOT/scripts/build.sh" "$@"
bash "$COH_ROOT/scripts/pg.sh" start
mkdir -p "$COH_VAR"
if [ ! -f "$COH_VAR/master.key" ]; then
  log "creating the master key var/master.key (mode 0600)"
  (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$COH_VAR/master.key"; echo >> "$COH_VAR/master.key")
fi
# cohortd runs as its own system user (scripts/run.sh): it alone reads the master key.
chown "$COH_DAEMON_USER" "$COH_VAR/master.key"
reachable_by "$COH_DAEMON_USER"
if [ ! -f "$COH_CONFIG" ]; then
  sed -e "s|^# database_url = .*|database_url = $COH_APP_DATABASE_URL|" \
      -e "s|^# master_key_file = .*|master_key_file = $COH_VAR/master.key|" \
      "$COH_ROOT/cohortd.conf.example" > "$COH_CONFIG"
elif grep -qxF "database_url = $COH_DATABASE_URL" "$COH_CONFIG"; then
  log "config: cohortd now connects as $COH_DB_APP, not the cluster's superuser"
  sed -i "s|^database_url = .*|database_url = $COH_APP_DATABASE_URL|" "$COH_CONFIG"
fi
# Migrations as the owner role, given here and never written to the daemon's config. A database
# from before the split (its tables the superuser's) is migrated once by the superuser: that
# migration (030) hands every table to the owner.
migrate_url=$COH_OWNER_DATABASE_URL
if [ "$(bash "$COH_ROOT/scripts/pg.sh" psql -qtAX -c "SELECT to_regclass('schema_migrations') IS NOT NULL AND NOT EXISTS (SELECT FROM schema_migrations WHERE version = 30)")" = t ]; then
  migrate_url=$COH_DATABASE_URL
fi
check_out=$(COHORT_MIGRATE_DATABASE_URL="$migrate_url" "$COH_BUILD/cohortd" --config "$COH_CONFIG" --check)
echo "$check_out"
# The local EVM node with the contracts, unless the config points at another node.
chain_url=$(awk -F' *= *' '$1=="chain_rpc_url"{print $2}' "$COH_CONFIG" | tail -1)
if [ -z "$chain_url" ] || [ "$chain_url" = "$COH_ANVIL_URL" ]; then
  bash "$COH_ROOT/scripts/anvil.sh" start
  if [ -z "$chain_url" ]; then
    sed -i "s|^chain_rpc_url *=.*|chain_rpc_url = $COH_ANVIL_URL|" "$COH_CONFIG"
    grep -q '^chain_rpc_url' "$COH_CONFIG" || echo "chain_rpc_url = $COH_ANVIL_URL" >> "$COH_CONFIG"
  fi
  signer=$(printf '%s\n' "$check_out" | sed -n 's/^cohortd: ledger signer //p')
  [ -n "$signer" ] || die "cohortd --check did not print the ledger signer"
  node "$COH_ROOT/scripts/deploy.mjs" --rpc "$COH_ANVIL_URL" --signer "$signer" --config "$COH_CONFIG"
fi
