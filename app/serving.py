"""Running the app under uvicorn: two fixes for several worker processes, the routes
made ready before the first request, the startup heap frozen, and the webhook delivery
worker."""

import gc
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
import uvicorn.config
from fastapi import FastAPI
from uvicorn.supervisors import multiprocess

from app.main import create_app

SPREADS_CONNECTIONS = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
"""Whether the kernel spreads a port's connections among the sockets that listen on it."""


def run(*, host: str, port: int, workers: int, log_level: str) -> None:
    """``uvicorn.run`` of :func:`served_app`, with Nagle's algorithm off in every worker
    and, on Linux, a listening socket of its own per worker."""
    _bind_sockets_as_tcp()
    if workers > 1 and SPREADS_CONNECTIONS:
        _give_each_worker_its_own_socket()
    uvicorn.run("app.serving:served_app", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, proxy_headers=True)


def served_app() -> FastAPI:
    """The app, each of its routers ready to answer. FastAPI prepares an included router's
    routes (their parameters' validators) on the first request that reaches the router:
    about 0.2 s of CPU per process here, paid inside the first users' answers, and inside
    a benchmark's measured seconds. Tests skip it: most use a few routers."""
    app = create_app()
    for route in app.router.routes:
        prepare = getattr(route, "effective_candidates", None)  # an included router
        if callable(prepare):
            prepare()
    if app.state.settings.webhooks:
        deliver_webhooks(app)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Leave the objects alive at startup (modules, schemas, routes: about 200,000) out of
    the garbage collector's full passes, which a large answer otherwise triggers several
    times, each walking all of them again (docs/performance.md)."""
    gc.collect()
    gc.freeze()


def deliver_webhooks(app: FastAPI) -> None:
    """Run the webhook delivery worker (a thread) while ``app`` runs: in each process of
    ``planpulse serve`` unless ``PLANPULSE_WEBHOOKS=false`` (docs/webhooks.md). Tests'
    apps do not run it: they call its rounds themselves."""
    from app.services.webhooks.worker import Worker

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        worker = Worker(running.state.engine, running.state.settings)
        worker.start()
        try:
            async with inner(running) as state:
                yield state
        finally:
            worker.stop()

    app.router.lifespan_context = lifespan


def _bind_sockets_as_tcp() -> None:
    """With several workers uvicorn binds the listening socket itself, leaving its protocol
    number at 0; asyncio then does not set TCP_NODELAY on the connections it accepts, and
    on Linux each answer on a kept-alive connection waits for the client's delayed ACK
    (uvicorn issue #3149; docs/performance.md). Name the protocol, so that the socket
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


def _give_each_worker_its_own_socket() -> None:
    """uvicorn's workers share one listening socket, and whichever wakes first accepts all
    the connections waiting, so one worker may take them all while another idles (uvicorn
    PR #2472 proposes the same remedy; docs/performance.md). Each
    worker instead listens on a socket of its own, all bound with SO_REUSEPORT, and the
    kernel spreads new connections among them by address. The supervisor keeps its socket
    bound but never listens on it, so that it holds the port for workers it restarts."""
    bind = uvicorn.config.Config.bind_socket
    if getattr(bind, "for_reuse", False):
        return

    def bind_socket(config: uvicorn.config.Config) -> socket.socket:
        bound = bind(config)
        if bound.family not in (socket.AF_INET, socket.AF_INET6):
            return bound  # a Unix socket: shared as before
        address = bound.getsockname()
        bound.close()
        return reuse_port_socket(bound.family, address)

    bind_socket.for_reuse = True  # type: ignore[attr-defined]
    uvicorn.config.Config.bind_socket = bind_socket  # type: ignore[method-assign]
    multiprocess.Process = OwnSocketProcess  # type: ignore[misc]


def reuse_port_socket(family: int, address: tuple[str, int]) -> socket.socket:
    """A TCP socket bound to ``address`` in the port's SO_REUSEPORT group, not yet
    listening."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address[:2])
    sock.set_inheritable(True)
    return sock


class OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that listens on a socket of its own, bound beside the one it was
    given (see :func:`_give_each_worker_its_own_socket`)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        own = []
        for given in sockets or []:
            own.append(reuse_port_socket(given.family, given.getsockname())
                       if given.family in (socket.AF_INET, socket.AF_INET6) else given)
        for given in sockets or []:
            if given not in own:
                given.close()
        super().target(own)
