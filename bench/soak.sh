#!/usr/bin/env bash
# Soak test of `signet serve`: steady load with injected faults, then a report.
#
#   bench/soak.sh [--duration SECONDS] [--rate REQ_PER_S] [--smoke]
#                 [--build-dir DIR] [--out FILE]
#
#   --duration   seconds of load (default 600). The registry restarts at 1/3 and
#                2/3 of it, the TLS certificate rotates at 1/2.
#   --rate       ProviderRequests per second (default 20).
#   --smoke      the one-minute run CI makes: --duration 60.
#   --build-dir  the CMake build tree holding `signet`, already built. Without it,
#                build-bench/ is used, and configured and built first (Release,
#                tests off) when `signet` is missing.
#   --out        the report. Default: bench/results/soak.md for a full run
#                (600 s or more), DIR/soak-smoke.md for a shorter one.
#
# Everything runs on 127.0.0.1: a docker-registry with signed and unsigned
# images, `signet serve` with mTLS and short cache TTLs, and the driver
# bench/tools/soak.py, which sends the requests, checks every answer, injects
# the faults and samples the provider's RSS and file descriptors. Every
# process started here is stopped on exit. The exit status is 0 only when
# every check of the report passes. SIGNET_SOAK_KEEP=1 keeps the work
# directory (provider and registry logs, result.json with every sample).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
tools="$bench/tools"

duration=600
rate=20
build_dir="$root/build-bench"
build_given=0
out=""
args=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift ;;
    --rate) rate=$2; shift ;;
    --smoke) duration=60 ;;
    --build-dir) build_dir=$(cd "$2" 2>/dev/null && pwd || echo "$2"); build_given=1; shift ;;
    --out) out=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ! [[ "$duration" =~ ^[0-9]+$ ]] || [ "$duration" -lt 30 ]; then
  echo "soak.sh: --duration must be a whole number of seconds, at least 30" >&2; exit 2
fi
full=0
if [ "$duration" -ge 600 ]; then full=1; fi
if [ -z "$out" ]; then
  if [ "$full" = 1 ]; then out="$bench/results/soak.md"; else out="$build_dir/soak-smoke.md"; fi
fi

# The system python (it has `cryptography`); a python3 earlier on PATH may be a slow shim.
py=$(command -v /usr/bin/python3 || command -v python3)
signet="$build_dir/signet"
if [ ! -x "$signet" ]; then
  if [ "$build_given" = 1 ]; then
    echo "soak.sh: $build_dir holds no signet; build it first" >&2
    exit 2
  fi
  echo "soak.sh: building signet in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIGNET_BUILD_TESTS=OFF -DSIGNET_TOOLS_DIR="$root/build/tools" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target signet
fi

# Provider settings: short TTLs keep cold verifications and tag lookups happening.
cache_ttl=5s
negative_ttl=3s
tag_ttl=3s
verification_workers=16
registry_down=2      # seconds the registry stays stopped at each restart
tail=5               # a restart's error window ends this long after the registry is back
signed_images=160
unsigned_images=24
flood_seconds=8      # each flood: idle connections, then hostile bodies
if [ "$full" != 1 ]; then signed_images=60; unsigned_images=12; flood_seconds=5; fi

work=$(mktemp -d /tmp/signet-soak.XXXXXX)
# Processes that may still run at exit: the registry (whose pid soak.py updates
# when it restarts it) and the provider. Each is stopped only while its command
# line still names our work directory.
stop_ours() {  # PIDFILE
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  rm -f "$1"
  if { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$work"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      if [ ! -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
  fi
}
cleanup() {
  stop_ours "$work/provider.pid"
  stop_ours "$work/registry.pid"
  if [ "${SIGNET_SOAK_KEEP:-0}" = 1 ]; then
    echo "soak.sh: kept $work (logs, result.json with every sample)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[soak $(date -u +%H:%M:%S)] $*" >&2; }
# free_port, wait_http, registry_config, machine_rows
. "$root/bench/tools/common.sh"

log "work dir $work, $duration s at $rate requests/s, report $out"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- certificates: CA, provider certificate and its replacement, client ------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/ca.key" -out "$work/ca.crt" -subj /CN=signet-soak-ca 2>/dev/null
issue() {  # NAME CN EXTENSIONS: NAME.key and NAME.crt signed by the CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%b' "$3" > "$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$work/$1.ext" \
    -out "$work/$1.crt" 2>/dev/null
}
server_ext='subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
issue tls 127.0.0.1 "$server_ext"
issue tls-next 127.0.0.1 "$server_ext"
issue client soak-client 'subjectAltName=DNS:soak-client\nextendedKeyUsage=clientAuth\n'
chmod 600 "$work"/*.key

# ---- registry and images -----------------------------------------------------------------
registry_port=$(free_port)
registry_config "$work" "$registry_port"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
echo $! > "$work/registry.pid"
wait_http "http://127.0.0.1:$registry_port/v2/"
registry="127.0.0.1:$registry_port"

"$py" "$tools/fixture.py" keygen "$work/keys"
log "pushing $signed_images signed and $unsigned_images unsigned images"
"$py" "$tools/fixture.py" push --registry "$registry" --ref-host "$registry" \
  --key "$work/keys/bench.key.pem" --count "$signed_images" --unsigned "$unsigned_images" \
  --out "$work/all-tags.txt" --out-digests "$work/all-digests.txt"
head -n "$signed_images" "$work/all-tags.txt" > "$work/signed-tags.txt"
head -n "$signed_images" "$work/all-digests.txt" > "$work/signed-digests.txt"
tail -n "$unsigned_images" "$work/all-tags.txt" > "$work/unsigned-tags.txt"
tail -n "$unsigned_images" "$work/all-digests.txt" > "$work/unsigned-digests.txt"

# ---- provider ----------------------------------------------------------------------------
provider_port=$(free_port)
health_port=$(free_port)  # the plain-HTTP /healthz, /readyz and /metrics listener
cat > "$work/signet.yaml" <<EOF
server:
  port: $provider_port
  address: 127.0.0.1
  tlsCertFile: $work/tls.crt
  tlsKeyFile: $work/tls.key
  clientCAFile: $work/ca.crt
  tlsMinVersion: "1.3"
  healthAddress: "127.0.0.1:$health_port"
verification:
  deadline: 2500ms
  workers: $verification_workers
  cacheTTL: $cache_ttl
  negativeCacheTTL: $negative_ttl
  tagCacheTTL: $tag_ttl
keys:
  - name: soak
    path: $work/keys/cosign.pub
registries:
  - host: "$registry"
    insecure: true
EOF
"$signet" serve --config "$work/signet.yaml" > "$work/provider.log" 2>&1 &
provider_pid=$!
echo "$provider_pid" > "$work/provider.pid"
if ! wait_http "https://127.0.0.1:$provider_port/healthz" --cacert "$work/ca.crt" \
    --cert "$work/client.crt" --key "$work/client.key"; then
  echo "soak.sh: signet serve did not answer within 15 s; its log:" >&2
  tail -n 20 "$work/provider.log" >&2
  exit 1
fi

# ---- the run -----------------------------------------------------------------------------
log "running the load for $duration s"
soak_rc=0
"$py" "$tools/soak.py" --url "https://127.0.0.1:$provider_port" --ca "$work/ca.crt" \
  --health-url "http://127.0.0.1:$health_port" \
  --flood-seconds "$flood_seconds" \
  --client-cert "$work/client.crt" --client-key "$work/client.key" \
  --server-cert "$work/tls.crt" --server-key "$work/tls.key" \
  --next-cert "$work/tls-next.crt" --next-key "$work/tls-next.key" \
  --provider-pid "$provider_pid" \
  --provider-summary "\`signet serve --config\`, mTLS (client CA), TLS 1.3, deadline 2.5 s, $verification_workers verification workers, cacheTTL $cache_ttl, negativeCacheTTL $negative_ttl, tagCacheTTL $tag_ttl, plain-HTTP registry" \
  --registry "$registry" --registry-config "$work/registry.yml" \
  --registry-pidfile "$work/registry.pid" --registry-log "$work/registry.log" \
  --registry-down "$registry_down" --tail "$tail" \
  --signing-key "$work/keys/bench.key.pem" \
  --signed-tags "$work/signed-tags.txt" --signed-digests "$work/signed-digests.txt" \
  --unsigned-tags "$work/unsigned-tags.txt" --unsigned-digests "$work/unsigned-digests.txt" \
  --duration "$duration" --rate "$rate" \
  --report "$work/body.md" --json "$work/result.json" || soak_rc=$?

# Graceful shutdown: SIGTERM must end the provider with status 0.
stop_start=$(date +%s.%N)
kill -TERM "$provider_pid" 2>/dev/null || true
# A provider that does not stop within 30 s is killed (and the check fails).
( sleep 30; kill -KILL "$provider_pid" ) >/dev/null 2>&1 &
watchdog=$!
provider_rc=0
wait "$provider_pid" || provider_rc=$?
kill "$watchdog" 2>/dev/null || true
wait "$watchdog" 2>/dev/null || true
stop_s=$(awk -v a="$stop_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
rm -f "$work/provider.pid"
if [ ! -s "$work/body.md" ]; then
  echo "soak.sh: the driver wrote no report (exit $soak_rc); provider log tail:" >&2
  tail -n 20 "$work/provider.log" >&2
  exit 1
fi
verdict=PASS
if [ "$soak_rc" != 0 ] || [ "$provider_rc" != 0 ]; then verdict=FAIL; fi

# ---- report ----------------------------------------------------------------------------
# The version is that of the source tree the binary was built from.
source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
source_dir=${source_dir:-$root}
# The command line as run, with paths outside the repository left out.
shown=()
for arg in "${args[@]}"; do
  case "$arg" in
    "$root"/*) shown+=("${arg#"$root"/}") ;;
    /*) shown+=("DIR") ;;
    *) shown+=("$arg") ;;
  esac
done
mkdir -p "$(dirname "$out")"
{
  echo "# signet soak test"
  echo
  if [ "$full" != 1 ]; then
    echo "**Short run** ($duration s): the fault schedule is scaled down; the full test is 600 s."
    echo
  fi
  echo "Produced by \`bench/soak.sh ${shown[*]}\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "**Result: $verdict**"
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "| --- | --- |"
  machine_rows
  echo "| load average at the start / end | $load_start / $(cut -d' ' -f1-3 /proc/loadavg) |"
  echo "| signet | $(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$source_dir" diff --quiet HEAD -- src 2>/dev/null || echo ' (with local changes under src/)'), build type $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null) |"
  echo "| compiler | $(c++ --version | head -n 1) |"
  echo "| OpenSSL | $(openssl version) |"
  echo "| tools | docker-registry $(docker-registry --version 2>/dev/null | awk '{ print $NF }'), $("$py" --version), cryptography $("$py" -c 'import cryptography; print(cryptography.__version__)') |"
  echo
  cat "$work/body.md"
  echo "| provider exits 0 on SIGTERM after the run | exit $provider_rc after $stop_s s | 0 | $([ "$provider_rc" = 0 ] && echo PASS || echo '**FAIL**') |"
} > "$out"
log "report written to $out: $verdict"
if [ "$verdict" != PASS ]; then
  tail -n 5 "$work/provider.log" >&2
  exit 1
fi
