#!/usr/bin/env bash
# Builds a self-contained release package of the signet CLI: the binary plus
# every shared library it loads except the C library's own (glibc: the
# dynamic loader, libc, libm, libmvec, libpthread, libdl, librt, libresolv,
# libutil, libanl, libnss_*, ...), which must come from the machine it runs on.
# The binary gets the RUNPATH $ORIGIN/../lib and each bundled library
# $ORIGIN (set with patchelf), so the package runs from any directory on any
# x86-64/arm64 Linux whose glibc is at least the one the package reports.
#
#   scripts/package-release.sh [--binary FILE] [--out DIR] [--max-glibc X.Y]
#
#   --binary FILE    the signet binary to package (default: build/signet)
#   --out DIR        where the package goes (default: build/release)
#   --max-glibc X.Y  fail when the package needs a newer glibc than X.Y
#                    (e.g. 2.39 for Ubuntu 24.04)
#
# Writes DIR/signet-<version>-linux-<arch>/{bin/signet,lib/*}, the tarball
# DIR/signet-<version>-linux-<arch>.tar.gz and its DIR/...tar.gz.sha256, and
# prints the tarball's path on stdout. Needs ldd, patchelf, objdump and tar.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
binary="$repo_root/build/signet"
out_dir="$repo_root/build/release"
max_glibc=""

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "package-release: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || fail "--binary needs a file"; binary=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || fail "--out needs a directory"; out_dir=$2; shift 2 ;;
    --max-glibc)
      [ $# -ge 2 ] || fail "--max-glibc needs a version"
      [[ $2 =~ ^[0-9]+\.[0-9]+$ ]] || fail "--max-glibc '$2' is not X.Y"
      max_glibc=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail "unknown argument '$1'" ;;
  esac
done

for tool in ldd patchelf objdump tar sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/install-deps.sh installs it)"
done
[ -f "$binary" ] && [ -x "$binary" ] || fail "no executable signet binary at $binary"

version_line=$("$binary" --version) || fail "$binary --version failed"
version=${version_line#signet }
[[ $version =~ ^[0-9A-Za-z.+~-]+$ ]] || fail "unexpected version line '$version_line'"
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
name="signet-$version-linux-$arch"
package="$out_dir/$name"

# The C library's own objects: they only work with the exact libc beside them
# (GLIBC_PRIVATE), so the target machine supplies them.
is_glibc() {
  case "$1" in
    ld-linux*.so.* | linux-vdso.so.* | linux-gate.so.* | libc.so.* | libm.so.* | libmvec.so.* | \
      libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | libutil.so.* | libanl.so.* | \
      libnss_*.so.* | libBrokenLocale.so.* | libthread_db.so.* | libc_malloc_debug.so.*)
      return 0 ;;
  esac
  return 1
}

# "soname path" for every library the binary loads (ldd lists the whole
# closure). A library that cannot be found fails the build.
libraries=$(ldd "$binary") || fail "ldd $binary failed"
if grep -q "not found" <<<"$libraries"; then
  fail "$binary has unresolved libraries: $(grep 'not found' <<<"$libraries" | tr -s ' \t' ' ')"
fi

rm -rf "$package" "$package.tar.gz" "$package.tar.gz.sha256"
mkdir -p "$package/bin" "$package/lib"
install -m 0755 "$binary" "$package/bin/signet"
bundled=0
while read -r soname arrow path _; do
  [ "$arrow" = "=>" ] || continue
  is_glibc "$soname" && continue
  [ -f "$path" ] || fail "ldd named $path for $soname, which is not a file"
  install -m 0644 "$(readlink -f "$path")" "$package/lib/$soname"
  patchelf --set-rpath '$ORIGIN' "$package/lib/$soname"
  bundled=$((bundled + 1))
done <<<"$libraries"
[ "$bundled" -gt 0 ] || fail "found no libraries to bundle in the ldd output of $binary"
patchelf --set-rpath '$ORIGIN/../lib' "$package/bin/signet"

# Self-check: every library outside glibc now resolves inside the package.
while read -r soname arrow path _; do
  [ "$arrow" = "=>" ] || continue
  is_glibc "$soname" && continue
  case "$(readlink -f "$path")" in
    "$(readlink -f "$package/lib")"/*) ;;
    *) fail "$soname resolves to $path, outside the package" ;;
  esac
done < <(env -u LD_LIBRARY_PATH ldd "$package/bin/signet")

# The newest glibc symbol version any packaged file needs; GLIBC_PRIVATE would
# tie the package to one exact glibc build.
symbols=$(for file in "$package/bin/signet" "$package"/lib/*; do objdump -T "$file"; done)
if grep -q 'GLIBC_PRIVATE' <<<"$symbols"; then
  fail "a packaged file needs GLIBC_PRIVATE: it belongs to glibc and must not be bundled"
fi
needed_glibc=$(grep -o 'GLIBC_[0-9][0-9.]*' <<<"$symbols" | sed 's/^GLIBC_//' | sort -uV | tail -n1)
[ -n "$needed_glibc" ] || fail "found no GLIBC symbol versions in the package"
if [ -n "$max_glibc" ] &&
  [ "$(printf '%s\n%s\n' "$needed_glibc" "$max_glibc" | sort -V | tail -n1)" != "$max_glibc" ]; then
  fail "the package needs glibc $needed_glibc, newer than --max-glibc $max_glibc"
fi

cat >"$package/README" <<EOF
signet $version, self-contained for Linux $arch.

Run bin/signet from wherever this directory is unpacked: it finds its
libraries in lib/ (RUNPATH \$ORIGIN/../lib). Only the C library comes from the
system: glibc $needed_glibc or newer.
EOF

# Reproducible tarball: fixed owner, order and timestamps.
mtime=${SOURCE_DATE_EPOCH:-$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || echo 0)}
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
  -C "$out_dir" -czf "$package.tar.gz" "$name"
(cd "$out_dir" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")

echo "package-release: $name: $bundled libraries bundled, needs glibc >= $needed_glibc" >&2
echo "$package.tar.gz"
