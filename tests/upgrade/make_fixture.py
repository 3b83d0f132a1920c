#!/usr/bin/env python3
"""Writes an upgrade fixture: databases that a previous release filled with the hard cases.

Usage: make_fixture.py <previous release's backend binary> <release name> [postgres admin url]

Writes tests/upgrade/fixtures/<release>/ with
  sqlite.db      the SQLite file, checkpointed and vacuumed;
  postgres.sql   a plain pg_dump of the same cases made on PostgreSQL;
  manifest.json  per engine: the accounts as typed, their passwords and ids, every session's tokens
                 and what became of it, the published key ids, the issuer, and when it was made.
The upgrade suite (tests/api/upgrade.rs) starts the current server on each and checks the manifest.
"""

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SECRET = "integration-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"

# (as typed at sign-up, other spellings the previous release also logged in with)
ACCOUNTS = [
    ("Ann.Lee@Example.com", ["ann.lee@example.com", " ANN.LEE@EXAMPLE.COM "]),
    ("jose\u0301@example.com", ["JOSE\u0301@example.com"]),
    ("\uff41\uff4e\uff4e@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.jp", []),
    ("\u039f\u0394\u03a5\u03a3\u03a3\u0395\u0391\u03a3@example.gr", ["\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03b1\u03c2@example.gr"]),
    ("\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03b1\u03c3@example.gr", []),
    ("O\u2019Brien@example.ie", ["o\u2019brien@example.ie"]),
    ("o'brien@example.ie", []),
    ("\u05d3\u05d5\u05d3@example.co.il", []),
    ("ann@i\u2764\ufe0f.ws", []),
    ("zero\u200bwidth@example.com", []),
    ("m\u00fcller@B\u00fccher.de", ["M\u00dcLLER@b\u00fccher.de"]),
    ("Stra\u00dfe@example.de", ["stra\u00dfe@example.de"]),
    ("\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", []),
    ("paypal@example.com", []),
    ("p\u0430ypal@example.com", []),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, database_url, workdir):
        self.port = free_port()
        self.env = dict(
            os.environ,
            BIND=f"127.0.0.1:{self.port}",
            DATABASE_URL=database_url,
            JWT_SECRET=SECRET,
            DEMO_USER="false",
            REGISTER_MAX_PER_IP="1000",
            REFRESH_REUSE_GRACE="0",
            RUST_LOG="warn",
        )
        self.binary, self.workdir = binary, workdir
        self.process = subprocess.Popen([binary], env=self.env, cwd=workdir)
        for _ in range(300):
            try:
                self.call("GET", "/api/health")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise SystemExit("the previous release did not start")

    def command(self, *args):
        subprocess.run([self.binary, *args], env=self.env, cwd=self.workdir, check=True, capture_output=True)

    def call(self, method, path, body=None, token=None, cookie=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["X-Token-Delivery"] = "cookie"
            if cookie:
                headers["Cookie"] = f"__Host-refresh_token={cookie}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data, headers, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read() or b"null"), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    def stop(self):
        self.process.terminate()
        self.process.wait(30)

    def __del__(self):
        # A failed run must not leave the earlier release serving (or holding this script's pipes).
        if self.process.poll() is None:
            self.process.kill()


def ok(answer, what):
    status, body, headers = answer
    if status >= 300:
        raise SystemExit(f"{what}: {status} {body}")
    return (body or {}).get("data", body), headers


def cookie_of(headers):
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name == "__Host-refresh_token":
            return rest.split(";")[0]
    raise SystemExit("no refresh cookie")


def fill(server):
    """Signs up every account and leaves sessions in every state; returns the manifest's cases."""
    accounts, sessions = [], []
    for typed, spellings in ACCOUNTS:
        user, _ = ok(server.call("POST", "/api/auth/register", {"username": "u", "email": typed, "password": PASSWORD}), typed)
        accounts.append({"typed": typed, "spellings": spellings, "id": user["id"], "stored": user["email"]})
        login, _ = ok(server.call("POST", "/api/auth/login", {"email": typed, "password": PASSWORD}), typed)
        retired = []
        refresh, access = login["refresh_token"], login["access_token"]
        for _ in range(2):  # a chain two rotations long
            retired.append(refresh)
            pair, _ = ok(server.call("POST", "/api/auth/refresh-token", {"refreshToken": refresh}), "rotation")
            refresh, access = pair["refresh_token"], pair["access_token"]
        sessions.append({"account": typed, "mode": "body", "state": "live", "refresh": refresh, "access": access, "retired": retired})

    ann = ACCOUNTS[0][0]
    # Cookie mode, rotated once.
    login, headers = ok(server.call("POST", "/api/auth/login", {"email": ann, "password": PASSWORD}, cookie=""), "cookie login")
    pair, headers = ok(server.call("POST", "/api/auth/refresh-token", {}, cookie=cookie_of(headers)), "cookie rotation")
    sessions.append({"account": ann, "mode": "cookie", "state": "live", "refresh": cookie_of(headers), "access": pair["access_token"], "retired": []})
    # Logged out.
    login, _ = ok(server.call("POST", "/api/auth/login", {"email": ann, "password": PASSWORD}), "login")
    ok(server.call("POST", "/api/auth/logout", token=login["access_token"]), "logout")
    sessions.append({"account": ann, "mode": "body", "state": "logged_out", "refresh": login["refresh_token"], "access": login["access_token"], "retired": []})
    # Ended from another device.
    victim, _ = ok(server.call("POST", "/api/auth/login", {"email": ann, "password": PASSWORD, "deviceId": "old-phone"}), "login")
    me, _ = ok(server.call("GET", "/api/me", token=victim["access_token"]), "me")
    other, _ = ok(server.call("POST", "/api/auth/login", {"email": ann, "password": PASSWORD, "deviceId": "laptop"}), "login")
    ok(server.call("DELETE", f"/api/sessions/{me['session_id']}", token=other["access_token"]), "revoke")
    sessions.append({"account": ann, "mode": "body", "state": "revoked", "refresh": victim["refresh_token"], "access": victim["access_token"], "retired": []})
    sessions.append({"account": ann, "mode": "body", "state": "live", "refresh": other["refresh_token"], "access": other["access_token"], "retired": []})
    # Reuse detected: the retired token presented again (no grace) ends the chain.
    login, _ = ok(server.call("POST", "/api/auth/login", {"email": ann, "password": PASSWORD}), "login")
    pair, _ = ok(server.call("POST", "/api/auth/refresh-token", {"refreshToken": login["refresh_token"]}), "rotation")
    status, _, _ = server.call("POST", "/api/auth/refresh-token", {"refreshToken": login["refresh_token"]})
    assert status == 403, status
    sessions.append({"account": ann, "mode": "body", "state": "reused", "refresh": pair["refresh_token"], "access": pair["access_token"], "retired": [login["refresh_token"]]})
    # Throttle state: failed logins on record.
    for _ in range(2):
        status, _, _ = server.call("POST", "/api/auth/login", {"email": ann, "password": "wrong password"})
        assert status == 401, status
    # A standby key beside the signing one; the caller reads both kids from the database (the running
    # server's JWKS catches up only at its next key reload).
    server.command("keys", "rotate")
    return {"accounts": accounts, "sessions": sessions, "issuer": "silent-refresh",
            "made_at_ms": int(time.time() * 1000)}


def main():
    binary, release = os.path.abspath(sys.argv[1]), sys.argv[2]
    admin = sys.argv[3] if len(sys.argv) > 3 else "postgres://postgres@127.0.0.1:5432/postgres"
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", release)
    os.makedirs(out, exist_ok=True)
    manifest = {"release": release, "password": PASSWORD, "secret": SECRET}
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "fixture.db")
        server = Server(binary, f"sqlite://{path}", work)
        manifest["sqlite"] = fill(server)
        server.stop()
        with sqlite3.connect(path) as db:
            manifest["sqlite"]["kids"] = sorted(kid for (kid,) in db.execute("SELECT kid FROM signing_keys"))
        target = os.path.join(out, "sqlite.db")
        if os.path.exists(target):
            os.remove(target)
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM INTO ?", (target,))

        name = "upgrade_fixture"
        base = admin.rsplit("/", 1)[0]
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
        server = Server(binary, f"{base}/{name}", work)
        manifest["postgres"] = fill(server)
        server.stop()
        listed = subprocess.run(["psql", f"{base}/{name}", "-Atc", "SELECT kid FROM signing_keys"],
                                check=True, capture_output=True, text=True).stdout
        manifest["postgres"]["kids"] = sorted(listed.split())
        with open(os.path.join(out, "postgres.sql"), "w") as dump:
            subprocess.run(["pg_dump", "--no-owner", "--no-privileges", f"{base}/{name}"], stdout=dump, check=True)
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE {name}"], check=True)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
