#!/usr/bin/env bash
# Two builds of streammask.wasm side by side in ONE Envoy, measured in alternation: the fair way to
# compare builds on a noisy machine (separate Envoy runs drift by more than the difference sought).
# Listeners: :10100 no filter, :10201 build A, :10202 build B, both with the same policy.
# Reports per round req/s and Envoy CPU per request (µs, from /proc: the proxy's own cost), then
# the medians and B/A.
#   benches/ab.sh A.wasm B.wasm [POLICY.json] [BODY BYTES, default 262144] [ROUNDS, default 8] [SECONDS, default 4]
# POLICY defaults to the one benches/envoy-bench.yaml embeds. A build older than the policy's
# settings refuses it at start (Envoy then exits: see target/bench-ab/envoy.log).
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "$1"); b=$(realpath "$2")
policy=${3:-}
size=${4:-262144}
rounds=${5:-8}
secs=${6:-4}
ENVOY=${ENVOY_BIN:-.venv/bin/envoy}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
[ -x "$ENVOY" ] || { echo "no Envoy at $ENVOY: make setup" >&2; exit 1; }
[ -x target/release/demo-upstream ] || cargo build --release --bin demo-upstream --quiet
dir=target/bench-ab
mkdir -p "$dir"
python3 benches/listeners.py "$dir/envoy.yaml" "build_a=10201:$a${policy:+:$policy}" "build_b=10202:$b${policy:+:$policy}"
. benches/run-envoy.sh
require_masking 10201 10202
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs; Envoy --concurrency 1 on CPU 0, upstream + wrk on CPU 1; /sized?bytes=$size, wrk -t1 -c16 -d${secs}s, $rounds rounds"
echo "# A = $a"
echo "# B = $b"
for p in 10100 10201 10202; do taskset -c 1 wrk -t1 -c16 -d2s "http://127.0.0.1:$p/sized?bytes=$size" >/dev/null 2>&1 || true; done
hz=$(getconf CLK_TCK)
printf '| round | none req/s | A req/s | B req/s | A µs CPU/req | B µs CPU/req |\n|---|---|---|---|---|---|\n'
res=()
for r in $(seq 1 "$rounds"); do
  row="| $r"
  cpus=""
  for p in 10100 10201 10202; do
    c0=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
    rps=$(taskset -c 1 wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$p/sized?bytes=$size" | awk '/Requests\/sec/{print $2}')
    c1=$(awk '{print $14+$15}' /proc/"$envoy_pid"/stat)
    row="$row | $rps"
    if [ "$p" != 10100 ]; then
      cpus="$cpus | $(awk -v a="$c0" -v b="$c1" -v r="$rps" -v s="$secs" -v hz="$hz" 'BEGIN{printf "%.0f", (b-a)/hz/(r*s)*1e6}')"
    fi
  done
  echo "$row$cpus |"
  res+=("$row$cpus")
done
printf '%s\n' "${res[@]}" | awk -F'|' '
  { ra[NR]=$4; rb[NR]=$5; ca[NR]=$6; cb[NR]=$7 }
  function med(v, n,   i, j, t) { for (i=1;i<=n;i++) for (j=i+1;j<=n;j++) if (v[j]+0 < v[i]+0) { t=v[i]; v[i]=v[j]; v[j]=t }
                                  return (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }
  END { n=NR; mra=med(ra,n); mrb=med(rb,n); mca=med(ca,n); mcb=med(cb,n)
        printf "\nmedians: A %.1f req/s, %.0f µs CPU/req; B %.1f req/s, %.0f µs CPU/req; B/A req/s %.2f, B/A CPU/req %.2f\n", mra, mca, mrb, mcb, mrb/mra, mcb/mca }'
