#!/usr/bin/env python3
"""A hostile registry for end-to-end tests: a proxy in front of a real
docker-registry (plain HTTP) that misbehaves on demand.

The first path component of the repository names the fault, and the rest is
the real repository upstream: GET /v2/<fault>/<repo>/manifests/<ref> is
answered from /v2/<repo>/manifests/<ref> on the upstream registry, then
damaged as <fault> says. Faults:

  pass            forward unchanged
  slow            every request answered only after 30 s
  trickle         signature manifest sent one byte every 500 ms
  endless         signature manifest body streamed (chunked) without end
  hugelength      signature manifest announced with Content-Length: 10 GiB
  bigmanifest     signature manifest of 5 MiB (valid JSON, correct digest)
  biglayer        signature layer blob of 5 MiB
  manylayers      signature manifest with 2,000 layers (correct digest)
  baddigest       signature layer blob with one byte changed
  redirectloop    blob requests redirect to themselves forever
  ratelimit       every other request for a path gets 429, Retry-After: 1
                  (the first, third, ...), so each fetch succeeds on its retry
  ratelimitdate   as ratelimit, with Retry-After as an HTTP-date 2 s ahead
  ratelimitlong   every manifest request gets 429, Retry-After: 3600
  error500        every manifest request gets 500
  badjson         signature manifest truncated JSON (correct digest)
  overlap         forward unchanged, but hold every request OVERLAP_HOLD (150 ms)
                  first, so that requests a client sends in parallel really
                  overlap here; each one's log line carries "in_flight": how
                  many overlap requests (itself included) were being handled
                  when it arrived. A request stops counting just before the
                  first byte of its answer is written, so a client that waits
                  for each answer before sending the next is always seen at 1.
  gate-<name>     forward unchanged, but hold every request until the file
                  <log>.gate-<name>.open exists; each one's log line carries
                  "in_flight": how many gate-<name> requests (itself included)
                  were being held or answered when it arrived (counted as for
                  overlap)

Referrers API faults (GET /v2/<fault>/<repo>/referrers/<digest>, answered 200
with Content-Type application/vnd.oci.image.index.v1+json; every other fault
answers that route 404, as a registry without the API does):
  refgarbage      a body that is not JSON
  refhuge         a valid index of 5 MiB (one huge annotation)
  refmany         a valid index listing 5,000 referrers
  refdeep         an index whose annotations nest 100,000 arrays deep

Listeners (any may be omitted):
  --plain PORT    no authentication; every fault above
  --basic PORT    Basic auth (user/password from --user, --password); fault
                  "redirectother": blobs redirect to http://localhost:PORT/storage/...,
                  another host by name, which serves them without asking for
                  credentials; fault "foreignrealm": manifests and blobs answer
                  401 with a Bearer realm on another host by name
                  (http://localhost:<token port>/token), which would see any
                  credentials sent to it
  --token PORT    Bearer tokens from http://127.0.0.1:PORT/token; faults
                  "tokenfail" (the token endpoint answers 500), "tokenexpired"
                  (the first token issued for a scope is refused as expired),
                  "tokenexpiredalways" (every token is refused as expired)
  --hang PORT     accepts connections and never reads or answers

Every request is appended to --log as one JSON line: listener, method, path,
host, whether an Authorization header came with it, and for the overlap fault
"in_flight" (above).

usage: hostile_registry.py --upstream HOST:PORT --log FILE [listeners...]
"""
import argparse
import base64
import email.utils
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from loopback_http import (  # noqa: E402
    TLS_HANDSHAKE, LoopbackServer, QuietHandler, RequestLog, serve_until_stopped)

MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OVERLAP_HOLD = 0.15  # seconds each request of the overlap fault is held

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def referrers_index(manifests, annotations=None):
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    if annotations is not None:
        index["annotations"] = annotations
    return json.dumps(index).encode()


def many_referrers():
    return referrers_index([{"mediaType": OCI_MANIFEST, "size": 100,
                             "digest": "sha256:%064x" % i,
                             "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}
                            for i in range(5000)])


REFERRERS_FAULTS = {
    "refgarbage": lambda: b"\x00<html>not an index{[",
    "refhuge": lambda: referrers_index([], {"padding": "x" * (5 * MIB)}),
    "refmany": many_referrers,
    "refdeep": lambda: (b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() +
                        b'","manifests":[],"annotations":{"a":' + b"[" * 100000 +
                        b"]" * 100000 + b"}}"),
}

args = None
request_log = None  # RequestLog of --log
state_lock = threading.Lock()
seen = {}  # (listener, method, path) -> requests so far
tokens = {}  # token -> (scope, serial number within the scope)
scope_serials = {}
overlap_in_flight = 0  # overlap requests being handled now; under state_lock
gate_in_flight = {}  # gate-<name> -> its requests being handled now; under state_lock


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_signature_manifest(path):
    return "/manifests/" in path and re.search(r"/manifests/sha256-[0-9a-f]{64}\.sig$", path)


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    listener = "plain"

    def handle(self):
        # A TLS ClientHello on this plain-HTTP port: hang up at once, as a
        # real plain-HTTP server's error reply would end the handshake.
        first = self.peek_first_byte()
        if first is None or first == TLS_HANDSHAKE:
            return
        super().handle()

    def record(self, extra=None):
        line = {
            "listener": self.listener,
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host", ""),
            "auth": self.headers.get("Authorization") is not None,
        }
        line.update(extra or {})
        request_log.write(line)

    def upstream(self, path):
        conn = http.client.HTTPConnection(args.upstream, timeout=30)
        headers = {}
        if self.headers.get("Accept"):
            headers["Accept"] = self.headers["Accept"]
        conn.request(self.command, path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        kept = {}
        for name in ("Content-Type", "Docker-Content-Digest", "Location"):
            if response.getheader(name):
                kept[name] = response.getheader(name)
        conn.close()
        return response.status, kept, body

    # --- authentication -------------------------------------------------

    def check_basic(self):
        expected = "Basic " + base64.b64encode(
            (args.user + ":" + args.password).encode()).decode()
        if self.headers.get("Authorization") == expected:
            return True
        self.reply_registry_error(401, "UNAUTHORIZED", "authentication required",
                                  {"WWW-Authenticate": 'Basic realm="hostile"'})
        return False

    def token_challenge(self, scope, error=None):
        value = 'Bearer realm="http://127.0.0.1:%d/token",service="hostile"' % args.token
        if scope:
            value += ',scope="%s"' % scope
        if error:
            value += ',error="%s"' % error
        self.reply_registry_error(401, "UNAUTHORIZED", "token required",
                                  {"WWW-Authenticate": value})

    def issue_token(self):
        query = dict(parse_qsl(urlsplit(self.path).query))
        scope = query.get("scope", "")
        if "repository:tokenfail/" in scope:
            return self.reply(500, b'{"errors":[{"code":"UNKNOWN","message":"token service down"}]}')
        with state_lock:
            serial = scope_serials.get(scope, 0) + 1
            scope_serials[scope] = serial
            token = "tok-%d-%s" % (serial, hashlib.sha256(
                ("%s %d %f" % (scope, serial, time.time())).encode()).hexdigest()[:16])
            tokens[token] = (scope, serial)
        return self.reply_json(200, {"token": token, "expires_in": 300})

    def check_token(self, fault, repo):
        scope = "repository:%s/%s:pull" % (fault, repo) if fault else ""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self.token_challenge(scope)
            return False
        with state_lock:
            known = tokens.get(header[len("Bearer "):])
        if known is None:
            self.token_challenge(scope, "invalid_token")
            return False
        _, serial = known
        if fault == "tokenexpiredalways" or (fault == "tokenexpired" and serial == 1):
            self.token_challenge(scope, "invalid_token")
            return False
        return True

    # --- routing --------------------------------------------------------

    def handle_any(self):
        if urlsplit(self.path).path.startswith("/v2/overlap/"):
            return self.overlap()
        gate = re.match(r"^/v2/(gate-[a-z0-9]+)/", urlsplit(self.path).path)
        if gate:
            return self.gate(gate.group(1))
        self.record()
        self.read_body()
        path = urlsplit(self.path).path
        if self.listener == "token" and path == "/token":
            return self.issue_token()
        if self.listener == "basic" and path.startswith("/storage/"):
            # Another host by name: serves blobs to anyone.
            status, headers, body = self.upstream("/v2/" + path[len("/storage/"):])
            return self.reply(status, body, headers)
        if path == "/v2/" or path == "/v2":
            if self.listener == "basic" and not self.check_basic():
                return None
            if self.listener == "token" and not self.check_token("", ""):
                return None
            return self.reply_json(200, {})
        referrers = re.match(r"^/v2/([^/]+)/(.+)/referrers/([^/]+)$", path)
        if referrers and referrers.group(1) in REFERRERS_FAULTS:
            return self.reply(200, REFERRERS_FAULTS[referrers.group(1)](),
                              {"Content-Type": OCI_INDEX})
        match = re.match(r"^/v2/([^/]+)/(.+)/(manifests|blobs)/([^/]+)$", path)
        if not match:
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no route"}]}')
        fault, repo, kind, ref = match.groups()
        if self.listener == "basic" and fault == "foreignrealm":
            return self.reply_registry_error(401, "UNAUTHORIZED", "token", {
                "WWW-Authenticate":
                    'Bearer realm="http://localhost:%d/token",service="foreign"' % args.token})
        if self.listener == "basic" and not self.check_basic():
            return None
        if self.listener == "token" and not self.check_token(fault, repo):
            return None
        upstream_path = "/v2/%s/%s/%s" % (repo, kind, ref)
        return self.fault(fault, kind, upstream_path)

    def overlap(self):
        # Counted from arrival until just before the answer goes out: a
        # request the client sends only after reading the previous answer
        # can never be counted together with it.
        global overlap_in_flight
        with state_lock:
            overlap_in_flight += 1
            in_flight = overlap_in_flight
        try:
            self.record({"in_flight": in_flight})
            self.read_body()
            time.sleep(OVERLAP_HOLD)
            path = urlsplit(self.path).path
            status, headers, body = self.upstream("/v2/" + path[len("/v2/overlap/"):])
        except Exception:
            status, headers, body = 502, {}, b'{"errors":[{"code":"UNKNOWN","message":"upstream"}]}'
        finally:
            with state_lock:
                overlap_in_flight -= 1
        return self.reply(status, body, headers)

    def gate(self, name):
        with state_lock:
            gate_in_flight[name] = gate_in_flight.get(name, 0) + 1
            in_flight = gate_in_flight[name]
        try:
            self.record({"in_flight": in_flight})
            opened = args.log + "." + name + ".open"
            deadline = time.monotonic() + 120
            while not os.path.exists(opened) and time.monotonic() < deadline:
                time.sleep(0.01)
            path = urlsplit(self.path).path
            status, headers, body = self.upstream("/v2/" + path[len("/v2/" + name + "/"):])
        except Exception:
            status, headers, body = 502, {}, b'{"errors":[{"code":"UNKNOWN","message":"upstream"}]}'
        finally:
            with state_lock:
                gate_in_flight[name] -= 1
        return self.reply(status, body, headers)

    def fault(self, fault, kind, upstream_path):
        signature = kind == "manifests" and is_signature_manifest(upstream_path)
        if fault == "slow":
            time.sleep(30)
        if fault in ("ratelimit", "ratelimitdate"):
            # Every other request is throttled, with Retry-After in seconds
            # (ratelimit) or as an HTTP-date (ratelimitdate).
            key = (self.listener, self.command, self.path)
            with state_lock:
                seen[key] = seen.get(key, 0) + 1
                odd = seen[key] % 2 == 1
            if odd:
                retry_after = ("1" if fault == "ratelimit"
                               else email.utils.formatdate(time.time() + 2, usegmt=True))
                return self.reply_registry_error(429, "TOOMANYREQUESTS", "slow down",
                                                 {"Retry-After": retry_after})
        if fault == "ratelimitlong" and kind == "manifests":
            return self.reply_registry_error(429, "TOOMANYREQUESTS", "slow down",
                                             {"Retry-After": "3600"})
        if fault == "error500" and kind == "manifests":
            return self.reply_registry_error(500, "UNKNOWN", "internal error")
        if fault == "redirectloop" and kind == "blobs":
            return self.reply(307, b"", {"Location": self.path})
        if fault == "redirectother" and kind == "blobs" and self.command == "GET":
            return self.reply(307, b"", {
                "Location": "http://localhost:%d/storage/%s" % (args.basic, upstream_path[4:])})

        status, headers, body = self.upstream(upstream_path)
        if status != 200 or self.command == "HEAD":
            return self.reply(status, body, headers)

        if signature and fault == "trickle":
            return self.stream_slowly(body, headers)
        if signature and fault == "endless":
            return self.stream_endless(headers)
        if signature and fault == "hugelength":
            return self.stream_huge(headers)
        if signature and fault in ("bigmanifest", "manylayers", "badjson"):
            body = self.damage_manifest(fault, body)
            headers["Docker-Content-Digest"] = digest_of(body)
        if kind == "blobs" and fault == "biglayer":
            body = body + b" " * (5 * MIB)
        if kind == "blobs" and fault == "baddigest":
            body = bytes([body[0] ^ 0x01]) + body[1:]
        return self.reply(status, body, headers)

    @staticmethod
    def damage_manifest(fault, body):
        manifest = json.loads(body)
        if fault == "bigmanifest":
            manifest.setdefault("annotations", {})["padding"] = "x" * (5 * MIB)
        elif fault == "manylayers":
            layer = manifest["layers"][0]
            layers = []
            for i in range(2000):
                copy = json.loads(json.dumps(layer))
                copy.setdefault("annotations", {})["hostile.copy"] = str(i)
                layers.append(copy)
            manifest["layers"] = layers
        else:  # badjson
            return json.dumps(manifest).encode()[:40]
        return json.dumps(manifest).encode()

    def stream_slowly(self, body, headers):
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass
        self.close_connection = True

    def stream_endless(self, headers):
        self.send_response(200)
        self.send_header("Content-Type", headers.get("Content-Type", OCI_MANIFEST))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b" " * 65536
        frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                self.wfile.write(frame)
        except OSError:
            pass
        self.close_connection = True

    def stream_huge(self, headers):
        self.send_response(200)
        self.send_header("Content-Type", headers.get("Content-Type", OCI_MANIFEST))
        self.send_header("Content-Length", str(10 * 1024 * MIB))
        self.end_headers()
        chunk = b"\0" * 65536
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                self.wfile.write(chunk)
        except OSError:
            pass
        self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = handle_any


def hang_forever(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    held = []
    while True:
        conn, peer = listener.accept()
        held.append(conn)  # never read, never answered, never closed
        request_log.write({"listener": "hang", "peer_port": peer[1]})


def main():
    global args, request_log
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--plain", type=int)
    parser.add_argument("--basic", type=int)
    parser.add_argument("--token", type=int)
    parser.add_argument("--hang", type=int)
    parser.add_argument("--user", default="hostile-user")
    parser.add_argument("--password", default="hostile-password")
    args = parser.parse_args()
    request_log = RequestLog(args.log)
    servers = []
    for name in ("plain", "basic", "token"):
        if getattr(args, name):
            handler = type("Handler_" + name, (Handler,), {"listener": name})
            servers.append(LoopbackServer(getattr(args, name), handler))
            servers[-1].announce("hostile-registry " + name)
    if args.hang:
        threading.Thread(target=hang_forever, args=(args.hang,), daemon=True).start()
    serve_until_stopped(*servers)


if __name__ == "__main__":
    main()
