"""Hostile answers for a `LocalSite` (support.py): routes that redirect, fail, stall or flood.

Each builder returns a `Route`: put it under a path in `LocalSite.routes`. Hostile-input test
modules (tests/test_hostile*.py) build their cases from these, a site per case that needs its own
host (robots.txt is per host and per run), one site for cases that share a host.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

from support import Route

# A route that never answers holds its connection this long at most (daemon threads: a test
# does not wait for it).
STALL_SECONDS = 30.0


def redirect(location: str, status: int = 302) -> Route:
    """Answer `status` with a Location header and no body."""

    def answer(handler: BaseHTTPRequestHandler) -> int:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return status

    return answer


def error(status: int) -> Route:
    """Answer `status` with a short HTML body, as a failing server does."""

    def answer(handler: BaseHTTPRequestHandler) -> int:
        body = f"<html><body><h1>{status}</h1></body></html>".encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return status

    return answer


def stall(released: threading.Event | None = None) -> Route:
    """Accept the connection and never answer (until `released`, or STALL_SECONDS)."""

    def answer(handler: BaseHTTPRequestHandler) -> int:
        (released or threading.Event()).wait(STALL_SECONDS)
        handler.close_connection = True
        return 0

    return answer


def announce(content_type: str, content_length: int) -> Route:
    """Answer 200 announcing a body of `content_length` bytes, then send none and hang up."""

    def answer(handler: BaseHTTPRequestHandler) -> int:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        handler.close_connection = True
        return 200

    return answer


def flood(content_type: str, head: bytes, line: bytes, total_bytes: int, tail: bytes) -> Route:
    """Answer 200 with `head`, then `line` repeated to about `total_bytes`, then `tail`, with no
    Content-Length (the body ends when the connection closes), so only the client can stop it.
    A client that stops reading ends the answer early."""

    def answer(handler: BaseHTTPRequestHandler) -> int:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        block = line * max(1, 65536 // len(line))
        try:
            handler.wfile.write(head)
            for _ in range(total_bytes // len(block)):
                handler.wfile.write(block)
            handler.wfile.write(tail)
        except OSError:  # the client hung up: what it read was enough for it
            pass
        return 200

    return answer
