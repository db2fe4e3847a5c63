#!/usr/bin/env bash
# The deploy kit evaluated by Gatekeeper's own code: builds tests/gatekeeper
# (Gatekeeper v3.20.1's constraint framework and the OPA it pins, from the Go
# module proxy, with Go's module and build caches reused) into the build tree,
# starts a docker-registry on loopback, and runs the suite against real
# `signet serve` processes. Then the self-test: a copy of the kit's template
# that forgets initContainers must make the suite fail.
#
# Usage: scripts/gatekeeper-suite.sh [--build-dir DIR] [--keep]
#   DIR    CMake build tree holding `signet` (default build/)
#   --keep keep the scratch directory (logs, configs, observed.json)
# Environment: GO  go binary (default: go on PATH, then /usr/local/go/bin/go)
# Exit status 0 when every case holds and the self-test fails as it must.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$root/build
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '9,13p' "$0" >&2; exit 2 ;;
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

# ---- self-test: a template that forgets initContainers must fail the suite --------------
weak=$work/weakened-template.yaml
sed 's/^\( *images := \)(container_images | init_container_images) | ephemeral_container_images$/\1container_images | ephemeral_container_images/' \
  "$root/deploy/gatekeeper/constrainttemplate.yaml" >"$weak"
if cmp -s "$weak" "$root/deploy/gatekeeper/constrainttemplate.yaml"; then
  echo "gatekeeper-suite: self-test: the template's images line changed; update the weakening" >&2
  exit 1
fi
log "self-test: the suite with a template that forgets initContainers"
rc=0
run_suite selftest -only corpus -template "$weak" >"$work/selftest.out" 2>&1 || rc=$?
if [ "$rc" != 1 ] || ! grep -q '^FAIL pod/unsigned initContainer, production$' "$work/selftest.out"; then
  echo "gatekeeper-suite: self-test: the weakened template was not caught (exit $rc):" >&2
  cat "$work/selftest.out" >&2
  exit 1
fi
log "self-test: the weakened template fails $(grep -c '^FAIL ' "$work/selftest.out") case(s), as it must"
