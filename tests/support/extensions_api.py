"""A stand-in for Lambda's Extensions API on loopback: register, then ``event/next`` per invocation.

It behaves as Lambda does for one execution environment: the test (playing Lambda) calls
``invoke()`` to hand the extension an INVOKE event, and ``wait_next()`` to wait until the extension
asks for its next event, which is when Lambda would consider the invocation finished. ``on_next``
runs at that moment, so a test can check what was already durable then.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class FakeExtensionsAPI:
    def __init__(self, on_next: Callable[[], object] | None = None, fail_next_after: int | None = None) -> None:
        self.registrations: list[tuple[str, dict]] = []
        self.next_calls: list[tuple[float, object]] = []  # (time, what on_next returned)
        self._events: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._next_seen = threading.Condition()
        self._on_next = on_next
        self._fail_next_after = fail_next_after
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/2020-01-01/extension/register":
                    return self._reply(404, {})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                api.registrations.append((self.headers.get("Lambda-Extension-Name", ""), body))
                self._reply(200, {"functionName": "llm-gateway"}, {"Lambda-Extension-Identifier": "ext-1"})

            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/2020-01-01/extension/event/next" or \
                        self.headers.get("Lambda-Extension-Identifier") != "ext-1":
                    return self._reply(403, {"errorType": "Extension.Unknown"})
                seen = api._on_next() if api._on_next else None
                with api._next_seen:
                    api.next_calls.append((time.monotonic(), seen))
                    api._next_seen.notify_all()
                    calls = len(api.next_calls)
                if api._fail_next_after is not None and calls > api._fail_next_after:
                    return self._reply(500, {"errorType": "Extension.Failed"})
                self._reply(200, api._events.get())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def invoke(self, request_id: str = "req", timeout_s: float = 30.0) -> None:
        self._events.put({"eventType": "INVOKE", "requestId": request_id,
                          "deadlineMs": int((time.time() + timeout_s) * 1000)})

    def wait_next(self, count: int, timeout: float = 10.0) -> None:
        """Block until the extension has called ``event/next`` ``count`` times in total."""
        with self._next_seen:
            assert self._next_seen.wait_for(lambda: len(self.next_calls) >= count, timeout), \
                f"extension called next {len(self.next_calls)} times, expected {count}"

    def stop(self) -> None:
        self._events.put({"eventType": "SHUTDOWN"})
        self._server.shutdown()
