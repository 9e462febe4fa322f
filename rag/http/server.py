"""`rag serve`: bind the address first (a clear error when it can't be had), warm the engine,
then hand the socket to uvicorn."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable

from rag.errors import ConfigError
from rag.types import IndexStatus


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port), or a one-line `ConfigError`."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {port}")
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot listen on {where}: unknown host ({reason})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def describe(status: IndexStatus) -> str:
    """The state the server starts in, for its one line."""
    if status.problem:
        return f"{status.mode}; not ready: {status.problem}"
    return f"{status.mode}, {status.documents} articles, {status.chunks} chunks"


class _Stopped(Exception):
    pass


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def run(app: Callable[..., object], sock: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM, which end it normally once open requests are answered;
    warnings and errors only on stderr (no access log)."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, lifespan="off"
    )
    # uvicorn shuts down gracefully on these signals, then raises them again: then they end
    # the command with exit code 0 instead of killing it.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
