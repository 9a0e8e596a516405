# Sourced by the Envoy benches: starts the demo upstream on CPU 1 and Envoy (config "$dir/envoy.yaml",
# one worker) on CPU 0, stops both on exit, waits until Envoy is ready (or fails with its log).
# Needs: $dir, $ENVOY. Sets: envoy_pid.
export STREAMMASK_TOKEN_KEY=bench-only-key-0123456789abcdef0123456789
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
DEMO_UPSTREAM_BIND=127.0.0.1 taskset -c 1 target/release/demo-upstream --port 10180 >/dev/null 2>"$dir/upstream.log" &
pids+=($!)
taskset -c 0 "$ENVOY" -c "$dir/envoy.yaml" --concurrency 1 --disable-hot-restart -l warning >"$dir/envoy.log" 2>&1 &
pids+=($!)
envoy_pid=${pids[1]}
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:10190/ready >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf http://127.0.0.1:10190/ready >/dev/null || { echo "Envoy did not start: $dir/envoy.log" >&2; tail -5 "$dir/envoy.log" >&2; exit 1; }
# Fails the bench unless every listener port given masks the demo's sized body.
require_masking() {
  local port body
  for port in "$@"; do
    body=$(curl -s "http://127.0.0.1:$port/sized?bytes=4096")
    if ! grep -q 'paid with' <<<"$body" || grep -q '4111 1111 1111 1111' <<<"$body"; then
      echo "listener $port does not mask" >&2; exit 1
    fi
  done
}
