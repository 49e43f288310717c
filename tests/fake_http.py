"""What the tests' fake HTTP servers share: writing one JSON response from an http.server handler."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: bytes,
              headers: dict[str, str] | None = None) -> None:
    """Send ``payload`` (already encoded) with ``status``, a JSON content type, its length and ``headers``."""
    handler.send_response(status)
    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
