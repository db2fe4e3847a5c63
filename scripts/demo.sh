#!/usr/bin/env bash
# signet's main job on an embedded default, end to end on this machine:
#   1. start a local OCI registry (Debian's docker-registry) on loopback;
#   2. push two small demo images to it (no Docker needed);
#   3. generate a cosign-compatible key pair and sign one image;
#   4. verify the signed image (passes) and the unsigned one (fails, exit 10);
#   5. start the Gatekeeper provider over HTTPS and ask it about both images.
# Everything lives under build/demo and is stopped when the script exits.
# Exit status 0 only when every step gave the expected answer.
#
# For the test suite (ctest runs this script as the test `demo`):
#   SIGNET_DEMO_SKIP_BUILD=1     use the signet already built
#   SIGNET_DEMO_BUILD_DIR=DIR    the build tree to use (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${SIGNET_DEMO_BUILD_DIR:-$root/build}"
# Absolute (a relative one is the caller's): the demo runs signet from its work directory.
mkdir -p "$build"
build=$(cd "$build" && pwd)
cd "$root"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "${SIGNET_DEMO_SKIP_BUILD:-}" != 1 ]; then
  step "Installing dependencies and building signet"
  bash scripts/install-deps.sh "$build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j "$(nproc)" --target signet
fi
signet="$build/signet"

work="$build/demo"
rm -rf "$work"
mkdir -p "$work/registry"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # URL [curl args...]
  local url=$1; shift
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$@" "$url" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: $url did not come up" >&2; return 1
}

step "Starting a local registry (docker-registry, plain HTTP on loopback)"
reg_port=$(free_port)
registry="127.0.0.1:$reg_port"
cat > "$work/registry/config.yml" <<CFG
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry/data}, delete: {enabled: true}}
http: {addr: $registry}
CFG
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 &
pids+=($!)
wait_http "http://$registry/v2/"
echo "registry listening on $registry"

# Pushes a one-layer OCI image made from random bytes; prints its digest.
push_image() {  # repo tag
  local repo=$1 tag=$2 name="image-$1-$2"
  local dir="$work/${name//\//_}"
  mkdir -p "$dir"
  head -c 1024 /dev/urandom > "$dir/layer"
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$(sha256sum < "$dir/layer" | cut -d' ' -f1)" > "$dir/config"
  local blob
  for blob in layer config; do
    local d; d=$(sha256sum < "$dir/$blob" | cut -d' ' -f1)
    local loc; loc=$(curl -fsS -X POST -D - -o /dev/null "http://$registry/v2/$repo/blobs/uploads/" \
      | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
    case "$loc" in http*) ;; *) loc="http://$registry$loc" ;; esac
    case "$loc" in *\?*) loc="$loc&digest=sha256:$d" ;; *) loc="$loc?digest=sha256:$d" ;; esac
    curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$dir/$blob" "$loc" >/dev/null
  done
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$(sha256sum < "$dir/config" | cut -d' ' -f1)" "$(stat -c %s "$dir/config")" \
    "$(sha256sum < "$dir/layer" | cut -d' ' -f1)" "$(stat -c %s "$dir/layer")" > "$dir/manifest"
  curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$dir/manifest" "http://$registry/v2/$repo/manifests/$tag" >/dev/null
  echo "sha256:$(sha256sum < "$dir/manifest" | cut -d' ' -f1)"
}

step "Pushing demo images"
signed_image="$registry/demo/app:v1"
unsigned_image="$registry/demo/unsigned:v1"
echo "$signed_image   $(push_image demo/app v1)"
echo "$unsigned_image $(push_image demo/unsigned v1)"

step "Generating a key pair (COSIGN_PASSWORD is the password, as with cosign)"
export COSIGN_PASSWORD=demo-password
(cd "$work" && "$signet" generate-key-pair)
ls -l "$work/cosign.key" "$work/cosign.pub"

step "Signing $signed_image (a Sigstore bundle stored as an OCI referrer, as cosign v3 signs)"
"$signet" sign --key "$work/cosign.key" --allow-insecure-registry -a team=demo -y "$signed_image"

step "Verifying the signed image (the bundle has no transparency log entry, as with cosign --tlog-upload=false)"
"$signet" verify --key "$work/cosign.pub" --insecure-ignore-tlog=true --allow-insecure-registry "$signed_image"

step "Verifying the unsigned image (expected to fail)"
set +e
"$signet" verify --key "$work/cosign.pub" --insecure-ignore-tlog=true --allow-insecure-registry "$unsigned_image"
rc=$?
set -e
echo "signet verify exited with $rc (10 = no signatures found)"
[ "$rc" -eq 10 ]

step "Starting the Gatekeeper provider (HTTPS, TLS 1.3) with the public key"
certs="$work/certs"; mkdir -p "$certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=signet-demo-ca" \
  -keyout "$certs/ca.key" -out "$certs/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$certs/tls.key" -out "$certs/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$certs/ext"
openssl x509 -req -in "$certs/tls.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" -CAcreateserial \
  -days 1 -extfile "$certs/ext" -out "$certs/tls.crt" 2>/dev/null
prov_port=$(free_port)
"$signet" serve --port "$prov_port" --address 127.0.0.1 --tls-cert-file "$certs/tls.crt" \
  --tls-key-file "$certs/tls.key" --key "$work/cosign.pub" --allow-insecure-registry \
  --health-addr 127.0.0.1:0 >"$work/provider.log" 2>&1 &
pids+=($!)
wait_http "https://localhost:$prov_port/readyz" --cacert "$certs/ca.crt"
echo "provider ready on https://localhost:$prov_port"

step "Asking the provider (POST /validate) about both images"
request=$(printf '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["%s","%s"]}}' \
  "$signed_image" "$unsigned_image")
echo "request:  $request"
response=$(curl -fsS --tlsv1.3 --cacert "$certs/ca.crt" -H 'Content-Type: application/json' \
  -d "$request" "https://localhost:$prov_port/validate")
echo "response:"
echo "$response" | python3 -m json.tool
# The answer must name both keys: the signed one valid (a digest, no error),
# the unsigned one refused with a reason.
SIGNED="$signed_image" UNSIGNED="$unsigned_image" python3 -c '
import json, os, sys
items = {i["key"]: i for i in json.loads(sys.stdin.read())["response"]["items"]}
signed, unsigned = items[os.environ["SIGNED"]], items[os.environ["UNSIGNED"]]
problems = []
if signed.get("error") or "@sha256:" not in signed.get("value", ""):
    problems.append("the signed image was not answered valid with its digest")
if not unsigned.get("error") or "value" in unsigned:
    problems.append("the unsigned image was not refused")
for p in problems:
    print("demo: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
' <<<"$response"

step "Done"
echo "The signed image verified; the unsigned one was refused by the CLI and by the provider."
