#!/usr/bin/env bash
# The local EVM dev node: anvil from node_modules/.bin, bound to 127.0.0.1 only, one block
# per second, state kept in var/anvil (dumped on stop, loaded on start).
# Usage: anvil.sh start|stop|status|url. Idempotent: start on a running node does nothing.
source "$(dirname "$0")/common.sh"
ANVIL_BIN=$COH_ROOT/node_modules/.bin/anvil
ANVIL_DIR=$COH_VAR/anvil
ANVIL_PID=$ANVIL_DIR/anvil.pid

running() {
  [ -f "$ANVIL_PID" ] && kill -0 "$(cat "$ANVIL_PID")" 2>/dev/null
}

answers() {
  curl -sf -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$COH_ANVIL_URL" >/dev/null
}

start() {
  [ -x "$ANVIL_BIN" ] || die "anvil not installed: run npm ci in $COH_ROOT"
  mkdir -p "$ANVIL_DIR"
  if running; then
    return 0
  fi
  if answers; then
    die "port $COH_ANVIL_PORT already answers JSON-RPC but not from our anvil (set COH_ANVIL_PORT)"
  fi
  log "starting anvil on $COH_ANVIL_URL (state in var/anvil)"
  nohup "$ANVIL_BIN" --host 127.0.0.1 --port "$COH_ANVIL_PORT" --chain-id 31337 --block-time 1 \
    --state "$ANVIL_DIR/state.json" --silent >"$ANVIL_DIR/anvil.log" 2>&1 &
  echo $! >"$ANVIL_PID"
  for _ in $(seq 100); do
    answers && return 0
    running || die "anvil exited: $(tail -5 "$ANVIL_DIR/anvil.log")"
    sleep 0.1
  done
  die "anvil did not answer on $COH_ANVIL_URL"
}

stop() {
  if running; then
    local pid
    pid=$(cat "$ANVIL_PID")
    log "stopping anvil (pid $pid; state saved to var/anvil/state.json)"
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$ANVIL_PID"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "anvil running on $COH_ANVIL_URL"; else echo "anvil stopped"; exit 1; fi ;;
  url) echo "$COH_ANVIL_URL" ;;
  *) die "usage: anvil.sh start|stop|status|url" ;;
esac
