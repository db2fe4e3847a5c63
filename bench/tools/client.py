#!/usr/bin/env python3
"""Gatekeeper-like client of the provider's POST /validate, for benchmarks.

Common flags: --url https://127.0.0.1:PORT/validate --ca CA.pem --timeout SECONDS
(the answer deadline; Gatekeeper's validating webhook allows 3 s).

  client.py once --refs FILE --n N
      One request with the first N references of FILE as keys. Prints JSON
      {"ms": latency, "items": n, "item_errors": n, "system_error": "...",
       "status": http status, "first_error": "...", "values": [each item's value or null]}.
  client.py concurrent --refs FILE --n N --clients C
      C clients, each on its own connection, send the same N-key request at the
      same instant (a barrier). Prints JSON with per-request latencies summary.
  client.py body --refs FILE --n N
      Prints the ProviderRequest JSON body for the first N references.
  client.py stream --refs FILE --pods P --zipf S --burst B --gap-ms G --clients C
      Replays a rollout of P pods: each pod asks for 1-3 images drawn from the
      references with a Zipf(S) law, pods arrive in bursts of B sent by C
      concurrent clients, with G ms of quiet between bursts. Prints JSON with
      timeouts, item errors, system errors and latency percentiles.
      --spread-s T starts burst i no earlier than i * T / bursts seconds after
      the first (a rollout that lasts about T seconds whatever the machine);
      --log FILE writes one JSON line per request: {"sent", "done" (epoch
      seconds), "keys", "status", "timed_out", "items": [[key, value, error], ...]}.
"""
import argparse
import http.client
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

API_VERSION = "externaldata.gatekeeper.sh/v1beta1"


def read_refs(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def body_for(keys):
    return json.dumps({"apiVersion": API_VERSION, "kind": "ProviderRequest",
                       "request": {"keys": keys}}).encode()


class Client:
    """One keep-alive HTTPS connection to the provider."""

    def __init__(self, url, ca, timeout):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path or "/validate"
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.timeout = timeout
        self.conn = None

    def connect(self):
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                timeout=self.timeout)
        self.conn.connect()

    def post(self, keys):
        """Returns (latency_s, status, parsed_json_or_None, timed_out)."""
        if self.conn is None:
            self.connect()
        data = body_for(keys)
        start = time.perf_counter()
        try:
            self.conn.request("POST", self.path, body=data,
                              headers={"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            raw = resp.read()
        except (socket.timeout, TimeoutError):
            self.conn.close()
            self.conn = None
            return time.perf_counter() - start, 0, None, True
        except (ConnectionError, http.client.HTTPException, ssl.SSLError):
            self.conn.close()
            self.conn = None
            return time.perf_counter() - start, 0, None, False
        elapsed = time.perf_counter() - start
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return elapsed, resp.status, parsed, False


def error_kind(item):
    """An item error with its image names and digests masked, so that equal causes group."""
    text = item.get("error", "").replace(item.get("key", "") or "\0", "<key>")
    text = re.sub(r"sha256[:-][0-9a-f]{64}", "<digest>", text)
    text = re.sub(r"127\.0\.0\.1:\d+/\S+?(?=[@:\s]|$)", "<image>", text)
    return text[-200:]


def summarise_answer(parsed):
    if not isinstance(parsed, dict):
        return 0, 0, "unparseable answer", ""
    response = parsed.get("response") or {}
    items = response.get("items") or []
    errors = [error_kind(i) for i in items if i.get("error")]
    return len(items), len(errors), response.get("systemError", ""), (errors[0] if errors else "")


def answer_items(parsed):
    """[[key, value, error], ...] of an answer's items (empty when it has none)."""
    response = parsed.get("response") if isinstance(parsed, dict) else None
    items = response.get("items") if isinstance(response, dict) else None
    return [[i.get("key"), i.get("value"), i.get("error", "")]
            for i in (items if isinstance(items, list) else []) if isinstance(i, dict)]


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def cmd_once(args):
    keys = read_refs(args.refs)[:args.n]
    client = Client(args.url, args.ca, args.timeout)
    client.connect()  # the handshake is not part of the measured latency
    elapsed, status, parsed, timed_out = client.post(keys)
    items, item_errors, system_error, first_error = summarise_answer(parsed)
    response = parsed.get("response") if isinstance(parsed, dict) else None
    answered = response.get("items") if isinstance(response, dict) else None
    values = [i.get("value") if isinstance(i, dict) else None
              for i in (answered if isinstance(answered, list) else [])]
    print(json.dumps({"ms": elapsed * 1000, "status": status, "items": items,
                      "item_errors": item_errors, "system_error": system_error,
                      "first_error": first_error, "timed_out": timed_out, "values": values}))


def cmd_concurrent(args):
    keys = read_refs(args.refs)[:args.n]
    clients = [Client(args.url, args.ca, args.timeout) for _ in range(args.clients)]
    for c in clients:
        c.connect()
    barrier = threading.Barrier(args.clients)
    results = [None] * args.clients

    def run(i):
        barrier.wait()
        results[i] = clients[i].post(keys)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = [r[0] * 1000 for r in results]
    item_errors = sum(summarise_answer(r[2])[1] for r in results)
    print(json.dumps({"requests": args.clients, "timeouts": sum(1 for r in results if r[3]),
                      "non_200": sum(1 for r in results if r[1] != 200),
                      "item_errors": item_errors,
                      "p50_ms": percentile(latencies, 50), "max_ms": max(latencies)}))


def cmd_body(args):
    sys.stdout.write(body_for(read_refs(args.refs)[:args.n]).decode())


def cmd_stream(args):
    refs = read_refs(args.refs)
    rng = random.Random(args.seed)
    weights = [1.0 / (rank ** args.zipf) for rank in range(1, len(refs) + 1)]
    order = refs[:]
    rng.shuffle(order)  # popularity is unrelated to push order
    pods = []
    for _ in range(args.pods):
        n = rng.choice((1, 1, 1, 2, 2, 3))  # containers + init containers per pod
        pods.append(list(dict.fromkeys(rng.choices(order, weights=weights, k=n))))
    lock = threading.Lock()
    latencies, counters = [], {"timeouts": 0, "item_errors": 0, "system_errors": 0,
                               "non_200": 0, "items": 0}
    first_errors = {}
    queue = []
    log = open(args.log, "w") if args.log else None

    def worker(client):
        while True:
            with lock:
                if not queue:
                    return
                keys = queue.pop()
            sent = time.time()
            elapsed, status, parsed, timed_out = client.post(keys)
            items, item_errors, system_error, first_error = summarise_answer(parsed)
            with lock:
                if log is not None:
                    log.write(json.dumps({"sent": sent, "done": sent + elapsed, "keys": keys,
                                          "status": status, "timed_out": timed_out,
                                          "items": answer_items(parsed)}) + "\n")
                latencies.append(elapsed * 1000)
                counters["timeouts"] += 1 if timed_out or elapsed > args.timeout else 0
                counters["non_200"] += 0 if status == 200 else 1
                counters["items"] += items
                counters["item_errors"] += item_errors
                counters["system_errors"] += 1 if system_error else 0
                if first_error:
                    first_errors[first_error] = first_errors.get(first_error, 0) + 1

    # --url may list several providers (comma-separated, e.g. replicas behind
    # one Service): the connections are spread over them round robin.
    urls = args.url.split(",")
    clients = [Client(urls[i % len(urls)], args.ca, args.timeout + 1)
               for i in range(args.clients)]
    start = time.perf_counter()
    bursts = (len(pods) + args.burst - 1) // args.burst
    for i in range(0, len(pods), args.burst):
        if args.spread_s:
            wait = start + (i // args.burst) * args.spread_s / bursts - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        queue[:] = list(reversed(pods[i:i + args.burst]))
        threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if args.gap_ms and i + args.burst < len(pods):
            time.sleep(args.gap_ms / 1000.0)
    duration = time.perf_counter() - start
    if log is not None:
        log.close()
    result = {"pods": args.pods, "distinct_images": len(refs), "duration_s": duration,
              "images_used": len({key for pod in pods for key in pod})}
    result.update(counters)
    result.update({"p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
                   "p99_ms": percentile(latencies, 99), "p999_ms": percentile(latencies, 99.9),
                   "max_ms": max(latencies) if latencies else 0,
                   "top_errors": sorted(first_errors.items(), key=lambda kv: -kv[1])[:3]})
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("once", "concurrent", "body", "stream"):
        s = sub.add_parser(name)
        s.add_argument("--url", default="")
        s.add_argument("--ca", default="")
        s.add_argument("--timeout", type=float, default=3.0)
        s.add_argument("--refs", required=True)
        s.add_argument("--n", type=int, default=1)
        s.add_argument("--clients", type=int, default=8)
        s.add_argument("--pods", type=int, default=10000)
        s.add_argument("--zipf", type=float, default=1.0)
        s.add_argument("--burst", type=int, default=500)
        s.add_argument("--gap-ms", type=float, default=200)
        s.add_argument("--seed", type=int, default=6)
        s.add_argument("--spread-s", type=float, default=0)
        s.add_argument("--log", default="")
    args = p.parse_args()
    {"once": cmd_once, "concurrent": cmd_concurrent, "body": cmd_body,
     "stream": cmd_stream}[args.cmd](args)


if __name__ == "__main__":
    main()
