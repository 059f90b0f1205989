"""An independent RFC 7662 client for the demo's POST /oauth/introspect.

Python's `requests` (not this crate, not Rust) logs in to the demo, asks
about its tokens with HTTP Basic client authentication, logs out, and asks
again. Usage: `python introspect_client.py <base url> <client id> <secret>`.
Prints one JSON object of what it saw; tests/demo/introspection.rs asserts.
"""

import json
import sys

import requests

base, client_id, secret = sys.argv[1:4]
session = requests.Session()


def introspect(token, hint=None, auth=(client_id, secret)):
    form = {"token": token}
    if hint:
        form["token_type_hint"] = hint
    reply = session.post(f"{base}/oauth/introspect", data=form, auth=auth, timeout=30)
    try:
        body = reply.json()
    except ValueError:
        body = reply.text
    return {
        "status": reply.status_code,
        "content_type": reply.headers.get("content-type"),
        "cache_control": reply.headers.get("cache-control"),
        "www_authenticate": reply.headers.get("www-authenticate"),
        "body": body,
    }


login = session.post(
    f"{base}/auth/login",
    json={"username": "alice", "password": "alice-password"},
    timeout=30,
)
login.raise_for_status()
pair = login.json()
access, refresh = pair["access_token"], pair["refresh_token"]

report = {
    "access": introspect(access, "access_token"),
    "refresh": introspect(refresh, "refresh_token"),
    "refresh_without_hint": introspect(refresh),
    "bad_secret": introspect(access, auth=(client_id, "not-the-secret")),
    "no_auth": introspect(access, auth=None),
    "garbage": introspect("not-a-token"),
}
logout = session.post(
    f"{base}/auth/logout",
    headers={"authorization": f"Bearer {access}"},
    timeout=30,
)
report["logout_status"] = logout.status_code
report["after_logout"] = introspect(access)
print(json.dumps(report))
