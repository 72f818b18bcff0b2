"""What one request may take: checked at the boundary, answered with a status and a message."""

import asyncio
import math
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

# On the answers given before the body is read whole: the rest of it, if it comes, is no request
# for the connection to read next.
CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class Limits:
    """max_body_bytes: a larger request body is refused with 413, whether its Content-Length says
    so or its streamed bytes do. max_chars: a longer text is refused with 413. max_texts: a
    request with more texts is refused with 413. timeout: seconds a request may wait for its tags
    (queue included) before it is answered 503. read_timeout: seconds the server waits for the
    next piece of a request's body before it answers 408."""

    max_body_bytes: int = 10_000_000
    max_chars: int = 1_000_000
    max_texts: int = 10_000
    timeout: float = 30.0
    read_timeout: float = 30.0

    def __post_init__(self):
        for name in ("max_body_bytes", "max_chars", "max_texts", "timeout", "read_timeout"):
            value = getattr(self, name)
            # inf would wait for ever, and nan compares false with everything: neither is a limit.
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive and finite, not {value}")


class BodyLimit:
    """ASGI middleware: a request body over max_bytes is answered 413, as soon as its
    Content-Length says so, or else when the bytes streamed in pass the limit; a body whose next
    piece takes longer than read_timeout seconds to come is answered 408."""

    def __init__(self, app, max_bytes, read_timeout=30.0):
        self.app, self.max_bytes, self.read_timeout = app, max_bytes, read_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            await self.too_large()(scope, receive, send)
            return
        seen, complete = 0, False

        async def receive_limited():
            nonlocal seen, complete
            if complete:  # only the disconnect is left to come, which may rightly take long
                return await receive()
            message = await self.next_piece(receive)
            seen += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if seen > self.max_bytes:
                # Raised inside FastAPI's reading of the body, which passes HTTPException on
                # to the app's handler: the client gets the same 413.
                raise HTTPException(413, self.message(), headers=CLOSE)
            return message

        await self.app(scope, receive_limited, send)

    async def next_piece(self, receive):
        # A client that sends its headers and half a body would otherwise hold its connection,
        # and at shutdown the server, for ever.
        try:
            return await asyncio.wait_for(receive(), self.read_timeout)
        except TimeoutError:
            raise HTTPException(
                408,
                f"the request body stopped coming for {self.read_timeout:g} s; send it whole",
                headers=CLOSE,
            ) from None

    def message(self):
        return f"the request body is over the limit of {self.max_bytes:,} bytes"

    def too_large(self):
        return JSONResponse({"detail": self.message()}, status_code=413, headers=CLOSE)
