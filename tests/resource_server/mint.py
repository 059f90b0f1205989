"""Tokens minted by other libraries, for tests/resource_server.

Reads a JSON request on stdin, prints a JSON answer on stdout:

    {"keys": [{"kid": "rsa", "alg": "RS256"}, {"kid": "h", "alg": "HS256", "secret": "…"}, ...],
     "tokens": [{"name": "t1", "lib": "pyjwt", "key": "rsa",
                 "headers": {...}, "claims": {...}}, ...]}
 -> {"jwks": {"rsa": {public JWK}}, "private_jwks": {"rsa": {private JWK}},
     "pems": {"rsa": "public PEM"},
     "tokens": {"t1": "eyJ..."}}

`lib` is one of:
  * `pyjwt`: PyJWT's `jwt.encode(claims, key, alg, headers)`; `exp_in`
    (seconds from now) fills `exp`, `iat_now` fills `iat`;
  * `simplejwt_access` / `simplejwt_refresh`: djangorestframework-simplejwt's
    own `RefreshToken()` (and its `.access_token`) for `user_id` 42;
  * `authx_access` / `authx_refresh`: AuthX's `create_access_token` /
    `create_refresh_token` for uid `alice`;
  * `fastapi_users`: fastapi-users' `JWTStrategy.write_token` for a user
    with a fixed UUID.
Library tokens are signed with the key named by `key` (HMAC keys: `secret`);
a `pyjwt` token may give a private JWK as `jwk` instead.
"""

import asyncio
import json
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

FASTAPI_USER_ID = uuid.UUID("6f1c2a8e-3d4b-4e5f-9a7b-1c2d3e4f5a6b")


def generate(alg):
    if alg.startswith(("RS", "PS")):
        key, kind = rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm
    elif alg == "ES256":
        key, kind = ec.generate_private_key(ec.SECP256R1()), ECAlgorithm
    elif alg == "EdDSA":
        key, kind = ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm
    else:
        raise ValueError(f"no key type for {alg}")
    return key, kind.to_jwk(key.public_key(), as_dict=True), kind.to_jwk(key, as_dict=True)


def pems(key):
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


def simplejwt(private, public, alg, refresh):
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="django-secret-key-not-used-for-tokens-here",
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            SIMPLE_JWT={"ALGORITHM": alg, "SIGNING_KEY": private, "VERIFYING_KEY": public},
        )
        django.setup()
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken()
    token["user_id"] = 42
    return str(token) if refresh else str(token.access_token)


def authx(private, public, alg, refresh):
    from authx import AuthX, AuthXConfig

    if alg.startswith("HS"):
        config = AuthXConfig(JWT_ALGORITHM=alg, JWT_SECRET_KEY=private, JWT_TOKEN_LOCATION=["headers"])
    else:
        config = AuthXConfig(
            JWT_ALGORITHM=alg,
            JWT_PRIVATE_KEY=private,
            JWT_PUBLIC_KEY=public,
            JWT_TOKEN_LOCATION=["headers"],
        )
    auth = AuthX(config=config)
    if refresh:
        return auth.create_refresh_token(uid="alice")
    return auth.create_access_token(uid="alice")


def fastapi_users(private, public, alg):
    from fastapi_users.authentication import JWTStrategy

    class User:
        id = FASTAPI_USER_ID

    strategy = JWTStrategy(
        secret=private,
        lifetime_seconds=3600,
        algorithm=alg,
        public_key=None if alg.startswith("HS") else public,
    )
    return asyncio.run(strategy.write_token(User()))


def main():
    request = json.load(sys.stdin)
    keys, answer = {}, {"jwks": {}, "private_jwks": {}, "pems": {}, "tokens": {}}
    for spec in request.get("keys", []):
        kid, alg = spec["kid"], spec["alg"]
        if alg.startswith("HS"):
            keys[kid] = (spec["secret"], spec["secret"], alg)
            continue
        key, jwk, private_jwk = generate(alg)
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        # PyJWT writes `key_ops: ["sign"]` into a private JWK; a provider
        # publishing its public half would keep that, and a key whose
        # operations say "sign" is not one to verify with.
        private_jwk.pop("key_ops", None)
        private_jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        answer["private_jwks"][kid] = private_jwk
        private, public = pems(key)
        keys[kid] = (private, public, alg)
        answer["jwks"][kid] = jwk
        answer["pems"][kid] = public
    now = int(time.time())
    for spec in request.get("tokens", []):
        if "jwk" in spec:
            # A private JWK given whole (a key another process signs with too).
            jwk = jwt.PyJWK(spec["jwk"])
            private, public, alg = jwk.key, None, spec["jwk"]["alg"]
            spec = dict(spec, key=spec["jwk"]["kid"])
        else:
            private, public, alg = keys[spec["key"]]
        lib = spec.get("lib", "pyjwt")
        if lib == "pyjwt":
            claims = dict(spec.get("claims", {}))
            if "exp_in" in spec:
                claims["exp"] = now + spec["exp_in"]
            if spec.get("iat_now"):
                claims["iat"] = now
            headers = dict(spec.get("headers", {}))
            headers.setdefault("kid", spec["key"])
            token = jwt.encode(claims, private, algorithm=spec.get("alg", alg), headers=headers)
        elif lib in ("simplejwt_access", "simplejwt_refresh"):
            token = simplejwt(private, public, alg, lib.endswith("refresh"))
        elif lib in ("authx_access", "authx_refresh"):
            token = authx(private, public, alg, lib.endswith("refresh"))
        elif lib == "fastapi_users":
            token = fastapi_users(private, public, alg)
        else:
            raise ValueError(f"unknown lib {lib}")
        answer["tokens"][spec["name"]] = token
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
