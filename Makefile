# dancu: build, test and demo. Every cargo command uses the release profile, so RocksDB is compiled once.
# CARGO_TARGET_DIR is respected when set.

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
# The Python venv of the off-the-shelf reflection test (made by `make deps`).
export DANCU_PYVENV ?= $(TARGET_DIR)/pyvenv

.PHONY: deps doctor build test demo jepsen bench fuzz

# What the build and the tests need from the machine (clang/libclang for RocksDB's bindings, protoc and the
# well-known .proto files for etcd-client's build script, etcd-server for `bench compare`, iproute2 for the suite's
# namespaces, a Python venv with grpcio for the off-the-shelf reflection test): `.ci/deps.sh` checks each by the
# file or binary the build uses and installs what is missing. `make doctor` only checks, in seconds.
deps:
	@bash .ci/deps.sh install

doctor:
	@bash .ci/deps.sh check

build: deps
	$(CARGO) build --release --workspace --bins

test: deps
	@started=$$(date +%s); \
	$(CARGO) fmt --all -- --check && \
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings && \
	$(CARGO) test --release --workspace; \
	status=$$?; \
	echo "make test: $$(( $$(date +%s) - started )) s, exit status $$status"; \
	exit $$status

demo: build
	$(TARGET_DIR)/release/dancu-demo

# The long consistency audit: 10 runs of 5 minutes, all nemeses, 5 nodes, nodes built with failpoints; then each
# self-test (a node switch or fault the suite must catch) on 5 seeds. Reports: jepsen-reports/seed-N/report.html,
# jepsen-reports/self-test-NAME-seed-N/; a table of every run in jepsen-reports/table.md. Exits non-zero if any
# run is not valid with every fault confirmed, or a self-test is caught in fewer than 4 of 5 seeds.
JEPSEN_RUNS ?= 1 2 3 4 5 6 7 8 9 10
JEPSEN_DURATION ?= 5m
JEPSEN_SELF_TESTS ?= broken-reads early-votes clock-beyond-bound skip-fsync
JEPSEN_SELF_TEST_SEEDS ?= 1 2 3 4 5
JEPSEN_SELF_TEST_DURATION ?= 2m
jepsen: deps
	$(CARGO) build --release -p dancu-node --features failpoints
	$(CARGO) build --release -p dancu-jepsen --bins
	@bash .ci/jepsen.sh "$(TARGET_DIR)/release" "$(JEPSEN_RUNS)" "$(JEPSEN_DURATION)" "$(JEPSEN_SELF_TESTS)" \
		"$(JEPSEN_SELF_TEST_SEEDS)" "$(JEPSEN_SELF_TEST_DURATION)"

# dancu side by side with etcd 3.4 and the ceilings, in one run (~5 minutes): bench-results/{results.json,
# report.md,*.svg}. BENCH_MODE=full loads 1M records instead of 100k.
BENCH_MODE ?= quick
BENCH_OUT ?= bench-results
bench: deps
	$(CARGO) build --release -p dancu-node -p dancu-client -p dancu-bench --bins
	$(TARGET_DIR)/release/dancuctl bench compare $(if $(filter quick,$(BENCH_MODE)),--quick) --out $(BENCH_OUT)

# The cargo-fuzz targets (fuzz/; ARCHITECTURE.md lists them and what each asserts): each runs FUZZ_RUNS executions
# (10 M by default) from seed inputs made by node/examples/fuzz_seeds.rs. A crash stops the run and names the input
# (under $(TARGET_DIR)/fuzz/artifacts/). Executions and time per target: $(TARGET_DIR)/fuzz/summary.md. Installs the
# nightly toolchain and cargo-fuzz when missing.
FUZZ_TARGETS ?= personal_id citizen_record cluster_config request log_entry snapshot_chunk
FUZZ_RUNS ?= 10000000
fuzz: deps
	$(CARGO) build --release -p dancu-node --example fuzz_seeds
	@bash .ci/fuzz.sh "$(TARGET_DIR)" "$(FUZZ_TARGETS)" "$(FUZZ_RUNS)"
