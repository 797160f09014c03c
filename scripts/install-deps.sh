#!/usr/bin/env bash
# Installs what is missing: Debian packages (only when absent) and the pinned npm packages.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || die "run as root (apt-get and the cluster's system user need it)"

pkgs=(build-essential cmake pkg-config git curl jq ca-certificates
      libsodium-dev libpq-dev postgresql libsecp256k1-dev libjansson-dev libcivetweb-dev
      libcurl4-openssl-dev libcmocka-dev libcsv-dev wrk nodejs npm python3 chromium
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node may come from elsewhere (nvm, nodesource); only ask apt for it when absent.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The debian postgresql package starts a system cluster; ours lives under var/ instead.
if id "$COH_PG_USER" >/dev/null 2>&1; then :; else
  log "creating system user $COH_PG_USER for the local PostgreSQL cluster"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$COH_PG_USER"
fi
# cohortd itself runs as another unprivileged user: it must not own the cluster's files.
if ! id "$COH_DAEMON_USER" >/dev/null 2>&1; then
  log "creating system user $COH_DAEMON_USER for cohortd"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$COH_DAEMON_USER"
fi

cd "$COH_ROOT"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci (pinned in package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
