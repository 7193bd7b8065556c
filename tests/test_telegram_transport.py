"""The tuned HTTP client: it must keep httpcore's idle-connection check exact while making it
cheap, and it must actually be in place under the Application (or the tuning is silently lost)."""

from __future__ import annotations

import copy
import random
import socket
from dataclasses import dataclass

import httpcore
import httpx

from bot.telegram.transport import (
    COALESCE_LIMIT,
    FastReadableBackend,
    GatedRequest,
    LeanConnectionPool,
    _Stream,
    socket_readable,
    tune_client,
)


def test_socket_readable_sees_data_and_a_closed_peer() -> None:
    ours, theirs = socket.socketpair()
    try:
        assert socket_readable(ours) is False  # idle, nothing to read
        theirs.sendall(b"x")
        assert socket_readable(ours) is True  # data waiting
        ours.recv(1)
        theirs.close()
        assert socket_readable(ours) is True  # recv() would return b"": peer closed
    finally:
        ours.close()
        theirs.close()


def test_missing_socket_counts_as_readable() -> None:
    """Like httpcore: a connection whose socket is unknown is dropped, never trusted."""
    assert socket_readable(None) is True


def test_gated_request_client_uses_the_tuned_pool() -> None:
    request = GatedRequest(4)
    pool = request._client._transport._pool  # noqa: SLF001 - what the tuning changes
    assert type(pool) is LeanConnectionPool
    assert isinstance(pool._network_backend, FastReadableBackend)  # noqa: SLF001


@dataclass
class FakeConnection:
    """The state httpcore's planning reads from a connection, chosen by the test."""

    name: str
    origin: str
    state: str  # idle | active | new | closed
    expired: bool = False

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_available(self) -> bool:
        return self.state == "idle"

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin


class FakeUrl:
    def __init__(self, origin: str) -> None:
        self.origin = origin


class FakeHttpRequest:
    def __init__(self, origin: str) -> None:
        self.url = FakeUrl(origin)


class FakePoolRequest:
    def __init__(self, name: str, origin: str, connection: FakeConnection | None) -> None:
        self.name = name
        self.request = FakeHttpRequest(origin)
        self.connection = connection

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.connection = connection


def _plan(pool_class: type, pool_state: dict[str, object]) -> tuple[object, ...]:
    """Run one planning step of `pool_class` on a copy of the state; what it decided."""
    pool = object.__new__(pool_class)
    pool.__dict__.update(copy.deepcopy(pool_state))
    created: list[str] = []

    def create_connection(origin: str) -> FakeConnection:
        created.append(origin)
        return FakeConnection(f"new{len(created)}", origin, "new")

    pool.create_connection = create_connection  # type: ignore[method-assign]
    closing = pool._assign_requests_to_connections()  # noqa: SLF001
    return (
        [c.name for c in closing],
        [c.name for c in pool._connections],  # noqa: SLF001
        [(r.name, r.connection and r.connection.name) for r in pool._requests],  # noqa: SLF001
        created,
    )


def test_lean_pool_plans_exactly_like_httpcore() -> None:
    """Random pool states (origins, idle/active/closed/expired connections, queued and
    assigned requests, full and not-full pools): the lean planner must decide the same."""
    rng = random.Random(1234)
    states = ("idle", "active", "new", "closed")
    origins = ("a", "b")
    for case in range(3000):
        connections = [
            FakeConnection(f"c{i}", rng.choice(origins), rng.choice(states), rng.random() < 0.1)
            for i in range(rng.randint(0, 8))
        ]
        requests = [
            FakePoolRequest(
                f"r{i}",
                rng.choice(origins),
                rng.choice([None, None, *connections]) if connections else None,
            )
            for i in range(rng.randint(0, 8))
        ]
        max_connections = rng.randint(1, 8)
        state = {
            "_connections": connections,
            "_requests": requests,
            "_max_connections": max_connections,
            "_max_keepalive_connections": rng.randint(0, max_connections),
        }
        expected = _plan(httpcore.AsyncConnectionPool, state)
        assert _plan(LeanConnectionPool, state) == expected, f"case {case}: {state}"


class RecordingStream(httpcore.AsyncNetworkStream):
    """An inner stream that records what reaches the network (and can fail writes)."""

    def __init__(self, fail_writes: bool = False) -> None:
        self.events: list[tuple[str, bytes]] = []
        self.fail_writes = fail_writes

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.events.append(("read", b""))
        return b"HTTP/1.1 200 OK\r\n"

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.fail_writes:
            raise httpcore.WriteError("peer gone")
        self.events.append(("write", buffer))

    async def aclose(self) -> None:
        self.events.append(("close", b""))

    def get_extra_info(self, info: str) -> object:
        return None


async def test_http1_request_goes_out_in_one_write_before_the_read() -> None:
    inner = RecordingStream()
    stream = _Stream(inner, coalesce=True)
    await stream.write(b"POST / HTTP/1.1\r\n\r\n")
    await stream.write(b'{"a": 1}')
    await stream.write(b"")  # httpcore's end of message
    assert inner.events == []  # held: nothing sent yet
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"
    assert inner.events == [("write", b'POST / HTTP/1.1\r\n\r\n{"a": 1}'), ("read", b"")]


async def test_failed_held_write_still_reads_the_response() -> None:
    """httpcore ignores a failed request write and reads (the server may have answered);
    the held write must behave the same."""
    inner = RecordingStream(fail_writes=True)
    stream = _Stream(inner, coalesce=True)
    await stream.write(b"request")
    assert await stream.read(100) == b"HTTP/1.1 200 OK\r\n"


async def test_large_writes_and_no_coalescing_go_out_at_once() -> None:
    inner = RecordingStream()
    stream = _Stream(inner, coalesce=True)
    big = b"x" * (COALESCE_LIMIT + 1)
    await stream.write(b"head")
    await stream.write(big)
    assert inner.events == [("write", b"head" + big)]

    plain = RecordingStream()
    stream = _Stream(plain, coalesce=False)
    await stream.write(b"head")
    await stream.write(b"")
    assert plain.events == [("write", b"head")]


async def test_closing_drops_held_writes() -> None:
    inner = RecordingStream()
    stream = _Stream(inner, coalesce=True)
    await stream.write(b"request")
    await stream.aclose()
    assert inner.events == [("close", b"")]


def test_coalescing_only_for_http1_pools() -> None:
    backend = GatedRequest(4)._client._transport._pool._network_backend  # noqa: SLF001
    assert backend._coalesce is True  # noqa: SLF001 - PTB's default is HTTP/1.1
    # An HTTP/2-capable pool (h2 is not installed here, so the flag is set by hand).
    client = httpx.AsyncClient()
    client._transport._pool._http2 = True  # noqa: SLF001
    assert tune_client(client)
    assert client._transport._pool._network_backend._coalesce is False  # noqa: SLF001


async def test_tuned_client_speaks_tls_and_survives_closed_keepalive(tmp_path) -> None:  # noqa: ANN001
    """Production talks to api.telegram.org over TLS: the tuned backend (held writes, direct
    idle checks) must work through start_tls, reuse connections, and drop ones the server
    closed, exactly like the stock client."""
    import asyncio
    import ssl
    import subprocess

    from aiohttp import web

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    peers: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport)
        body = await request.read()
        return web.json_response({"ok": True, "result": body.decode() or "empty"})

    app = web.Application()
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, keepalive_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
    client_tls = ssl.create_default_context(cafile=str(cert))
    request = GatedRequest(4, httpx_kwargs={"verify": client_tls})
    assert type(request._client._transport._pool) is LeanConnectionPool  # noqa: SLF001
    url = f"https://127.0.0.1:{port}/echo"
    try:
        await request.initialize()
        for _ in range(3):
            code, payload = await request.do_request(url, "POST", None, read_timeout=5)
            assert code == 200 and b'"ok": true' in payload
        assert len({id(p) for p in peers}) == 1  # one TLS connection, reused
        await asyncio.sleep(0.5)  # the server closes the idle keep-alive connection
        code, payload = await request.do_request(url, "POST", None, read_timeout=5)
        assert code == 200 and len({id(p) for p in peers}) == 2  # a fresh one, no error
        many = await asyncio.gather(
            *(request.do_request(url, "POST", None, read_timeout=5) for _ in range(20))
        )
        assert all(code == 200 for code, _ in many)
    finally:
        await request.shutdown()
        await runner.cleanup()
