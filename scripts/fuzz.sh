#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each one for a fixed time
# on a scratch copy of its committed seed corpus (fuzz/corpus/<target>/), so
# the committed corpus does not grow. Exits non-zero if any target crashes,
# leaks, times out or runs out of memory; the reproducer is kept in the
# target's artifact directory and its path printed.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
#   SECONDS_PER_TARGET  default 30
#   BUILD_DIR           default build-fuzz (relative to the repository root)
# Environment: FUZZ_TARGETS="keys payload" restricts the run to some targets;
#   FUZZ_JOBS (default 1) runs that many targets at once.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-30}
build=${2:-build-fuzz}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
targets=${FUZZ_TARGETS:-"reference keys payload manifest signature_manifest www_authenticate provider_request config bundle shared_verdict"}
jobs=${FUZZ_JOBS:-1}

CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S "$root" -B "$build" -G Ninja -DSIGNET_FUZZ=ON \
  -DSIGNET_BUILD_TESTS=OFF -DSIGNET_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target $(for t in $targets; do printf '%s_fuzz ' "$t"; done)

work="$build/fuzz-run"
rm -rf "$work"
mkdir -p "$work"

run_one() {
  local t=$1
  local dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$root/fuzz/corpus/$t/." "$dir/corpus/"
  local start=$SECONDS
  if "$build/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1; then
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    echo "fuzz: $t ok ($((SECONDS - start)) s, ${execs:-?} execs)"
  else
    echo "fuzz: $t FAILED; log $dir/log; reproducer(s):"
    ls -1 "$dir/artifacts" | sed "s|^|  $dir/artifacts/|"
    tail -40 "$dir/log"
    return 1
  fi
}

status=0
pids=()
for t in $targets; do
  if [ "$jobs" -gt 1 ]; then
    run_one "$t" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "$jobs" ]; then
      wait "${pids[0]}" || status=1
      pids=("${pids[@]:1}")
    fi
  else
    run_one "$t" || status=1
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
