"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Tests point the real ``openai`` client at :attr:`ScriptedServer.base_url` and script the answers by *prompt name*:
Shoal sends the prompt name of every call in the ``X-Shoal-Prompt`` header (``coder/draft``); a request without
the header has the prompt name ``""``.

Choices written down here:

- Queued replies (:meth:`ScriptedServer.script`) are consumed first, FIFO; a prompt with an :meth:`always` reply
  falls back to it when its queue is empty. Anything else is an *unscripted call*: it is recorded in
  :attr:`ScriptedServer.violations` and answered with HTTP 500, so the client's retries each add a violation.
- :attr:`ScriptedServer.requests` holds every ``POST /v1/chat/completions`` (not the ``GET`` probes); header
  names are lower-cased.
- Token usage is estimated as ``max(1, chars // 4)`` unless a reply gives it.
- Error replies carry ``retry-after: 0`` and ``retry-after-ms: 1`` (the ``openai`` client ignores a zero
  ``retry-after`` and would back off half a second otherwise), so client-side retries stay fast.
- A :func:`timeout` reply waits on the server's stop event, so :meth:`ScriptedServer.stop` returns at once.
- ``"stream": true`` is answered with Server-Sent Events on a connection that closes after ``data: [DONE]``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents.testing.replies import (
    RecordedRequest,
    Reply,
    ReplyLike,
    error,
    estimate_tokens,
)

log = logging.getLogger(__name__)

PROMPT_HEADER = "X-Shoal-Prompt"


def _message_chars(messages: list[dict[str, Any]]) -> str:
    """The text of the messages' contents (text parts of multi-part contents)."""
    parts: list[str] = []
    for content in (m.get("content") for m in messages if isinstance(m, dict)):
        if isinstance(content, list):
            parts.extend(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
        elif content is not None:
            parts.append(content if isinstance(content, str) else json.dumps(content))
    return "".join(parts)


def _parse_body(raw: bytes) -> tuple[dict[str, Any], str]:
    """The request body as a dict, and what is wrong with it ("" when nothing)."""
    try:
        body = json.loads(raw or b"null")
    except json.JSONDecodeError as exc:
        return {}, f"request body is not JSON ({exc})"
    if not isinstance(body, dict):
        return {}, "request body is not a JSON object"
    return body, "" if isinstance(body.get("messages"), list) else "request has no 'messages' list"


_ERROR_TYPES = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("not_found_error", "not_found"),
    408: ("timeout_error", "timeout"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for handler threads (keep-alive, scripted timeouts)
    scripted: ScriptedServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # headers and body go out as separate writes; don't wait for delayed ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("scripted server: " + format, *args)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            models = [
                {"id": m, "object": "model", "created": 0, "owned_by": "shoal"} for m in self.server.scripted.models
            ]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:
        scripted = self.server.scripted
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            scripted._violate(f"POST to unknown path {self.path}")
            self._send_error(404, f"no route POST {self.path}")
            return
        prompt = self.headers.get(PROMPT_HEADER, "")
        body, problem = _parse_body(raw)
        request = RecordedRequest(prompt, body, {k.lower(): v for k, v in self.headers.items()})
        with scripted._lock:
            scripted.requests.append(request)
        if problem:
            scripted._violate(f"bad request for prompt {prompt!r}: {problem}")
            self._send_error(400, problem)
            return
        reply = scripted._next_reply(request)
        if reply is None:
            self._send_error(500, f"unscripted call for prompt {prompt!r}")
            return
        try:
            if reply.kind == "timeout":
                scripted._stopping.wait(reply.delay)
                self.close_connection = True
                self._send_error(reply.status, reply.message)
            elif reply.kind == "error":
                self._send_error(reply.status, reply.message, retry_after=reply.retry_after)
            elif reply.kind == "bad_http_body":
                self._send_raw(200, reply.body, reply.content_type)
            elif request.body.get("stream"):
                self._send_stream(request, reply)
            else:
                self._send_json(200, scripted._completion(request, reply))
        except OSError:  # the client hung up (it timed out first); nothing to tell it
            self.close_connection = True

    def _send_raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(obj).encode(), "application/json", headers)

    def _send_error(self, status: int, message: str, *, retry_after: float = 0.0) -> None:
        kind, code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
        headers = {
            "retry-after": str(int(retry_after)),
            "retry-after-ms": str(max(1, int(retry_after * 1000))),
        }
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _send_stream(self, request: RecordedRequest, reply: Reply) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in self.server.scripted._chunks(request, reply):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class ScriptedServer:
    """OpenAI-compatible server answering ``POST /v1/chat/completions`` from scripts keyed by prompt name."""

    def __init__(self, models: tuple[str, ...] = ("scripted-model",)) -> None:
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self._queues: defaultdict[str, deque[ReplyLike]] = defaultdict(deque)
        self._always: dict[str, ReplyLike] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counters: defaultdict[str, int] = defaultdict(int)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.scripted = self
        self._httpd = httpd
        self.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), name="scripted-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; cuts scripted timeouts short and returns quickly."""
        self._stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------------------------

    def script(self, prompt: str, *responses: ReplyLike) -> None:
        """Queue ``responses`` (FIFO) for calls with prompt name ``prompt``."""
        with self._lock:
            self._queues[prompt].extend(responses)

    def always(self, prompt: str, reply: ReplyLike) -> None:
        """Answer every call of ``prompt`` with ``reply`` once its queue is empty; never a leftover."""
        with self._lock:
            self._always[prompt] = reply

    def requests_for(self, prompt: str) -> list[RecordedRequest]:
        """The recorded requests with prompt name ``prompt``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.prompt == prompt]

    def leftovers(self) -> dict[str, int]:
        """Prompt name -> number of queued replies nobody asked for."""
        with self._lock:
            return {prompt: len(queue) for prompt, queue in self._queues.items() if queue}

    def reset(self) -> None:
        """Forget scripts, recorded requests and violations (the server keeps running)."""
        with self._lock:
            self._queues.clear()
            self._always.clear()
            self.requests.clear()
            self.violations.clear()

    def check(self) -> None:
        """Raise ``AssertionError`` listing violations and unconsumed scripted replies, if any."""
        problems = [f"violation: {v}" for v in self.violations]
        problems += [
            f"leftover: {n} unconsumed repl{'y' if n == 1 else 'ies'} for prompt {p!r}"
            for p, n in self.leftovers().items()
        ]
        if problems:
            raise AssertionError("scripted LLM server:\n  " + "\n  ".join(problems))

    # -- used by the handler ---------------------------------------------------------------------------------

    def _violate(self, message: str) -> None:
        log.warning("scripted server: %s", message)
        with self._lock:
            self.violations.append(message)

    def _next_reply(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            queue = self._queues.get(request.prompt)
            reply_like = queue.popleft() if queue else self._always.get(request.prompt)
        if reply_like is None:
            self._violate(f"unscripted call for prompt {request.prompt!r}")
            return None
        if isinstance(reply_like, Reply):
            return reply_like
        try:  # a broken callable is a test bug: report it, don't hang the client
            reply = reply_like(request)
            problem = "" if isinstance(reply, Reply) else f"returned {type(reply).__name__}, not a Reply"
        except Exception as exc:
            problem = f"raised {exc!r}"
        if problem:
            self._violate(f"reply callable for prompt {request.prompt!r} {problem}")
            return error(500, f"reply callable {problem}")
        return reply

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] += 1
            return self._counters[kind]

    def _message(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{self._next_id('call')}", "type": "function", "function": {"name": n, "arguments": a}}
                for n, a in reply.tool_calls
            ]
        return message

    def _usage(self, request: RecordedRequest, reply: Reply) -> dict[str, int]:
        completion_text = (reply.content or "") + "".join(n + a for n, a in reply.tool_calls)
        prompt, completion = reply.prompt_tokens, reply.completion_tokens
        prompt = estimate_tokens(_message_chars(request.messages)) if prompt is None else prompt
        completion = estimate_tokens(completion_text) if completion is None else completion
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _envelope(self, request: RecordedRequest, obj: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-scripted-{self._next_id('chatcmpl')}",
            "object": obj,
            "created": int(time.time()),
            "model": str(request.body.get("model", self.models[0])),
            "system_fingerprint": "scripted",
        }

    def _completion(self, request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        choice = {"index": 0, "message": self._message(reply), "finish_reason": reply.finish_reason, "logprobs": None}
        return {**self._envelope(request, "chat.completion"), "choices": [choice], "usage": self._usage(request, reply)}

    def _chunks(self, request: RecordedRequest, reply: Reply) -> Iterator[dict[str, Any]]:
        envelope = self._envelope(request, "chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                **envelope,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
            }

        yield chunk({"role": "assistant", "content": ""})
        content = reply.content or ""
        step = max(1, -(-len(content) // 3))  # about three pieces
        for start in range(0, len(content), step):
            yield chunk({"content": content[start : start + step]})
        for index, call in enumerate(self._message(reply).get("tool_calls", [])):
            function = call["function"]
            head = {"index": index, "id": call["id"], "type": "function", "function": {**function, "arguments": ""}}
            yield chunk({"tool_calls": [head]})
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": function["arguments"]}}]})
        yield chunk({}, reply.finish_reason)
        options = request.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            yield {**envelope, "choices": [], "usage": self._usage(request, reply)}
