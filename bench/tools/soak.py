#!/usr/bin/env python3
"""Soak driver for `signet serve`: steady load, injected faults, resource sampling.

Started by bench/soak.sh, which prepares the registry, the images, the certificates
and the provider. For --duration seconds this driver:

  - sends Gatekeeper ProviderRequests (POST /validate, 1-3 keys, by tag or by digest)
    over HTTPS with a client certificate at a steady --rate, from a pool of keep-alive
    connections that are replaced every --reconnect-every requests;
  - mixes keys of five classes: signed images of a small hot set (cached), signed images
    of a large pool (their cache entries have expired: cold), signed images pushed during
    the run (never seen before: cold), unsigned images of a pool, and unsigned images
    pushed during the run;
  - checks every answer: a signed image must be valid with its exact digest reference,
    an unsigned image must never be valid (that is fatal in any window);
  - restarts the registry at 1/3 and 2/3 of the run and rotates the provider's TLS
    certificate at 1/2 (the new one must be served to new connections);
  - floods the provider with idle TCP connections from another loopback address and
    with hostile request bodies (deeply nested JSON, ~1 MB each, over mTLS), each twice:
    at 1/20 of the run (before warm-up ends, so the RSS baseline includes what the
    allocator keeps after a flood) and again at 11/20 (bodies) and 4/5 (connections);
    neither may cost the well-behaved clients an answer, the provider's RSS must stay
    under a ceiling through each body flood, and the second round must not raise the
    RSS of the last quarter above the baseline;
  - probes /healthz every second (on --health-url when given) and requires an answer
    every time, through every fault and flood;
  - samples the provider's RSS, threads and file descriptors (by kind) every few seconds.

Errors during an injected fault's window (registry restart: from the stop until --tail
seconds after the registry answers again; rotation: until the new certificate is seen,
plus one second) are counted apart; errors outside them fail the run. The floods have
no window: an error while one runs fails the run. Writes a markdown
fragment (--report) and a JSON summary (--json); exits 1 when a check fails.

Only the Python standard library and `cryptography` (through fixture.py) are used.
"""
import argparse
import collections
import hashlib
import http.client
import json
import os
import queue
import random
import resource
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402  (push_image, Pusher, load_key)
from client import body_for, percentile  # noqa: E402

SLOW_S = 3.0  # Gatekeeper's webhook deadline: a slower answer is an error
CLASSES = [
    ("hot", "signed, hot set (cached)"),
    ("cold", "signed, pool (cache expired)"),
    ("new", "signed, pushed during the run (first request)"),
    ("unsigned", "unsigned, pool"),
    ("new-unsigned", "unsigned, pushed during the run (first request)"),
]
SIGNED = {"hot", "cold", "new"}


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def cert_fingerprint(pem_path):
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def reason(text, key=""):
    """An error text without its key prefix, with images, digests and ports masked, so
    that equal causes group."""
    if key and text.startswith(key + "_invalid: "):
        text = text[len(key) + len("_invalid: "):]
    text = re.sub(r"sha256[:-][0-9a-f]{64}", "<digest>", text)
    text = re.sub(r"127\.0\.0\.1:\d+/[\w./<>-]+(?::[\w.-]+)?(?:@<digest>)?", "<image>", text)
    text = re.sub(r"(127\.0\.0\.1[: ]|port )\d+", r"\1<port>", text)
    return text[:240]


def mib(kib):
    return kib / 1024.0


class Clock:
    def __init__(self):
        self.t0 = time.monotonic()

    def now(self):
        return time.monotonic() - self.t0

    def sleep_until(self, t, stop=None):
        while True:
            left = t - self.now()
            if left <= 0:
                return True
            if stop is not None and stop.wait(min(left, 0.5)):
                return False
            if stop is None:
                time.sleep(min(left, 0.5))


# ---- provider process --------------------------------------------------------------------
def socket_table():
    """inode -> ("tcp", local port, remote port, state) or ("unix",) for this namespace."""
    table = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
                    table[inode] = ("tcp", int(local.rsplit(":", 1)[1], 16),
                                    int(remote.rsplit(":", 1)[1], 16), state)
        except OSError:
            pass
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 7:
                    table[parts[6]] = ("unix",)
    except OSError:
        pass
    return table


def sample_process(pid, provider_port, registry_port):
    """RSS, threads and open fds of `pid`, the fds split by kind; None once it is gone.

    client: accepted HTTPS connections; registry: TCP connections to the registry;
    unix: unix socket pairs (libcurl keeps one per pooled handle to wake it up);
    own: everything else (listening socket, files, pipes, event fds, epoll)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    sockets = socket_table()
    kinds = collections.Counter()
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        info = sockets.get(m.group(1)) if m else None
        if info and info[0] == "tcp" and info[3] != "0A" and info[1] == provider_port:
            kinds["client_conns"] += 1  # accepted (the listening socket is state 0A)
        elif info and info[0] == "tcp" and info[2] == registry_port:
            kinds["registry_conns"] += 1
        elif info and info[0] == "unix":
            kinds["unix_fds"] += 1
        else:
            kinds["own_fds"] += 1
    return {"rss_kib": int(status["VmRSS"].split()[0]),
            "threads": int(status["Threads"].strip()), "fds": len(names),
            **{k: kinds[k] for k in ("client_conns", "registry_conns", "unix_fds", "own_fds")}}


# ---- load --------------------------------------------------------------------------------
class KeyMix:
    """Chooses the keys of each request; thread-safe."""

    def __init__(self, signed_tags, signed_digests, unsigned_tags, unsigned_digests, hot, rng):
        self.rng = rng
        self.lock = threading.Lock()
        pairs = list(zip(signed_tags, signed_digests))
        self.hot = pairs[:hot]
        self.cold = pairs[hot:]
        self.unsigned = list(zip(unsigned_tags, unsigned_digests))
        self.fresh = collections.deque()  # (tag ref, digest ref, signed)

    def add_fresh(self, tag_ref, digest_ref, signed):
        with self.lock:
            self.fresh.append((tag_ref, digest_ref, signed))

    def _key(self, cls, pair):
        tag_ref, digest_ref = pair
        ref = tag_ref if self.rng.random() < 0.5 else digest_ref
        return {"ref": ref, "cls": cls, "expect": digest_ref}

    def keys(self):
        with self.lock:
            n = self.rng.choice((1, 1, 2, 2, 3))
            out = []
            if self.fresh:
                tag_ref, digest_ref, signed = self.fresh.popleft()
                out.append(self._key("new" if signed else "new-unsigned", (tag_ref, digest_ref)))
                # seen once: from now on it is an ordinary pool image
                (self.cold if signed else self.unsigned).append((tag_ref, digest_ref))
            while len(out) < n:
                r = self.rng.random()
                if r < 0.5:
                    out.append(self._key("hot", self.rng.choice(self.hot)))
                elif r < 0.8:
                    out.append(self._key("cold", self.rng.choice(self.cold)))
                else:
                    out.append(self._key("unsigned", self.rng.choice(self.unsigned)))
            self.rng.shuffle(out)
            return out


class Connection:
    """One keep-alive HTTPS connection with a client certificate."""

    def __init__(self, soak):
        self.soak = soak
        self.conn = None
        self.uses = 0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def open(self):
        s = self.soak
        started = s.clock.now()
        conn = http.client.HTTPSConnection(s.host, s.port, context=s.tls, timeout=s.timeout)
        conn.connect()
        fp = hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()
        s.record_handshake(started, fp, "worker", s.clock.now())
        self.conn, self.uses = conn, 0

    def post(self, body):
        if self.conn is None or self.uses >= self.soak.reconnect_every:
            self.close()
            self.open()
        self.uses += 1
        self.conn.request("POST", self.soak.path, body=body,
                          headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def judge(keys, status, raw):
    """(request error or None, [(class, outcome, reason)]) for one answer.

    outcome: ok | error | fatal."""
    if status != 200:
        return f"HTTP {status}", []
    try:
        parsed = json.loads(raw)
        response = parsed["response"]
    except (ValueError, KeyError, TypeError):
        return "unparseable answer", []
    if response.get("systemError"):
        return "systemError: " + reason(response["systemError"]), []
    items = response.get("items") or []
    if len(items) != len(keys) or any(i.get("key") != k["ref"] for i, k in zip(items, keys)):
        return "items do not match the keys", []
    verdicts = []
    for key, item in zip(keys, items):
        cls = key["cls"]
        error = item.get("error")
        if cls in SIGNED:
            if not error and item.get("value") == key["expect"]:
                verdicts.append((cls, "ok", ""))
            elif not error:
                verdicts.append((cls, "fatal", f"valid with a wrong value {item.get('value')!r}"))
            else:
                verdicts.append((cls, "error", reason(error, key["ref"])))
        else:
            if not error:
                verdicts.append((cls, "fatal", "an unsigned image was answered valid"))
            elif error.endswith("_invalid: no signatures found"):
                verdicts.append((cls, "ok", ""))
            else:
                verdicts.append((cls, "error", reason(error, key["ref"])))
    return None, verdicts


# ---- the run -----------------------------------------------------------------------------
class Soak:
    def __init__(self, a):
        self.a = a
        self.clock = Clock()
        u = urllib.parse.urlsplit(a.url)
        self.host, self.port, self.path = u.hostname, u.port, "/validate"
        self.registry_port = int(a.registry.rsplit(":", 1)[1])
        self.tls = ssl.create_default_context(cafile=a.ca)
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_3
        self.tls.load_cert_chain(a.client_cert, a.client_key)
        self.timeout = 10.0
        self.reconnect_every = a.reconnect_every
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests = []      # dicts: t0, t1, lat, error, verdicts, lag
        self.handshakes = []    # (t connect started, fingerprint, who, t handshake ended)
        self.samples = []       # (t, sample)
        self.events = []        # dicts: name, planned, start, window
        self.pushed = collections.Counter()
        self.push_failures = 0
        self.push_lock = threading.Lock()
        self.registry_down = threading.Event()
        self.rotation = {}
        self.health = []        # (t, ok, seconds, detail)
        self.body_floods = []   # dicts: start, end, answers, samples (every 0.25 s)
        self.conn_floods = []   # dicts: start, end, opened, refused, closed_by_provider
        self.old_fp = cert_fingerprint(a.server_cert)
        self.new_fp = cert_fingerprint(a.next_cert)
        self.mix = KeyMix(read_lines(a.signed_tags), read_lines(a.signed_digests),
                          read_lines(a.unsigned_tags), read_lines(a.unsigned_digests),
                          a.hot, random.Random(a.seed))
        self.signing_key = fixture.load_key(a.signing_key)

    def record_handshake(self, t, fp, who, done=None):
        # t: when the connection was started; done: when its handshake ended.
        with self.lock:
            self.handshakes.append((t, fp, who, t if done is None else done))

    # -- workers
    def worker(self, jobs):
        conn = Connection(self)
        while True:
            job = jobs.get()
            if job is None:
                break
            scheduled = job
            keys = self.mix.keys()
            body = body_for([k["ref"] for k in keys])
            t0 = self.clock.now()
            try:
                status, raw = conn.post(body)
                error, verdicts = judge(keys, status, raw)
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                conn.close()
                error, verdicts = f"transport: {type(e).__name__}", []
            t1 = self.clock.now()
            if error is None and t1 - t0 > SLOW_S:
                error = f"slower than {SLOW_S:g} s"
            with self.lock:
                self.requests.append({"t0": t0, "t1": t1, "lag": t0 - scheduled,
                                      "error": error, "verdicts": verdicts,
                                      "classes": [k["cls"] for k in keys]})
        conn.close()

    def ticker(self, jobs):
        i = 0
        while not self.stop.is_set():
            t = i / self.a.rate
            if t >= self.a.duration:
                break
            if not self.clock.sleep_until(t, self.stop):
                break
            jobs.put(t)
            i += 1

    # -- registry and images
    def pusher(self):
        i = 0     # images pushed
        tick = 0
        while self.clock.sleep_until((tick + 1) * self.a.push_every, self.stop):
            tick += 1
            if self.clock.now() >= self.a.duration - 2 * self.a.push_every:
                break
            signed = i % 4 != 3
            with self.push_lock:
                if self.registry_down.is_set():
                    continue
                try:
                    # a new connection each time: the registry may have restarted
                    pusher = fixture.Pusher(self.a.registry)
                    tag_ref, digest_ref = fixture.push_image(
                        pusher, self.signing_key, self.a.registry, f"soak/new{i % 5}",
                        f"n{i}", f"soak-{i}", signed)
                except (OSError, http.client.HTTPException, RuntimeError):
                    self.push_failures += 1
                    continue
                finally:
                    pusher.conn.close()
            self.mix.add_fresh(tag_ref, digest_ref, signed)
            self.pushed["signed" if signed else "unsigned"] += 1
            i += 1

    def registry_pid(self):
        with open(self.a.registry_pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if self.a.registry_config.encode() not in f.read():
                raise RuntimeError(f"pid {pid} is not our registry")
        return pid

    def registry_answers(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.registry_port, timeout=1)
            conn.request("GET", "/v2/")
            conn.getresponse().read()
            conn.close()
            return True
        except OSError:
            return False

    def restart_registry(self, name, planned):
        with self.push_lock:
            self.registry_down.set()
            start = self.clock.now()
            pid = self.registry_pid()
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while os.path.exists(f"/proc/{pid}"):
                try:
                    with open(f"/proc/{pid}/status") as f:
                        if re.search(r"^State:\s*Z", f.read(), re.M):
                            break
                except OSError:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(0.05)
            stopped = self.clock.now()
            time.sleep(self.a.registry_down)
            log = open(self.a.registry_log, "ab")
            proc = subprocess.Popen(["docker-registry", "serve", self.a.registry_config],
                                    stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            log.close()
            with open(self.a.registry_pidfile + ".tmp", "w") as f:
                f.write(f"{proc.pid}\n")
            os.replace(self.a.registry_pidfile + ".tmp", self.a.registry_pidfile)
            deadline = time.monotonic() + 20
            while not self.registry_answers():
                if time.monotonic() > deadline:
                    raise RuntimeError("the registry did not come back within 20 s")
                time.sleep(0.1)
            back = self.clock.now()
            self.registry_down.clear()
        self.events.append({"name": name, "planned": planned, "start": start,
                            "detail": f"stopped after {stopped - start:.1f} s, down "
                                      f"{back - stopped:.1f} s, answering again at "
                                      f"{back:.1f} s",
                            "window": (start, back + self.a.tail)})

    def rotate_certificate(self, name, planned):
        start = self.clock.now()
        for src, dst in ((self.a.next_key, self.a.server_key), (self.a.next_cert, self.a.server_cert)):
            with open(src, "rb") as f:
                data = f.read()
            with open(dst + ".tmp", "wb") as f:
                f.write(data)
            os.chmod(dst + ".tmp", 0o600)
            os.replace(dst + ".tmp", dst)
        seen = None
        probes = 0
        while self.clock.now() < start + 10 and not self.stop.is_set():
            t = self.clock.now()
            probes += 1
            try:
                conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls,
                                                   timeout=5)
                conn.connect()
                fp = hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()
                done = self.clock.now()
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
            except (OSError, http.client.HTTPException):
                fp = None
            if fp:
                self.record_handshake(t, fp, "probe", done)
            if fp == self.new_fp:
                seen = done  # handshake finished: every later connection must get it too
                break
            time.sleep(0.2)
        self.rotation = {"start": start, "seen": seen, "probes": probes}
        end = (seen if seen is not None else start + 10) + 1
        self.events.append({"name": name, "planned": planned, "start": start,
                            "detail": (f"new certificate served to a new connection after "
                                       f"{seen - start:.2f} s ({probes} probe connections)"
                                       if seen is not None else
                                       "new certificate NOT served within 10 s"),
                            "window": (start, end)})

    def hostile_body_flood(self, name, planned):
        """Clients that POST ~1 MB of '[' to /validate over mTLS, for a few seconds."""
        start = self.clock.now()
        body = b"[" * 1_000_000
        answers = collections.Counter()
        lock = threading.Lock()
        end = start + self.a.flood_seconds

        def flooder():
            while self.clock.now() < end and not self.stop.is_set():
                try:
                    conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls,
                                                       timeout=10)
                    conn.request("POST", self.path, body,
                                 {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    raw = resp.read()
                    conn.close()
                    outcome = (f"HTTP {resp.status} systemError" if resp.status == 200
                               and json.loads(raw).get("response", {}).get("systemError")
                               else f"HTTP {resp.status} other")
                except (OSError, http.client.HTTPException, ValueError) as e:
                    outcome = f"transport: {type(e).__name__}"
                with lock:
                    answers[outcome] += 1

        threads = [threading.Thread(target=flooder, daemon=True)
                   for _ in range(self.a.flood_clients)]
        for t in threads:
            t.start()
        samples = []
        while any(t.is_alive() for t in threads):
            s = sample_process(self.a.provider_pid, self.port, self.registry_port)
            if s is not None:
                samples.append((self.clock.now(), s))
            time.sleep(0.25)
        stopped = self.clock.now()
        # what the allocator keeps once the flood is over
        time.sleep(1)
        s = sample_process(self.a.provider_pid, self.port, self.registry_port)
        if s is not None:
            samples.append((self.clock.now(), s))
        self.body_floods.append({"start": start, "end": stopped, "answers": dict(answers),
                                 "samples": samples})
        self.events.append({"name": name, "planned": planned, "start": start,
                            "detail": f"{self.a.flood_clients} clients for "
                                      f"{stopped - start:.1f} s, {sum(answers.values())} "
                                      f"bodies of 1 MB of '[': " + ", ".join(
                                          f"{n} × {k}" for k, n in answers.most_common()),
                            "window": None})

    def connection_flood(self, name, planned):
        """Idle TCP connections to the provider port from 127.0.0.2, held a few seconds."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = self.a.flood_connections + 256
        if soft < want and hard >= want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        start = self.clock.now()
        socks, refused = [], 0
        for _ in range(self.a.flood_connections):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.bind(("127.0.0.2", 0))
                s.connect((self.host, self.port))
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        opened = self.clock.now()
        self.clock.sleep_until(start + self.a.flood_seconds, self.stop)
        # how many the provider has closed by now (handshake timeout, per-peer limit)
        closed = 0
        for s in socks:
            try:
                s.setblocking(False)
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        for s in socks:
            s.close()
        stopped = self.clock.now()
        self.conn_floods.append({"start": start, "end": stopped, "opened": len(socks),
                                 "refused": refused, "closed_by_provider": closed})
        self.events.append({"name": name, "planned": planned, "start": start,
                            "detail": f"{len(socks)} idle connections from 127.0.0.2 opened in "
                                      f"{opened - start:.1f} s ({refused} failed), held until "
                                      f"{stopped:.1f} s; {closed} already closed by the "
                                      f"provider by then",
                            "window": None})

    def health_prober(self):
        u = urllib.parse.urlsplit(self.a.health_url or self.a.url)
        i = 0
        while self.clock.sleep_until(i * 1.0, self.stop):
            if self.clock.now() > self.a.duration:
                break
            i += 1
            t = self.clock.now()
            try:
                if u.scheme == "https":
                    conn = http.client.HTTPSConnection(u.hostname, u.port, context=self.tls,
                                                       timeout=2)
                else:
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                ok, detail = resp.status == 200, f"HTTP {resp.status}"
            except (OSError, http.client.HTTPException) as e:
                ok, detail = False, type(e).__name__
            self.health.append((t, ok, self.clock.now() - t, detail))

    def faults(self):
        d = self.a.duration
        # Each flood runs twice: once before warm-up ends, so that the RSS baseline
        # includes whatever the allocator keeps after one, and once late, where any
        # growth beyond that plateau fails the RSS check.
        plan = [(d / 20, "idle connection flood 1", self.connection_flood),
                (d / 20, "hostile body flood 1", self.hostile_body_flood),
                (d / 3, "registry restart 1", self.restart_registry),
                (d / 2, "TLS certificate rotation", self.rotate_certificate),
                (11 * d / 20, "hostile body flood 2", self.hostile_body_flood),
                (2 * d / 3, "registry restart 2", self.restart_registry),
                (4 * d / 5, "idle connection flood 2", self.connection_flood)]
        for planned, name, action in plan:
            if not self.clock.sleep_until(planned, self.stop):
                return
            try:
                action(name, planned)
            except Exception as e:  # the run goes on; the check reports it
                self.events.append({"name": name, "planned": planned, "start": planned,
                                    "detail": f"FAILED: {e}", "window": None,
                                    "failed": True})

    # -- sampling
    def sample(self):
        s = sample_process(self.a.provider_pid, self.port, self.registry_port)
        if s is not None:
            self.samples.append((self.clock.now(), s))
        return s

    def sampler(self):
        i = 1
        while self.clock.sleep_until(i * self.a.sample_every, self.stop):
            if self.clock.now() > self.a.duration:
                break
            self.sample()
            i += 1

    def scrape_metrics(self):
        try:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=10)
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
            conn.close()
            return text
        except (OSError, http.client.HTTPException):
            return ""

    def run(self):
        idle_start = sample_process(self.a.provider_pid, self.port, self.registry_port)
        self.clock = Clock()
        jobs = queue.Queue()
        workers = [threading.Thread(target=self.worker, args=(jobs,), daemon=True)
                   for _ in range(self.a.workers)]
        helpers = [threading.Thread(target=f, daemon=True)
                   for f in (self.pusher, self.faults, self.sampler, self.health_prober)]
        for t in workers + helpers:
            t.start()
        self.sample()
        self.ticker(jobs)
        for _ in workers:
            jobs.put(None)
        for t in workers:
            t.join()
        load_end = self.clock.now()
        self.stop.set()
        for t in helpers:
            t.join()
        end_sample = self.sample()
        time.sleep(self.a.idle)
        idle_end = sample_process(self.a.provider_pid, self.port, self.registry_port)
        metrics = self.scrape_metrics()
        return idle_start, end_sample, idle_end, load_end, metrics


# ---- analysis and report -----------------------------------------------------------------
def in_window(windows, t0, t1):
    for name, (ws, we) in windows:
        if t0 <= we and t1 >= ws:
            return name
    return None


def metric_lines(text, name):
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels = line[len(name):].rsplit(" ", 1)[0].strip()
            out.append((labels or "—", float(line.rsplit(" ", 1)[1])))
    return out


def analyse(soak, idle_start, end_sample, idle_end, load_end, metrics):
    a = soak.a
    d = a.duration
    windows = [(e["name"], e["window"]) for e in soak.events if e["window"] is not None]
    per_class = {c: collections.Counter() for c, _ in CLASSES}
    req = collections.Counter()
    reasons_in = collections.Counter()
    reasons_out = collections.Counter()
    per_window = collections.Counter()
    fatal = []
    lat_all, lat_out = [], []
    lags = []
    for r in soak.requests:
        w = in_window(windows, r["t0"], r["t1"])
        lat_all.append(r["t1"] - r["t0"])
        lags.append(r["lag"])
        if w is None:
            lat_out.append(r["t1"] - r["t0"])
        req["requests"] += 1
        req["keys"] += len(r["classes"])
        for c in r["classes"]:
            per_class[c]["keys"] += 1
        if r["error"]:
            place = "in" if w else "out"
            req["request_errors_" + place] += 1
            (reasons_in if w else reasons_out)[r["error"]] += 1
            if w:
                per_window[w] += 1
            for c in r["classes"]:
                per_class[c]["unanswered"] += 1
            continue
        for cls, outcome, reason in r["verdicts"]:
            if outcome == "ok":
                per_class[cls]["ok"] += 1
            elif outcome == "fatal":
                per_class[cls]["fatal"] += 1
                fatal.append(f"{r['t0']:.1f} s: {cls}: {reason}")
            else:
                per_class[cls]["error_" + ("in" if w else "out")] += 1
                (reasons_in if w else reasons_out)[reason] += 1
                if w:
                    per_window[w] += 1
    errors_in = req["request_errors_in"] + sum(c["error_in"] for c in per_class.values())
    errors_out = req["request_errors_out"] + sum(c["error_out"] for c in per_class.values())

    # resources
    warmup = max(0.2 * d, min(30.0, d / 3))
    base_end = warmup + max(0.1 * d, 10.0)
    base = [s for t, s in soak.samples if warmup <= t <= base_end]
    last = [s for t, s in soak.samples if t >= 0.75 * d]
    if idle_end:
        last = last + [idle_end]
    checks = []

    def check(name, ok, value, rule):
        checks.append((name, bool(ok), value, rule))

    check("unsigned images never answered valid, signed ones never with a wrong digest",
          not fatal, f"{len(fatal)} fatal answers", "0, in any window")
    check("errors outside the injected windows", errors_out == 0,
          f"{errors_out} (inside windows: {errors_in})", "0")
    expected_requests = int(d * a.rate)
    check("load delivered", req["requests"] >= 0.98 * expected_requests,
          f"{req['requests']} of {expected_requests} scheduled requests", "≥ 98% sent and answered")
    restarts = [e for e in soak.events if e["name"].startswith("registry") and not e.get("failed")]
    check("registry restarted twice", len(restarts) == 2, f"{len(restarts)} restarts", "2")
    rot = soak.rotation
    seen_ok = rot.get("seen") is not None and rot["seen"] - rot["start"] <= 5
    late_old = [h for h in soak.handshakes if rot.get("seen") is not None and h[0] >= rot["seen"]
                and h[1] != soak.new_fp]
    # A connection opened just before the files changed may finish its
    # handshake after the provider picked the new certificate up: only a
    # handshake that ended before the change must not have seen it.
    early_new = [h for h in soak.handshakes if rot.get("start") is not None and h[3] < rot["start"]
                 and h[1] == soak.new_fp]
    after = [h for h in soak.handshakes
             if rot.get("seen") is not None and h[0] >= rot["seen"] and h[2] == "worker"]
    check("TLS certificate rotated without a restart",
          seen_ok and not late_old and not early_new and after,
          (f"new certificate seen {rot['seen'] - rot['start']:.2f} s after the files changed; "
           f"{len(after)} later worker connections, {len(late_old)} of them with the old one"
           if rot.get("seen") is not None else "new certificate never seen"),
          "seen within 5 s; every connection opened after that gets it")
    rss_base = max((s["rss_kib"] for s in base), default=0)
    rss_last = max((s["rss_kib"] for s in last), default=0)
    slack = max(8 * 1024, 0.10 * rss_base)
    check("no RSS growth after warm-up", base and last and rss_last <= rss_base + slack,
          f"{mib(rss_base):.1f} → {mib(rss_last):.1f} MiB",
          f"max RSS of the last quarter ≤ max RSS of {warmup:.0f}–{base_end:.0f} s "
          f"+ max(8 MiB, 10%) = {mib(rss_base + slack):.1f} MiB")
    fd_base = max((s["fds"] for s in base), default=0)
    own_base = max((s["own_fds"] for s in base), default=0)
    check("no fd growth", idle_end and base and idle_end["client_conns"] == 0
          and idle_end["own_fds"] <= own_base,
          (f"own fds {own_base} after warm-up → {idle_end['own_fds']}; accepted connections "
           f"left open: {idle_end['client_conns']} (all fds: {fd_base} → {idle_end['fds']}; "
           f"accepted connections and the registry pool, next row, make the difference)" if idle_end else "provider gone"),
          f"after {a.idle:g} idle seconds: no accepted connection left, and the provider's own "
          f"fds (listener, files, pipes, event fds) ≤ their maximum of "
          f"{warmup:.0f}–{base_end:.0f} s")
    pool_conns = a.pool_handles * a.pool_conns_per_handle
    pool_max = max((s["registry_conns"] for _, s in soak.samples), default=0)
    check("registry connection pool within its bound",
          idle_end and idle_end["registry_conns"] <= pool_conns
          and idle_end["unix_fds"] <= 2 * a.pool_handles,
          (f"after the run: {idle_end['registry_conns']} registry connections, "
           f"{idle_end['unix_fds']} socket-pair fds (after warm-up: "
           f"{max((s['registry_conns'] for s in base), default=0)} and "
           f"{max((s['unix_fds'] for s in base), default=0)}; most during the run: "
           f"{pool_max} connections)" if idle_end else "provider gone"),
          f"idle: ≤ {pool_conns} connections ({a.pool_handles} idle handles × "
          f"{a.pool_conns_per_handle}) and ≤ {2 * a.pool_handles} socket-pair fds "
          f"(one pair per handle)")
    regular = sorted(soak.samples, key=lambda ts: ts[0])
    floods_ok, flood_values, flood_json = bool(soak.body_floods), [], []
    for i, bf in enumerate(soak.body_floods, 1):
        peak = max((s["rss_kib"] for _, s in bf["samples"]), default=0)
        # above the RSS the provider had under the same load just before the flood
        before = max((s["rss_kib"] for t, s in regular if t < bf["start"]),
                     default=idle_start["rss_kib"] if idle_start else 0)
        ceiling = before + a.flood_rss_headroom_mib * 1024
        answers = bf["answers"]
        floods_ok = floods_ok and peak and peak <= ceiling and sum(answers.values()) > 0 \
            and set(answers) == {"HTTP 200 systemError"}
        flood_values.append(f"flood {i}: {sum(answers.values())} bodies, answers {answers}, "
                            f"peak RSS {mib(peak):.1f} MiB (ceiling {mib(ceiling):.1f})")
        flood_json.append({k: v for k, v in bf.items() if k != "samples"}
                          | {"peak_rss_kib": peak, "before_rss_kib": before})
    check("hostile body floods: refused, and RSS under its ceiling", floods_ok,
          "; ".join(flood_values) or "no flood ran",
          f"2 floods; every body answered with a systemError; peak RSS ≤ the most RSS before "
          f"the flood + {a.flood_rss_headroom_mib} MiB")
    cfs = soak.conn_floods
    check("idle connection floods ran",
          len(cfs) == 2 and all(cf["opened"] + cf["refused"] == a.flood_connections for cf in cfs),
          "; ".join(f"flood {i}: {cf['opened']} opened, {cf['refused']} failed, "
                    f"{cf['closed_by_provider']} closed by the provider"
                    for i, cf in enumerate(cfs, 1)) or "no flood ran",
          f"2 floods of {a.flood_connections} connections attempted from another peer; the "
          f"provider's answers to everyone else are checked by the error rows")
    health_bad = [h for h in soak.health if not h[1]]
    check("/healthz answered throughout", soak.health and not health_bad,
          (f"{len(soak.health) - len(health_bad)} of {len(soak.health)} probes answered 200; "
           f"slowest {max(h[2] for h in soak.health) * 1000:.0f} ms"
           + (f"; failures at " + ", ".join(f"{h[0]:.0f} s ({h[3]})" for h in health_bad[:5])
              if health_bad else "") if soak.health else "no probe ran"),
          "every probe, once a second, through every fault and flood")
    check("provider alive at the end", idle_end is not None,
          "yes" if idle_end else "no", "still running")

    result = {
        "duration_s": d, "rate": a.rate, "load_end_s": load_end,
        "requests": req["requests"], "keys": req["keys"],
        "errors_in_windows": errors_in, "errors_outside_windows": errors_out,
        "fatal": fatal, "per_class": {c: dict(v) for c, v in per_class.items()},
        "latency_ms": {p: percentile(lat_all, q) * 1000 for p, q in
                       (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "rss_kib": {"idle_start": idle_start and idle_start["rss_kib"], "after_warmup": rss_base,
                    "last_quarter_max": rss_last, "idle_end": idle_end and idle_end["rss_kib"]},
        "fds": {"idle_start": idle_start and idle_start["fds"], "after_warmup": fd_base,
                "idle_end": idle_end and idle_end["fds"]},
        "pushed": dict(soak.pushed), "push_failures": soak.push_failures,
        "body_floods": flood_json,
        "connection_floods": cfs,
        "health": {"probes": len(soak.health), "failures": len(health_bad)},
        "samples": [dict(t=round(t, 1), **s) for t, s in soak.samples],
        "checks": [{"name": n, "pass": ok, "value": v} for n, ok, v, _ in checks],
    }

    md = []
    p = md.append
    p("## Parameters")
    p("")
    p("| | |")
    p("| --- | --- |")
    p(f"| duration | {d:g} s of load, then {a.idle:g} s idle before the last sample |")
    p(f"| request rate | {a.rate:g} requests/s, open loop, {a.workers} client connections "
      f"(each replaced after {a.reconnect_every} requests), 1–3 keys per request, half by tag "
      f"and half by digest |")
    p(f"| key mix | 50% the {a.hot} hot signed images, 30% a pool of "
      f"{len(soak.mix.cold) - soak.pushed['signed']} other signed images, 20% a pool of "
      f"{len(soak.mix.unsigned) - soak.pushed['unsigned']} unsigned images; plus each image "
      f"pushed during the run in the first request after its push |")
    p(f"| images pushed during the run | {soak.pushed['signed']} signed, "
      f"{soak.pushed['unsigned']} unsigned (one every {a.push_every:g} s, none while the "
      f"registry is down; {soak.push_failures} failed pushes) |")
    p(f"| provider | {a.provider_summary} |")
    p(f"| warm-up | first {warmup:.0f} s; \"after warm-up\" = the samples of {warmup:.0f}–"
      f"{base_end:.0f} s; samples every {a.sample_every:g} s |")
    p(f"| an error | a request with a transport error, a non-200 status, a `systemError`, items "
      f"that do not match the keys, or an answer slower than {SLOW_S:g} s; or an item of a "
      f"signed image that is not valid with its digest reference, or of an unsigned image "
      f"that is denied for another reason than `no signatures found` |")
    p("")
    p("## Injected faults")
    p("")
    p("| fault | planned at | started at | what happened | error window | errors in it |")
    p("| --- | ---: | ---: | --- | --- | ---: |")
    for e in soak.events:
        if e["window"] is None:
            p(f"| {e['name']} | {e['planned']:.0f} s | {e['start']:.1f} s | {e['detail']} | "
              f"none | — |")
            continue
        ws, we = e["window"]
        p(f"| {e['name']} | {e['planned']:.0f} s | {e['start']:.1f} s | {e['detail']} | "
          f"{ws:.1f}–{we:.1f} s | {per_window[e['name']]} |")
    p("")
    p(f"A registry restart stops `docker-registry` (SIGTERM), waits {a.registry_down:g} s and "
      f"starts it again on the same port and storage; its window ends {a.tail:g} s (the "
      f"negative cache TTL plus a margin) after the registry answers again. The rotation "
      f"atomically replaces the key and certificate files with a new pair from the same CA; "
      f"probe connections then watch for the new certificate. The hostile body flood runs "
      f"{a.flood_clients} clients for {a.flood_seconds:g} s, each POSTing 1,000,000 bytes of "
      f"`[` to /validate over mTLS, one body per connection; RSS is sampled every 0.25 s "
      f"then. The connection flood opens {a.flood_connections} TCP connections from "
      f"127.0.0.2 to the provider port, sends nothing, and closes them after "
      f"{a.flood_seconds:g} s. Neither flood has an error window.")
    p("")
    p("## Answers")
    p("")
    p("| keys | sent | correct | errors in windows | errors outside | unanswered (request error) | fatal |")
    p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c, label in CLASSES:
        k = per_class[c]
        p(f"| {label} | {k['keys']} | {k['ok']} | {k['error_in']} | {k['error_out']} | "
          f"{k['unanswered']} | {k['fatal']} |")
    p("")
    p("\"Correct\" is valid with the image's exact digest reference for a signed image, and "
      "denied with `no signatures found` for an unsigned one. \"Fatal\" is an unsigned image "
      "answered valid or a signed one answered with another digest.")
    p("")
    p("| requests | count |")
    p("| --- | ---: |")
    p(f"| sent and answered or failed | {req['requests']} ({req['keys']} keys) |")
    p(f"| request errors inside / outside windows | {req['request_errors_in']} / "
      f"{req['request_errors_out']} |")
    p(f"| all errors inside / outside windows | {errors_in} / **{errors_out}** |")
    p(f"| sent more than 1 s late (client backlog) | {sum(1 for x in lags if x > 1)} "
      f"(max lag {max(lags, default=0):.2f} s) |")
    p("")
    for title, reasons in (("inside the windows", reasons_in), ("outside the windows", reasons_out)):
        p(f"Errors {title}, by reason (images and digests masked):"
          + (" none." if not reasons else ""))
        p("")
        for reason, n in reasons.most_common(8):
            p(f"- {n} × `{reason}`")
        if reasons:
            p("")
    if fatal:
        p("Fatal answers:")
        p("")
        for f in fatal[:20]:
            p(f"- {f}")
        p("")
    p("## Latency")
    p("")
    p("| requests | p50 | p90 | p99 | max |")
    p("| --- | ---: | ---: | ---: | ---: |")
    for label, vals in (("all", lat_all), ("outside the fault windows", lat_out)):
        p(f"| {label} ({len(vals)}) | " + " | ".join(
            f"{percentile(vals, q) * 1000:.1f} ms" for q in (50, 90, 99, 100)) + " |")
    p("")
    p("Client-side, from sending the request to the end of the answer, handshakes excluded "
      "(a replaced connection's handshake is counted in its first request).")
    p("")
    p("## Provider resources")
    p("")
    step = max(5.0, d / 20)
    p(f"Every {step:g} s (the sample nearest to each mark). fds = every open descriptor, "
      f"split into: client = accepted HTTPS connections; registry = TCP connections to the "
      f"registry; pairs = unix socket pairs (libcurl keeps one per pooled registry handle); "
      f"own = everything else (listening socket, files, pipes, event fds).")
    p("")
    p("| t | RSS MiB | threads | fds | client | registry | pairs | own | requests so far |")
    p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    starts = sorted(r["t0"] for r in soak.requests)

    def row(label, s, t):
        done = sum(1 for x in starts if x <= t) if t is not None else req["requests"]
        p(f"| {label} | {mib(s['rss_kib']):.1f} | {s['threads']} | {s['fds']} | "
          f"{s['client_conns']} | {s['registry_conns']} | {s['unix_fds']} | {s['own_fds']} | "
          f"{done} |")
    if idle_start:
        row("before", idle_start, 0)
    mark = 0.0
    while mark <= d + 0.01 and soak.samples:
        t, s = min(soak.samples, key=lambda ts: abs(ts[0] - mark))
        row(f"{mark:.0f} s", s, t)
        mark += step
    if idle_end:
        row(f"+{a.idle:g} s idle", idle_end, None)
    p("")
    rss_after = [(t, s["rss_kib"]) for t, s in soak.samples if t >= warmup]
    if len(rss_after) >= 3:
        n = len(rss_after)
        mt = sum(t for t, _ in rss_after) / n
        mr = sum(r for _, r in rss_after) / n
        var = sum((t - mt) ** 2 for t, _ in rss_after)
        slope = sum((t - mt) * (r - mr) for t, r in rss_after) / var if var else 0
        p(f"RSS after warm-up: min {mib(min(r for _, r in rss_after)):.1f}, max "
          f"{mib(max(r for _, r in rss_after)):.1f} MiB; least-squares trend "
          f"{slope * 60:+.1f} KiB/min over {n} samples.")
        p("")
    if metrics:
        p("## Provider metrics at the end")
        p("")
        p("| metric | labels | value |")
        p("| --- | --- | ---: |")
        for name in ("signet_provider_requests_total", "signet_provider_verifications_total",
                     "signet_provider_cache_hits_total", "signet_provider_cache_misses_total",
                     "signet_provider_coalesced_waits_total",
                     "signet_provider_registry_requests_total",
                     "signet_http_connections_accepted_total",
                     "signet_tls_handshake_failures_total"):
            for labels, value in metric_lines(metrics, name):
                p(f"| `{name}` | `{labels}` | {value:.0f} |")
        p("")
    p("## Checks")
    p("")
    p("| check | value | rule | result |")
    p("| --- | --- | --- | --- |")
    for name, ok, value, rule in checks:
        p(f"| {name} | {value} | {rule} | {'PASS' if ok else '**FAIL**'} |")
    return "\n".join(md) + "\n", result, all(ok for _, ok, _, _ in checks)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="https://127.0.0.1:PORT of the provider")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--client-cert", required=True)
    ap.add_argument("--client-key", required=True)
    ap.add_argument("--server-cert", required=True, help="the provider's certificate file")
    ap.add_argument("--server-key", required=True, help="the provider's key file")
    ap.add_argument("--next-cert", required=True, help="the certificate to rotate to")
    ap.add_argument("--next-key", required=True)
    ap.add_argument("--provider-pid", type=int, required=True)
    ap.add_argument("--provider-summary", default="signet serve")
    ap.add_argument("--pool-handles", type=int, default=16,
                    help="idle handles the registry client keeps (kMaxIdleHandles)")
    ap.add_argument("--pool-conns-per-handle", type=int, default=2,
                    help="keep-alive connections per handle (kMaxConnectionsPerHandle)")
    ap.add_argument("--registry", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--registry-config", required=True)
    ap.add_argument("--registry-pidfile", required=True)
    ap.add_argument("--registry-log", required=True)
    ap.add_argument("--registry-down", type=float, default=2.0)
    ap.add_argument("--tail", type=float, default=5.0,
                    help="seconds a restart window lasts after the registry is back")
    ap.add_argument("--signing-key", required=True)
    ap.add_argument("--signed-tags", required=True)
    ap.add_argument("--signed-digests", required=True)
    ap.add_argument("--unsigned-tags", required=True)
    ap.add_argument("--unsigned-digests", required=True)
    ap.add_argument("--hot", type=int, default=8)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--reconnect-every", type=int, default=25)
    ap.add_argument("--push-every", type=float, default=3)
    ap.add_argument("--sample-every", type=float, default=2)
    ap.add_argument("--idle", type=float, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--health-url", default="",
                    help="where /healthz is probed (http:// for a plain health port); "
                         "default: --url with the client certificate")
    ap.add_argument("--flood-seconds", type=float, default=8)
    ap.add_argument("--flood-clients", type=int, default=4)
    ap.add_argument("--flood-connections", type=int, default=1100)
    ap.add_argument("--flood-rss-headroom-mib", type=int, default=64)
    ap.add_argument("--report", required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    soak = Soak(a)
    idle_start, end_sample, idle_end, load_end, metrics = soak.run()
    md, result, ok = analyse(soak, idle_start, end_sample, idle_end, load_end, metrics)
    with open(a.report, "w") as f:
        f.write(md)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("requests", "errors_in_windows",
                                              "errors_outside_windows", "rss_kib", "fds")}))
    for c in result["checks"]:
        print(("PASS " if c["pass"] else "FAIL ") + c["name"] + ": " + str(c["value"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
