"""DPoP (RFC 9449) from Python's requests-oauth2client against a running server: its DPoPKey signs the
login's proofs, and its DPoPToken calls a protected route, meets the server's nonce challenge, and
succeeds on the retry it makes by itself.

Environment: ISSUER (where the server listens), EMAIL and PASSWORD of an account. Prints one line per
check and "N passed, M failed" last.
"""

import json
import os
import sys

import requests
from requests.adapters import HTTPAdapter
from requests_oauth2client import DPoPKey, DPoPToken

ISSUER = os.environ["ISSUER"]
passed = failed = 0


def check(name, body):
    global passed, failed
    try:
        note = body()
        passed += 1
        print(f"ok    DPoP requests-oauth2client {name}" + (f" ({note})" if note else ""))
    except Exception as error:  # noqa: BLE001 - every failure is reported, none stops the run
        failed += 1
        print(f"FAIL  DPoP requests-oauth2client {name}: {error!r}")


key = DPoPKey.generate(alg="ES256")
state = {}


def log_in():
    url = f"{ISSUER}/api/auth/login"
    body = {"email": os.environ["EMAIL"], "password": os.environ["PASSWORD"]}
    nonce = None
    for attempt in (1, 2):
        proof = key.proof(htm="POST", htu=url, nonce=nonce)
        response = requests.post(url, json=body, headers={"DPoP": str(proof)}, timeout=10)
        answer = response.json()
        if answer.get("error") == "use_dpop_nonce" and attempt == 1:
            nonce = response.headers["DPoP-Nonce"]
            continue
        assert response.status_code == 200, json.dumps(answer)
        assert answer["data"]["token_type"] == "DPoP", json.dumps(answer)
        state["access"] = answer["data"]["access_token"]
        return f"{attempt} requests"
    raise AssertionError("no answer")


class Recording(HTTPAdapter):
    """Records the status of every answer on the wire, the library's own retry included."""

    def __init__(self):
        super().__init__()
        self.statuses = []

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        self.statuses.append(response.status_code)
        return response


def call_protected_route():
    token = DPoPToken(access_token=state["access"], _dpop_key=key)
    assert key.rs_nonce is None, "no nonce yet: the first call must meet the challenge"
    session = requests.Session()
    wire = Recording()
    session.mount("http://", wire)
    response = session.get(f"{ISSUER}/api/me", auth=token, timeout=10)
    assert response.status_code == 200, response.text
    assert key.rs_nonce, "the server's DPoP-Nonce was not taken"
    assert wire.statuses == [401, 200], f"not one use_dpop_nonce challenge, then success: {wire.statuses}"
    return f"answers on the wire {wire.statuses}"


check("logs in with its own DPoPKey's proofs", log_in)
check("calls /api/me with a DPoPToken through the nonce challenge", call_protected_route)
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
