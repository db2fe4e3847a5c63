#!/usr/bin/env bash
# Runs every signet benchmark side by side and writes a markdown report.
#
#   bench/run.sh [--smoke] [--build-dir DIR] [--out FILE] [--skip LIST | --only LIST]
#
#   --smoke      a few seconds per section: checks that every benchmark runs,
#                measures nothing worth reading. Writes DIR/bench-smoke.md
#                unless --out is given.
#   --build-dir  the CMake build tree holding `signet` and `bench/crypto_bench`,
#                already built. Without it, build-bench/ is used, and configured
#                and built first (Release, tests off) when the binaries are missing.
#   --out        the report (default: bench/results/latest.md).
#   --skip LIST  comma-separated sections to leave out: crypto, warm, cold,
#                scale, memory, cli, replicas, outage. Skipped sections say so in
#                the report.
#   --only LIST  comma-separated sections to run; every other one is skipped
#                (`--only warm` runs the warm-cache comparison with nginx alone).
#                Without the scale and outage sections, only the images the others
#                need are pushed.
#
# Everything runs on 127.0.0.1: a docker-registry, a python proxy in front of
# it (429 throttling) or bench/tools/delay_proxy (added latency, section 3),
# `signet serve`, nginx as the baseline,
# wrk as the load generator, and reference cosign 2.5.0. Every process started
# here is stopped on exit. The exit status is non-zero when a section that was
# not skipped failed to run, or when the outage section saw an image that was
# not verified before answered valid. SIGNET_BENCH_KEEP=1 keeps the work directory (logs,
# the client's and the proxy's JSON, the provider's /metrics after each rollout).
# SIGNET_BENCH_WARM_ARGS adds flags to the warm section's `signet serve` (split on spaces),
# e.g. "--log-level warn" to measure it without its per-request log lines; the report says so.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench="$root/bench"
tools="$bench/tools"

smoke=0
build_dir="$root/build-bench"
build_given=0
out=""
skip=","
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build_dir=$(cd "$2" 2>/dev/null && pwd || echo "$2"); build_given=1; shift ;;
    --out) out=$2; shift ;;
    --skip) skip=",$2,"; shift ;;
    --only)
      skip=","
      for section in crypto warm cold scale memory cli replicas outage; do
        case ",$2," in *",$section,"*) ;; *) skip="$skip$section," ;; esac
      done
      shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ "$smoke" = 1 ]; then out="$build_dir/bench-smoke.md"; else out="$bench/results/latest.md"; fi
fi

# ---- sizes: full run vs smoke ------------------------------------------------------------
if [ "$smoke" = 1 ]; then
  images=20; wrk_seconds=1; delay_ms=5; cold_many=10; concurrent=10
  pods=200; burst=50; gap_ms=50; rate=50; cli_runs=2; cache_entries=2000
  bench_min_time=0.01; key_counts="1 10"; cold_repeats=1; replica_pods=100
  outage_pods=200; outage_burst=20; outage_pre=3; outage_len=5; outage_post=3; outage_ttl=2
  outage_unsigned=4
else
  images=500; wrk_seconds=10; delay_ms=20; cold_many=100; concurrent=50
  pods=10000; burst=500; gap_ms=200; rate=100; cli_runs=15; cache_entries=100000
  bench_min_time=0.5; key_counts="1 10 100"; cold_repeats=3; replica_pods=2000
  outage_pods=10000; outage_burst=250; outage_pre=40; outage_len=60; outage_post=40; outage_ttl=45
  outage_unsigned=20
fi
wrk_connections=16
skipped() { case "$skip" in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
# The scale and outage sections are what need many distinct images; the others use at most
# cold_many of them (and 100 digest references for the warm section).
if skipped scale && skipped outage && [ "$images" -gt 100 ]; then images=$((cold_many > 100 ? cold_many : 100)); fi

# The system python (it has `cryptography`); a python3 earlier on PATH may be a slow shim.
py=$(command -v /usr/bin/python3 || command -v python3)
signet="$build_dir/signet"
crypto_bench="$build_dir/bench/crypto_bench"
delay_proxy="$build_dir/bench/delay_proxy"
cache_bench="$build_dir/bench/cache_memory"
# Reference cosign: $SIGNET_COSIGN, else the tools directory the build tree was
# configured with (SIGNET_TOOLS_DIR), else build/tools of this checkout.
tools_dir=$(sed -n 's/^SIGNET_TOOLS_DIR:PATH=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
cosign="${SIGNET_COSIGN:-${tools_dir:-$root/build/tools}/cosign/usr/bin/cosign}"

need_crypto_bench=1
if skipped crypto; then need_crypto_bench=0; fi
need_delay_proxy=1
if skipped cold; then need_delay_proxy=0; fi
if [ ! -x "$signet" ] || { [ "$need_crypto_bench" = 1 ] && [ ! -x "$crypto_bench" ]; } \
  || { [ "$need_delay_proxy" = 1 ] && [ ! -x "$delay_proxy" ]; }; then
  if [ "$build_given" = 1 ]; then
    echo "run.sh: $build_dir holds no signet, bench/crypto_bench or bench/delay_proxy; build them first" >&2
    exit 2
  fi
  echo "run.sh: building signet and the benchmarks in $build_dir"
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSIGNET_BUILD_TESTS=OFF -DSIGNET_BUILD_BENCH=ON \
    -DSIGNET_TOOLS_DIR="$root/build/tools" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target signet crypto_bench delay_proxy
  cmake --build "$build_dir" -j "$(nproc)" --target cache_memory 2>/dev/null || true
fi

work=$(mktemp -d /tmp/signet-bench.XXXXXX)
# Every background process is recorded in $work/pids (sections run in
# subshells, so a shell variable would not survive them) and stopped on exit.
track() { echo "$1" >> "$work/pids"; }
cleanup() {
  local pid
  if [ -f "$work/pids" ]; then
    while read -r pid; do
      # Only a process that is still ours (its command line names our files).
      if { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -e "$work" -e "$tools/proxy.py" -e "$delay_proxy"; then
        kill "$pid" 2>/dev/null || true
      fi
    done < "$work/pids"
    sleep 0.3
  fi
  if [ "${SIGNET_BENCH_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }
jget() {  # FILE KEY: a top-level value of a JSON object, arrays and objects as compact JSON
  jq -r --arg k "$2" '.[$k] | if type == "array" or type == "object" then tojson else . end' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%.2f", a }'; }
verdict() { if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo "met"; else echo "**not met**"; fi; }
# free_port, wait_http, machine_rows
. "$root/bench/tools/common.sh"
stop_pidfile() {  # stops the process whose pid FILE holds, and waits for it to go
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  rm -f "$1"
  kill "$pid" 2>/dev/null || return 0
  wait "$pid" 2>/dev/null || true  # reaps it when it is a child of this shell
  for _ in $(seq 50); do
    if [ ! -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
}
failures=()
sections="$work/sections"
mkdir -p "$sections"
# Runs section function $2 with its markdown output in sections/$1.md; a
# failure is recorded, reported and does not stop the other sections.
run_section() {
  local name=$1 fn=$2 title=$3
  local md="$sections/$name.md"
  echo "## $title" > "$md"
  echo >> "$md"
  if skipped "$name"; then
    echo "Not run: skipped with --skip." >> "$md"
    return 0
  fi
  log "section $name"
  if ! ( set -euo pipefail; trap stop_provider EXIT; "$fn" "$md" ) 2> "$work/$name.err"; then
    failures+=("$name")
    { echo "**Not run to completion** — the section failed:"; echo; echo '```'
      tail -n 15 "$work/$name.err"; echo '```'; } >> "$md"
    log "section $name FAILED (see report)"
    tail -n 15 "$work/$name.err" >&2
  fi
}

# ---- shared fixture: certificates, registry, proxy, signed images ------------------------
log "work dir $work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$work/ca.key" -out "$work/ca.crt" -subj /CN=signet-bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$work/tls.key" -out "$work/tls.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null

registry_port=$(free_port)
registry_config "$work" "$registry_port" 1
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
track $!
wait_http "http://127.0.0.1:$registry_port/v2/"

proxy_port=$(free_port)
# start_proxy [proxy.py options]: (re)starts the proxy on the same port, so image
# references stay valid while the latency and rate limit change.
start_proxy() {
  stop_pidfile "$work/proxy.pid"
  "$py" "$tools/proxy.py" --listen "$proxy_port" --upstream "127.0.0.1:$registry_port" "$@" \
    > "$work/proxy.log" 2>&1 &
  echo $! > "$work/proxy.pid"
  track $!
  wait_http "http://127.0.0.1:$proxy_port/__bench/stats"
}
start_proxy
# start_delay_proxy MS: in place of the python proxy, on the same port, bench/tools/delay_proxy
# (C++, one thread): MS of round trip added as link latency, half each way, and one round trip
# before a new connection carries a byte, as `tc netem` on a network namespace's link would add
# it (this machine's kernel has no netem qdisc). It neither parses nor counts requests (the
# registry's access log does); on stop it writes its connection counts to
# $work/delay-proxy.json. start_proxy brings the python proxy back.
start_delay_proxy() {
  stop_pidfile "$work/proxy.pid"
  "$delay_proxy" --listen "$proxy_port" --upstream "127.0.0.1:$registry_port" --delay-ms "$1" \
    > "$work/delay-proxy.json" 2> "$work/delay-proxy.log" &
  echo $! > "$work/proxy.pid"
  track $!
  wait_http "http://127.0.0.1:$proxy_port/v2/"
}
registry_requests() {  # registry API requests in the access log so far
  grep -cE '"(GET|HEAD) /v2/' "$work/registry.log" || true
}

"$py" "$tools/fixture.py" keygen "$work/keys"
pub="$work/keys/cosign.pub"
log "pushing $images signed images"
# Plus 1 + cold_repeats unsigned ones: the cold section signs all but the first of them in the
# Sigstore bundle format.
"$py" "$tools/fixture.py" push --registry "127.0.0.1:$registry_port" \
  --ref-host "127.0.0.1:$proxy_port" --key "$work/keys/bench.key.pem" \
  --count "$images" --unsigned "$((1 + cold_repeats))" --out "$work/all-refs.txt" --out-digests "$work/all-digest-refs.txt"
head -n "$images" "$work/all-refs.txt" > "$work/refs.txt"
head -n "$images" "$work/all-digest-refs.txt" > "$work/digest-refs.txt"

# ---- provider lifecycle ------------------------------------------------------------------
provider_url=""
stop_provider() { stop_pidfile "$work/provider.pid"; }
# start_provider [ARGS...]: a fresh `signet serve` (empty cache) with extra ARGS, waits until
# it answers.
start_provider() {
  stop_provider
  local provider_port
  provider_port=$(free_port)  # a new port each time: no wait for the old one to be released
  provider_url="https://127.0.0.1:$provider_port"
  "$signet" serve --address 127.0.0.1 --port "$provider_port" --tls-min-version 1.3 \
    --tls-cert-file "$work/tls.crt" \
    --tls-key-file "$work/tls.key" --key "$pub" --allow-insecure-registry \
    --health-addr 127.0.0.1:0 "$@" > "$work/provider.log" 2>&1 &
  provider_pid=$!
  echo "$provider_pid" > "$work/provider.pid"
  track "$provider_pid"
  if ! wait_http "$provider_url/metrics" --cacert "$work/ca.crt"; then
    echo "signet serve did not answer on $provider_url within 15 s; its log:" >&2
    tail -n 20 "$work/provider.log" >&2
    return 1
  fi
}
proc_kib() {  # PID FIELD (VmRSS, VmHWM) -> KiB
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
client() { "$py" "$tools/client.py" "$@" --url "$provider_url/validate" --ca "$work/ca.crt"; }

# ---- 1. crypto core ----------------------------------------------------------------------
section_crypto() {
  local md=$1
  "$crypto_bench" --benchmark_min_time="$bench_min_time" --benchmark_format=json \
    --benchmark_out="$work/crypto.json" --benchmark_out_format=json > /dev/null
  "$py" - "$work/crypto.json" >> "$md" <<'PY'
import json, sys
runs = {b["name"].split("/")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("run_type", "iteration") == "iteration"}
def ops(name):
    b = runs.get(name)
    return b["items_per_second"] if b and "items_per_second" in b else None
print("| benchmark | ops/s | ratio | target | result |")
print("| --- | ---: | ---: | --- | --- |")
base = ops("BM_OpenSslEvpVerifyP256")
rows = [("BM_OpenSslEvpVerifyP256", "bare OpenSSL EVP ECDSA P-256 verify (baseline)", None),
        ("BM_SignetVerifierP256", "signet `Verifier::Verify` ECDSA P-256", "ratio ≥ 0.90"),
        ("BM_PayloadParseAndClaims", "payload parse + claims check", None),
        ("BM_VerifyImageInMemory", "whole `cosign::VerifyImage` against an in-memory registry", None),
        ("BM_CacheLookupHit", "provider cache lookup (hit)", None),
        ("BM_CacheLookupMiss", "provider cache lookup (miss)", None),
        ("BM_DecideCachedKey", "provider engine: one cached key (parse, policy, cache)", None),
        ("BM_RequestBodyDom100", "/validate body of 100 keys as a JSON DOM (the reading before)", None),
        ("BM_RequestBodyParse100", "/validate body of 100 keys, `ParseProviderRequest` (no DOM)", None)]
for name, label, target in rows:
    v = ops(name)
    if v is None:
        print(f"| {label} | not built | | {target or ''} | not run |")
        continue
    r = v / base if base else 0
    result = ""
    if target:
        result = "met" if r >= 0.90 else "**not met**"
    print(f"| {label} | {v:,.0f} | {r:.2f} | {target or '—'} | {result or '—'} |")
ctx = json.load(open(sys.argv[1])).get("context", {})
print()
print("Google Benchmark; ops/s are per CPU-second of the benchmark thread (steadier than wall "
      "time on a shared machine). Ratio = ops/s ÷ bare OpenSSL ops/s; both loops verify the "
      "same signature over the same payload with the same key. The cache rows use the "
      "provider's LRU cache holding 100,000 entries; the engine row goes through "
      "`VerificationService::Decide` with an instant verifier.")
dom, sax = ops("BM_RequestBodyDom100"), ops("BM_RequestBodyParse100")
if dom and sax:
    print()
    print(f"Reading a 100-key /validate body without a DOM: {sax / dom:.2f} × the bodies per "
          "second of building the DOM and copying its keys out (same body, same bounds scan).")
PY
}

# ---- 2. provider, warm cache, vs nginx ---------------------------------------------------
section_warm() {
  local md=$1
  # shellcheck disable=SC2086  # the flags are split on purpose
  start_provider ${SIGNET_BENCH_WARM_ARGS:-}
  rss_idle_kib=$(proc_kib "$provider_pid" VmRSS)
  echo "$rss_idle_kib" > "$work/rss_idle_kib"
  # Digest references: a cached entry never needs the registry again.
  mkdir -p "$work/nginx/html" "$work/nginx/tmp" "$work/nginx/logs"
  local n
  for n in $key_counts; do
    client body --refs "$work/digest-refs.txt" --n "$n" > "$work/body-$n.json"
    # Prime the cache and keep the answer: nginx serves the same bytes. A key
    # still verifying at the deadline (many cold images on a loaded machine)
    # keeps verifying and fills the cache: ask again, a few times, while the
    # only errors are timeouts.
    local errors attempt
    for attempt in 1 2 3 4 5; do
      curl -s --cacert "$work/ca.crt" -H 'Content-Type: application/json' \
        --data-binary "@$work/body-$n.json" "$provider_url/validate" > "$work/nginx/html/answer-$n.json"
      errors=$("$py" -c 'import json,sys
r=json.load(open(sys.argv[1]))["response"]
items=r.get("items") or []
errs=[i["error"] for i in items if i.get("error")]
print(len(errs), len(items), "timeouts-only" if errs and all(e.endswith("_invalid: verification timed out") for e in errs) else "")' \
        "$work/nginx/html/answer-$n.json")
      case "$errors" in *timeouts-only) sleep 2 ;; *) break ;; esac
    done
    errors=${errors% timeouts-only}
    errors=${errors% }
    if [ "${errors% *}" != 0 ] || [ "${errors#* }" != "$n" ]; then
      echo "priming with $n keys: expected $n valid items, got (errors, items) = $errors" >&2
      head -c 400 "$work/nginx/html/answer-$n.json" >&2
      return 1
    fi
  done
  local nginx_port
  nginx_port=$(free_port)
  cat > "$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp;
  default_type application/json;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/tls.crt;
    ssl_certificate_key $work/tls.key;
    ssl_protocols TLSv1.3;
    root $work/nginx/html;
  }
}
EOF
  chmod -R a+rX "$work/nginx/html"
  chmod a+x "$work"
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" > "$work/nginx/logs/stdout.log" 2>&1 &
  local nginx_pid=$!
  track "$nginx_pid"
  wait_http "https://127.0.0.1:$nginx_port/answer-1.json" --cacert "$work/ca.crt"
  local before after
  before=$(registry_requests)
  {
    echo "| keys | connections | answer bytes | signet req/s | nginx req/s | ratio | signet p50 / p99 / p99.9 ms | nginx p50 / p99 / p99.9 ms | p99 ratio | errors (signet/nginx) | targets |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- |"
  } >> "$md"
  # warm_row KEYS CONNECTIONS: one wrk run against each server, one table row.
  warm_row() {
    local n=$1 c=$2
    local s="$work/wrk-signet-$n-$c.json" g="$work/wrk-nginx-$n-$c.json"
    BENCH_BODY="$work/body-$n.json" wrk -t1 -c"$c" -d"${wrk_seconds}s" \
      -s "$bench/wrk/report.lua" "$provider_url/validate" | tail -n 1 > "$s"
    BENCH_BODY="" wrk -t1 -c"$c" -d"${wrk_seconds}s" \
      -s "$bench/wrk/report.lua" "https://127.0.0.1:$nginx_port/answer-$n.json" \
      | tail -n 1 > "$g"
    local srps grps r p99r target
    srps=$(jget "$s" rps); grps=$(jget "$g" rps); r=$(ratio "$srps" "$grps")
    p99r=$(ratio "$(jget "$s" p99_ms)" "$(jget "$g" p99_ms)")
    target="req/s ≥ 0.50 × nginx: $(verdict "$r" '>=' 0.5); p99 ≤ 1.5 × nginx: $(verdict "$p99r" '<=' 1.5)"
    if [ "$n" = 1 ]; then
      target="$target; p99 < 1 ms: $(verdict "$(jget "$s" p99_ms)" '<' 1)"
    fi
    echo "| $n | $c | $(stat -c %s "$work/nginx/html/answer-$n.json") | $(fmt "$srps") | $(fmt "$grps") | $r | $(jget "$s" p50_ms) / $(jget "$s" p99_ms) / $(jget "$s" p999_ms) | $(jget "$g" p50_ms) / $(jget "$g" p99_ms) / $(jget "$g" p999_ms) | $p99r | $(( $(jget "$s" errors) + $(jget "$s" non_2xx) )) / $(( $(jget "$g" errors) + $(jget "$g" non_2xx) )) | $target |" >> "$md"
  }
  local c
  for n in $key_counts; do
    for c in 1 "$wrk_connections"; do
      warm_row "$n" "$c"
    done
  done
  after=$(registry_requests)
  kill "$nginx_pid" 2>/dev/null || true
  stop_provider
  {
    echo
    echo "wrk, 1 thread, 1 or $wrk_connections keep-alive connections, ${wrk_seconds} s per server and row, TLS 1.3 on"
    echo "both servers with the same P-256 certificate; signet answers POST /validate from its cache"
    echo "(digest references, primed once), nginx serves a static file with signet's exact answer"
    echo "(GET). Registry requests during the measured runs: $((after - before)) (0 means every"
    echo "answer came from the cache). Load generator and servers share the machine's CPUs."
    if [ -n "${SIGNET_BENCH_WARM_ARGS:-}" ]; then
      echo
      echo "signet serve ran with the extra flags \`${SIGNET_BENCH_WARM_ARGS}\` (SIGNET_BENCH_WARM_ARGS)."
    fi
  } >> "$md"
}

# cold_once NAME REFS EXPECT [PROVIDER ARGS...]: one cold verification of the image in REFS by a
# fresh provider started with PROVIDER ARGS. Writes the client's answer to $work/cold-NAME.json
# and the registry requests it caused (from the registry's access log) to
# $work/cold-NAME.requests. EXPECT is the digest reference the answer must hold as its one
# valid item, or "deny" when the one item must be an error; any other answer fails. (Callers
# add `|| return 1`: run_section tests the section's status, so `set -e` is off inside it.)
cold_once() {
  local name=$1 refs=$2 expect=$3
  shift 3
  start_provider "$@" || return 1
  local before after answer="$work/cold-$name.json"
  before=$(registry_requests)
  client once --refs "$refs" --n 1 --timeout 30 > "$answer"
  sleep 0.2
  after=$(registry_requests)
  grep -E '"(GET|HEAD) /v2/' "$work/registry.log" | tail -n +"$((before + 1))" \
    | head -n "$((after - before))" > "$work/cold-$name.requests" || true
  local ok
  if [ "$expect" = deny ]; then
    ok=$(jq -r '.status == 200 and .items == 1 and .item_errors == 1 and .system_error == ""
      and (.timed_out | not) and .values == [null]' "$answer")
  else
    ok=$(jq -r --arg v "$expect" '.status == 200 and .items == 1 and .item_errors == 0
      and .system_error == "" and (.timed_out | not) and .values == [$v]' "$answer")
  fi
  if [ "$ok" != true ]; then
    echo "cold verification $name ($(cat "$refs")): expected ${expect/#deny/a denial}, got $(cat "$answer")" >&2
    return 1
  fi
}
cpu_ms() {  # PID: its user + system CPU time so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' "/proc/$1/stat"
}
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
requests_line() {  # FILE of access log lines -> "GET /v2/...; HEAD ..." with digests masked
  sed -E 's/.*"(GET|HEAD) ([^ ]*) .*/\1 \2/' "$1" \
    | sed -E 's/sha256:[0-9a-f]{64}/<digest>/g; s/sha256-[0-9a-f]{64}/sha256-<hex>/g' \
    | tr '\n' ';' | sed 's/;$//; s/;/; /g'
}

# ---- 3. provider, cold cache, with added latency -----------------------------------------
section_cold() {
  local md=$1
  local tag_refs="$work/refs.txt"
  # The images after the legacy-signed ones and the one unsigned image are signed here by
  # `signet sign` in its default format (a Sigstore bundle in the fallback tag: docker-registry
  # has no referrers API), through the proxy before it adds latency, with the same key.
  local bundle_refs="$work/bundle-refs.txt" bundle_digests="$work/bundle-digest-refs.txt"
  sed -n "$((images + 2)),$((images + 1 + cold_repeats))p" "$work/all-refs.txt" > "$bundle_refs"
  sed -n "$((images + 2)),$((images + 1 + cold_repeats))p" "$work/all-digest-refs.txt" \
    > "$bundle_digests"
  if [ "$(wc -l < "$bundle_refs")" != "$cold_repeats" ]; then
    echo "expected $cold_repeats unsigned images to sign in the bundle format" >&2; return 1
  fi
  if [ ! -f "$work/keys/import.key" ]; then
    COSIGN_PASSWORD=bench "$signet" import-key-pair --key "$work/keys/bench.key.pem" \
      --output-key-prefix "$work/keys/import" > "$work/import-key.log" 2>&1 \
      || { cat "$work/import-key.log" >&2; return 1; }
  fi
  local ref
  while read -r ref; do
    COSIGN_PASSWORD=bench "$signet" sign --key "$work/keys/import.key" --yes \
      --tlog-upload=false "$ref" > "$work/sign-bundle.log" 2>&1 \
      || { cat "$work/sign-bundle.log" >&2; return 1; }
  done < "$bundle_refs"
  start_delay_proxy "$delay_ms"
  # (a) one cold verification, repeated on three images (one in a smoke run) with a fresh
  # provider each time: a legacy-signed image with the legacy .sig format only
  # (--signature-formats legacy), then the same image with the default (Sigstore bundle
  # discovery beside the legacy fetches), then a bundle-signed image with the default; all
  # three in the same run, behind the same proxy. Each must answer valid with the image's digest.
  local i trips=() one_ms=() both_trips=() both_ms=() bundle_trips=() bundle_ms=()
  for i in $(seq "$cold_repeats"); do
    sed -n "${i}p" "$tag_refs" > "$work/one.txt"
    sed -n "${i}p" "$bundle_refs" > "$work/bundle-one.txt"
    local digest_ref bundle_digest_ref
    digest_ref=$(sed -n "${i}p" "$work/digest-refs.txt")
    bundle_digest_ref=$(sed -n "${i}p" "$bundle_digests")
    cold_once "one-$i" "$work/one.txt" "$digest_ref" --signature-formats legacy || return 1
    trips+=("$(wc -l < "$work/cold-one-$i.requests")")
    one_ms+=("$(jget "$work/cold-one-$i.json" ms)")
    cold_once "both-$i" "$work/one.txt" "$digest_ref" || return 1
    both_trips+=("$(wc -l < "$work/cold-both-$i.requests")")
    both_ms+=("$(jget "$work/cold-both-$i.json" ms)")
    cold_once "bundle-$i" "$work/bundle-one.txt" "$bundle_digest_ref" || return 1
    bundle_trips+=("$(wc -l < "$work/cold-bundle-$i.requests")")
    bundle_ms+=("$(jget "$work/cold-bundle-$i.json" ms)")
  done
  # Control: the bundle-signed image has no legacy signature, so its valid answers above came
  # from the bundle; with the legacy format only it is denied.
  cold_once "bundle-legacy" "$work/bundle-one.txt" deny --signature-formats legacy || return 1
  if ! jq -e '.first_error | endswith("no signatures found")' "$work/cold-bundle-legacy.json" \
    > /dev/null; then
    echo "bundle-signed image with --signature-formats legacy: expected \"no signatures found\"," \
      "got $(cat "$work/cold-bundle-legacy.json")" >&2
    return 1
  fi
  local one_median both_median bundle_median
  one_median=$(median "${one_ms[@]}")
  both_median=$(median "${both_ms[@]}")
  bundle_median=$(median "${bundle_ms[@]}")
  # The access logs of the last legacy-only and bundle verifications, for the table.
  local last_requests last_bundle_requests
  last_requests=$(requests_line "$work/cold-one-$cold_repeats.requests")
  last_bundle_requests=$(requests_line "$work/cold-bundle-$cold_repeats.requests")
  # (b) 100 images cold vs 1 image cold (legacy format only, as (a)'s reference): with the
  # default settings, then with more workers and registry concurrency, with a token bucket as
  # large as the request's 3 requests per image, and the first two without the registry rate
  # limit (the token bucket), all behind the same latency; each with a
  # fresh delay proxy, whose counts show the connections it took. CPU times show what worked.
  local many_rows=() many_names=() many_args=()
  local more="--workers 64 --registry-max-concurrent-requests 64"
  many_names+=("default settings"); many_args+=("")
  many_names+=("\`$more\`"); many_args+=("$more")
  many_names+=("\`--registry-burst $((3 * cold_many))\` (a bucket that holds the whole request)")
  many_args+=("--registry-burst $((3 * cold_many))")
  many_names+=("\`--registry-requests-per-second 0\` (no rate limit)")
  many_args+=("--registry-requests-per-second 0")
  many_names+=("\`$more --registry-requests-per-second 0\`")
  many_args+=("$more --registry-requests-per-second 0")
  local k before after
  for k in "${!many_names[@]}"; do
    start_delay_proxy "$delay_ms"
    # shellcheck disable=SC2086 # the arguments are words
    start_provider --signature-formats legacy ${many_args[$k]}
    local proxy_pid cpu_before proxy_cpu_before registry_cpu_before
    proxy_pid=$(cat "$work/proxy.pid")
    cpu_before=$(cpu_ms "$provider_pid")
    proxy_cpu_before=$(cpu_ms "$proxy_pid")
    registry_cpu_before=$(cpu_ms "$registry_pid")
    before=$(registry_requests)
    client once --refs "$tag_refs" --n "$cold_many" --timeout 60 > "$work/cold-many-$k.json"
    sleep 0.2
    after=$(registry_requests)
    local cpu proxy_cpu registry_cpu
    cpu=$(($(cpu_ms "$provider_pid") - cpu_before))
    registry_cpu=$(($(cpu_ms "$registry_pid") - registry_cpu_before))
    proxy_cpu=$(($(cpu_ms "$proxy_pid") - proxy_cpu_before))
    stop_provider
    stop_pidfile "$work/proxy.pid"
    local m
    m=$(jget "$work/cold-many-$k.json" ms)
    many_rows+=("| cold latency, $cold_many images in one request, ${many_names[$k]} | $(fmt "$m") ms ($(jget "$work/cold-many-$k.json" item_errors) item errors, $((after - before)) registry requests, $(jget "$work/delay-proxy.json" connections) connections, at most $(jget "$work/delay-proxy.json" peak_open_connections) open at once; CPU time: provider $cpu ms, registry $registry_cpu ms, delay proxy $proxy_cpu ms) | — | — |")
    many_rows+=("| latency($cold_many images) ÷ latency(1 image), ${many_names[$k]} | $(ratio "$m" "$one_median") | ≤ 3 | $(verdict "$(ratio "$m" "$one_median")" '<=' 3) |")
  done
  start_delay_proxy "$delay_ms"
  # (c) concurrent identical cold requests vs one (legacy format only).
  start_provider --signature-formats legacy
  sed -n "5p" "$tag_refs" > "$work/same.txt"
  before=$(registry_requests)
  client concurrent --refs "$work/same.txt" --n 1 --clients "$concurrent" --timeout 30 \
    > "$work/cold-concurrent.json"
  sleep 0.2
  after=$(registry_requests)
  local concurrent_trips=$((after - before))
  stop_provider
  start_proxy
  local max_trips
  max_trips=$(printf '%s\n' "${trips[@]}" | sort -n | tail -n 1)
  {
    echo "Registry behind \`bench/tools/delay_proxy\` (C++, one thread, no request parsing) adding"
    echo "${delay_ms} ms per round trip as link latency (half each way) and one round trip before a new"
    echo "connection carries a byte, as \`tc netem\` would (this machine's kernel has no netem qdisc)."
    echo "Each measurement starts a fresh \`signet serve\` (empty cache, default settings unless the"
    echo "row names flags; \`--signature-formats legacy\` unless the row says \"both"
    echo "formats\"); tag references, anonymous registry (no token fetches). Legacy-signed images"
    echo "(\`sha256-<hex>.sig\`) unless the row says \"bundle-signed\": those images were signed by"
    echo "\`signet sign\` in its default format (cosign v3's Sigstore bundle; docker-registry has no"
    echo "referrers API, so it is listed in the fallback tag \`sha256-<hex>\`) and carry no legacy"
    echo "signature (with \`--signature-formats legacy\` one is denied: \"no signatures found\"). Every"
    echo "1-image row is of verifications that answered valid with the image's digest."
    echo
    echo "| measurement | value | target | result |"
    echo "| --- | ---: | --- | --- |"
    echo "| registry round trips per cold verification (each of $cold_repeats image(s)) | ${trips[*]} | ≤ 3 | $(verdict "$max_trips" '<=' 3) |"
    echo "| cold latency, 1 image (median of $cold_repeats) | $(fmt "$one_median") ms | — | — |"
    echo "| both formats (default): registry requests per cold verification | ${both_trips[*]} | — | — |"
    echo "| both formats: cold latency, 1 image (median of $cold_repeats) | $(fmt "$both_median") ms | — | — |"
    echo "| latency(both formats) ÷ latency(legacy only), 1 image | $(ratio "$both_median" "$one_median") | — | — |"
    echo "| bundle-signed image, both formats (default): registry requests per cold verification | ${bundle_trips[*]} | — | — |"
    echo "| bundle-signed image: cold latency, 1 image (median of $cold_repeats) | $(fmt "$bundle_median") ms | — | — |"
    echo "| latency(bundle-signed, both formats) ÷ latency(legacy-signed, legacy only), 1 image | $(ratio "$bundle_median" "$one_median") | — | — |"
    printf '%s\n' "${many_rows[@]}"
    echo "| registry requests caused by $concurrent concurrent identical cold requests | $concurrent_trips (one request: ${trips[0]}) | same as one request | $(verdict "$concurrent_trips" '<=' "${trips[0]}") |"
    echo "| those $concurrent requests: item errors / timeouts / median latency | $(jget "$work/cold-concurrent.json" item_errors) / $(jget "$work/cold-concurrent.json" timeouts) / $(fmt "$(jget "$work/cold-concurrent.json" p50_ms)") ms | — | — |"
    echo
    echo "The $cold_many-image rows: each key costs 3 registry requests; the registry's token bucket"
    echo "(\`registryLimits\`) admits at most its burst plus its rate × the deadline to one host within a"
    echo "request's deadline, and the rows without it show what workers and per-host concurrency do"
    echo "alone. CPU times are of the whole request (provider, docker-registry, delay proxy)."
    echo
    echo "Registry requests of one cold verification, from the registry's access log: legacy-signed"
    echo "image, legacy only: \`$last_requests\`; bundle-signed image, both formats:"
    echo "\`$last_bundle_requests\`."
  } >> "$md"
}

# ---- 4. scale: Zipf rollout against a throttling registry --------------------------------
# scale_rollout NAME [serve flags]: one rollout against a fresh provider (empty cache) behind a
# fresh throttling proxy; writes $work/scale-NAME.json (client), proxy-NAME.json (proxy counts),
# NAME.requests (access-log lines) and NAME.hwm (provider VmHWM, KiB).
scale_rollout() {
  local name=$1
  shift
  local limit=${scale_proxy_rate:-$rate}
  start_proxy --rate "$limit" --burst "$limit"
  start_provider "$@"
  local before after
  before=$(registry_requests)
  client stream --refs "$work/refs.txt" --pods "$pods" --zipf 1.0 --burst "$burst" \
    --gap-ms "$gap_ms" --clients 16 --timeout 3 > "$work/scale-$name.json"
  after=$(registry_requests)
  proc_kib "$provider_pid" VmHWM > "$work/$name.hwm"
  curl -s "http://127.0.0.1:$proxy_port/__bench/stats" > "$work/proxy-$name.json"
  curl -s --cacert "$work/ca.crt" "$provider_url/metrics" > "$work/metrics-$name.txt"
  echo $((after - before)) > "$work/$name.requests"
  # Tag resolutions: HEADs of manifests by tag, all of them and distinct (a tag resolved again
  # once its tagCacheTTL has passed counts twice).
  grep -E '"(GET|HEAD) /v2/' "$work/registry.log" | tail -n +"$((before + 1))" | head -n "$((after - before))" |
    awk '$6 == "\"HEAD" { n = split($7, p, "/"); if (p[n] !~ /^sha256/) { all++; seen[$7] = 1 } }
         END { d = 0; for (k in seen) d++; print all + 0, d }' > "$work/$name.tags"
  cp "$work/provider.log" "$work/provider-$name.log"
  stop_provider
}
section_scale() {
  local md=$1
  # The default (both formats: Sigstore bundle discovery beside the legacy fetches), then the
  # same rollout with the legacy format only, in the same run.
  scale_rollout both
  scale_rollout legacy --signature-formats legacy
  # Diagnosis, not a target: a registry that throttles at less than the provider's default
  # rate, once with the defaults (the rate halves on a 429 and grows back) and once with the
  # provider's bucket set to the registry's limit.
  local slow_rate=40
  scale_proxy_rate=$slow_rate scale_rollout slow
  scale_proxy_rate=$slow_rate scale_rollout slowset --registry-requests-per-second "$slow_rate"
  start_proxy
  local b="$work/scale-both.json" l="$work/scale-legacy.json"
  local pb="$work/proxy-both.json" pl="$work/proxy-legacy.json"
  local used_b used_l
  used_b=$(jget "$b" images_used)
  used_l=$(jget "$l" images_used)
  skipped_calls() {  # the provider's count of referrers calls it did not make
    awk '$1 == "signet_provider_registry_referrers_calls_skipped_total" { print $2 }' "$1"
  }
  row() {  # LABEL BOTH LEGACY TARGET RESULT
    echo "| $1 | $2 | $3 | $4 | $5 |"
  }
  {
    echo "$pods pods (1–3 images each, Zipf s=1.0 over $(jget "$b" distinct_images) images, of which"
    echo "$used_b were drawn; tag references), bursts of $burst pods sent by 16 concurrent connections,"
    echo "${gap_ms} ms between bursts; the proxy in front of the registry answers 429 (Retry-After: 1)"
    echo "past $rate requests/s. A timeout is an answer slower than Gatekeeper's 3 s webhook deadline;"
    echo "\`signet serve\` runs with its defaults (1.5 s request deadline: a key unfinished by then is"
    echo "an item error; per-host admission control of 100 requests/s, bursts of 100, halved by a 429). Two rollouts in"
    echo "this run, each with a fresh provider and a fresh proxy: the default signature formats"
    echo "(\`both\`: Sigstore bundle discovery beside the legacy fetches; docker-registry has no"
    echo "referrers API, so discovery reads the fallback tag) and \`--signature-formats legacy\`."
    echo "Run time $(fmt "$(jget "$b" duration_s)") s and $(fmt "$(jget "$l" duration_s)") s."
    echo
    echo "| measurement | both (default) | legacy | target | result (both / legacy) |"
    echo "| --- | ---: | ---: | --- | --- |"
    row "timeouts (> 3 s or no answer)" "$(jget "$b" timeouts)" "$(jget "$l" timeouts)" 0 \
      "$(verdict "$(jget "$b" timeouts)" '==' 0) / $(verdict "$(jget "$l" timeouts)" '==' 0)"
    row "item errors / items" "$(jget "$b" item_errors) / $(jget "$b" items)" \
      "$(jget "$l" item_errors) / $(jget "$l" items)" 0 \
      "$(verdict "$(jget "$b" item_errors)" '==' 0) / $(verdict "$(jget "$l" item_errors)" '==' 0)"
    row "system errors, non-200 answers" "$(jget "$b" system_errors), $(jget "$b" non_200)" \
      "$(jget "$l" system_errors), $(jget "$l" non_200)" — —
    row "registry requests (proxy: total / answered 429)" \
      "$(jget "$pb" requests) / $(jget "$pb" throttled)" "$(jget "$pl" requests) / $(jget "$pl" throttled)" — —
    row "registry requests reaching the registry (access log)" "$(cat "$work/both.requests")" \
      "$(cat "$work/legacy.requests")" — —
    row "registry requests (proxy) per image drawn" "$(ratio "$(jget "$pb" requests)" "$used_b")" \
      "$(ratio "$(jget "$pl" requests)" "$used_l")" "≤ 3" \
      "$(verdict "$(ratio "$(jget "$pb" requests)" "$used_b")" '<=' 3) / $(verdict "$(ratio "$(jget "$pl" requests)" "$used_l")" '<=' 3)"
    row "of which tag resolutions (all / distinct tags; again after \`tagCacheTTL\` 30 s)" \
      "$(tr ' ' / < "$work/both.tags")" "$(tr ' ' / < "$work/legacy.tags")" — —
    row "registry requests per image drawn, without the repeated tag resolutions" \
      "$(ratio "$(( $(jget "$pb" requests) - $(cut -d' ' -f1 "$work/both.tags") + $(cut -d' ' -f2 "$work/both.tags") ))" "$used_b")" \
      "$(ratio "$(( $(jget "$pl" requests) - $(cut -d' ' -f1 "$work/legacy.tags") + $(cut -d' ' -f2 "$work/legacy.tags") ))" "$used_l")" — —
    row "referrers calls skipped (host known to have no referrers API)" \
      "$(skipped_calls "$work/metrics-both.txt")" "$(skipped_calls "$work/metrics-legacy.txt")" — —
    row "latency p50 / p90 / p99 / max (ms)" \
      "$(fmt "$(jget "$b" p50_ms)") / $(fmt "$(jget "$b" p90_ms)") / $(fmt "$(jget "$b" p99_ms)") / $(fmt "$(jget "$b" max_ms)")" \
      "$(fmt "$(jget "$l" p50_ms)") / $(fmt "$(jget "$l" p90_ms)") / $(fmt "$(jget "$l" p99_ms)") / $(fmt "$(jget "$l" max_ms)")" — —
    row "provider peak RSS (VmHWM)" "$(mib "$(cat "$work/both.hwm")") MiB" \
      "$(mib "$(cat "$work/legacy.hwm")") MiB" "< 64 MiB" \
      "$(verdict "$(mib "$(cat "$work/both.hwm")")" '<' 64) / $(verdict "$(mib "$(cat "$work/legacy.hwm")")" '<' 64)"
    echo
    echo "Most frequent item errors (image names and digests masked), with counts:"
    echo
    echo "- both: $(jq -r '[.top_errors[] | "\(.[1]) × `\(.[0])`"] | if length == 0 then "none" else join("; ") end' "$b")"
    echo "- legacy: $(jq -r '[.top_errors[] | "\(.[1]) × `\(.[0])`"] | if length == 0 then "none" else join("; ") end' "$l")"
    lowered() {  # the provider's count of 429s that halved a host's rate
      awk '$1 ~ /^signet_provider_registry_rate_lowered_total/ { n += $2 } END { print n + 0 }' "$1"
    }
    echo
    echo "Diagnosis (no target): a registry that throttles at $slow_rate requests/s, below the provider's"
    echo "default rate, with the default formats; once with the defaults (a 429 halves the host's"
    echo "rate, which then grows back) and once with \`--registry-requests-per-second $slow_rate\`."
    echo
    echo "| measurement | defaults (rate learned from 429s) | bucket at $slow_rate requests/s |"
    echo "| --- | ---: | ---: |"
    local d="$work/scale-slow.json" pd="$work/proxy-slow.json"
    local e="$work/scale-slowset.json" pe="$work/proxy-slowset.json"
    echo "| item errors / items, timeouts | $(jget "$d" item_errors) / $(jget "$d" items), $(jget "$d" timeouts) | $(jget "$e" item_errors) / $(jget "$e" items), $(jget "$e" timeouts) |"
    echo "| registry requests (proxy: total / answered 429) | $(jget "$pd" requests) / $(jget "$pd" throttled) | $(jget "$pe" requests) / $(jget "$pe" throttled) |"
    echo "| rate decreases (\`signet_provider_registry_rate_lowered_total\`) | $(lowered "$work/metrics-slow.txt") | $(lowered "$work/metrics-slowset.txt") |"
    echo "| run time, latency p99 | $(fmt "$(jget "$d" duration_s)") s, $(fmt "$(jget "$d" p99_ms)") ms | $(fmt "$(jget "$e" duration_s)") s, $(fmt "$(jget "$e" p99_ms)") ms |"
    echo
    echo "Most frequent item errors with the defaults: $(jq -r '[.top_errors[] | "\(.[1]) × `\(.[0])`"] | if length == 0 then "none" else join("; ") end' "$d")"
  } >> "$md"
}

# ---- 7. replicas: 3 providers with and without the shared verdict cache -----------------
replicas=3
start_replicas() {  # [serve flags]: $replicas fresh providers; their URLs in replica_urls
  local i port
  replica_urls=""
  for i in $(seq "$replicas"); do
    port=$(free_port)
    "$signet" serve --address 127.0.0.1 --port "$port" --tls-min-version 1.3 \
      --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" --key "$pub" \
      --allow-insecure-registry --health-addr 127.0.0.1:0 "$@" > "$work/replica-$i.log" 2>&1 &
    echo $! > "$work/replica-$i.pid"
    track $!
    if ! wait_http "https://127.0.0.1:$port/metrics" --cacert "$work/ca.crt"; then
      echo "replica $i did not answer; its log:" >&2
      tail -n 20 "$work/replica-$i.log" >&2
      return 1
    fi
    replica_urls="$replica_urls${replica_urls:+,}https://127.0.0.1:$port"
  done
}
stop_replicas() {
  local i
  for i in $(seq "$replicas"); do stop_pidfile "$work/replica-$i.pid"; done
}
replica_metric() {  # SAMPLE: its sum over the running replicas
  local url total=0 value
  for url in ${replica_urls//,/ }; do
    value=$(curl -s --cacert "$work/ca.crt" "$url/metrics" | awk -v s="$1" '$1 == s { print $2 }')
    total=$(awk -v a="$total" -v b="${value:-0}" 'BEGIN { print a + b }')
  done
  echo "$total"
}
# rollout NAME REFS [serve flags]: fresh replicas, one Zipf rollout spread over
# them; registry requests in $work/NAME.requests, the client's summary in NAME.json.
rollout() {
  local name=$1 refs=$2
  shift 2
  start_replicas "$@" || return 1
  local before after urls=""
  for url in ${replica_urls//,/ }; do urls="$urls${urls:+,}$url/validate"; done
  before=$(registry_requests)
  "$py" "$tools/client.py" stream --url "$urls" --ca "$work/ca.crt" --refs "$refs" \
    --pods "$replica_pods" --zipf 1.0 --burst "$burst" --gap-ms "$gap_ms" --clients 15 \
    --timeout 3 > "$work/$name.json"
  sleep 0.3  # stores to Redis and the registry's access log settle
  after=$(registry_requests)
  echo $((after - before)) > "$work/$name.requests"
  # Tag resolutions: HEADs of manifests by tag, all of them and distinct (a tag resolved again
  # once its tagCacheTTL has passed counts twice).
  grep -E '"(GET|HEAD) /v2/' "$work/registry.log" | tail -n +"$((before + 1))" | head -n "$((after - before))" |
    awk '$6 == "\"HEAD" { n = split($7, p, "/"); if (p[n] !~ /^sha256/) { all++; seen[$7] = 1 } }
         END { d = 0; for (k in seen) d++; print all + 0, d }' > "$work/$name.tags"
  replica_metric 'signet_provider_shared_cache_lookups_total{result="hit"}' > "$work/$name.hits"
  replica_metric 'signet_provider_verifications_total{result="valid"}' > "$work/$name.verified"
  stop_replicas
}
section_replicas() {
  local md=$1
  trap 'stop_replicas; stop_pidfile "$work/redis.pid"; stop_provider' EXIT
  start_proxy --delay-ms "$delay_ms"
  local redis_port
  redis_port=$(free_port)
  # A fresh, empty Redis with no persistence for each rollout that uses it.
  start_redis() {
    stop_pidfile "$work/redis.pid"
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
      --dir "$work" --daemonize no > "$work/redis.log" 2>&1 &
    echo $! > "$work/redis.pid"
    track $!
    for _ in $(seq 100); do
      redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
      sleep 0.1
    done
    echo "redis-server did not start" >&2
    return 1
  }
  # The HMAC key the replicas share (required with a Redis address).
  (umask 077 && openssl rand -hex 32 > "$work/redis-hmac.key")
  printf 'cache:\n  redis:\n    hmacKeyFile: "%s"\n' "$work/redis-hmac.key" > "$work/shared-cache.yaml"
  local shared=(--config "$work/shared-cache.yaml" --redis-address "127.0.0.1:$redis_port")
  rollout tags-local "$work/refs.txt" || return 1
  start_redis || return 1
  rollout tags-shared "$work/refs.txt" "${shared[@]}" || return 1
  rollout digests-local "$work/digest-refs.txt" || return 1
  start_redis || return 1
  rollout digests-shared "$work/digest-refs.txt" "${shared[@]}" || return 1
  stop_pidfile "$work/redis.pid"
  start_proxy
  local kind
  {
    echo "$replicas \`signet serve\` replicas (defaults), one Zipf rollout of $replica_pods pods (1–3"
    echo "images each, s=1.0 over $(jget "$work/tags-local.json" distinct_images) images; the rollout uses"
    echo "$(jget "$work/tags-local.json" images_used) of them) spread over them by 15 keep-alive connections"
    echo "round robin, bursts of $burst pods, registry behind the proxy adding ${delay_ms} ms per round trip."
    echo "Each rollout starts fresh replicas (empty caches) and, with the shared cache, a fresh"
    echo "redis-server (\`--redis-address\`). Registry requests are counted in the registry's access log."
    echo
    echo "| references | registry requests, local caches only | with the shared Redis cache | ratio (shared ÷ local) | shared-cache hits | verifications run (valid), local / shared | timeouts / item errors, local / shared |"
    echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
    for kind in tags digests; do
      local l="$work/$kind-local" h="$work/$kind-shared"
      echo "| $kind | $(cat "$l.requests") | $(cat "$h.requests") | $(ratio "$(cat "$h.requests")" "$(cat "$l.requests")") | $(cat "$h.hits") | $(cat "$l.verified") / $(cat "$h.verified") | $(jget "$l.json" timeouts) / $(jget "$l.json" item_errors), $(jget "$h.json" timeouts) / $(jget "$h.json" item_errors) |"
    done
    echo
    echo "Tags are not shared: with the shared cache each replica still resolves each tag it sees"
    echo "once (\`HEAD\` of the tag); a digest reference (what the \`/mutate\` digest pinning"
    echo "produces) costs the replicas that did not verify it nothing. Replicas that miss the same"
    echo "image at the same moment (before the first one stored its verdict) each verify it."
  } >> "$md"
}

# ---- 8. outage: the Zipf rollout with the registry down in the middle -------------------
# outage_rollout NAME GRACE: a fresh provider (cache TTLs of $work/outage.yaml, last-known-good
# grace GRACE) meets the rollout of $work/outage-refs.txt spread over pre + outage + post
# seconds; after outage_pre seconds the registry is down for outage_len seconds: first half the
# proxy answers every request 503, second half it is stopped (connection refused). Writes
# $work/NAME.json (client summary), NAME.result.json (bench/tools/outage.py), NAME.grace
# (the grace answers metric) and NAME.proxy (proxy requests / 429 / 503).
outage_rollout() {
  local name=$1 grace=$2 half
  half=$(awk -v l="$outage_len" 'BEGIN { printf "%.1f", l / 2 }')
  start_proxy --rate "$rate" --burst "$rate"
  start_provider --config "$work/outage.yaml" --last-known-good-grace "$grace" || return 1
  local first_line=$(($(wc -l < "$work/registry.log") + 1))
  "$py" "$tools/client.py" stream --url "$provider_url/validate" --ca "$work/ca.crt" \
    --refs "$work/outage-refs.txt" --pods "$outage_pods" --zipf 1.0 --burst "$outage_burst" \
    --gap-ms 0 --clients 16 --timeout 3 --spread-s "$((outage_pre + outage_len + outage_post))" \
    --log "$work/$name.log" > "$work/$name.json" &
  local client_pid=$!
  track "$client_pid"
  sleep "$outage_pre"
  date +%s.%N > "$work/$name.start"
  curl -sf "http://127.0.0.1:$proxy_port/__bench/fault?status=503" > /dev/null || return 1
  sleep "$half"
  curl -s "http://127.0.0.1:$proxy_port/__bench/stats" > "$work/$name.proxy1.json"
  stop_pidfile "$work/proxy.pid"  # nothing listens on the port: connection refused
  sleep "$half"
  date +%s.%N > "$work/$name.end"
  # What the registry served up to here (nothing reaches it during the outage).
  tail -n +"$first_line" "$work/registry.log" > "$work/$name.served"
  start_proxy --rate "$rate" --burst "$rate" || return 1
  wait "$client_pid" || { echo "the rollout client failed" >&2; return 1; }
  curl -s "http://127.0.0.1:$proxy_port/__bench/stats" > "$work/$name.proxy2.json"
  curl -s --cacert "$work/ca.crt" "$provider_url/metrics" \
    | awk '$1 == "signet_provider_grace_answers_total" { print $2 }' > "$work/$name.grace"
  stop_provider
  echo "$(( $(jget "$work/$name.proxy1.json" requests) + $(jget "$work/$name.proxy2.json" requests) ))" \
    "/ $(( $(jget "$work/$name.proxy1.json" throttled) + $(jget "$work/$name.proxy2.json" throttled) ))" \
    "/ $(jget "$work/$name.proxy1.json" faulted)" > "$work/$name.proxy"
  "$py" "$tools/outage.py" --log "$work/$name.log" --start "$(cat "$work/$name.start")" \
    --end "$(cat "$work/$name.end")" --unsigned "$work/outage-unsigned.txt" \
    --served "$work/$name.served" \
    > "$work/$name.result.json" || return 1
}
section_outage() {
  local md=$1
  # Unsigned images of their own repositories beside the signed ones: never valid, outage or not.
  "$py" "$tools/fixture.py" push --registry "127.0.0.1:$registry_port" \
    --ref-host "127.0.0.1:$proxy_port" --key "$work/keys/bench.key.pem" --count 0 \
    --unsigned "$outage_unsigned" --repository bench/unsigned \
    --out "$work/outage-unsigned-tags.txt" --out-digests "$work/outage-unsigned.txt" || return 1
  cat "$work/digest-refs.txt" "$work/outage-unsigned.txt" > "$work/outage-refs.txt"
  printf 'verification:\n  cacheTTL: %ss\n  negativeCacheTTL: 1s\n  tagCacheTTL: %ss\n' \
    "$outage_ttl" "$outage_ttl" > "$work/outage.yaml"
  outage_rollout outage-grace 24h || return 1
  outage_rollout outage-nograce 0 || return 1
  start_proxy
  local g="$work/outage-grace.result.json" n="$work/outage-nograce.result.json" run r label
  {
    echo "The rollout of section 4 ($outage_pods pods, 1–3 images each, Zipf s=1.0) by digest"
    echo "(what Gatekeeper's \`/mutate\` digest pinning produces) over the $images signed images and"
    echo "$outage_unsigned unsigned ones, spread over $((outage_pre + outage_len + outage_post)) s in bursts of $outage_burst pods on 16"
    echo "connections, the proxy answering 429 past $rate requests/s. $outage_pre s in, the registry is down"
    echo "for $outage_len s: the first half the proxy answers every request \`503\`, the second half it is"
    echo "stopped (connection refused). \`signet serve\` runs with \`cacheTTL: ${outage_ttl}s\` and"
    echo "\`negativeCacheTTL: 1s\` (so that verified images need the registry again during the outage)"
    echo "and otherwise its defaults, once with \`--last-known-good-grace 24h\` and once without (0, the"
    echo "default); a fresh provider each time. \"Verified before\": answered valid to a request sent"
    echo "before the outage began; \"during\": requests sent after it began and answered before it"
    echo "ended (none of them could reach the registry). An image can be answered valid during the"
    echo "outage without having been answered valid before: the provider verified it before the"
    echo "outage for a request that had already been answered \"verification timed out\" (the"
    echo "verification goes on and fills the caches); an image whose signature the registry had not"
    echo "served (its access log) cannot have been verified by then, and must never be answered valid."
    echo
    echo "| measurement | grace 24h | grace off | target | result |"
    echo "| --- | ---: | ---: | --- | --- |"
    echo "| images verified before the outage | $(jget "$g" verified_before) | $(jget "$n" verified_before) | — | — |"
    echo "| requests / items during the outage | $(jget "$g" during_requests) / $(jget "$g" during_items) | $(jget "$n" during_requests) / $(jget "$n" during_items) | — | — |"
    echo "| items of images verified before: answered valid / denied (images denied) | $(jget "$g" verified_valid_items) / $(jget "$g" verified_denied_items) ($(jget "$g" verified_denied_images)) | $(jget "$n" verified_valid_items) / $(jget "$n" verified_denied_items) ($(jget "$n" verified_denied_images)) | grace: 0 denied; off: denied | $(verdict "$(jget "$g" verified_denied_items)" '==' 0); $(verdict "$(jget "$n" verified_denied_items)" '>' 0) |"
    echo "| those denials whose reason names no registry failure | $(jget "$g" unclear_reasons) | $(jget "$n" unclear_reasons) | 0 | $(verdict "$(( $(jget "$g" unclear_reasons) + $(jget "$n" unclear_reasons) ))" '==' 0) |"
    echo "| grace answers (\`signet_provider_grace_answers_total\`) | $(cat "$work/outage-grace.grace") | $(cat "$work/outage-nograce.grace") | — | — |"
    echo "| items of images not answered valid before, answered valid during the outage (see below) | $(jget "$g" unverified_valid_items) | $(jget "$n" unverified_valid_items) | — | — |"
    echo "| items answered valid during the outage of images whose signature the registry had not served | $(jget "$g" unvouched_valid_items) | $(jget "$n" unvouched_valid_items) | 0 | $(verdict "$(( $(jget "$g" unvouched_valid_items) + $(jget "$n" unvouched_valid_items) ))" '==' 0) |"
    echo "| items of images not verified before, denied during the outage | $(jget "$g" unverified_denied_items) | $(jget "$n" unverified_denied_items) | — | — |"
    echo "| items of unsigned images answered valid (whole run) | $(jget "$g" unsigned_valid_items) | $(jget "$n" unsigned_valid_items) | 0 | $(verdict "$(( $(jget "$g" unsigned_valid_items) + $(jget "$n" unsigned_valid_items) ))" '==' 0) |"
    echo "| item errors / items (before, during, after the outage) | $(jget "$g" item_errors) / $(jget "$g" items) ($(jget "$g" item_errors_before), $(jget "$g" item_errors_during), $(jget "$g" item_errors_after)) | $(jget "$n" item_errors) / $(jget "$n" items) ($(jget "$n" item_errors_before), $(jget "$n" item_errors_during), $(jget "$n" item_errors_after)) | — | — |"
    echo "| timeouts (> 3 s or no answer), non-200 answers | $(jget "$g" timeouts), $(jget "$g" non_200) | $(jget "$n" timeouts), $(jget "$n" non_200) | 0 timeouts | $(verdict "$(( $(jget "$g" timeouts) + $(jget "$n" timeouts) ))" '==' 0) |"
    echo "| registry requests (proxy: total / answered 429 / answered 503) | $(cat "$work/outage-grace.proxy") | $(cat "$work/outage-nograce.proxy") | — | — |"
    echo "| latency p50 / p99 / max (ms) | $(fmt "$(jget "$work/outage-grace.json" p50_ms)") / $(fmt "$(jget "$work/outage-grace.json" p99_ms)") / $(fmt "$(jget "$work/outage-grace.json" max_ms)") | $(fmt "$(jget "$work/outage-nograce.json" p50_ms)") / $(fmt "$(jget "$work/outage-nograce.json" p99_ms)") / $(fmt "$(jget "$work/outage-nograce.json" max_ms)") | — | — |"
    for run in grace nograce; do
      r="$work/outage-$run.result.json"
      echo
      if [ "$run" = grace ]; then label="with grace 24h"; else label="with grace off"; fi
      echo "Reasons of the denials of images verified before, during the outage, $label (image names and digests masked), with counts:"
      echo
      if [ "$(jq '.denied_reasons | length' "$r")" = 0 ]; then echo "- none"; fi
      jq -r '.denied_reasons[] | "- \(.[1]) × `\(.[0])`"' "$r"
    done
  } >> "$md"
  # An unsigned image answered valid, or during the outage one whose signature the registry
  # never served, is never acceptable; an outage that denied nothing without grace, or a
  # rollout that did not span it, measured nothing.
  local bad=0
  for r in "$g" "$n"; do
    if [ "$(jq '.unvouched_valid_items + .unsigned_valid_items + .wrong_value_items' "$r")" != 0 ]; then
      echo "an unsigned image, or one whose signature the registry never served, was answered valid: $(cat "$r")" >&2
      bad=1
    fi
    if [ "$(jq '.verified_before > 0 and .during_requests > 0 and .after_requests > 0' "$r")" != true ]; then
      echo "the rollout did not span the outage (verified before, requests during and after): $(cat "$r")" >&2
      bad=1
    fi
  done
  if [ "$(jget "$n" verified_denied_items)" = 0 ]; then
    echo "without grace, no image verified before was denied during the outage: it was not seen" >&2
    bad=1
  fi
  return "$bad"
}

# ---- 5. memory ---------------------------------------------------------------------------
section_memory() {
  local md=$1
  local idle
  if [ -f "$work/rss_idle_kib" ]; then
    idle=$(cat "$work/rss_idle_kib")
  else
    start_provider
    idle=$(proc_kib "$provider_pid" VmRSS)
    stop_provider
  fi
  {
    echo "| measurement | RSS |"
    echo "| --- | ---: |"
    echo "| \`signet serve\` idle (started, no request yet) | $(mib "$idle") MiB |"
  } >> "$md"
  if [ -x "$cache_bench" ]; then
    "$cache_bench" --entries "$cache_entries" > "$work/cache-memory.json"
    local c="$work/cache-memory.json"
    echo "| provider cache, empty → $cache_entries entries (process RSS) | $(mib "$(jget "$c" rss_before_kib)") → $(mib "$(jget "$c" rss_after_kib)") MiB ($(jget "$c" bytes_per_entry) bytes/entry) |" >> "$md"
    echo >> "$md"
    echo "The cache figure comes from \`bench/cache_memory\`, which fills the provider's cache type" >> "$md"
    echo "directly with realistic keys and verdicts (image references with digests)." >> "$md"
  else
    echo "| provider cache with $cache_entries entries | not measured: \`bench/cache_memory\` is not built (no provider cache header) |" >> "$md"
  fi
}

# ---- 6. CLI vs cosign --------------------------------------------------------------------
# callgrind_count OUT -- COMMAND...: the instructions COMMAND executes in all,
# and in the dynamic loader before main (ld.so's _dl_start), as "total loader".
callgrind_count() {
  local out=$1
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" > /dev/null 2> "$out.err" || true
  local total loader
  total=$(sed -n 's/^summary: *//p' "$out" | head -n 1)
  loader=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    awk '/rtld.c:_dl_start / { gsub(",", "", $1); print $1; exit }')
  echo "${total:-0} ${loader:-0}"
}
section_cli() {
  local md=$1
  local image
  image=$(sed -n 1p "$work/refs.txt")
  local signet_flags=(verify --key "$pub" --allow-insecure-registry)
  if "$signet" verify --help 2>&1 | grep -q -- '--insecure-ignore-tlog'; then
    signet_flags+=(--insecure-ignore-tlog=true)
  fi
  local cosign_flags=(verify --key "$pub" --insecure-ignore-tlog=true --allow-insecure-registry)
  # One warm-up run each, which also proves both verify the image.
  "$signet" "${signet_flags[@]}" "$image" > /dev/null 2> "$work/signet-verify.err" || {
    echo "signet verify failed:" >&2; cat "$work/signet-verify.err" >&2; return 1; }
  "$cosign" "${cosign_flags[@]}" "$image" > /dev/null 2> "$work/cosign-verify.err" || {
    echo "cosign verify failed:" >&2; cat "$work/cosign-verify.err" >&2; return 1; }
  # Peak RSS from python's own children would carry python's RSS as a floor:
  # every run goes through the small bench/tools/rusage.c.
  cc -O2 -o "$work/rusage" "$tools/rusage.c"
  jq -n --arg signet "$signet" --arg cosign "$cosign" --arg image "$image" \
    --argjson sf "$(printf '%s\n' "${signet_flags[@]}" | jq -R . | jq -s .)" \
    --argjson cf "$(printf '%s\n' "${cosign_flags[@]}" | jq -R . | jq -s .)" \
    '{signet: ([$signet] + $sf + [$image]), cosign: ([$cosign] + $cf + [$image]),
      help: [$signet, "--help"], floor: ["/bin/true"]}' > "$work/cli-spec.json"
  "$py" "$tools/measure.py" --runs "$cli_runs" --rusage "$work/rusage" \
    --spec "$work/cli-spec.json" > "$work/cli.json"
  local m="$work/cli.json"
  val() { jq -r ".$1.$2" "$m"; }
  {
    echo "Same image, key and local registry (through the proxy, no added latency). Each command"
    echo "ran $cli_runs times, interleaved (signet, cosign, signet --help, /bin/true, then again),"
    echo "so load changes hit all alike; medians. CPU = user + system time, peak RSS = ru_maxrss,"
    echo "both from wait4 through \`bench/tools/rusage.c\` (a child of python would report"
    echo "python's own RSS as its floor); \`/bin/true\` shows the floor that remains."
    echo
    echo "| command | wall ms | CPU ms | peak RSS MiB | exit codes |"
    echo "| --- | ---: | ---: | ---: | --- |"
    local name label
    for name in signet cosign help floor; do
      case $name in
        signet) label="\`signet ${signet_flags[*]//$pub/k.pub} IMAGE\`" ;;
        cosign) label="\`cosign ${cosign_flags[*]//$pub/k.pub} IMAGE\`" ;;
        help) label="\`signet --help\` (start-up alone)" ;;
        floor) label="\`/bin/true\` (measurement floor)" ;;
      esac
      echo "| $label | $(fmt "$(val "$name" wall_ms_median)") | $(fmt "$(val "$name" cpu_ms_median)") | $(fmt "$(val "$name" rss_mib_median)") | $(jq -c ".$name.exit_codes" "$m") |"
    done
    local cpu_ratio rss_ratio
    cpu_ratio=$(ratio "$(val signet cpu_ms_median)" "$(val cosign cpu_ms_median)")
    rss_ratio=$(ratio "$(val signet rss_mib_median)" "$(val cosign rss_mib_median)")
    echo "| ratio signet ÷ cosign (verify) | $(ratio "$(val signet wall_ms_median)" "$(val cosign wall_ms_median)") | $cpu_ratio | $rss_ratio | |"
    echo
    echo "| target | result |"
    echo "| --- | --- |"
    echo "| CPU time ≤ 0.20 × cosign | $cpu_ratio: $(verdict "$cpu_ratio" "<=" 0.20) |"
    echo "| peak RSS ≤ 0.25 × cosign | $rss_ratio: $(verdict "$rss_ratio" "<=" 0.25) |"
    echo
  } >> "$md"
  # Counts that do not depend on machine load.
  local libs relocs
  libs=$(ldd "$signet" | grep -c '=>' || true)
  relocs=$(LD_DEBUG=statistics "$signet" --help 2>&1 > /dev/null |
    awk '/final number/ { next } / number of relocations:/ { n = $NF }
         / number of relative relocations:/ { r = $NF } END { print n + 0, r + 0 }')
  {
    echo "Start-up counts (independent of load): $libs shared libraries loaded (\`ldd\`);"
    echo "$(echo "$relocs" | cut -d' ' -f1) symbol and $(echo "$relocs" | cut -d' ' -f2) relative relocations at start-up (\`LD_DEBUG=statistics signet --help\`)."
  } >> "$md"
  if command -v valgrind > /dev/null && command -v callgrind_annotate > /dev/null; then
    local help verify
    help=$(callgrind_count "$work/cg-help" -- "$signet" --help)
    verify=$(callgrind_count "$work/cg-verify" -- "$signet" "${signet_flags[@]}" "$image")
    {
      echo
      echo "| instructions (callgrind) | total | dynamic loader (before main) |"
      echo "| --- | ---: | ---: |"
      echo "| \`signet --help\` | $(echo "$help" | cut -d' ' -f1) | $(echo "$help" | cut -d' ' -f2) |"
      echo "| \`signet verify\` (as above) | $(echo "$verify" | cut -d' ' -f1) | $(echo "$verify" | cut -d' ' -f2) |"
    } >> "$md"
  else
    echo "(valgrind not installed: no instruction counts.)" >> "$md"
  fi
}

run_section crypto section_crypto "1. Crypto core (Google Benchmark)"
run_section warm section_warm "2. Provider, warm cache, vs nginx"
stop_provider
run_section cold section_cold "3. Provider, cold cache, added latency"
stop_provider
run_section scale section_scale "4. Scale: Zipf rollout against a throttling registry"
stop_provider
run_section memory section_memory "5. Memory"
stop_provider
run_section cli section_cli "6. CLI: signet verify vs cosign verify"
stop_provider
run_section replicas section_replicas "7. Replicas: registry requests with and without the shared verdict cache"
stop_provider
run_section outage section_outage "8. Outage: the Zipf rollout with the registry down in the middle"

cosign_version() {  # the Debian build reports "devel"; its package file names the release
  local deb
  deb=$(ls "$root"/build/tools/apt-trixie/debs/cosign_*.deb 2>/dev/null | head -n 1 || true)
  if [ -n "$deb" ]; then basename "$deb" | sed -E 's/^cosign_([^_]*)_.*/\1/'
  else "$cosign" version 2>/dev/null | sed -n 's/^GitVersion: *//p'; fi
}

# ---- report ------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
{
  echo "# signet benchmark results"
  echo
  if [ "$smoke" = 1 ]; then
    echo "**Smoke run** (\`bench/run.sh --smoke\`): tiny sizes, the numbers mean nothing."
    echo
  fi
  echo "Produced by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); all comparisons ran side by"
  echo "side in this one invocation."
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "| --- | --- |"
  machine_rows
  echo "| load average at the end | $(cut -d' ' -f1-3 /proc/loadavg) |"
  echo "| signet | $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- . ':(exclude)bench/results' 2>/dev/null || echo ' (with local changes)'), build type $(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null) |"
  echo "| compiler | $(c++ --version | head -n 1) |"
  echo "| OpenSSL | $(openssl version) |"
  echo "| baseline tools | $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), cosign $(cosign_version), docker-registry $(docker-registry --version 2>/dev/null | awk '{ print $NF }') |"
  echo
  for name in crypto warm cold scale memory cli replicas outage; do
    cat "$sections/$name.md"
    echo
  done
} > "$out"
log "report written to $out"
if [ ${#failures[@]} -gt 0 ]; then
  log "sections that failed: ${failures[*]}"
  exit 1
fi
