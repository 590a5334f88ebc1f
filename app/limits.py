"""Refuse request bodies over the configured size before any route reads them."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, domain_problem


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length, or the bytes actually sent, exceed the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        response_started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    # Answer now; to the app the client has gone, so it reads no further.
                    refused = True
                    if not response_started:
                        await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 has been sent; whatever the app says now is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = PayloadTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        await domain_problem(refusal)(scope, receive, send)
