#!/usr/bin/env python3
"""Credentials and data for fuzzing a running stummel (scripts/schemathesis.sh).

Usage: fuzz_credentials.py BASE_URL REDIS_PORT JWT_SECRET DEVMARKT_JWT_SECRET

Walks the real identity flow (captcha read from the service's Redis, GET and
POST /api/v1/ident), registers one machine, and prints shell assignments:
IDENT_TOKEN, ADMIN_JWT, DEVMARKT_JWT, MACHINE_ID. Standard library only.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request


def jwt(secret: str, claims: dict) -> str:
    def part(obj) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def call(base: str, method: str, path: str, headers=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return json.loads(text) if text else None


def main() -> None:
    base, redis_port, jwt_secret, devmarkt_secret = sys.argv[1:5]
    captcha = call(base, "GET", "/api/v1/captcha?scope=registration")
    stored = subprocess.run(
        ["redis-cli", "-p", redis_port, "GET", f"captcha:{captcha['id']}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    text = json.loads(stored)["value"]["text"]
    credentials = call(base, "GET", "/api/v1/ident", {"x-captcha": f"{captcha['id']}:{text}"})
    login = call(base, "POST", "/api/v1/ident", body=credentials)
    token = login["token"]
    call(base, "POST", "/api/v1/cvms", {"x-ident": token}, {"longitude": 8.40395, "latitude": 49.0092})
    machine = None
    for _ in range(100):
        page = call(base, "GET", "/api/v1/cvms")
        if page["content"]:
            machine = page["content"][0]["id"]
            break
        time.sleep(0.1)
    if machine is None:
        sys.exit("fuzz_credentials: the registered machine never appeared")
    print(f"IDENT_TOKEN={token}")
    print(f"ADMIN_JWT={jwt(jwt_secret, {'sub': 'fuzzer', 'username': 'fuzzer'})}")
    print(f"DEVMARKT_JWT={jwt(devmarkt_secret, {'sub': 'internal:1'})}")
    print(f"MACHINE_ID={machine}")


if __name__ == "__main__":
    main()
