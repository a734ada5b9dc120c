"""One local HTTP stub for the tests: a JSON handler base class and a server on a free loopback port.

Every test that talks to an "OpenAI-compatible endpoint" (generation, data commands, the judge reward)
subclasses :class:`JsonHandler`, answers in ``do_POST`` with :meth:`JsonHandler.reply`, and starts it with
:func:`serve` (or the ``serve_stub`` fixture in conftest.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    """Records each request in ``seen`` (method, path, Authorization, JSON body) and replies JSON; silent."""

    seen: list[dict] = []

    def record(self) -> dict:
        """Read the JSON body (None when empty), append the request to ``seen``; returns the entry."""
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        entry = {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"),
                 "headers": dict(self.headers), "body": body}
        self.seen.append(entry)
        return entry

    def reply(self, payload: dict, status: int = 200) -> None:
        """Send ``payload`` as a JSON response."""
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


def chat_reply(*texts: str) -> dict:
    """An OpenAI chat-completions payload with one choice per text."""
    return {"choices": [{"index": i, "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)]}


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``handler`` on ``host`` at a free port; yields ``http://host:port``; stops it afterwards."""
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
