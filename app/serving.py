"""Running the app under uvicorn, with one fix for several worker processes."""

import socket

import uvicorn
import uvicorn.config


def run(*, host: str, port: int, workers: int, log_level: str) -> None:
    """``uvicorn.run`` of the app factory, with Nagle's algorithm off in every worker."""
    _bind_sockets_as_tcp()
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, proxy_headers=True)


def _bind_sockets_as_tcp() -> None:
    """With several workers uvicorn binds the listening socket itself, leaving its protocol
    number at 0; asyncio then does not set TCP_NODELAY on the connections it accepts, and
    on Linux each answer on a kept-alive connection waits for the client's delayed ACK:
    about 40 ms per request (uvicorn issue #3149). Name the protocol, so that the socket
    the workers inherit is recognised as TCP. (One worker binds through asyncio, which
    names it already.)"""
    bind = uvicorn.config.Config.bind_socket
    if getattr(bind, "names_tcp", False):
        return

    def bind_socket(config: uvicorn.config.Config) -> socket.socket:
        sock = bind(config)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            return socket.socket(sock.family, sock.type, socket.IPPROTO_TCP,
                                 fileno=sock.detach())
        return sock

    bind_socket.names_tcp = True  # type: ignore[attr-defined]
    uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]
