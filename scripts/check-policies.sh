#!/usr/bin/env bash
# Every embedded policy is generated from its source file (no drift) and passes `streammask check`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/sync-policies.py --check
cli=target/release/streammask
[ -x "$cli" ] || cargo build --release -q -p streammask-cli --bin streammask
n=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for src in envoy/policies/*.json; do
  "$cli" check "$src" >/dev/null
  n=$((n + 1))
done
while IFS=$'\t' read -r where json; do
  printf '%s' "$json" > "$tmp"
  if ! out=$("$cli" check "$tmp" 2>&1); then
    echo "$where: embedded policy rejected: $out" >&2
    exit 1
  fi
  n=$((n + 1))
done < <(python3 scripts/sync-policies.py --extract)
echo "policies ok ($n checked, all embedded copies in sync)"
