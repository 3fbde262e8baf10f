"""The web form and JSON API (`review serve`). FastAPI and uvicorn are imported only here, when a
server is started, so the command-line review does not pay for them."""

from __future__ import annotations

import copy
import errno
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .app import Settings

__all__ = ["create_app", "serve"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app (settings from the environment unless given)."""
    from .app import create_app as _create_app

    return _create_app(settings)


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app under uvicorn until interrupted; an unusable address is a UsageError."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from .app import Settings

    settings = Settings.from_env()  # a bad REVIEWER_* value is reported before anything starts
    _check_address(host, port)
    if not _loopback(host):
        print(
            f"review serve: listening on {host}:{port}, reachable from other machines"
            + (
                ""
                if settings.token
                else "; anyone who can reach it can use it (set REVIEWER_TOKEN)"
            ),
            file=sys.stderr,
        )
    log_config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["reviewer"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=log_config,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
