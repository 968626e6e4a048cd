#!/bin/sh
# Runs each libFuzzer target for a fixed time, one after the other, and prints
# a summary from libFuzzer's final statistics. Fails when a target crashes.
#   tests/fuzz/run.sh <build-dir> <seconds-per-target> [target...]
# New inputs go to <build-dir>/fuzz-corpus/<target> (the committed seeds in
# tests/fuzz/corpus/<target> are only read), crashes to
# <build-dir>/fuzz-artifacts/, logs to <build-dir>/fuzz-logs/.
set -u
build=$1
seconds=$2
shift 2
targets=${*:-resp codec redis_url}
seeds=$(dirname "$0")/corpus
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
summary=$(printf '%-10s %5s %12s %8s %6s %7s %7s %s\n' \
  target seconds executions exec/s cov ft corpus result)
failed=0
for t in $targets; do
  corpus=$build/fuzz-corpus/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus"
  echo "fuzzing $t for ${seconds}s (log: $log)"
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
    "$corpus" "$seeds/$t" >"$log" 2>&1
  rc=$?
  result=ok
  if [ $rc -ne 0 ]; then
    result="CRASH (exit $rc, see $log)"
    failed=1
    tail -n 40 "$log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  summary=$(printf '%s\n%-10s %5s %12s %8s %6s %7s %7s %s' "$summary" "$t" \
    "$seconds" "${runs:--}" "${rate:--}" "${cov:--}" "${ft:--}" \
    "${corp:--}" "$result")
done
echo "$summary"
exit $failed
