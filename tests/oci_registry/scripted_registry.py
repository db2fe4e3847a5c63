#!/usr/bin/env python3
"""A misbehaving registry for RegistryClient tests: answers fixed routes with
the failures a real registry cannot be made to produce on demand (5xx then
success, 429 with Retry-After, a lying Docker-Content-Digest, redirects to
another host, relative upload Locations with a query, paginated tags, a reset
connection, token realms and 401 challenges on other hosts, credentials that
rotate, referrers answers that are garbage, huge, deeply nested or of the
wrong type). Every request is appended to LOG as one JSON line.

usage: scripted_registry.py PORT LOG
"""
import base64
import hashlib
import json
import os
import re
import sys
import threading
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from loopback_http import (  # noqa: E402
    TLS_HANDSHAKE, LoopbackServer, QuietHandler, RequestLog, serve_until_stopped)

PORT = int(sys.argv[1])
LOG = RequestLog(sys.argv[2])
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + "0" * 64, "size": 2},
    "layers": [],
}, separators=(",", ":")).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
STORED_BLOB = b"stored blob behind a redirect"
STORED_DIGEST = "sha256:" + hashlib.sha256(STORED_BLOB).hexdigest()

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def referrers_index(entries, media_type=INDEX_TYPE):
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries},
                      separators=(",", ":")).encode()


def referrer_entry(n):
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:%064x" % n, "size": 100,
            "artifactType": "application/vnd.example+json"}


# /v2/referrers-<name>/referrers/<digest>: (status, Content-Type, body).
REFERRERS = {
    "ok": (200, INDEX_TYPE, referrers_index([referrer_entry(1)])),
    "ok-charset": (200, INDEX_TYPE + "; charset=utf-8", referrers_index([referrer_entry(1)])),
    "json": (200, "application/json", referrers_index([referrer_entry(1)])),
    "html": (200, "text/html", b"<html>login</html>"),
    "400": (400, "application/json", b'{"errors":[{"code":"UNSUPPORTED"}]}'),
    # What docker-registry 2.8 (gorilla/mux, no such route) answers.
    "404": (404, "text/plain; charset=utf-8", b"404 page not found\n"),
    # A registry with the API that does not hold the repository (as
    # go-containerregistry's registry answers).
    "name-unknown": (404, "application/json",
                     b'{"errors":[{"code":"NAME_UNKNOWN","message":"unknown name"}]}'),
    "406": (406, "text/plain", b"not acceptable"),
    "500": (500, "application/json", b'{"errors":[{"code":"UNKNOWN"}]}'),
    "garbage": (200, INDEX_TYPE, b'{"schemaVersion":2,"manifests":[{"mediaType":'),
    "not-an-object": (200, INDEX_TYPE, b'["sha256:' + b"1" * 64 + b'"]'),
    "deep": (200, INDEX_TYPE, b'{"schemaVersion":2,"manifests":' + b"[" * 100000 +
             b"]" * 100000 + b"}"),
    "huge": (200, INDEX_TYPE, b" " * (5 * 1024 * 1024) + referrers_index([])),
    "many": (200, INDEX_TYPE, referrers_index([referrer_entry(n) for n in range(1001)])),
    "list-type": (200, INDEX_TYPE, referrers_index(
        [referrer_entry(1)], "application/vnd.docker.distribution.manifest.list.v2+json")),
    "bad-digest": (200, INDEX_TYPE, referrers_index(
        [dict(referrer_entry(1), digest="sha256:../../etc/passwd")])),
}

# /v2/refpages-<case>/referrers/<digest><query>: query -> (entries, Link
# target or None); "{own}" is the list's own path, "{port}" this server's.
REFERRER_PAGES = {
    # Three pages: a relative link, then an absolute one on the same host;
    # page 2 repeats entry 2, page 3 ends the list.
    "three": {"": ([1, 2], "{own}?last=2"),
              "?last=2": ([2, 3, 4], "http://127.0.0.1:{port}{own}?last=4"),
              "?last=4": ([5], None)},
    # A link to another host (same port, other name): never followed.
    "offhost": {"": ([1], "http://localhost:{port}{own}?last=1"),
                "?last=1": ([2], None)},
    # A link to another repository's list on the same host.
    "otherpath": {"": ([1], "/v2/refpages-three/referrers/sha256:" + "a" * 64 + "?last=2")},
    # A link that loops back to the page it is on.
    "loop": {"": ([1], "{own}?last=1"), "?last=1": ([2], "{own}?last=1")},
    # A list that never ends (?page=N links to ?page=N+1).
    "endless": {"": ([0], "{own}?page=1")},
    # 600 entries per page: past the entry cap on page 2.
    "toomany": {"": (list(range(1, 601)), "{own}?last=600"),
                "?last=600": (list(range(601, 1201)), None)},
    # Page 2 is gone: an error, not a shorter list.
    "gone": {"": ([1], "{own}?last=1")},
}

lock = threading.Lock()
counters = {}
stored_tags = {}  # path -> body of a manifest PUT under a sha256-<hex> tag


def bump(name):
    with lock:
        counters[name] = counters.get(name, 0) + 1
        return counters[name]


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def handle(self):
        # A TLS ClientHello on this plain-HTTP port: answer as Go's HTTP
        # servers do (a plain-text 400), which clients read as a peer that
        # does not speak TLS, instead of waiting for a request line.
        first = self.peek_first_byte()
        if first is None:
            return
        if first == TLS_HANDSHAKE:
            try:
                self.connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP "
                                        b"request to an HTTPS server.\n")
            except OSError:
                pass
            return
        super().handle()

    def record(self):
        LOG.write({
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host", ""),
            "auth": self.headers.get("Authorization") is not None,
            "peer_port": self.client_address[1],
        })

    def manifest(self, digest=MANIFEST_DIGEST):
        self.reply(200, MANIFEST, {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json",
            "Docker-Content-Digest": digest,
        })

    def unavailable(self, retry_after="0"):
        self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}',
                   {"Retry-After": retry_after, "Content-Type": "application/json"})

    def handle_any(self):
        self.record()
        body = self.read_body().decode()
        path = self.path
        oauth = re.fullmatch(r"/v2/(oauth[a-z0-9-]*)/manifests/v1", path)
        if oauth:
            if self.headers.get("Authorization") == "Bearer good-token":
                return self.manifest()
            return self.reply(401, b"", {"WWW-Authenticate": (
                'Bearer realm="http://127.0.0.1:%d/token",service="scripted",'
                'scope="repository:%s:pull"' % (PORT, oauth.group(1)))})
        if path == "/v2/elsewhere/manifests/v1":
            # A token realm on another host (same port, other name).
            if self.headers.get("Authorization") == "Bearer good-token":
                return self.manifest()
            return self.reply(401, b"", {"WWW-Authenticate": (
                'Bearer realm="http://localhost:%d/token",service="scripted"' % PORT)})
        if path == "/v2/swap/manifests/v1":
            # Sends the client to another host, whose 401 names its own realm.
            return self.reply(307, b"", {"Location": "http://localhost:%d/swap-target" % PORT})
        if path == "/swap-target":
            return self.reply(401, b"", {"WWW-Authenticate": (
                'Bearer realm="http://localhost:%d/evil-token",service="evil"' % PORT)})
        if path.startswith("/evil-token"):
            return self.reply(200, b'{"token":"evil-token"}')
        if path == "/v2/rotated/manifests/v1":
            basic = "Basic " + base64.b64encode(b"user:new-pw").decode()
            if self.headers.get("Authorization") == basic:
                return self.manifest()
            return self.reply(401, b"", {"WWW-Authenticate": 'Basic realm="scripted"'})
        if path == "/token" and self.command == "POST":
            form = dict(parse_qsl(body))
            if (form.get("grant_type") == "refresh_token" and form.get("refresh_token") ==
                    "refresh-123" and form.get("service") == "scripted" and
                    form.get("scope") == "repository:oauth:pull"):
                return self.reply(200, b'{"access_token":"good-token","expires_in":300}')
            return self.reply(401)
        if path.startswith("/token?"):
            query = dict(parse_qsl(path.split("?", 1)[1]))
            basic = "Basic " + base64.b64encode(b"user:secret-pw").decode()
            if (self.headers.get("Authorization") == basic and
                    re.fullmatch(r"repository:oauth[a-z0-9-]*:pull", query.get("scope", ""))):
                return self.reply(200, b'{"token":"good-token"}')
            return self.reply(401)
        if path == "/v2/":
            return self.reply(200, b"{}")
        # subject-api: OCI-Subject on the PUT and a referrers API; subject-ecr:
        # OCI-Subject without a referrers API (as ECR does).
        push = re.fullmatch(r"/v2/subject-(api|ecr)/manifests/(sha256[:-][0-9a-f]{64})", path)
        if push and self.command == "PUT":
            headers = {"Docker-Content-Digest":
                       "sha256:" + hashlib.sha256(body.encode()).hexdigest()}
            if ":" in push.group(2):
                headers["OCI-Subject"] = json.loads(body)["subject"]["digest"]
            else:
                with lock:
                    stored_tags[path] = body.encode()
            return self.reply(201, b"", headers)
        if push and path in stored_tags:
            with lock:
                stored = stored_tags[path]
            return self.reply(200, stored, {"Content-Type": INDEX_TYPE, "Docker-Content-Digest":
                                            "sha256:" + hashlib.sha256(stored).hexdigest()})
        listing = re.fullmatch(r"/v2/subject-(api|ecr)/referrers/sha256:[0-9a-f]{64}", path)
        if listing and listing.group(1) == "api":
            return self.reply(200, referrers_index([]), {"Content-Type": INDEX_TYPE})
        pages = re.fullmatch(r"/v2/refpages-([a-z0-9-]+)/referrers/(sha256:[0-9a-f]{64})(\?.*)?",
                             path)
        if pages:
            return self.referrers_page(pages.group(1), pages.group(2), pages.group(3) or "")
        referrers = re.fullmatch(r"/v2/referrers-([a-z0-9-]+)/referrers/sha256:[0-9a-f]{64}(\?.*)?",
                                 path)
        if referrers and referrers.group(1) in REFERRERS:
            status, content_type, payload = REFERRERS[referrers.group(1)]
            return self.reply(status, payload, {"Content-Type": content_type})
        if path == "/v2/flaky/manifests/v1":
            return self.unavailable() if bump(path) <= 2 else self.manifest()
        if path == "/v2/down/manifests/v1":
            return self.unavailable()
        if path == "/v2/limited/manifests/v1":
            if bump(path) == 1:
                return self.reply(429, b"", {"Retry-After": "1"})
            return self.manifest()
        if path == "/v2/reset/manifests/v1":
            if bump(path) == 1:
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            return self.manifest()
        if path == "/v2/liar/manifests/v1":
            return self.manifest("sha256:" + "1" * 64)
        if path == "/v2/flaky/blobs/uploads/":
            return self.unavailable()
        if path == "/v2/private/blobs/" + STORED_DIGEST:
            if not self.headers.get("Authorization"):
                return self.reply(401, b"", {"WWW-Authenticate": 'Basic realm="scripted"'})
            return self.reply(307, b"", {
                "Location": "http://localhost:%d/storage/%s" % (PORT, STORED_DIGEST)})
        if path == "/storage/" + STORED_DIGEST:
            return self.reply(200, STORED_BLOB)
        if path.startswith("/v2/upload/blobs/sha256:") and self.command == "HEAD":
            return self.reply(404)
        if path == "/v2/upload/blobs/uploads/":
            return self.reply(202, b"", {"Location": "/upload/session-1?_state=abc"})
        if path.startswith("/upload/session-1?_state=abc&digest=sha256%3A"):
            return self.reply(201)
        if path == "/v2/paged/tags/list?n=1000":
            return self.reply(200, b'{"name":"paged","tags":["a","b"]}', {
                "Link": '</v2/paged/tags/list?last=b&n=1000>; rel="next"'})
        if path == "/v2/paged/tags/list?last=b&n=1000":
            return self.reply(200, b'{"name":"paged","tags":["c"]}')
        return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no route"}]}')

    def referrers_page(self, case, digest, query):
        """Paginated referrers lists: refpages-<case> (see REFERRER_PAGES)."""
        own = "/v2/refpages-%s/referrers/%s" % (case, digest)
        page = REFERRER_PAGES.get(case, {}).get(query)
        if case == "endless" and query.startswith("?page="):
            n = int(query[len("?page="):])
            page = ([n], "%s?page=%d" % (own, n + 1))
        if page is None:
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
        entries, link = page
        headers = {"Content-Type": INDEX_TYPE}
        if link is not None:
            link = link.replace("{own}", own).replace("{port}", str(PORT))
            headers["Link"] = '<%s>; rel="next"' % link
        return self.reply(200, referrers_index([referrer_entry(n) for n in entries]), headers)

    do_GET = do_HEAD = do_POST = do_PUT = handle_any


server = LoopbackServer(PORT, Handler)
server.announce("scripted-registry")
serve_until_stopped(server)
