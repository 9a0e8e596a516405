#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20), starting from the committed seeds.
#   scripts/fuzz.sh [SECONDS]
# libFuzzer through cargo-fuzz, without a sanitizer (works on stable Rust). A crash fails the run and
# leaves its input in tests/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../tests/fuzz"
secs=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
cargo fuzz build --fuzz-dir . -s none
for t in policy chunking json forms websocket; do
  mkdir -p "corpus/$t"
  rm -f "artifacts/$t"/crash-*   # a crash left by an earlier run is not this run's
  cp -n seeds/$t/* "corpus/$t/" 2>/dev/null || true
  echo "== fuzz $t for ${secs}s"
  cargo fuzz run --fuzz-dir . -s none "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=4096 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|thread .* panicked)' || true
  if ls "artifacts/$t"/crash-* >/dev/null 2>&1; then
    echo "fuzz target $t crashed: tests/fuzz/artifacts/$t" >&2
    for c in "artifacts/$t"/crash-*; do
      echo "-- $c (first 512 bytes, as hex):" >&2
      head -c 512 "$c" | od -An -tx1 >&2
      echo "-- what it prints:" >&2
      cargo fuzz run --fuzz-dir . -s none "$t" "$c" 2>&1 | grep -A6 'panicked' | head -20 >&2 || true
    done
    exit 1
  fi
done
