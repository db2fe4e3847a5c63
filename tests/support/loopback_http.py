"""The parts every loopback HTTP server of the tests and benchmarks shares.

tests/support/token_server.py, tests/oci_registry/scripted_registry.py,
tests/hostile/hostile_registry.py and bench/tools/proxy.py build on it:

  LoopbackServer      a ThreadingHTTPServer bound to 127.0.0.1 only, on a
                      given port or on port 0 (the kernel picks one), with
                      optional TLS, daemon request threads and announce(),
                      which writes "<name> listening on 127.0.0.1:<port>" to
                      stdout, so a launcher may read the port it got
  serve_until_stopped runs servers until SIGTERM or SIGINT, then stops
                      accepting and closes their sockets (exit status 0)
  QuietHandler        a request handler that logs nothing on its own, with
                      reply(), reply_json(), reply_registry_error(),
                      read_body() (capped) and peek_first_byte() (tells a TLS
                      ClientHello from plain HTTP)
  RequestLog          appends one JSON line per request to a file, under a
                      lock, for tests to count requests

Standard library only (Debian's python3).
"""

import json
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"
TLS_HANDSHAKE = 0x16  # first byte of a TLS record carrying a ClientHello


class LoopbackServer(ThreadingHTTPServer):
    """Serves `handler` on 127.0.0.1:`port` (0: any free port) in threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, handler, backlog=None, tls_cert="", tls_key=""):
        if backlog is not None:
            self.request_queue_size = backlog
        super().__init__((LOOPBACK, port), handler)
        if tls_cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls_cert, tls_key)
            self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def port(self):
        return self.server_address[1]

    def announce(self, name):
        sys.stdout.write("%s listening on %s:%d\n" % (name, LOOPBACK, self.port))
        sys.stdout.flush()


def serve_until_stopped(*servers):
    """Runs every server until SIGTERM or SIGINT; then stops and closes them."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler without http.server's stderr log, and with helpers."""

    BODY_CAP = 64 * 1024 * 1024  # read_body()'s default cap

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=None):
        """Answers `status` with `body` (not sent for HEAD) and its Content-Length.

        `headers` is a dict or a list of (name, value) pairs.
        """
        self.send_response(status)
        items = headers.items() if isinstance(headers, dict) else (headers or [])
        for name, value in items:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status, value, headers=None):
        """Answers `value` as compact JSON with Content-Type application/json."""
        extra = {"Content-Type": "application/json"}
        extra.update(headers or {})
        self.reply(status, json.dumps(value, separators=(",", ":")).encode(), extra)

    def reply_registry_error(self, status, code, message, headers=None):
        """Answers a Distribution API error body {"errors":[{code, message}]}."""
        self.reply_json(status, {"errors": [{"code": code, "message": message}]}, headers)

    def read_body(self, cap=None):
        """The request body, at most `cap` bytes (BODY_CAP by default).

        A body longer than the cap, or a Content-Length that is not a
        non-negative number, leaves the rest unread: the connection is closed
        after this answer, never reused.
        """
        cap = self.BODY_CAP if cap is None else cap
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > cap:
            self.close_connection = True
        if length <= 0:
            return b""
        return self.rfile.read(min(length, cap))

    def peek_first_byte(self):
        """The first byte the client sent, left unread; None when it hung up."""
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return None
        return first[0] if first else None


class RequestLog:
    """Appends one JSON object per line to `path`; safe across threads."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, entry):
        with self.lock, open(self.path, "a") as log:
            log.write(json.dumps(entry) + "\n")
