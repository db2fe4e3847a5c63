#!/usr/bin/env python3
"""Benchmark fixture: a cosign-compatible key pair and signed images in a registry.

  fixture.py keygen DIR
      Writes DIR/bench.key.pem (unencrypted PKCS#8, for this script only) and
      DIR/cosign.pub (PKIX "PUBLIC KEY" PEM, as cosign writes it).
  fixture.py push --registry HOST:PORT --ref-host HOST:PORT --key DIR/bench.key.pem
                  --count N [--unsigned M] --out refs.txt
      Pushes N distinct small images (repository bench/app<i % 10>, tag v<i>;
      --repository PREFIX replaces bench/app)
      straight to the registry and signs each one in cosign's legacy layout:
      tag sha256-<hex>.sig, one simple-signing layer with the base64 ECDSA
      P-256 signature annotation. --ref-host is the registry name the images
      are referred to by (the address of the proxy in front of the registry);
      it is written into the payload's docker-reference. Writes one image
      reference per line to --out (by tag) and to --out-digests (by digest).

push_image() and load_key() are also used by soak.py, which pushes new images
while the soak test runs.

Only the Python standard library and the `cryptography` module are used; no
request leaves the loopback interface.
"""
import argparse
import base64
import hashlib
import http.client
import json
import os
import sys
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def keygen(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    path = os.path.join(directory, "bench.key.pem")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    with open(os.path.join(directory, "cosign.pub"), "wb") as f:
        f.write(public_pem)


class Pusher:
    """Distribution API v2 uploads over one keep-alive connection."""

    def __init__(self, hostport: str):
        host, port = hostport.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp, data

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = digest_of(data)
        resp, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if resp.status == 200:
            return digest
        resp, body = self.request("POST", f"/v2/{repo}/blobs/uploads/", b"",
                                  {"Content-Length": "0"})
        if resp.status != 202:
            raise RuntimeError(f"POST upload for {repo}: HTTP {resp.status} {body[:200]!r}")
        location = urllib.parse.urlsplit(resp.getheader("Location"))
        query = location.query + ("&" if location.query else "") + \
            urllib.parse.urlencode({"digest": digest})
        resp, body = self.request("PUT", f"{location.path}?{query}", data,
                                  {"Content-Type": "application/octet-stream",
                                   "Content-Length": str(len(data))})
        if resp.status != 201:
            raise RuntimeError(f"PUT blob {digest} to {repo}: HTTP {resp.status} {body[:200]!r}")
        return digest

    def put_manifest(self, repo: str, tag: str, manifest: bytes) -> str:
        resp, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                                  {"Content-Type": OCI_MANIFEST,
                                   "Content-Length": str(len(manifest))})
        if resp.status != 201:
            raise RuntimeError(f"PUT manifest {repo}:{tag}: HTTP {resp.status} {body[:200]!r}")
        return digest_of(manifest)


def descriptor(media_type: str, data: bytes, annotations=None) -> dict:
    d = {"mediaType": media_type, "size": len(data), "digest": digest_of(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def push_image(pusher: Pusher, key, ref_host: str, repo: str, tag: str, label: str,
               signed: bool):
    """Pushes one small image as repo:tag (its config carries `label`, its layer is random)
    and, when `signed`, its signature in cosign's layout. Returns the (tag, digest)
    references under `ref_host`."""
    config = compact({"architecture": "amd64", "os": "linux",
                      "config": {"Labels": {"bench.index": label}},
                      "rootfs": {"type": "layers", "diff_ids": []}})
    layer = os.urandom(256)
    pusher.put_blob(repo, config)
    pusher.put_blob(repo, layer)
    manifest = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": descriptor(OCI_CONFIG, config),
                        "layers": [descriptor(OCI_LAYER, layer)]})
    image_digest = pusher.put_manifest(repo, tag, manifest)
    refs = (f"{ref_host}/{repo}:{tag}", f"{ref_host}/{repo}@{image_digest}")
    if not signed:
        return refs
    payload = compact({"critical": {
        "identity": {"docker-reference": f"{ref_host}/{repo}"},
        "image": {"docker-manifest-digest": image_digest},
        "type": "cosign container image signature"}, "optional": None})
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    sig_config = compact({"architecture": "", "created": "0001-01-01T00:00:00Z",
                          "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                          "rootfs": {"type": "layers",
                                     "diff_ids": [digest_of(payload)]},
                          "config": {}})
    pusher.put_blob(repo, sig_config)
    pusher.put_blob(repo, payload)
    sig_manifest = compact({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                            "config": descriptor(OCI_CONFIG, sig_config),
                            "layers": [descriptor(SIMPLE_SIGNING, payload, {
                                "dev.cosignproject.cosign/signature": signature})]})
    pusher.put_manifest(repo, image_digest.replace(":", "-") + ".sig", sig_manifest)
    return refs


def load_key(path: str):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def push(args) -> None:
    key = load_key(args.key)
    pusher = Pusher(args.registry)
    refs, digest_refs = [], []
    total = args.count + args.unsigned
    for i in range(total):
        # the last --unsigned images stay unsigned
        tag_ref, digest_ref = push_image(pusher, key, args.ref_host, f"{args.repository}{i % 10}",
                                         f"v{i}", str(i), signed=i < args.count)
        refs.append(tag_ref)
        digest_refs.append(digest_ref)
    for path, lines in ((args.out, refs), (args.out_digests, digest_refs)):
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("dir")
    p = sub.add_parser("push")
    p.add_argument("--registry", required=True)
    p.add_argument("--ref-host", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--unsigned", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--out-digests", required=True)
    p.add_argument("--repository", default="bench/app")
    args = parser.parse_args()
    if args.cmd == "keygen":
        keygen(args.dir)
    else:
        push(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
