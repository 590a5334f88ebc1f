"""`planpulse serve --workers N` answers kept-alive connections without Nagle's delay, and
its routes are ready before the first request."""

import asyncio
import gc
import socket
from pathlib import Path

import pytest
import uvicorn

from app import serving, settings


def test_the_socket_workers_share_turns_nagle_off_on_each_connection() -> None:
    # uvicorn binds the socket the workers share itself; asyncio sets TCP_NODELAY on the
    # connections it accepts only when that socket says it is TCP. Without it each answer
    # on a kept-alive connection waited for the client's delayed ACK (40 ms on Linux).
    serving._bind_sockets_as_tcp()
    listener = uvicorn.Config("app.main:create_app", host="127.0.0.1", port=0).bind_socket()
    assert listener.proto == socket.IPPROTO_TCP

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, timeout=10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(accepted_nodelay()) == 1


def test_the_served_app_has_every_router_ready_before_the_first_request(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PLANPULSE_DATABASE_URL", f"sqlite:///{tmp_path / 'served.db'}")
    settings.get_settings.cache_clear()
    gc.unfreeze()
    try:
        app = serving.served_app()
        # The startup heap is frozen: a large answer's collections no longer walk it.
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        settings.get_settings.cache_clear()
    included = [route for route in app.router.routes if hasattr(route, "effective_candidates")]
    assert included
    assert all(route._effective_candidates_version is not None for route in included)


def test_workers_listening_on_sockets_of_their_own_share_a_burst_of_connections() -> None:
    """Two workers' sockets, as `planpulse serve --workers 2` binds them: 64 clients
    connecting at once are spread between them, where one shared socket let the first
    worker to wake take them all."""
    if not serving.SPREADS_CONNECTIONS:
        pytest.skip("SO_REUSEPORT spreads connections on Linux only")
    first = serving.reuse_port_socket(socket.AF_INET, ("127.0.0.1", 0))
    second = serving.reuse_port_socket(socket.AF_INET, first.getsockname())
    clients = []
    try:
        for listener in (first, second):
            listener.listen(128)
            listener.setblocking(False)
        clients = [socket.create_connection(first.getsockname()) for _ in range(64)]
        accepted = []
        for listener in (first, second):
            count = 0
            while True:
                try:
                    connection, _ = listener.accept()
                except BlockingIOError:
                    break
                connection.close()
                count += 1
            accepted.append(count)
        assert sum(accepted) == 64
        assert min(accepted) >= 8  # by address hash: 64 to 0 has odds of 2 in 2**64
    finally:
        for sock in (*clients, first, second):
            sock.close()
