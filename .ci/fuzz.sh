#!/usr/bin/env bash
# `make fuzz`: builds the cargo-fuzz targets (fuzz/, nightly, libFuzzer + AddressSanitizer) and runs each for
# FUZZ_RUNS executions from a seed corpus. Stops at the first crash, leaving the input in
# $FUZZ_DIR/artifacts/TARGET/ and naming it; a finished run prints each target's executions and time.
#   .ci/fuzz.sh TARGET_DIR "TARGETS" RUNS
# RocksDB is linked from the release build (`make build` made it) instead of compiled a second time for the fuzz
# build: none of the targets calls it, and its C++ build takes a quarter of an hour here.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="$1"
targets="$2"
runs="$3"
fuzz_dir="$target_dir/fuzz"
corpus_dir="$fuzz_dir/corpus"
mkdir -p "$fuzz_dir"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

rocksdb_lib=$(ls -t "$target_dir"/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -1 || true)
if [ -n "$rocksdb_lib" ]; then
  export ROCKSDB_LIB_DIR
  ROCKSDB_LIB_DIR=$(dirname "$rocksdb_lib")
  export ROCKSDB_STATIC=1
fi

"$target_dir/release/examples/fuzz_seeds" "$corpus_dir"

# Every target first: a target that does not build fails here, not after the others have run for an hour.
cargo +nightly fuzz build --fuzz-dir fuzz --target-dir "$fuzz_dir/target"

summary="$fuzz_dir/summary.md"
{
  echo "| target | executions | seconds | executions/s | result |"
  echo "|---|---:|---:|---:|---|"
} >"$summary"
for target in $targets; do
  log="$fuzz_dir/$target.log"
  mkdir -p "$fuzz_dir/artifacts/$target"
  started=$(date +%s)
  set +e
  cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$fuzz_dir/target" "$target" "$corpus_dir/$target" -- \
    -runs="$runs" -artifact_prefix="$fuzz_dir/artifacts/$target/" -print_final_stats=1 -rss_limit_mb=4096 \
    >"$log" 2>&1
  status=$?
  set -e
  seconds=$(( $(date +%s) - started ))
  executions=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)
  executions=${executions:-0}
  if [ "$status" -eq 0 ]; then result="no crash"; else result="FAILED (exit $status; see $log)"; fi
  printf '| %s | %s | %s | %s | %s |\n' "$target" "$executions" "$seconds" \
    "$(( executions / (seconds > 0 ? seconds : 1) ))" "$result" >>"$summary"
  echo "fuzz: $target: $executions executions in $seconds s: $result"
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    cat "$summary"
    exit "$status"
  fi
done
cat "$summary"
