#!/usr/bin/env bash
# README command 1: set everything up, then run cohortd in the foreground (Ctrl-C stops it).
source "$(dirname "$0")/common.sh"
bash "$COH_ROOT/scripts/setup.sh"
log "cohortd on http://$(awk -F' *= *' '$1=="listen"{print $2}' "$COH_CONFIG" | tail -1 || true) (Ctrl-C to stop)"
# Never as root: as its own system user, connecting as the application role (see setup.sh).
exec runuser -u "$COH_DAEMON_USER" -- "$COH_BUILD/cohortd" --config "$COH_CONFIG"
