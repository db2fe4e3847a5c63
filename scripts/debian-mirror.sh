#!/usr/bin/env bash
# Prints the URI of this machine's main Debian archive, read from its own apt
# sources, so that no file in the repository has to name a mirror host.
#
#   scripts/debian-mirror.sh [APT_ETC_DIR [RELEASE]]
#
# APT_ETC_DIR (default /etc/apt) holds sources.list (classic one-line format:
# `deb [options] URI SUITE COMPONENT...`) and sources.list.d/ with *.list files
# (same format) and *.sources files (deb822: `Types:`, `URIs:`, `Suites:`,
# `Components:`, optional `Enabled:`). RELEASE (default VERSION_CODENAME from
# /etc/os-release) is the machine's release, e.g. bookworm.
#
# The main archive is the first enabled `deb` entry whose suite is exactly
# RELEASE (so not RELEASE-security or RELEASE-updates) and whose components
# include main. Exits 1 with a message on stderr when there is none.
set -euo pipefail

apt_dir=${1:-/etc/apt}
release=${2:-}
if [[ -z $release ]]; then
  release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
fi
if [[ -z $release ]]; then
  echo "debian-mirror: cannot tell this machine's release (no VERSION_CODENAME in /etc/os-release)" >&2
  exit 1
fi

files=()
[[ -f $apt_dir/sources.list ]] && files+=("$apt_dir/sources.list")
shopt -s nullglob
for f in "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do files+=("$f"); done
shopt -u nullglob

uri=""
if [[ ${#files[@]} -gt 0 ]]; then
  uri=$(awk -v release="$release" '
    function has(list, word,   n, parts, i) {
      n = split(list, parts, /[ \t]+/)
      for (i = 1; i <= n; ++i) if (parts[i] == word) return 1
      return 0
    }
    function emit(uri) { sub(/\/+$/, "", uri); print uri; found = 1; exit }
    # One deb822 paragraph: every URI of an enabled deb entry for the release.
    function flush(   n, uris, i) {
      if (types != "" && has(types, "deb") && has(suites, release) && has(components, "main") &&
          tolower(enabled) != "no") {
        n = split(uris_field, uris, /[ \t]+/)
        for (i = 1; i <= n; ++i) if (uris[i] != "") emit(uris[i])
      }
      types = uris_field = suites = components = enabled = ""
    }
    FNR == 1 { if (deb822) flush(); deb822 = (FILENAME ~ /\.sources$/) }
    /^[ \t]*#/ { next }
    deb822 {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      line = $0
      if (match(line, /^[A-Za-z-]+:/)) {
        key = tolower(substr(line, 1, RLENGTH - 1))
        value = substr(line, RLENGTH + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", value)
        if (key == "types") types = value
        else if (key == "uris") uris_field = value
        else if (key == "suites") suites = value
        else if (key == "components") components = value
        else if (key == "enabled") enabled = value
      }
      next
    }
    {
      line = $0
      sub(/#.*/, "", line)
      gsub(/\[[^]]*\]/, "", line)  # [arch=... signed-by=...]
      n = split(line, f, /[ \t]+/)
      i = 1
      if (f[i] == "") ++i
      if (f[i] != "deb") next
      if (f[i + 2] != release) next
      for (c = i + 3; c <= n; ++c) if (f[c] == "main") emit(f[i + 1])
    }
    END { if (!found && deb822) flush() }
  ' "${files[@]}")
fi

if [[ -z $uri ]]; then
  echo "debian-mirror: no Debian archive for \"$release\" (a deb entry with suite $release and component main) in $apt_dir/sources.list or $apt_dir/sources.list.d/*.list|*.sources" >&2
  exit 1
fi
echo "$uri"
