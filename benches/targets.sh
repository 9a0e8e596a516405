#!/usr/bin/env bash
# Issue 15's Envoy rows in one run: one Envoy (one worker on CPU 0; upstream and wrk on CPU 1) with
# these listeners in front of the same demo upstream:
#   :10100 plain       no filter
#   :10103 wasm-noop   a wasm filter that does nothing (benches/noop-filter): the floor
#   :10301 five        streammask, the 5-rule policy of the record figures (benches/five-rules.json)
#   :10101 example     streammask, the example policy (envoy/policies/example.json)
#   :10302 nothing     streammask, a policy that can find nothing (no rule, no field, no secret keys)
#   :10303 headers     streammask, the example policy with content types no body has (headers only)
# Part 1: sparse (/sized) and dense (/records NDJSON) bodies at 1 KiB, 16 KiB and 256 KiB, every
# listener, req/s vs plain and vs the no-op filter.
# Part 2: the per-request cost, headers only: wasm-noop and headers at 1 KiB in alternating rounds
# (single runs here move by more than 5 %), medians of req/s and Envoy CPU per request.
#   benches/targets.sh [SECONDS per run, default 5] [CONNECTIONS, default 16] [ROUNDS, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-16}
rounds=${3:-8}
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
[ -x "$ENVOY" ] || { echo "no Envoy at $ENVOY: make setup" >&2; exit 1; }
cargo build --release --target wasm32-wasip1 -p streammask-wasm -p streammask-noop-filter --quiet
cargo build --release --bin demo-upstream --quiet
dir=target/bench-targets
mkdir -p "$dir"
python3 - "$dir" <<'EOF'
import json, sys
d = sys.argv[1]
example = json.load(open("envoy/policies/example.json"))
json.dump(dict(example, content_types=["application/x-streammask-none"]), open(d + "/headers-only.json", "w"), indent=2)
json.dump({"rules": [], "secret_keys": {"enabled": False}}, open(d + "/nothing.json", "w"))
EOF
wasm=target/wasm32-wasip1/release/streammask.wasm
python3 benches/listeners.py "$dir/envoy.yaml" --noop "five=10301:$wasm:benches/five-rules.json" \
  "example=10101:$wasm:envoy/policies/example.json" "nothing=10302:$wasm:$dir/nothing.json" \
  "headers=10303:$wasm:$dir/headers-only.json"
. benches/run-envoy.sh
# sanity: the masking listeners mask, the others pass the body as it is
require_masking 10301 10101
for port in 10302 10303; do
  curl -s "http://127.0.0.1:$port/sized?bytes=4096" | grep -q '4111 1111 1111 1111' || { echo "listener $port changed the body" >&2; exit 1; }
done
hz=$(getconf CLK_TCK)
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); Envoy $($ENVOY --version | grep -o '1\.[0-9]*\.[0-9]*' | head -1) --concurrency 1 on CPU 0; upstream + wrk on CPU 1; wrk -t1 -c$conns -d${secs}s"
# one wrk run: prints "req/s MB/s p99-ms cpu-µs-per-request"
measure() {
  local url=$1 c0 c1 out
  c0=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
  c1=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
  awk -v c0="$c0" -v c1="$c1" -v s="$secs" -v hz="$hz" '
    function ms(v) { if (v ~ /us$/) { sub(/us/, "", v); return v / 1000 } if (v ~ /ms$/) { sub(/ms/, "", v); return v } if (v ~ /s$/) { sub(/s/, "", v); return v * 1000 } return v }
    function mb(v) { if (v ~ /GB$/) { sub(/GB/, "", v); return v * 1024 } if (v ~ /MB$/) { sub(/MB/, "", v); return v } if (v ~ /KB$/) { sub(/KB/, "", v); return v / 1024 } return v }
    /Requests\/sec/ { r = $2 } /Transfer\/sec/ { t = $2 } $1 == "99%" { p = $2 } /Non-2xx|Socket errors/ { e = e " " $0 }
    END { printf "%s %.1f %s %.1f%s\n", r, mb(t), ms(p), (c1 - c0) / hz / (r * s) * 1e6, e }' <<<"$out"
}
printf '\n| body | listener | req/s | MB/s | p99 ms | Envoy µs CPU/req | vs plain | vs wasm-noop |\n|---|---|---|---|---|---|---|---|\n'
for kind in sparse dense; do
  for size in 1024 16384 262144; do
    plain=""; noop=""
    for l in plain:10100 wasm-noop:10103 five:10301 example:10101 nothing:10302 headers:10303; do
      name=${l%%:*}; port=${l##*:}
      if [ "$kind" = dense ]; then path="/records?form=ndjson&bytes=$size"; else path="/sized?bytes=$size"; fi
      taskset -c 1 wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$port$path" >/dev/null 2>&1 || true   # warm-up
      read -r rps mbs p99 cpu errs <<<"$(measure "http://127.0.0.1:$port$path")"
      [ "$name" = plain ] && plain=$rps
      [ "$name" = wasm-noop ] && noop=$rps
      printf '| %s %s | %s | %s | %s | %s | %s | %.2f | %.2f |%s\n' "$kind" "$size" "$name" "$rps" "$mbs" "$p99" "$cpu" \
        "$(awk -v a="$rps" -v b="$plain" 'BEGIN{print a/b}')" "$(awk -v a="$rps" -v b="${noop:-$rps}" 'BEGIN{print a/b}')" "${errs:+ $errs}"
    done
  done
done
printf '\nPer request, headers only (1 KiB sparse body, content type not scanned), %s alternating rounds:\n\n| round | wasm-noop req/s | headers req/s | wasm-noop µs CPU/req | headers µs CPU/req |\n|---|---|---|---|---|\n' "$rounds"
res=()
for r in $(seq 1 "$rounds"); do
  read -r n_rps _ _ n_cpu _ <<<"$(measure "http://127.0.0.1:10103/sized?bytes=1024")"
  read -r h_rps _ _ h_cpu _ <<<"$(measure "http://127.0.0.1:10303/sized?bytes=1024")"
  echo "| $r | $n_rps | $h_rps | $n_cpu | $h_cpu |"
  res+=("$n_rps $h_rps $n_cpu $h_cpu")
done
printf '%s\n' "${res[@]}" | awk '
  { a[NR]=$1; b[NR]=$2; c[NR]=$3; d[NR]=$4 }
  function med(v, n,   i, j, t) { for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
                                  return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
  END { n=NR; ma=med(a,n); mb=med(b,n); mc=med(c,n); md=med(d,n)
        printf "\nmedians: wasm-noop %.1f req/s, %.1f µs CPU/req; headers %.1f req/s, %.1f µs CPU/req; headers/noop req/s %.3f, CPU/req %.3f\n", ma, mc, mb, md, mb/ma, md/mc }'
