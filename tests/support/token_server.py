#!/usr/bin/env python3
"""A Docker registry token server for tests (the Bearer token flow).

Issues JWTs that distribution 2.8's `auth.token` accepts: signed with ES256
(EC P-256 key) or RS256 (RSA key), with the signing certificate in the `x5c`
header so the registry can chain it to its `rootcertbundle`.

  GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]
       Basic auth checked against --username/--password. Anonymous requests
       get a 401 with a Basic challenge, or, with --anonymous-pull, a token
       limited to pull.
  POST /token  (form: grant_type=password with username/password, or
       grant_type=refresh_token with --refresh-token's value)

The answer is {"token", "access_token", "expires_in", "issued_at"}.
Every request writes one line "token-request method=... user=... scope=...
status=..." to stdout, so tests can count requests. Passwords are never logged.
Serves plain HTTP, or HTTPS with --tls-cert/--tls-key, on 127.0.0.1 only.
"""

import argparse
import base64
import datetime
import hmac
import json
import sys
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from loopback_http import LoopbackServer, QuietHandler, serve_until_stopped


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    def __init__(self, key_file: str, cert_file: str):
        with open(key_file, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(cert_file, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            self.alg = "ES256"
        elif isinstance(self.key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        else:
            raise SystemExit("token_server: unsupported signing key type")

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": self.alg, "x5c": self.x5c}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        ).encode("ascii")
        if self.alg == "ES256":
            der = self.key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + b64url(sig)


def parse_scopes(values):
    """'repository:team/app:pull,push' -> {type, name, actions}."""
    access = []
    for value in values:
        for scope in value.split():
            first = scope.find(":")
            last = scope.rfind(":")
            if first < 0 or last <= first:
                continue
            access.append(
                {
                    "type": scope[:first],
                    "name": scope[first + 1 : last],
                    "actions": [a for a in scope[last + 1 :].split(",") if a],
                }
            )
    return access


class TokenHandler(QuietHandler):
    server_version = "signet-test-token-server"
    args = None
    signer = None
    lock = threading.Lock()

    def record(self, user, scopes, status):
        line = "token-request method=%s user=%s scope=%s status=%d\n" % (
            self.command,
            user or "anonymous",
            json.dumps(" ".join(scopes)),
            status,
        )
        with self.lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def check_password(self, user, password):
        a = self.args
        return hmac.compare_digest(user, a.username) and hmac.compare_digest(password, a.password)

    def basic_user(self):
        """(user, ok): user is None when no Basic credentials were sent."""
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("basic "):
            return None, False
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except Exception:
            return "<malformed>", False
        user, _, password = decoded.partition(":")
        return user, self.check_password(user, password)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path != "/token":
            self.record(None, [], 404)
            return self.reply_json(404, {"error": "not found"})
        user, ok = self.basic_user()
        self.issue(user, ok, query.get("service", [""])[0], query.get("scope", []))

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        form = urllib.parse.parse_qs(self.read_body(cap=65536).decode())
        if url.path != "/token":
            self.record(None, [], 404)
            return self.reply_json(404, {"error": "not found"})
        grant = form.get("grant_type", [""])[0]
        user = form.get("username", [None])[0]
        ok = False
        if grant == "password":
            ok = user is not None and self.check_password(user, form.get("password", [""])[0])
        elif grant == "refresh_token":
            user = user or self.args.username
            ok = bool(self.args.refresh_token) and hmac.compare_digest(
                form.get("refresh_token", [""])[0], self.args.refresh_token
            )
        self.issue(user, ok, form.get("service", [""])[0], form.get("scope", []))

    def issue(self, user, ok, service, scopes):
        a = self.args
        if user is not None and not ok:
            self.record(user, scopes, 401)
            return self.reply_registry_error(
                401,
                "UNAUTHORIZED",
                "invalid credentials",
                {"WWW-Authenticate": 'Basic realm="signet-test-token"'},
            )
        if user is None and not a.anonymous_pull:
            self.record(None, scopes, 401)
            return self.reply_registry_error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                {"WWW-Authenticate": 'Basic realm="signet-test-token"'},
            )
        if service and service != a.service:
            self.record(user, scopes, 400)
            return self.reply_registry_error(400, "DENIED", "unknown service")
        access = parse_scopes(scopes)
        if user is None:
            for entry in access:
                entry["actions"] = [x for x in entry["actions"] if x == "pull"]
        now = int(time.time())
        claims = {
            "iss": a.issuer,
            "sub": user or "",
            "aud": a.service,
            "exp": now + a.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = self.signer.sign(claims)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        self.record(user, scopes, 200)
        self.reply_json(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": a.expires_in,
                "issued_at": issued_at,
            },
        )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", required=True, help="PEM private key that signs tokens")
    p.add_argument("--cert", required=True, help="PEM certificate of --key (goes into x5c)")
    p.add_argument("--issuer", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--expires-in", type=int, default=300)
    p.add_argument("--anonymous-pull", action="store_true")
    p.add_argument("--refresh-token", default="")
    p.add_argument("--tls-cert", default="")
    p.add_argument("--tls-key", default="")
    a = p.parse_args()

    TokenHandler.args = a
    TokenHandler.signer = Signer(a.key, a.cert)
    server = LoopbackServer(a.port, TokenHandler, tls_cert=a.tls_cert, tls_key=a.tls_key)
    server.announce("token-server")
    serve_until_stopped(server)


if __name__ == "__main__":
    main()
