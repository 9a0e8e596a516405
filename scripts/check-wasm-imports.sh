#!/usr/bin/env bash
# The module must not import host functions that ngx_wasm_module cannot provide at instantiation.
set -euo pipefail
wasm=${1:-target/wasm32-wasip1/release/streammask.wasm}
imports=$(python3 "$(dirname "$0")/wasm-imports.py" "$wasm")
bad=$(grep -E '^env\.(proxy_get_log_level)$' <<<"$imports" || true)
if [ -n "$bad" ]; then
  echo "streammask.wasm imports functions ngx_wasm_module cannot instantiate: $bad" >&2
  exit 1
fi
n=$(wc -l <<<"$imports")
size=$(stat -c %s "$wasm")
echo "wasm imports ok ($n imports, no proxy_get_log_level); size $size bytes"
