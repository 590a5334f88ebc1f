"""HEAD for every GET (RFC 9110 §9.3.2): the GET's status and headers, without its body."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEAD_REQUEST = "planpulse.head"
"""Set in the scope of a HEAD answered as a GET: a stream ends after its first part."""


class HeadAsGet:
    """ASGI middleware: a HEAD request is routed and answered as the GET of the same URL
    (its ETag, Content-Type, Content-Length, a 304 for a current If-None-Match), and the
    body is dropped on the way out. Done here rather than as a HEAD route beside each GET,
    so that the OpenAPI document lists each operation once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def without_body(message: Message) -> None:
            nonlocal finished
            if finished:
                return
            if message["type"] == "http.response.body":
                # The first part ends the answer: its headers are out, nothing follows them.
                finished = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET", HEAD_REQUEST: True}, receive, without_body)
