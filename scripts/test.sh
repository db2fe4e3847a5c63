#!/usr/bin/env bash
# Installs every dependency, builds signet and runs every test.
# This is the command README.md documents and .ci/run calls.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
cd "$root"

bash scripts/install-deps.sh "$build"

jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 300
