"""Checks DPoP proofs that the browser client made (captured by a test build of the server, then
written to the file named by PROOFS) with requests-oauth2client's `validate_dpop_proof`, which shares no
code with the client: signature by the key in the header, `typ`, `alg`, `htm`, `htu`, `iat`, `ath`.
Prints one line per proof that fails and "N passed, M failed" last.
"""

import base64
import hashlib
import json
import os
import sys

from requests_oauth2client import validate_dpop_proof

captured = json.load(open(os.environ["PROOFS"], encoding="utf-8"))
passed = failed = 0
for entry in captured:
    token = entry.get("access_token")
    ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode() if token else None
    try:
        # Captured during the suite: iat is checked against now with room for the suite's length.
        validate_dpop_proof(entry["proof"], htm=entry["htm"], htu=entry["htu"], ath=ath, leeway=1800, algs=["ES256"])
        passed += 1
    except Exception as error:  # noqa: BLE001 - every failure is reported
        failed += 1
        print(f"FAIL  {entry['htm']} {entry['htu']}: {error!r}")
if not captured:
    failed += 1
    print("FAIL  no proof was captured: the browser suite sent none")
print("validate_dpop_proof (requests-oauth2client) on the proofs the browser client sent:")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
