#!/usr/bin/env bash
# `make jepsen`: the audit runs and the self-tests, and one table of them all (jepsen-reports/table.md).
#   .ci/jepsen.sh BIN_DIR "RUN_SEEDS" DURATION "SELF_TESTS" "SELF_TEST_SEEDS" SELF_TEST_DURATION
set -uo pipefail
bin="$1"; runs="$2"; duration="$3"; self_tests="$4"; self_seeds="$5"; self_duration="$6"
reports=jepsen-reports
mkdir -p "$reports"
table="$reports/table.md"
failed=0

row() { # out-dir exit-status label
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
out, code, label = sys.argv[1:4]
try:
    r = json.load(open(f"{out}/results.json"))
except Exception as error:
    print(f"| {label} | exit {code} | no results.json ({error}) | | | | | |")
    sys.exit()
confirmed = ", ".join(f"{k} {v}" for k, v in sorted(r.get("nemesis_confirmed", {}).items()))
injected = sum(r.get("nemesis_injected", {}).values())
print(f"| {label} | exit {code} | valid: {r['valid']} | {r.get('transport', 'unknown')} | {r['ops']} | "
      f"{r['acked_writes_lost']} | {sum(r.get('nemesis_confirmed', {}).values())}/{injected} | {confirmed} |")
PY
}

{
  echo "| run | exit | verdict | transport | ops | acked writes lost | faults confirmed/injected | confirmed per kind |"
  echo "|---|---|---|---|---:|---:|---:|---|"
} > "$table"

for seed in $runs; do
  out="$reports/seed-$seed"
  rm -rf "$out"
  "$bin/dancu-jepsen" run --duration "$duration" --nemesis all --nodes 5 --seed "$seed" --out "$out"
  code=$?
  row "$out" "$code" "all, seed $seed" >> "$table"
  [ "$code" -eq 0 ] || failed=1
  # Every kind must have fired and been confirmed in every run, over mutual TLS (the suite's default).
  python3 - "$out" <<'PY' || failed=1
import json, sys
r = json.load(open(f"{sys.argv[1]}/results.json"))
if r.get("transport") != "mutual TLS":
    print(f"{sys.argv[1]}: ran over {r.get('transport')!r}, not mutual TLS", file=sys.stderr)
    sys.exit(1)
kinds = ["partition", "kill", "pause", "leader", "membership", "admin", "failpoint", "restart", "clock",
         "power-loss", "disk-wipe"]
missing = [k for k in kinds if r.get("nemesis_confirmed", {}).get(k, 0) == 0]
if missing:
    print(f"{sys.argv[1]}: no confirmed fault of {missing}", file=sys.stderr)
    sys.exit(1)
PY
done

for test in $self_tests; do
  caught=0
  for seed in $self_seeds; do
    out="$reports/self-test-$test-seed-$seed"
    rm -rf "$out"
    "$bin/dancu-jepsen" run --duration "$self_duration" --self-test "$test" --nodes 5 --seed "$seed" --out "$out"
    code=$?
    row "$out" "$code" "self-test $test, seed $seed" >> "$table"
    [ "$code" -eq 1 ] && caught=$((caught + 1))
  done
  echo "| **self-test $test** | caught in $caught of $(echo $self_seeds | wc -w) seeds | | | | | | |" >> "$table"
  [ "$caught" -ge 4 ] || failed=1
done

cat "$table"
echo "reports: $(pwd)/$reports/*/report.html"
exit $failed
