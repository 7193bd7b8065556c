"""The HTTP client under python-telegram-bot, tuned for many small Bot API calls at once.

Why this module exists: profiling the bot under `bench/telegram_load.py` showed that a large
share of its CPU per reply went into httpx/httpcore plumbing rather than into Kisah. Two costs
are ours to remove without touching what is sent:

- Under a burst (200 replies at once) httpcore queues the surplus requests itself and re-scans
  the whole queue against every connection each time one finishes: quadratic. `GatedRequest`
  lets at most `connection_pool_size` requests into httpx at once and makes the rest wait on an
  asyncio semaphore instead, O(1), so requests still go out as soon as a connection is free.
- On every request start and end httpcore asks each idle pooled connection whether the server
  closed it (`get_extra_info("is_readable")`). Through anyio that builds a fresh dict of socket
  attributes and calls getpeername() every time, about a tenth of the bot's CPU per reply.
  `FastReadableBackend` keeps the socket of each stream and polls it directly: the same check,
  same answer, without the detour.
- Each time a request starts or ends, httpcore's pool re-plans which request goes on which
  connection in O(connections^2) (for every idle connection it builds a list of all of them
  just to count it, and for every queued request two lists of all connections). With 16
  connections that was about 650 calls per reply. `LeanConnectionPool` makes the same
  decisions in one pass; with it the bot keeps 16 connections (what production needs for
  30 messages/s at Telegram's round trip) for the CPU cost of a much smaller pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)


def socket_readable(sock: socket.socket | None) -> bool:
    """True when a recv() would return at once: data, or the b"" of a closed peer.

    Same semantics as httpcore's own check (a missing socket counts as readable, so the
    connection is dropped rather than trusted).
    """
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


# Writes smaller than this are held until the response is read (see `_Stream`).
COALESCE_LIMIT = 64 * 1024


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers "is_readable" from its socket, kept at creation, and,
    for HTTP/1.1, sends a request in one write instead of three.

    httpcore writes a request as its headers, its body and an empty end-of-message write,
    each one a trip through anyio and, for the first two, a send() system call. With
    `coalesce`, writes are held (up to COALESCE_LIMIT bytes) and sent together just before
    the response is read, which in HTTP/1.1 always follows the request. A failed held write
    is dealt with as httpcore deals with a failed request write: ignored, so that the
    response (e.g. an error the server sent before closing) is still read. Never for
    HTTP/2, whose reads and writes run independently.
    """

    __slots__ = ("_coalesce", "_held", "_held_size", "_held_timeout", "_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream, *, coalesce: bool = False) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")
        self._coalesce = coalesce
        self._held: list[bytes] = []
        self._held_size = 0
        self._held_timeout: float | None = None

    async def _send_held(self) -> None:
        if not self._held:
            return
        data = b"".join(self._held)
        timeout = self._held_timeout
        self._held, self._held_size = [], 0
        # As httpcore does after a failed request write: the read tells what happened.
        with contextlib.suppress(httpcore.WriteError):
            await self._inner.write(data, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._send_held()
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return  # nothing to send (httpcore's end-of-message with a Content-Length)
        if not self._coalesce:
            await self._inner.write(buffer, timeout)
            return
        self._held.append(buffer)
        self._held_size += len(buffer)
        self._held_timeout = timeout
        if self._held_size > COALESCE_LIMIT:  # an upload: send as it comes, errors and all
            data = b"".join(self._held)
            self._held, self._held_size = [], 0
            await self._inner.write(data, timeout)

    async def aclose(self) -> None:
        self._held, self._held_size = [], 0  # a closing connection sends nothing more
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        await self._send_held()
        inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _Stream(inner, coalesce=self._coalesce)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class FastReadableBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (whatever it would pick), with `_Stream` around every
    connection it opens; everything else is delegated unchanged. `coalesce` only when the
    pool speaks HTTP/1.1 alone."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, *, coalesce: bool = False) -> None:
        self._inner = inner
        self._coalesce = coalesce

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_tcp(
                host, port, timeout, local_address=local_address, socket_options=socket_options
            ),
            coalesce=self._coalesce,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_unix_socket(path, timeout, socket_options=socket_options),
            coalesce=self._coalesce,
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class LeanConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's connection pool with its request-to-connection planning done in O(n).

    `_assign_requests_to_connections` below is httpcore 1.0.9's, decision for decision (same
    connections dropped, same request on the same connection, same new connections), only
    without the lists it rebuilt per connection and per queued request. It is only installed
    on the httpcore versions it was written against (`tune_client`).
    """

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        connections = self._connections
        # Drop closed connections; close expired ones and idle ones beyond the keep-alive
        # limit (httpcore compares the number of ALL connections with that limit).
        for connection in list(connections):
            if connection.is_closed():
                connections.remove(connection)
            elif connection.has_expired() or (
                connection.is_idle() and len(connections) > self._max_keepalive_connections
            ):
                connections.remove(connection)
                closing.append(connection)
        # Queued requests, in arrival order: an available connection to the same origin,
        # else a new connection, else replace an idle connection (to another origin).
        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            connection = next(
                (c for c in connections if c.can_handle_request(origin) and c.is_available()),
                None,
            )
            if connection is None:
                if len(connections) >= self._max_connections:
                    idle = next((c for c in connections if c.is_idle()), None)
                    if idle is None:
                        continue  # stays queued until a connection frees up
                    connections.remove(idle)
                    closing.append(idle)
                connection = self.create_connection(origin)
                connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing


# The httpcore releases whose pool internals LeanConnectionPool reproduces.
LEAN_POOL_VERSIONS = ("1.0.",)


def tune_client(client: httpx.AsyncClient) -> bool:
    """Put `FastReadableBackend` and `LeanConnectionPool` under the client.

    httpx offers no public way to choose httpcore's network backend or pool, so this reaches
    into the transport; when the layout is not the one expected (another httpx or httpcore
    version, a proxy transport) the client is left exactly as it was and False says so.
    """
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool:
        return False
    if not httpcore.__version__.startswith(LEAN_POOL_VERSIONS):
        return False
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        return False
    http1_only = bool(pool._http1) and not pool._http2  # noqa: SLF001 - see docstring
    pool._network_backend = FastReadableBackend(backend, coalesce=http1_only)  # noqa: SLF001
    pool.__class__ = LeanConnectionPool  # same object and state, leaner planning
    return True


class GatedRequest(HTTPXRequest):
    """HTTPXRequest that lets at most `connection_pool_size` requests into httpx at once,
    over connections whose idle check is cheap (see the module docstring for both)."""

    __slots__ = ("_gate",)

    def __init__(self, connection_pool_size: int, **kwargs: Any) -> None:
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)
        self._gate = asyncio.Semaphore(connection_pool_size)

    def _build_client(self) -> httpx.AsyncClient:
        """PTB builds its client here (again after a shutdown): every client gets the backend."""
        client = super()._build_client()
        if not tune_client(client):
            log.debug("httpx transport not as expected: httpcore's defaults kept")
        return client

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._gate:
            return await super().do_request(*args, **kwargs)
