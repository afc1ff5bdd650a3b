# dancu: build, test and demo. Every cargo command uses the release profile, so RocksDB is compiled once.
# CARGO_TARGET_DIR is respected when set.

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: deps build test demo jepsen bench

# Debian packages the build and the benchmarks need, installed only when missing: clang and libclang (RocksDB's
# bindings), protoc (etcd-client's generated code) and etcd-server (etcd 3.4, what `bench compare` measures against).
deps:
	@missing=""; \
	command -v clang >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libclang || missing="$$missing clang libclang-dev"; \
	command -v protoc >/dev/null 2>&1 || missing="$$missing protobuf-compiler"; \
	command -v etcd >/dev/null 2>&1 || missing="$$missing etcd-server"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; fi; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

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

# The long consistency audit: 10 runs of 5 minutes, all nemeses, 5 nodes, nodes built with failpoints.
# Reports: jepsen-reports/seed-N/report.html. Exits non-zero if any run is not linearizable.
JEPSEN_RUNS ?= 1 2 3 4 5 6 7 8 9 10
JEPSEN_DURATION ?= 5m
jepsen: deps
	$(CARGO) build --release -p dancu-node --features failpoints
	$(CARGO) build --release -p dancu-jepsen --bins
	@failed=0; for seed in $(JEPSEN_RUNS); do \
		$(TARGET_DIR)/release/dancu-jepsen run --duration $(JEPSEN_DURATION) --nemesis all --nodes 5 \
			--seed $$seed --out jepsen-reports/seed-$$seed || failed=1; \
	done; \
	echo "reports: $$(pwd)/jepsen-reports/seed-*/report.html"; \
	exit $$failed

# dancu side by side with etcd 3.4 and the ceilings, in one run (~5 minutes): bench-results/{results.json,
# report.md,*.svg}. BENCH_MODE=full loads 1M records instead of 100k.
BENCH_MODE ?= quick
BENCH_OUT ?= bench-results
bench: deps
	$(CARGO) build --release -p dancu-node -p dancu-client -p dancu-bench --bins
	$(TARGET_DIR)/release/dancuctl bench compare $(if $(filter quick,$(BENCH_MODE)),--quick) --out $(BENCH_OUT)
