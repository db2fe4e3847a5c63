#!/usr/bin/env bash
# The deploy kit evaluated by Gatekeeper's own code: builds tests/gatekeeper
# (Gatekeeper v3.20.1's constraint framework, the OPA it pins and its mutation
# system, from the Go module proxy, with Go's module and build caches reused)
# into the build tree, starts a docker-registry on loopback, and runs the suite
# against real `signet serve` processes (admission corpus, exempt images,
# failures, and the kit's Assign mutators). Then the self-tests:
# weakened copies of the kit (a template that forgets initContainers, one whose
# exact exemptions match as prefixes, mutators with failurePolicy Ignore) must
# each make the suite fail.
#
# Usage: scripts/gatekeeper-suite.sh [--build-dir DIR] [--keep]
#   DIR    CMake build tree holding `signet` (default build/)
#   --keep keep the scratch directory (logs, configs, observed.json)
# Environment: GO  go binary (default: go on PATH, then /usr/local/go/bin/go)
# Exit status 0 when every case holds and every self-test fails as it must.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '12,16p' "$0" >&2; exit 2 ;;
  esac
done
signet=$build_dir/signet
[ -x "$signet" ] || { echo "gatekeeper-suite: no signet in $build_dir; build it first" >&2; exit 1; }
go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
[ -x "$go" ] || { echo "gatekeeper-suite: Go not found (set GO)" >&2; exit 1; }
py=python3
log() { echo "[gatekeeper-suite $(date -u +%H:%M:%S)] $*" >&2; }

# ---- build (two processes shared with other builds: niced, one package at a time) --------
bin=$build_dir/tests/gatekeeper/gatekeeper-suite
mkdir -p "$(dirname "$bin")"
log "building tests/gatekeeper with $("$go" version | cut -d' ' -f3)"
start=$(date +%s)
(cd "$root/tests/gatekeeper" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
  nice -n 10 "$go" build -p 1 -o "$bin" .)
log "built in $(( $(date +%s) - start )) s"

work=$(mktemp -d /tmp/signet-gatekeeper.XXXXXX)
registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then echo "gatekeeper-suite: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
. "$root/bench/tools/common.sh"  # free_port, wait_http, registry_config

# ---- certificates: the kit's script, twice (the second CA is the wrong caBundle) ---------
"$root/deploy/gen-certs.sh" -o "$work/certs" >/dev/null 2>"$work/gen-certs.log"
"$root/deploy/gen-certs.sh" -o "$work/other-certs" >/dev/null 2>>"$work/gen-certs.log"

# ---- registry ----------------------------------------------------------------------------
registry_port=$(free_port)
registry_config "$work" "$registry_port"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
wait_http "http://127.0.0.1:$registry_port/v2/" || { echo "gatekeeper-suite: registry did not start" >&2; cat "$work/registry.log" >&2; exit 1; }

run_suite() {  # NAME [extra flags...]
  local name=$1
  shift
  mkdir -p "$work/$name"
  "$bin" -signet "$signet" -kit "$root" -registry "127.0.0.1:$registry_port" \
    -certs "$work/certs" -other-certs "$work/other-certs" -work "$work/$name" -python "$py" "$@"
}

log "running the suite"
start=$(date +%s)
rc=0
run_suite suite -messages "$work/observed.json" || rc=$?
log "suite finished in $(( $(date +%s) - start )) s (exit $rc)"
[ "$rc" = 0 ] || exit 1

# ---- self-tests: weakened copies of the kit must fail the suite --------------------------
# selftest NAME PART EXPECTED-FAIL-LINE [suite flags...]: the suite, with PART only and the
# given flags, must exit 1 and fail the named case.
selftest() {
  local name=$1 part=$2 line=$3 rc=0
  shift 3
  log "self-test: $name"
  run_suite "selftest-$part" -only "$part" "$@" >"$work/selftest-$part.out" 2>&1 || rc=$?
  if [ "$rc" != 1 ] || ! grep -qxF "FAIL $line" "$work/selftest-$part.out"; then
    echo "gatekeeper-suite: self-test ($name) was not caught (exit $rc):" >&2
    cat "$work/selftest-$part.out" >&2
    exit 1
  fi
  log "self-test: $name fails $(grep -c '^FAIL ' "$work/selftest-$part.out") case(s), as it must"
}
# weaken FROM-FILE TO-FILE SED-EXPRESSION: the copy must differ from the original.
weaken() {
  sed "$3" "$1" >"$2"
  if cmp -s "$1" "$2"; then
    echo "gatekeeper-suite: self-test: $1 changed; update the weakening $3" >&2
    exit 1
  fi
}
template=$root/deploy/gatekeeper/constrainttemplate.yaml

# A template that forgets initContainers.
weaken "$template" "$work/no-init-template.yaml" \
  's/^\( *images := \)(container_images | init_container_images) | ephemeral_container_images$/\1container_images | ephemeral_container_images/'
selftest "a template that forgets initContainers" corpus "pod/unsigned initContainer, production" \
  -template "$work/no-init-template.yaml"

# A template whose exact exemptions match as prefixes.
weaken "$template" "$work/prefix-exempt-template.yaml" 's/^\( *\)img == entry$/\1startswith(img, entry)/'
selftest "a template that treats exact exemptions as prefixes" exempt \
  "exempt/an exact entry is not a prefix: a longer name is still checked, production" \
  -template "$work/prefix-exempt-template.yaml"

# Assign mutators that admit what does not verify.
weaken "$root/deploy/manifests/signet.yaml" "$work/ignore-mutators.yaml" 's/^\( *failurePolicy: \)Fail$/\1Ignore/'
selftest "Assign mutators with failurePolicy Ignore" mutate \
  "mutate/pod: an unsigned container refuses the object, production" \
  -assigns "$work/ignore-mutators.yaml"
