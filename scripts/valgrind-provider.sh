#!/usr/bin/env bash
# Runs the provider end-to-end tests with every `signet serve` they start
# under valgrind's memcheck (--leak-check=full), and fails unless each
# provider process reports zero errors and no definitely, indirectly or
# possibly lost memory.
#
# Usage: scripts/valgrind-provider.sh [BUILD_DIR]
#   BUILD_DIR  a built tree (default build/); valgrind cannot run the
#              sanitizer build.
# The tests that run a hundred verifications (HundredImages*) or fifty
# concurrent requests, or wait for a drain, are left out:
# under valgrind everything is 20-50 times slower, which would test valgrind.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
test_binary="$build/tests/test_provider_e2e"
[ -x "$test_binary" ] || { echo "valgrind-provider: $test_binary is not built" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind-provider: valgrind is not installed" >&2; exit 2; }

logs="$build/valgrind-provider"
rm -rf "$logs"
mkdir -p "$logs"

filter='ProviderE2ETest.*:-*HundredImages*:*FiftyConcurrent*:*SigtermDrains*'
export SIGNET_SERVE_WRAPPER="valgrind --tool=memcheck --leak-check=full \
--show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
--error-exitcode=99 --num-callers=40 --log-file=$logs/serve.%p.log"

echo "valgrind-provider: running $filter with signet serve under memcheck"
"$test_binary" --gtest_filter="$filter" --gtest_brief=1

status=0
count=0
for log in "$logs"/serve.*.log; do
  [ -e "$log" ] || continue
  count=$((count + 1))
  if ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
    echo "valgrind-provider: errors or no summary (killed?) in $log:" >&2
    sed -n '/HEAP SUMMARY/,$p' "$log" | head -60 >&2
    grep -m1 -B2 -A25 "Invalid\|uninitialised\|definitely lost in" "$log" >&2 || true
    status=1
  fi
done
if [ "$count" -eq 0 ]; then
  echo "valgrind-provider: no provider ran under valgrind" >&2
  exit 1
fi
echo "valgrind-provider: $count provider processes checked; $([ $status = 0 ] && echo 'no errors, no leaks' || echo FAILED)"
exit $status
