"""A demo site to put behind the gate: it answers every request with what it received.

``keystile dev echo --port 9000`` runs it. The reply is JSON with the method, the request
target and the headers in arrival order and exact spelling, so what the proxy passed on
(``Remote-User`` from the gate; a forged ``Remote_User`` if one got through) is plain to
see. Development and tests only: it trusts whatever reaches it.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keystile-echo"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the proxy in front logs every request already."""

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length > 0 else b""
        reply = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body_length": len(body),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _echo


def serve(host: str, port: int) -> None:
    """Serve until interrupted."""
    server = ThreadingHTTPServer((host, port), EchoHandler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
