#!/usr/bin/env bash
# Installing (docs/OPERATIONS.md): `cmake --install` into a temporary prefix gives a tree that
# runs on its own. The INSTALLED cohortd migrates as the owner role (--check, as the guide
# says), then runs with the command line of the installed unit's ExecStart (its /etc/cohort
# paths mapped to files here), as the unit's User= when this runs as root, with no new
# privileges and, where the kernel has it, PR_SET_MDWE (MemoryDenyWriteExecute's kernel form);
# it must pass /readyz and serve the web app and /openapi.yaml from PREFIX/share/cohort.
# That it reads nothing of the source tree: its defaults name the prefix, the copies it serves
# carry a marker only the installed files have, and with the installed sql/ moved aside it
# refuses to start. `systemd-analyze verify` checks the unit where systemd-analyze exists.
source "$(dirname "$0")/lib.sh"
: "${COH_BUILD_DIR:?set by ctest}"
chmod 711 "$T_DIR" # the unit's user must reach the prefix and the config below
mkdir -p "$T_DIR/prefix" "$T_DIR/etc"
P=$(cd "$T_DIR/prefix" && pwd -P)
ETC=$(cd "$T_DIR/etc" && pwd -P) # stands for /etc/cohort
SHARE=$P/share/cohort
UNIT=$P/lib/systemd/system/cohortd.service
# The service's environment is the unit's, not this shell's.
for v in $(compgen -e | grep '^COHORT_'); do unset "$v"; done

# --- the layout ---------------------------------------------------------------------------
if cmake --install "$COH_BUILD_DIR" --prefix "$P" >"$T_DIR/install.log" 2>&1; then
  ok "cmake --install $COH_BUILD_DIR --prefix $P"
else
  not_ok "cmake --install" "$(tail -5 "$T_DIR/install.log")"
  finish
fi
for f in bin/cohortd bin/cohort share/cohort/openapi.yaml share/cohort/web/index.html \
         share/cohort/web/style.css share/cohort/web/app.js share/doc/cohort/OPERATIONS.md \
         share/doc/cohort/SETTINGS.md share/doc/cohort/cohortd.conf.example \
         lib/systemd/system/cohortd.service; do
  check "installed $f" test -s "$P/$f"
done
check_eq "every migration installed, nothing else in sql/" "$(ls "$SHARE/sql")" \
  "$(cd "$COH_SRC/sql" && ls ./*.sql | sed 's|^\./||')"
check_eq "the web app is what cohortd serves, nothing of web/src" "$(ls "$SHARE/web")" \
  "$(printf '%s\n' app.js app.js.map index.html style.css)"

# The installed binaries' defaults are under the prefix (found from their own path), and name
# nothing of the source tree.
help=$("$P/bin/cohortd" --help)
check_contains "installed cohortd: sql_dir defaults to PREFIX/share/cohort/sql" "$help" \
  "default $SHARE/sql;"
check_contains "web_dir to PREFIX/share/cohort/web" "$help" "default $SHARE/web;"
check_contains "openapi_path to PREFIX/share/cohort/openapi.yaml" "$help" \
  "default $SHARE/openapi.yaml;"
check_eq "no default names the source tree" "$(grep -cF -- "$COH_SRC" <<<"$help")" 0

# --- the unit -----------------------------------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
unit_user=$(sed -n 's/^User=//p' "$UNIT")
check_eq "ExecStart runs the installed cohortd" "${exec_start%% *}" "$P/bin/cohortd"
check_contains "with the config in /etc/cohort" "$exec_start" "--config /etc/cohort/cohortd.conf"
check_eq "as the system user cohortd" "$unit_user" cohortd
for opt in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
           PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
           "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" MemoryDenyWriteExecute=yes \
           LockPersonality=yes SystemCallFilter=@system-service CapabilityBoundingSet= \
           Restart=on-failure; do
  check "unit: $opt" grep -qxF -- "$opt" "$UNIT"
done
check_eq "no ExecStartPre: migrating needs the owner role" "$(grep -c '^ExecStartPre' "$UNIT")" 0
if command -v systemd-analyze >/dev/null; then
  if out=$(systemd-analyze verify "$UNIT" 2>&1); then
    ok "systemd-analyze verify"
  else
    not_ok "systemd-analyze verify" "$out"
  fi
else
  echo "# skip: systemd-analyze not found, the unit is not verified"
fi

# --- the host's files, mapped: /etc/cohort/cohortd.conf and the master key ----------------
port=$(free_port)
BASE=http://127.0.0.1:$port
# Privileges split as scripts/test.sh sets them up: cohort_app serves, cohort_owner migrates.
app_url=${COH_TEST_APP_DATABASE_URL:-$COH_TEST_DATABASE_URL}
migrate=()
if [ -n "${COH_TEST_APP_DATABASE_URL:-}" ] && [ -n "${COH_TEST_OWNER_DATABASE_URL:-}" ]; then
  migrate=(COHORT_MIGRATE_DATABASE_URL="$COH_TEST_OWNER_DATABASE_URL")
fi
cat >"$ETC/cohortd.conf" <<EOF
database_url = $app_url
listen = 127.0.0.1:$port
metrics_listen =
public_url = $BASE
master_key_file = $ETC/master.key
# The test database is shared: take none of the other tests' release jobs.
release_workers = 0
EOF
install -m 0600 "$T_DIR/master.key" "$ETC/master.key"
run_as=()
if [ "$(id -u)" = 0 ]; then
  if ! id "$unit_user" >/dev/null 2>&1; then
    not_ok "the unit's user $unit_user exists (scripts/install-deps.sh creates it)"
    finish
  fi
  chown "$unit_user:$unit_user" "$ETC/master.key"
  chown "root:$unit_user" "$ETC/cohortd.conf"
  chmod 0640 "$ETC/cohortd.conf"
  run_as=(runuser -u "$unit_user" --)
fi

# Migrations as the owner role, before the service (the guide's step; not in the unit).
out=$(env "${migrate[@]}" "$P/bin/cohortd" --config "$ETC/cohortd.conf" --check 2>&1)
check_contains "cohortd --check migrates as the owner role" "$out" "configuration ok"
# The installed sql/ moved aside: the installed cohortd must miss it, not fall back.
mv "$SHARE/sql" "$SHARE/sql.away"
out=$("${run_as[@]}" "$P/bin/cohortd" --config "$ETC/cohortd.conf" --check 2>&1)
check_contains "without PREFIX/share/cohort/sql it refuses, naming it" "$out" \
  "migrations: cannot open $SHARE/sql"
mv "$SHARE/sql.away" "$SHARE/sql"

# Markers only the installed copies carry.
marker="installed-copy-$$-$RANDOM"
echo "<!-- $marker -->" >>"$SHARE/web/index.html"
echo "# $marker" >>"$SHARE/openapi.yaml"

# --- the service --------------------------------------------------------------------------
harden=()
if command -v setpriv >/dev/null; then harden+=(setpriv --no-new-privs --); fi
# PR_SET_MDWE (65), PR_MDWE_REFUSE_EXEC_GAIN (1): no mapping may become writable and
# executable, inherited across exec; systemd uses it for MemoryDenyWriteExecute= when it can.
mdwe='import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit("PR_SET_MDWE: " + os.strerror(ctypes.get_errno()))
if len(sys.argv) > 1:
    os.execv(sys.argv[1], sys.argv[1:])'
if python3 -c "$mdwe" 2>/dev/null; then
  harden+=(python3 -c "$mdwe")
else
  echo "# skip: this kernel has no PR_SET_MDWE; cohortd runs without it"
fi
read -ra cmd <<<"${exec_start//\/etc\/cohort\//$ETC/}"
LOG=$T_DIR/cohortd.log
"${run_as[@]}" "${harden[@]}" "${cmd[@]}" >"$LOG" 2>&1 &
T_PIDS+=($!)
started=0
for _ in $(seq 1 100); do
  curl -fs "$BASE/healthz" >/dev/null 2>&1 && { started=1; break; }
  sleep 0.1
done
if [ $started = 0 ]; then
  not_ok "the installed cohortd starts from the unit's ExecStart" "$(cat "$LOG")"
  finish
fi
ok "the installed cohortd starts from the unit's ExecStart"
pid=$(pgrep -xf "$P/bin/cohortd --config $ETC/cohortd.conf" | head -1)
want_user=$(id -un)
[ ${#run_as[@]} -gt 0 ] && want_user=$unit_user
check_eq "running as $want_user" "$(ps -o user= -p "${pid:-0}" | tr -d ' ')" "$want_user"
if command -v setpriv >/dev/null; then
  check_eq "with no new privileges" "$(awk '/^NoNewPrivs:/{print $2}' "/proc/${pid:-0}/status" 2>/dev/null)" 1
fi

http GET /readyz
check_eq "GET /readyz: 200 (database reachable, migrations current per PREFIX/share/cohort/sql)" \
  "$STATUS" 200
http GET /
check_eq "GET /: the web app" "$STATUS" 200
check_contains "its index.html from PREFIX/share/cohort/web" "$BODY" "$marker"
http GET /app.js
check_eq "GET /app.js: the installed bundle" "$STATUS" 200
check_eq "as JavaScript" "$CTYPE" "text/javascript; charset=utf-8"
http GET /openapi.yaml
check_eq "GET /openapi.yaml" "$STATUS" 200
check_contains "from PREFIX/share/cohort/openapi.yaml" "$BODY" "# $marker"

# systemd stops it with SIGTERM.
if [ -n "$pid" ]; then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  check "SIGTERM stops it" bash -c '! kill -0 "$1" 2>/dev/null' _ "$pid"
  check_contains "cleanly" "$(cat "$LOG")" "cohortd stopping on signal 15"
fi
finish
