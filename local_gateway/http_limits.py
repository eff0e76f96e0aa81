"""The HTTP edge of the gateway's one port: API Gateway's URL limit, and requests refused
without ever echoing them (a WebSocket URL carries the token in its query string).

aiohttp answers a request it cannot parse (a request line or a header over its size limit)
with an HTTP/1.0 400 whose body quotes part of the offending line, and logs it with a
traceback. Here such a request gets a JSON status like API Gateway's errors, and one log
line that names its size, never its content.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

if TYPE_CHECKING:
    from aiohttp.web_request import BaseRequest

log = logging.getLogger("local_gateway")

# API Gateway's limit on a WebSocket API's URL (path and query string).
MAX_URL_CHARS = 4096
# aiohttp's request-line limit, kept above MAX_URL_CHARS so that the URL limit is checked
# exactly by `url_limit`; longer lines are refused by the parser with the same status.
MAX_REQUEST_LINE_BYTES = 16 * 1024


def refused(status: int) -> web.Response:
    """API Gateway's error shape: `{"message": ...}` with the status phrase, nothing else."""
    return web.json_response({"message": HTTPStatus(status).phrase}, status=status)


@web.middleware
async def url_limit(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse URLs over API Gateway's limit with 414 before any route sees them."""
    if len(request.raw_path) > MAX_URL_CHARS:
        log.info(
            "request refused: HTTP 414 (a %d-character URL; API Gateway allows %d) from %s",
            len(request.raw_path),
            MAX_URL_CHARS,
            request.remote,
        )
        return refused(HTTPStatus.REQUEST_URI_TOO_LONG)
    response: web.StreamResponse = await handler(request)
    return response


class _QuietRequestHandler(RequestHandler):
    """aiohttp's request handler, answering unparsable requests without quoting them."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):  # a bug in a route: aiohttp's 500
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            line = exc.args[0] if exc.args else b""
            is_url = isinstance(line, bytes | bytearray | str) and line[:1] in (b"/", "/")
            status = (
                HTTPStatus.REQUEST_URI_TOO_LONG
                if is_url
                else HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            )
            why = "a request line" if is_url else "a header"
            why += f" over {exc.args[1] if len(exc.args) > 1 else '?'} bytes"
        else:
            status, why = HTTPStatus.BAD_REQUEST, f"unparsable request ({type(exc).__name__})"
        log.info("request refused: HTTP %d (%s) from %s", status, why, request.remote)
        response = refused(status)
        response.force_close()
        return response


class _QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class QuietAppRunner(web.AppRunner):
    """web.AppRunner whose connections use _QuietRequestHandler (and the line limit above)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, max_line_size=MAX_REQUEST_LINE_BYTES, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _QuietServer  # same state, only the handler factory differs
        return server
