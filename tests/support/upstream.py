"""A fake OpenAI-compatible provider on 127.0.0.1, driven by the requested model name.

litellm talks to it through the ``openai/`` provider with ``api_base``, exactly as it would to a
real OpenAI-compatible server. Behaviour per model name:

- ``fake-429``       429 with ``retry-after: 7``         - ``fake-500``  500 with an error body
- ``fake-context-window``  400 ``context_length_exceeded`` (OpenAI's body)
- ``fake-slow``      answers after ``slow_seconds``     - ``fake-malformed``  200 with broken JSON
- ``fake-stream-cut``  a stream that breaks after one chunk
- anything else      a normal answer (tool call when ``tools`` are sent), streamed on request.

On ``.../messages`` it speaks Anthropic's Messages wire format instead (JSON, and SSE with
``message_start`` ... ``message_stop``, ``tool_use`` blocks streamed as ``input_json_delta``), with
cache read/write tokens in the usage; model ``claude-fake-429`` / ``claude-fake-500`` answer with
Anthropic's error bodies, ``claude-fake-overloaded`` fails mid-stream with an ``error`` event,
``claude-fake-slow`` streams twenty pieces 0.2 s apart (a client can leave before the usage arrives).
Every request is recorded in ``requests`` so tests can assert that a call did or did not happen.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections under concurrent load


class FakeUpstream:
    def __init__(self, slow_seconds: float = 3.0, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.slow_seconds = slow_seconds
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                self._json(200, {"object": "list", "data": []})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with upstream._lock:
                    upstream.requests.append({"path": self.path, "body": body,
                                              "authorization": self.headers.get("authorization"),
                                              "x-api-key": self.headers.get("x-api-key"),
                                              "anthropic-beta": self.headers.get("anthropic-beta"),
                                              "anthropic-version": self.headers.get("anthropic-version")})
                upstream.handle(self, body)

            def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.server = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> "FakeUpstream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, model: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if model is None or r["body"].get("model") == model]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- behaviour -------------------------------------------------------------------------------
    def handle(self, h: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if h.path.rstrip("/").endswith("/messages"):
            return self._anthropic(h, body)
        if model == "fake-429":
            return h._json(429, {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}},
                           {"retry-after": "7"})
        if model == "fake-context-window":  # OpenAI's answer to a prompt over the context window
            return h._json(400, {"error": {"message": "This model's maximum context length is 8 tokens.",
                                           "type": "invalid_request_error", "param": "messages",
                                           "code": "context_length_exceeded"}})
        if model == "fake-500":
            return h._json(500, {"error": {"message": "upstream exploded", "type": "server_error", "code": None}})
        if model == "fake-slow":
            time.sleep(self.slow_seconds)
        if model == "fake-malformed":
            raw = b'{"id": "x", "choices": [ this is not json'
            h.send_response(200)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(raw)))
            h.end_headers()
            h.wfile.write(raw)
            return
        if h.path.endswith("/embeddings"):
            inputs = body.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            data = [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]} for i in range(len(inputs))]
            return h._json(200, {"object": "list", "data": data, "model": model,
                                 "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}})
        if h.path.endswith("/completions") and not h.path.endswith("/chat/completions"):
            return h._json(200, {"id": "cmpl-fake", "object": "text_completion", "created": int(time.time()),
                                 "model": model,
                                 "choices": [{"index": 0, "text": "fake text", "finish_reason": "stop", "logprobs": None}],
                                 "usage": _usage()})
        if body.get("stream"):
            return self._stream(h, body)
        return h._json(200, _chat_response(body))

    def _stream(self, h: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        tools = body.get("tools")
        if tools and body.get("tool_choice") != "none":
            return self._stream_tool_call(h, body, base, tools[0]["function"]["name"])
        pieces = ["Hello", " from", " fake"]
        for i, piece in enumerate(pieces):
            delta = {"content": piece} if i else {"role": "assistant", "content": piece}
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            h.wfile.flush()
            if model == "fake-stream-cut":
                h.wfile.write(b"data: {broken json\n\n")
                h.wfile.flush()
                h.close_connection = True
                return
        final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        h.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {**base, "choices": [], "usage": _usage()}
            h.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        h.close_connection = True


    def _stream_tool_call(self, h: Any, body: dict[str, Any], base: dict[str, Any], name: str) -> None:
        """A tool call streamed as OpenAI does: id and name first, then the arguments in pieces."""
        def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            h.wfile.flush()

        send({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": ""}}]})
        for piece in ('{"city": ', '"Paris"}'):
            send({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        send({}, "tool_calls")
        if (body.get("stream_options") or {}).get("include_usage"):
            h.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': _usage()})}\n\n".encode())
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()
        h.close_connection = True

    # -- Anthropic Messages ------------------------------------------------------------------------
    def _anthropic(self, h: Any, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model == "claude-fake-429":
            return h._json(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                           {"retry-after": "7"})
        if model == "claude-fake-500":
            return h._json(500, {"type": "error", "error": {"type": "api_error", "message": "upstream exploded"}})
        content = _anthropic_content(body)
        if not body.get("stream"):
            return h._json(200, {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                                 "content": content, "stop_reason": _stop_reason(content), "stop_sequence": None,
                                 "usage": ANTHROPIC_USAGE})
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("connection", "close")
        h.end_headers()

        def event(name: str, data: dict[str, Any]) -> None:
            h.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            h.wfile.flush()

        start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
        event("message_start", {"type": "message_start", "message": {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
        event("ping", {"type": "ping"})
        for index, block in enumerate(content):
            if block["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {"type": "text", "text": ""}})
                for piece in (ANTHROPIC_PIECES if model != "claude-fake-slow" else [" word"] * 20):
                    event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "text_delta", "text": piece}})
                    if model == "claude-fake-slow":
                        time.sleep(0.2)
                    if model == "claude-fake-overloaded":
                        event("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                        h.close_connection = True
                        return
            elif block["type"] == "thinking":
                event("content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "thinking_delta", "thinking": block["thinking"]}})
                event("content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "signature_delta", "signature": block["signature"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                    "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
                arguments = json.dumps(block["input"])
                for part in (arguments[:5], arguments[5:]):
                    event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "input_json_delta", "partial_json": part}})
            event("content_block_stop", {"type": "content_block_stop", "index": index})
        event("message_delta", {"type": "message_delta", "delta": {"stop_reason": _stop_reason(content),
                                                                   "stop_sequence": None},
                                "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}})
        event("message_stop", {"type": "message_stop"})
        h.close_connection = True


#: what every Anthropic answer reports: 20 fresh input tokens, 30 read from and 10 written to the cache
ANTHROPIC_USAGE = {"input_tokens": 20, "output_tokens": 9, "cache_read_input_tokens": 30,
                   "cache_creation_input_tokens": 10}
ANTHROPIC_PIECES = ("Hello", " from", " fake", " claude")


ANTHROPIC_THINKING = {"type": "thinking", "thinking": "Let me think.", "signature": "sig-fake-0123"}


def _anthropic_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's blocks: a thinking block first when ``thinking`` is on, then a tool call when
    tools are offered, else text."""
    thinking = [dict(ANTHROPIC_THINKING)] if (body.get("thinking") or {}).get("type") == "enabled" else []
    tools = body.get("tools")
    if tools and (body.get("tool_choice") or {}).get("type") != "none":
        return thinking + [{"type": "tool_use", "id": "toolu_fake_1", "name": tools[0]["name"],
                            "input": {"city": "Paris"}}]
    return thinking + [{"type": "text", "text": "".join(ANTHROPIC_PIECES)}]


def _stop_reason(content: list[dict[str, Any]]) -> str:
    return "tool_use" if any(block["type"] == "tool_use" for block in content) else "end_turn"


def _usage() -> dict[str, int]:
    return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}


def _chat_response(body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": f"echo: {len(body.get('messages', []))} messages"}
    finish = "stop"
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none":
        name = tools[0]["function"]["name"]
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": json.dumps({"city": "Paris"})}}
        ]}
        finish = "tool_calls"
    extra = {}
    if body.get("response_format"):
        extra["response_format_seen"] = body["response_format"].get("type")
    n = int(body.get("n") or 1)
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
        "choices": [{"index": i, "message": message, "finish_reason": finish} for i in range(n)],
        "usage": _usage(), **extra,
    }


def main() -> None:
    """Run the fake upstream on its own (benchmarks start it as a separate process)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = FakeUpstream(port=args.port).start()
    print(fake.url, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    main()
