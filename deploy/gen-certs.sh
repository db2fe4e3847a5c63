#!/usr/bin/env bash
# Creates a private CA and a server certificate for the signet provider with
# openssl, and prints the base64 CA bundle for the Gatekeeper Provider.
#
# Usage: deploy/gen-certs.sh [-r] [-n NAMESPACE] [-s SERVICE] [-o OUTDIR] [-d DAYS]
#        deploy/gen-certs.sh -h
#   -r         renew: keep OUTDIR/ca.crt and ca.key, issue a new server
#              certificate and key signed by that CA (the Provider caBundle
#              stays valid); without -r a new CA is made
#   NAMESPACE  namespace of the signet Service   (default signet-system)
#   SERVICE    name of the signet Service        (default signet)
#   OUTDIR     where the files go                (default ./certs)
#   DAYS       server certificate lifetime       (default 365)
#   -h         print this help and exit
#
# Writes OUTDIR/ca.crt, ca.key, tls.crt, tls.key (keys mode 0600) and
# ca-bundle.b64. The server certificate's DNS SANs are SERVICE.NAMESPACE (the
# host of the Provider URL, which Gatekeeper verifies), SERVICE.NAMESPACE.svc
# and SERVICE.NAMESPACE.svc.cluster.local. Progress goes to stderr; stdout is
# only the caBundle, so it can be captured:
#   CA_BUNDLE=$(deploy/gen-certs.sh -o certs)
# Rotation (docs/kubernetes.md): deploy/gen-certs.sh -r -o certs, then replace
# the signet-tls Secret; the provider reloads the files, Gatekeeper's caBundle
# is unchanged.
set -euo pipefail

namespace=signet-system
service=signet
outdir=./certs
days=365
renew=false

help_text() { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//'; }
usage() { help_text >&2; exit 2; }
while getopts ":rn:s:o:d:h" opt; do
  case "$opt" in
    r) renew=true ;;
    n) namespace=$OPTARG ;;
    s) service=$OPTARG ;;
    o) outdir=$OPTARG ;;
    d) days=$OPTARG ;;
    h) help_text; exit 0 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || usage

dns_label='^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
[[ $namespace =~ $dns_label ]] || { echo "gen-certs: invalid namespace '$namespace'" >&2; exit 2; }
[[ $service =~ $dns_label ]] || { echo "gen-certs: invalid service name '$service'" >&2; exit 2; }
[[ $days =~ ^[1-9][0-9]*$ ]] || { echo "gen-certs: invalid days '$days'" >&2; exit 2; }

host="$service.$namespace"
mkdir -p "$outdir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if $renew; then
  for f in ca.crt ca.key; do
    [[ -r $outdir/$f ]] || { echo "gen-certs: -r renews with the existing CA, but $outdir/$f is missing or unreadable" >&2; exit 1; }
  done
  openssl x509 -in "$outdir/ca.crt" -noout -checkend 0 >/dev/null 2>&1 ||
    { echo "gen-certs: the CA in $outdir/ca.crt has expired or is not a certificate: run without -r for a new CA (and a new caBundle)" >&2; exit 1; }
  echo "gen-certs: renewing with the existing CA $outdir/ca.crt (the caBundle does not change)" >&2
else
  if [[ -e $outdir/ca.key ]]; then
    echo "gen-certs: replacing the CA in $outdir: the Provider caBundle must be updated (use -r to keep the CA)" >&2
  fi
  echo "gen-certs: CA -> $outdir/ca.crt" >&2
  openssl req -x509 -new -nodes -sha256 -days 3650 \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$outdir/ca.key" -out "$outdir/ca.crt" \
    -subj "/CN=signet provider CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
fi

echo "gen-certs: server certificate for $host -> $outdir/tls.crt" >&2
openssl req -new -nodes -sha256 \
  -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$outdir/tls.key" -out "$work/tls.csr" \
  -subj "/CN=$host" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
cat >"$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$host,DNS:$host.svc,DNS:$host.svc.cluster.local
EXT
openssl x509 -req -sha256 -days "$days" -in "$work/tls.csr" \
  -CA "$outdir/ca.crt" -CAkey "$outdir/ca.key" -CAcreateserial \
  -CAserial "$work/ca.srl" -extfile "$work/ext.cnf" \
  -out "$outdir/tls.crt" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
chmod 0644 "$outdir/ca.crt" "$outdir/tls.crt"
chmod 0600 "$outdir/ca.key" "$outdir/tls.key"

openssl verify -CAfile "$outdir/ca.crt" "$outdir/tls.crt" >/dev/null ||
  { echo "gen-certs: the new server certificate does not verify against $outdir/ca.crt" >&2; exit 1; }

ca_bundle=$(base64 -w0 <"$outdir/ca.crt")
printf '%s\n' "$ca_bundle" >"$outdir/ca-bundle.b64"
chmod 0644 "$outdir/ca-bundle.b64"
if $renew; then
  cat >&2 <<MSG
gen-certs: done; the CA and caBundle are unchanged. Replace the server certificate in place
(the provider reloads it, no restart):
  kubectl -n $namespace create secret generic signet-tls \\
    --from-file=tls.crt=$outdir/tls.crt --from-file=tls.key=$outdir/tls.key --from-file=ca.crt=$outdir/ca.crt \\
    --dry-run=client -o yaml | kubectl apply -f -
  caBundle (the same as before):
MSG
else
  cat >&2 <<MSG
gen-certs: done. Next:
  kubectl create namespace $namespace
  kubectl label namespace $namespace pod-security.kubernetes.io/enforce=restricted
  kubectl -n $namespace create secret generic signet-tls \\
    --from-file=tls.crt=$outdir/tls.crt --from-file=tls.key=$outdir/tls.key --from-file=ca.crt=$outdir/ca.crt
  and set the Provider caBundle (helm: --set tls.caBundle=\$(cat $outdir/ca-bundle.b64)):
MSG
fi
printf '%s\n' "$ca_bundle"
