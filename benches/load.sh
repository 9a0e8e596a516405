#!/usr/bin/env bash
# End-to-end load bench: one upstream, one Envoy with four listeners (no filter, a wasm filter that
# does nothing — the floor any wasm filter pays —, streammask, Lua),
# wrk at 1 KiB, 16 KiB, 256 KiB and 1 MiB JSON bodies. Envoy runs with one worker pinned to CPU 0;
# the upstream and wrk share CPU 1, so the proxy's CPU is the same for every listener.
#   benches/load.sh [SECONDS per run, default 10] [CONNECTIONS, default 16] [BODIES, default "sparse dense"]
# sparse: /sized (one card and email per ~4 KiB); dense: /records (PII-dense API records, NDJSON,
# five values of interest per ~470-byte record: `benches/inputs.rs`).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
bodies=${3:-sparse dense}
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
dir=target/bench
mkdir -p "$dir"
cargo build --release --target wasm32-wasip1 -p streammask-noop-filter --quiet
sed -e "s#/etc/streammask/streammask.wasm#$PWD/target/wasm32-wasip1/release/streammask.wasm#" \
  -e "s#/etc/streammask/noop_filter.wasm#$PWD/target/wasm32-wasip1/release/noop_filter.wasm#" \
  benches/envoy-bench.yaml > "$dir/envoy.yaml"
. benches/run-envoy.sh
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); Envoy $($ENVOY --version | grep -o '1\.[0-9]*\.[0-9]*' | head -1) --concurrency 1 on CPU 0; upstream + wrk on CPU 1; wrk -t1 -c$conns -d${secs}s"
# sanity: the streammask and Lua listeners mask, the plain one does not
for port in 10100 10101 10102; do
  printf 'port %s: ' "$port"; curl -s "http://127.0.0.1:$port/sized?bytes=4096" | grep -o '"note":"paid with[^"]*"' | head -1
done
printf '\n| body | listener | req/s | MB/s | p50 ms | p99 ms | req/s vs none | p99 added ms | Envoy CPU %% |\n|---|---|---|---|---|---|---|---|---|\n'
for kind in $bodies; do
for size in 1024 16384 262144 1048576; do
  base_rps=""; base_p99=""
  for l in plain:10100 wasm-noop:10103 streammask:10101 lua:10102; do
    name=${l%%:*}; port=${l##*:}
    if [ "$kind" = dense ]; then path="/records?form=ndjson&bytes=$size"; else path="/sized?bytes=$size"; fi
    url="http://127.0.0.1:$port$path"
    taskset -c 1 wrk -t1 -c"$conns" -d2s "$url" >/dev/null 2>&1 || true   # warm-up
    cpu0=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
    cpu1=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
    rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    tps=$(awk '/Transfer\/sec/{print $2}' <<<"$out")
    p50=$(awk '$1=="50%"{print $2}' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)
    to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v); print v} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000} else print v }'; }
    to_mb() { awk -v v="$1" 'BEGIN{ if (v ~ /GB$/) {sub(/GB/,"",v); print v*1024} else if (v ~ /MB$/) {sub(/MB/,"",v); print v} else if (v ~ /KB$/) {sub(/KB/,"",v); print v/1024} else print v }'; }
    p50ms=$(to_ms "$p50"); p99ms=$(to_ms "$p99"); mbs=$(to_mb "$tps")
    cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", (b-a)/hz/s*100}')
    if [ "$name" = plain ]; then base_rps=$rps; base_p99=$p99ms; fi
    ratio=$(awk -v a="$rps" -v b="$base_rps" 'BEGIN{printf "%.2f", a/b}')
    added=$(awk -v a="$p99ms" -v b="$base_p99" 'BEGIN{printf "%.2f", a-b}')
    printf '| %s %s | %s | %s | %.1f | %s | %s | %s | %s | %s |%s\n' "$kind" "$size" "$name" "$rps" "$mbs" "$p50ms" "$p99ms" "$ratio" "$added" "$cpu" "${errs:+ $errs}"
  done
done
done
