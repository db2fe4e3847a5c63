#!/usr/bin/env bash
# Signs a freshly built image with signet and records what it signed.
# This is the step script of the signet-sign-image Tekton Task (sign-task.yaml
# embeds it verbatim); it also runs locally and in any CI.
#
# Environment:
#   IMAGE              image reference that was built (required)
#   IMAGE_DIGEST       its digest sha256:... (optional; when set the image is
#                      signed by digest, which is what admission verifies)
#   KEY_FILE           cosign-format private key (required)
#   COSIGN_PASSWORD    the key's password (required; never printed)
#   BUILD_ID, COMMIT   recorded as signature annotations build-id and commit
#   EXTRA_ANNOTATIONS  more key=value annotations, separated by spaces
#   INSECURE_REGISTRY  "true" to allow a plain-HTTP registry
#   REGISTRY_CACERT    CA file for a registry with a private CA
#   RESULT_PATH        where to write the signed reference (optional)
#   DOCKER_CONFIG      directory with config.json, or .dockerconfigjson (a mounted
#                      docker-registry Secret), with registry credentials (optional)
#   SIGNET             signet binary (default: signet from PATH)
set -euo pipefail

fail() { echo "sign-image: $*" >&2; exit 1; }

[[ -n ${IMAGE:-} ]] || fail "IMAGE is not set"
[[ -n ${KEY_FILE:-} ]] || fail "KEY_FILE is not set"
[[ -r $KEY_FILE ]] || fail "cannot read the signing key $KEY_FILE as UID $EUID (a Secret volume needs a mode this user can read, e.g. 0444, or an fsGroup)"
[[ -n ${COSIGN_PASSWORD+x} ]] || fail "COSIGN_PASSWORD is not set"
signet=${SIGNET:-signet}
if [[ -z ${DOCKER_CONFIG:-} ]]; then
  unset DOCKER_CONFIG
fi

ref=$IMAGE
if [[ -n ${IMAGE_DIGEST:-} ]]; then
  [[ $IMAGE_DIGEST =~ ^sha256:[0-9a-f]{64}$ ]] || fail "IMAGE_DIGEST '$IMAGE_DIGEST' is not a sha256 digest"
  name=${IMAGE%@*}
  last=${name##*/}
  if [[ $last == *:* ]]; then
    name=${name%:*}
  fi
  ref="$name@$IMAGE_DIGEST"
fi

args=(sign --yes --new-bundle-format=false --key "$KEY_FILE")
if [[ -n ${BUILD_ID:-} ]]; then
  args+=(-a "build-id=$BUILD_ID")
fi
if [[ -n ${COMMIT:-} ]]; then
  args+=(-a "commit=$COMMIT")
fi
for annotation in ${EXTRA_ANNOTATIONS:-}; do
  [[ $annotation == ?*=* ]] || fail "annotation '$annotation' is not key=value"
  args+=(-a "$annotation")
done
if [[ ${INSECURE_REGISTRY:-false} == true ]]; then
  args+=(--allow-insecure-registry)
fi
if [[ -n ${REGISTRY_CACERT:-} ]]; then
  args+=(--registry-cacert "$REGISTRY_CACERT")
fi
args+=("$ref")

echo "sign-image: signing $ref" >&2
"$signet" "${args[@]}"

if [[ -n ${RESULT_PATH:-} ]]; then
  printf '%s' "$ref" >"$RESULT_PATH"
fi
echo "sign-image: signed $ref" >&2
