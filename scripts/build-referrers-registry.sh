#!/usr/bin/env bash
# Builds the referrers-capable test registry (tests/referrers_registry: a
# loopback wrapper around go-containerregistry's pkg/registry with the OCI 1.1
# referrers API enabled, version pinned in its go.mod/go.sum) into
# TOOLS_DIR/referrers-registry/referrers-registry, with the go command's own
# module and build caches. Idempotent: does nothing when the binary is newer
# than the wrapper's sources and records the pinned module version.
#
# Usage: scripts/build-referrers-registry.sh TOOLS_DIR
# Environment: GO  go binary (default: go on PATH, then /usr/local/go/bin/go)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 1 ] || { sed -n '9,10p' "$0" >&2; exit 2; }
mkdir -p "$1"
out_dir=$(cd "$1" && pwd)/referrers-registry
bin=$out_dir/referrers-registry
src=$root/tests/referrers_registry
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
module=github.com/google/go-containerregistry
version=$(sed -n "s|^require $module \(v[^ ]*\)$|\1|p" "$src/go.mod")
[ -n "$version" ] || { echo "build-referrers-registry: no pinned $module in $src/go.mod" >&2; exit 1; }

pinned() {
  [ -x "$bin" ] && [ "$bin" -nt "$src/main.go" ] && [ "$bin" -nt "$src/go.mod" ] && [ "$bin" -nt "$src/go.sum" ] &&
    "$go_bin" version -m "$bin" 2>/dev/null |
      grep -qE "^[[:space:]]+dep[[:space:]]+$module[[:space:]]+$version[[:space:]]"
}
pinned && exit 0
[ -x "$go_bin" ] || { echo "build-referrers-registry: the go command is needed (set GO)" >&2; exit 1; }
echo "build-referrers-registry: building $module $version registry with $("$go_bin" version | cut -d' ' -f3)"
mkdir -p "$out_dir"
(cd "$src" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
  nice -n 10 "$go_bin" build -p 1 -o "$bin.tmp" . && mv -f "$bin.tmp" "$bin")
pinned || { echo "build-referrers-registry: $bin does not record $module $version" >&2; exit 1; }
