#!/usr/bin/env bash
# Installs every dependency, builds signet and runs every test.
# This is the command README.md documents and .ci/run calls.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
cd "$root"

bash scripts/install-deps.sh "$build"

jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 300

# The provider end-to-end tests again, with every `signet serve` under
# valgrind memcheck: zero errors and zero leaks required.
bash scripts/valgrind-provider.sh "$build"

# The same suite again under AddressSanitizer and UndefinedBehaviorSanitizer
# (leaks included), in its own build tree. SIGNET_SKIP_SANITIZERS=1 skips it
# for a quick local loop; CI always runs it.
if [ "${SIGNET_SKIP_SANITIZERS:-0}" != 1 ]; then
  asan="$root/build-asan"
  cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON \
    -DSIGNET_BUILD_BENCH=OFF -DSIGNET_TOOLS_DIR="$build/tools"
  cmake --build "$asan" -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$asan" --output-on-failure -j "$jobs" --timeout 300
fi

# Every libFuzzer target for a short fixed time on its committed corpus
# (clang build in build-fuzz/). SIGNET_FUZZ_SECONDS sets the time per target;
# 0 skips fuzzing for a quick local loop. scripts/fuzz.sh runs them longer.
fuzz_seconds=${SIGNET_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  FUZZ_JOBS=${FUZZ_JOBS:-$jobs} bash scripts/fuzz.sh "$fuzz_seconds" "$root/build-fuzz"
fi
