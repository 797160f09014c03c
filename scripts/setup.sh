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
if [ ! -f "$COH_CONFIG" ]; then
  sed -e "s|^# database_url = .*|database_url = $COH_DATABASE_URL|" \
      -e "s|^# master_key_file = .*|master_key_file = $COH_VAR/master.key|" \
      "$COH_ROOT/cohortd.conf.example" > "$COH_CONFIG"
fi
"$COH_BUILD/cohortd" --config "$COH_CONFIG" --check
