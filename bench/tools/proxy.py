#!/usr/bin/env python3
"""Loopback HTTP/1.1 reverse proxy in front of a registry, for benchmarks.

  proxy.py --listen PORT --upstream HOST:PORT [--delay-ms D] [--rate R --burst B]

--delay-ms D  every request waits D ms before it is forwarded, and a new
              connection waits another D ms (its handshake): a round trip of
              D ms to a distant registry.
--rate R      a token bucket of R requests/s (capacity --burst); past it the
              proxy answers 429 with "Retry-After: 1", as public registries do.

GET /__bench/stats answers {"requests": n, "throttled": n, "faulted": n} (counted
since start, the control requests themselves excluded). GET /__bench/fault?status=S
makes every registry request from then on be answered S (e.g. 503, a registry that
is down behind its load balancer) without reaching the registry, counted in
"faulted"; status=0 forwards again. Listens on 127.0.0.1 only.
"""
import argparse
import http.client
import os
import sys
import threading
import time

# The loopback HTTP server base the test servers share (tests/support).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "support"))
from loopback_http import LoopbackServer, QuietHandler, serve_until_stopped  # noqa: E402

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.capacity = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.throttled = 0
        self.faulted = 0
        self.fault_status = 0


def make_handler(args, bucket, stats):
    upstream_host, upstream_port = args.upstream.rsplit(":", 1)
    delay = args.delay_ms / 1000.0

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.upstream = None
            if delay:
                time.sleep(delay)

        def finish(self):
            super().finish()
            if self.upstream is not None:
                self.upstream.close()

        def forward(self):
            if self.path == "/__bench/stats":
                with stats.lock:
                    counts = {"requests": stats.requests, "throttled": stats.throttled,
                              "faulted": stats.faulted}
                return self.reply_json(200, counts)
            if self.path.startswith("/__bench/fault?status="):
                with stats.lock:
                    stats.fault_status = int(self.path.rsplit("=", 1)[1])
                return self.reply(200, b"ok\n")
            body = self.read_body() or None
            with stats.lock:
                stats.requests += 1
                fault = stats.fault_status
                stats.faulted += 1 if fault else 0
            if fault:
                return self.reply(fault, b'{"errors":[{"code":"UNAVAILABLE","message":'
                                  b'"service unavailable"}]}',
                                  [("Content-Type", "application/json")])
            if delay:
                time.sleep(delay)
            if bucket is not None and not bucket.take():
                with stats.lock:
                    stats.throttled += 1
                return self.reply_registry_error(429, "TOOMANYREQUESTS", "rate limit exceeded",
                                                 {"Retry-After": "1"})
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            for attempt in (0, 1):
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(upstream_host, int(upstream_port),
                                                               timeout=60)
                try:
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    resp = self.upstream.getresponse()
                    data = resp.read()
                    break
                except (ConnectionError, http.client.HTTPException):
                    self.upstream.close()
                    self.upstream = None
                    if attempt:
                        return self.reply(502, b"upstream failed")
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            # HEAD keeps the upstream's Content-Length (the size of the body it describes).
            size = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
            self.send_header("Content-Length", size or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    return Handler


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--delay-ms", type=float, default=0)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--burst", type=float, default=0)
    args = p.parse_args()
    bucket = TokenBucket(args.rate, args.burst or args.rate) if args.rate > 0 else None
    server = LoopbackServer(args.listen, make_handler(args, bucket, Stats()), backlog=512)
    server.announce("proxy")
    serve_until_stopped(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
