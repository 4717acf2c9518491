"""The practical floor of a durable, replay-safe HOTP check over HTTP: a reference server
for ``http_verify.py``, not part of otpgate.

It does only what such a check needs, on otpgate's own PostgreSQL schema and rows, with
the same guarantees as otpgate's ``POST /api/v1/verify``:

* raw ASGI on uvicorn (no framework, no middleware), a bearer token compared in constant
  time, a JSON body;
* a small pool of async psycopg connections, each check one transaction:
  ``SELECT … FOR NO KEY UPDATE OF users`` of the user, its active credential and its
  account throttle counter (a lock refuses even a right code), AES-GCM decryption of the
  secret, the HMACs of the look-ahead window, then on success the conditional
  ``UPDATE … WHERE last_step < :counter`` (the replay guard) and the ``login.ok`` audit
  ``INSERT``; on failure the counter's upsert and the ``login.code_failed`` audit
  ``INSERT``; ``COMMIT`` (synchronous commit, as the server is configured).

Run: ``python benchmarks/floor_server.py --port 8001 --workers 2`` with
``FLOOR_DATABASE_URL`` (``postgresql://…``), ``FLOOR_SECRET_KEYS`` (``id:base64url``, as
``OTPGATE_SECRET_KEYS``) and ``FLOOR_TOKEN`` in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

POOL_SIZE = 8
LOOK_AHEAD = 10
BURST, LOCK_SECONDS = 5, 60
_AAD_PREFIX = b"otpgate-secretbox-v1\x00"  # otpgate.security.secretbox's sealed format
_LOCK = """
SELECT u.id, c.id, c.key_id, c.secret_sealed, c.last_step, t.failures, t.locked_until
FROM users u
JOIN otp_credentials c ON c.user_id = u.id AND c.status = 'active' AND c.kind = 'hotp'
LEFT JOIN throttles t ON t.scope = 'user:' || u.id || '|code'
WHERE u.username = %s AND u.is_active
FOR NO KEY UPDATE OF u
"""
_ADVANCE = """
UPDATE otp_credentials SET last_step = %s, last_used_at = %s
WHERE id = %s AND last_step < %s AND status = 'active'
"""
_FAIL = """
INSERT INTO throttles (scope, failures, first_failure_at, last_failure_at, locked_until)
VALUES (%s, 1, %s, %s, NULL)
ON CONFLICT (scope) DO UPDATE SET failures = throttles.failures + 1,
    last_failure_at = excluded.last_failure_at,
    locked_until = CASE WHEN throttles.failures + 1 >= %s THEN %s ELSE NULL END
"""
_AUDIT = """
INSERT INTO audit_events (at, kind, source, actor_id, actor_name, subject_id, subject_name,
                          client_addr, user_agent, detail)
VALUES (%s, %s, 'api', NULL, '', %s, %s, %s, %s, %s)
"""


def _keys(text: str) -> dict[str, AESGCM]:
    keys = {}
    for item in text.split(","):
        key_id, _, b64 = item.strip().partition(":")
        keys[key_id] = AESGCM(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))
    return keys


def _hotp(key: bytes, counter: int) -> int:
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000


class Floor:
    def __init__(self) -> None:
        self.url = os.environ["FLOOR_DATABASE_URL"]
        self.keys = _keys(os.environ["FLOOR_SECRET_KEYS"])
        self.auth = f"Bearer {os.environ['FLOOR_TOKEN']}".encode()
        self.pool: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def start(self) -> None:
        for _ in range(POOL_SIZE):
            self.pool.put_nowait(await psycopg.AsyncConnection.connect(self.url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await self.start()
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        if not hmac.compare_digest(headers.get(b"authorization", b""), self.auth):
            await _answer(send, 401, b'{"error":"unauthorized"}')
            return
        try:
            request = json.loads(body)
            username, code = str(request["username"]), str(request["code"])
        except (ValueError, KeyError, TypeError):
            await _answer(send, 400, b'{"error":"bad_request"}')
            return
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            await _answer(send, 400, b'{"error":"malformed"}')
            return
        client = (scope.get("client") or ("", 0))[0]
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:400]
        status = await self.check(username, int(code), client, agent)
        await _answer(send, status, b'{"ok":true}' if status == 200 else b'{"ok":false}')

    async def check(self, username: str, code: int, client: str, agent: str) -> int:
        conn = await self.pool.get()
        try:
            async with conn.transaction():
                row = await (await conn.execute(_LOCK, (username,))).fetchone()
                if row is None:
                    return 404
                user_id, cred_id, key_id, sealed, last, _failures, locked = row
                now = datetime.now(UTC)
                if locked is not None and locked > now:
                    return 423
                context = b"otp-credential:%d" % user_id
                aad = _AAD_PREFIX + bytes([len(key_id)]) + key_id.encode() + context
                secret = self.keys[key_id].decrypt(sealed[:12], sealed[12:], aad)
                found = next(
                    (c for c in range(last + 1, last + 2 + LOOK_AHEAD) if _hotp(secret, c) == code),
                    None,
                )
                if found is not None:
                    cur = await conn.execute(_ADVANCE, (found, now, cred_id, found))
                    if cur.rowcount == 1:
                        detail = json.dumps({"method": "hotp", "credential_id": cred_id})
                        await conn.execute(
                            _AUDIT, (now, "login.ok", user_id, username, client, agent, detail)
                        )
                        return 200
                scope = f"user:{user_id}|code"
                until = now + timedelta(seconds=LOCK_SECONDS)
                await conn.execute(_FAIL, (scope, now, now, BURST, until))
                detail = json.dumps({"method": "code"})
                await conn.execute(
                    _AUDIT, (now, "login.code_failed", user_id, username, client, agent, detail)
                )
                return 401
        finally:
            self.pool.put_nowait(conn)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


def create() -> Floor:
    """Factory for uvicorn: each worker process builds its own pool."""
    return Floor()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    uvicorn.run(
        "floor_server:create", factory=True, app_dir=str(Path(__file__).parent),
        host=args.host, port=args.port, workers=args.workers, access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
