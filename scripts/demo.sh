#!/usr/bin/env bash
# Runs the filter for real: the demo upstream on :8081, Envoy with streammask on :10000 (admin :9901),
# from envoy/envoy.yaml with only the wasm path and the upstream address made local. Shows the same
# requests straight from the upstream and through Envoy, then keeps both running until Ctrl-C
# (DEMO_ONESHOT=1 stops after the show).
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
UP_PORT=${UP_PORT:-8081}
WS_PORT=${WS_PORT:-8082}
PY=$(dirname "$ENVOY")/python3
PORT=${PORT:-10000}
ADMIN=${ADMIN:-9901}
dir=target/demo
mkdir -p "$dir"
# The demo key is public: never use it outside the demo. Real deployments read the key from a secret.
export STREAMMASK_TOKEN_KEY=${STREAMMASK_TOKEN_KEY:-demo-only-token-key-not-secret-0123456789}

# Waits for an Envoy's admin /ready; prints its log and fails if it does not come up.
wait_ready() {
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "Envoy did not start:"; cat "$2"; exit 1
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

DEMO_UPSTREAM_BIND=127.0.0.1 target/release/demo-upstream --port "$UP_PORT" >/dev/null 2>"$dir/upstream.log" &
pids+=($!)
# the WebSocket chat server behind /ws (Python websockets, in Envoy's venv)
"$PY" scripts/ws_chat.py serve "$WS_PORT" >"$dir/chat.log" 2>&1 &
pids+=($!)
sed -e "s#/etc/streammask/streammask.wasm#$PWD/target/wasm32-wasip1/release/streammask.wasm#" \
    -e "s#address: upstream, port_value: 8081#address: 127.0.0.1, port_value: $UP_PORT#" \
    -e "s#address: upstream, port_value: 8082#address: 127.0.0.1, port_value: $WS_PORT#" \
    -e "s#port_value: 10000#port_value: $PORT#" \
    -e "s#{address: 0.0.0.0, port_value: 9901}#{address: 127.0.0.1, port_value: $ADMIN}#" \
    envoy/envoy.yaml > "$dir/envoy.yaml"
"$ENVOY" -c "$dir/envoy.yaml" --concurrency 2 --disable-hot-restart -l warning --component-log-level wasm:info \
  >"$dir/envoy.log" 2>&1 &
pids+=($!)
wait_ready "$ADMIN" "$dir/envoy.log"

show() {
  local title=$1 path=$2
  printf '\n\033[1m== %s (%s)\033[0m\n' "$title" "$path"
  printf '\033[2m-- without the filter (straight from the upstream) --\033[0m\n'
  curl -s "http://127.0.0.1:$UP_PORT$path" | head -c 900; echo
  printf '\033[2m-- through Envoy with streammask --\033[0m\n'
  curl -s "http://127.0.0.1:$PORT$path" | head -c 900; echo
}
show "JSON API" /api/users
show "plain text" /text
show "server-sent events, one per 0.5 s" "/events?n=2&delay_ms=500"
show "NDJSON logs" "/logs.ndjson?lines=2&delay_ms=10"
printf '\n\033[1m== a request body: what the upstream received\033[0m\n'
curl -s -X POST -H 'content-type: application/json' --data-binary @tests/data/request.json "http://127.0.0.1:$PORT/record/demo" >/dev/null
curl -s "http://127.0.0.1:$UP_PORT/record/demo"; echo
printf '\n\033[1m== a WebSocket chat through Envoy (ws://127.0.0.1:%s/ws): both directions masked\033[0m\n' "$PORT"
"$PY" scripts/ws_chat.py demo "ws://127.0.0.1:$PORT/ws/chat"
printf '\033[2m-- what the chat server received --\033[0m\n'
sleep 0.3; grep 'chat server received' "$dir/chat.log" | tail -1
printf '\n\033[1m== metrics (http://127.0.0.1:%s/stats/prometheus)\033[0m\n' "$ADMIN"
curl -s "http://127.0.0.1:$ADMIN/stats/prometheus" | grep '^streammask_values_masked' || true

# Format-preserving tokens: a second Envoy with envoy/policies/fpe.json (cards, SSNs and IBANs
# encrypted with FF1, still valid), then the card decrypted again by a key holder.
PORT2=$((PORT + 1)); ADMIN2=$((ADMIN + 1))
sed -e "s#streammask-policy: envoy/policies/example.json#streammask-policy: envoy/policies/fpe.json#" \
    -e "s#port_value: $PORT}#port_value: $PORT2}#" -e "s#port_value: $ADMIN}#port_value: $ADMIN2}#" \
    "$dir/envoy.yaml" > "$dir/envoy-fpe.src.yaml"
python3 - "$dir/envoy-fpe.src.yaml" "$dir/envoy-fpe.yaml" <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.spec_from_file_location("sync", "scripts/sync-policies.py")
sync = importlib.util.module_from_spec(spec); spec.loader.exec_module(sync)
text, _ = sync.process(pathlib.Path(sys.argv[1]), "")
pathlib.Path(sys.argv[2]).write_text(text)
PY
"$ENVOY" -c "$dir/envoy-fpe.yaml" --concurrency 1 --disable-hot-restart -l warning --base-id 1 \
  >"$dir/envoy-fpe.log" 2>&1 &
pids+=($!)
wait_ready "$ADMIN2" "$dir/envoy-fpe.log"
printf '\n\033[1m== format-preserving tokens (envoy/policies/fpe.json, port %s)\033[0m\n' "$PORT2"
curl -s "http://127.0.0.1:$PORT2/api/users" > "$dir/fpe.json"
head -c 400 "$dir/fpe.json"; echo
python3 - "$dir/fpe.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[1]))["users"][0]["card"]
d = [int(c) for c in card if c.isdigit()]
s = sum(v if i % 2 == 0 else (2 * v - 9 if 2 * v > 9 else 2 * v) for i, v in enumerate(reversed(d)))
print(f"card through Envoy: {card}  (was 4111 1111 1111 1111; Luhn check: {'valid' if s % 10 == 0 else 'INVALID'})")
PY
printf '\033[2m-- streammask detokenize --policy envoy/policies/fpe.json (key holders only) --\033[0m\n'
target/release/streammask detokenize --policy envoy/policies/fpe.json --format json < "$dir/fpe.json" | head -c 400; echo
if [ "${DEMO_ONESHOT:-0}" = 1 ]; then exit 0; fi
printf '\nEnvoy: http://127.0.0.1:%s  upstream: http://127.0.0.1:%s  admin: http://127.0.0.1:%s  (Ctrl-C to stop)\n' "$PORT" "$UP_PORT" "$ADMIN"
wait
