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
"""

from __future__ import annotations

import asyncio
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


class _Stream(httpcore.AsyncNetworkStream):
    """A network stream that answers "is_readable" from its socket, kept at creation."""

    __slots__ = ("_inner", "_socket")

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and self._socket is not None:
            return socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class FastReadableBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend (whatever it would pick), with `_Stream` around every
    connection it opens; everything else is delegated unchanged."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

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
            )
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(
            await self._inner.connect_unix_socket(path, timeout, socket_options=socket_options)
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _use_fast_backend(client: httpx.AsyncClient) -> bool:
    """Put `FastReadableBackend` under the client's connection pool.

    httpx offers no public way to choose httpcore's network backend, so this reaches into
    the transport; when the layout is not the one expected (another httpx version, a proxy
    transport) the client is left exactly as it was and False says so.
    """
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool:
        return False
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.AsyncNetworkBackend):
        return False
    if not isinstance(backend, FastReadableBackend):
        pool._network_backend = FastReadableBackend(backend)  # noqa: SLF001 - see docstring
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
        if not _use_fast_backend(client):
            log.debug("httpx transport not as expected: default network backend kept")
        return client

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        async with self._gate:
            return await super().do_request(*args, **kwargs)
