"""The tuned HTTP client: it must keep httpcore's idle-connection check exact while making it
cheap, and it must actually be in place under the Application (or the tuning is silently lost)."""

from __future__ import annotations

import socket

import httpcore

from bot.telegram.transport import FastReadableBackend, GatedRequest, socket_readable


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


def test_gated_request_client_uses_the_fast_backend() -> None:
    request = GatedRequest(4)
    pool = request._client._transport._pool  # noqa: SLF001 - what the tuning changes
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, FastReadableBackend)  # noqa: SLF001
