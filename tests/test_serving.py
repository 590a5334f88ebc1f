"""`planpulse serve --workers N` answers kept-alive connections without Nagle's delay."""

import asyncio
import socket

import uvicorn

from app import serving


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
