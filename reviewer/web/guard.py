"""Pure ASGI middleware in front of the app: security headers, the access token, the request
deadline and the upload limit. Each acts before the body is read, so a request that is too large
or not allowed costs no memory, and each answers with the app's own error page or JSON error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (scope, status, detail) -> an ASGI app answering with the error page or the JSON error
ErrorResponder = Callable[[Scope, int, str], ASGIApp]

log = logging.getLogger("reviewer.web")

# Every response: no sniffing, no referrer, no framing, nothing cached unless a route says so.
BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Paths anyone may fetch when a token is set: the health check and the form's CSS and JS.
OPEN_PATHS = ("/healthz", "/static/")


def is_api(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/api/")


class SecurityHeaders:
    """Adds the security headers to every response; a route's own CSP or Cache-Control wins."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        out = list(headers) + [(k, v) for k, v in BASE_HEADERS if k not in present]
        if b"content-security-policy" not in present:
            out.append((b"content-security-policy", DEFAULT_CSP.encode()))
        if b"cache-control" not in present:
            out.append((b"cache-control", b"no-store"))
        return out

    @classmethod
    def apply(cls, response: Any) -> None:
        """The same headers on a Starlette response made outside this middleware."""
        response.raw_headers[:] = cls.headers(response.raw_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.headers(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenAuth:
    """With a token set: the API needs `Authorization: Bearer <token>`, the pages a Basic login
    (any user name, the token as password). Either form is accepted anywhere."""

    def __init__(self, app: ASGIApp, *, token: str | None, errors: ErrorResponder) -> None:
        self.app = app
        self.token = token.encode("utf-8") if token else None
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.token is None
            or str(scope.get("path", "")).startswith(OPEN_PATHS)
            or self._allowed(scope)
        ):
            return await self.app(scope, receive, send)
        challenge = (
            b'Bearer realm="reviewer"'
            if is_api(scope)
            else b'Basic realm="reviewer", charset="UTF-8"'
        )

        async def send_challenge(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"www-authenticate", challenge)]
            await send(message)

        await self.errors(scope, 401, "a valid access token is required")(
            scope, receive, send_challenge
        )

    def _allowed(self, scope: Scope) -> bool:
        assert self.token is not None
        for name, value in scope.get("headers", []):
            if name.lower() != b"authorization":
                continue
            scheme, _, credentials = value.strip().partition(b" ")
            credentials = credentials.strip()
            if scheme.lower() == b"bearer":
                given = credentials
            elif scheme.lower() == b"basic":
                try:
                    given = base64.b64decode(credentials, validate=True).partition(b":")[2]
                except (binascii.Error, ValueError):
                    continue
            else:
                continue
            if hmac.compare_digest(given, self.token):
                return True
        return False


class Deadline:
    """Answers 504 when a request is not done `seconds` after it arrived (upload included).

    The handler is cancelled; a review it was waiting for is abandoned with its worker process.
    """

    def __init__(self, app: ASGIApp, *, seconds: float, errors: ErrorResponder) -> None:
        self.app = app
        self.seconds = seconds
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            async with asyncio.timeout(self.seconds):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started:  # too late for an error page: the response is cut short
                raise
            log.info(
                "deadline path=%s after=%.1fs", scope.get("path"), self.seconds
            )  # the request's outcome, never its content
            detail = f"the request took longer than {self.seconds:g} seconds and was stopped"
            await self.errors(scope, 504, detail)(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised inside the app's `receive` once the body passes the limit."""


class BodyLimit:
    """Refuses a body over `max_bytes` with 413 while it is read, not after.

    A Content-Length over the limit is refused before a byte of the body is read. Otherwise
    every chunk passing through `receive` is counted (chunked bodies without a length too); the
    chunk that crosses the limit raises inside the app, whose answer is replaced by the 413.
    """

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, limit_label: str, errors: ErrorResponder
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limit_label = limit_label
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrived = time.perf_counter()
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            return await self._refuse(scope, receive, send, declared, arrived)
        seen = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # whatever the app made of the error, the answer is the 413
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send, seen, arrived)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, size: int, arrived: float
    ) -> None:
        log.info(
            "refused status=413 bytes>=%d limit=%d ms=%.1f",
            size,
            self.max_bytes,
            (time.perf_counter() - arrived) * 1000,
        )
        detail = f"the upload is larger than the limit of {self.limit_label}"
        await self.errors(scope, 413, detail)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
