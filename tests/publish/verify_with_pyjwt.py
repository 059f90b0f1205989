"""Verifies tokens against a JWK Set with PyJWT, an independent verifier.

stdin:  {"jwks": {...}, "audience": "...", "issuer": "...",
         "tokens": [{"token": "eyJ...", "alg": "ES256"}, ...]}
stdout: {"results": [{"ok": true, "sub": "..."} | {"ok": false, "error": "..."}, ...]}
"""

import json
import sys

import jwt

request = json.load(sys.stdin)
key_set = jwt.PyJWKSet.from_dict(request["jwks"])
results = []
for item in request["tokens"]:
    try:
        kid = jwt.get_unverified_header(item["token"])["kid"]
        key = key_set[kid]
        claims = jwt.decode(
            item["token"],
            key.key,
            algorithms=[item["alg"]],
            audience=request["audience"],
            issuer=request["issuer"],
        )
        results.append({"ok": True, "sub": claims["sub"]})
    except Exception as error:  # noqa: BLE001 - reported to the Rust test
        results.append({"ok": False, "error": repr(error)})
json.dump({"results": results}, sys.stdout)
