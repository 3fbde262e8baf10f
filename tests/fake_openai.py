"""A fake OpenAI-compatible HTTP server for tests: the real clients talk to it over real HTTP.

    with FakeOpenAI() as fake:
        fake.responder = scripted([Reply.rate_limit(), Reply.json({"level": 2})])
        client = openai.OpenAI(base_url=fake.base_url, api_key="test")
        ...
        assert fake.calls == 2 and "secret@example.com" not in fake.requests[-1].raw

As a fixture: `@pytest.fixture def fake(): with FakeOpenAI() as server: yield server`.

Endpoints: POST /v1/chat/completions (non-streaming), GET /v1/models, GET /v1/models/{id}.
Everything else is a 404 in OpenAI's error shape. The server is stdlib only; token counts use
bpe_openai's o200k encoding when it is installed (else a 4-characters-a-token estimate).
langchain-openai 1.7 (model gpt-4.1-mini) uses chat completions, not /v1/responses, for
with_structured_output: json_schema sends response_format {type: json_schema, strict: true};
function_calling sends tools + tool_choice {type: function, ...} + parallel_tool_calls false,
which Reply.json/Reply.text answer with a tool call.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:
    import bpe_openai

    _encode = bpe_openai.get_encoding("o200k_base").encode
except ImportError:  # pragma: no cover - the test extra installs it
    _encode = None

DEFAULT_MODELS = ("gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-4o")
_ERROR_TYPES = {"insufficient_quota": "insufficient_quota", "rate_limit_exceeded": "requests"}


def count_tokens(text: str) -> int:
    return len(_encode(text)) if _encode else (len(text) + 3) // 4


@dataclass
class FakeRequest:
    """One request as the server received it. `index` counts chat completions (else -1)."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: str  # the body exactly as sent (decoded UTF-8)
    body: Any  # parsed JSON body, or None
    at: float  # arrival, time.monotonic()
    index: int = -1
    # From the body, for responders: what the client asked for.
    model: str | None = field(init=False)
    messages: list[dict] = field(init=False)
    response_format: dict | None = field(init=False)
    tools: list[dict] = field(init=False)
    tool_choice: Any = field(init=False)

    def __post_init__(self) -> None:
        body = self.body if isinstance(self.body, dict) else {}
        self.model, self.response_format = body.get("model"), body.get("response_format")
        self.messages, self.tools = body.get("messages") or [], body.get("tools") or []
        self.tool_choice = body.get("tool_choice")

    @property
    def prompt(self) -> str:
        """Every message's text content, joined with newlines."""
        return "\n".join(_text(m.get("content")) for m in self.messages)

    @property
    def forced_tool(self) -> str | None:
        """The function the client forces ("required" forces the first tool), else None."""
        if isinstance(self.tool_choice, dict):
            return (self.tool_choice.get("function") or {}).get("name")
        if self.tool_choice == "required" and self.tools:
            return self.tools[0].get("function", {}).get("name")
        return None


@dataclass
class Reply:
    """What the server answers; build one with the class-method constructors."""

    content: str | None = None
    finish_reason: str = "stop"
    as_tool_call: bool | None = None  # None: a tool call exactly when the request forces a tool
    refusal: str | None = None
    status: int = 200
    error_body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float | None = None  # sleep first; inf = until stop()
    then: Reply | None = None  # what to answer after a finite hang

    @classmethod
    def json(cls, obj: Any, **kw: Any) -> Reply:
        return cls(content=json.dumps(obj, ensure_ascii=False), **kw)

    @classmethod
    def text(cls, s: str, finish_reason: str = "stop", as_tool_call: bool | None = None) -> Reply:
        return cls(content=s, finish_reason=finish_reason, as_tool_call=as_tool_call)

    @classmethod
    def refused(cls, message: str = "I can't help with that.") -> Reply:
        return cls(refusal=message, as_tool_call=False)

    @classmethod
    def error(
        cls,
        status: int,
        code: str | None,
        message: str | None = None,
        type: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        default_type = "server_error" if status >= 500 else "invalid_request_error"
        err = {
            "message": message or f"Fake error: {code}",
            "type": type or _ERROR_TYPES.get(code or "", default_type),
            "param": param,
            "code": code,
        }
        return cls(status=status, error_body=err, headers=dict(headers or {}))

    @classmethod
    def hang(cls, seconds: float = float("inf"), then: Reply | None = None) -> Reply:
        return cls(hang_seconds=seconds, then=then or cls.text("late"))

    # The usual failures, by name.
    @classmethod
    def rate_limit(cls, retry_after: str = "1") -> Reply:
        return cls.error(
            429,
            "rate_limit_exceeded",
            "Rate limit reached.",
            headers={"Retry-After": retry_after},
        )

    @classmethod
    def quota(cls) -> Reply:
        return cls.error(429, "insufficient_quota", "You exceeded your current quota.")

    @classmethod
    def bad_key(cls) -> Reply:
        return cls.error(401, "invalid_api_key", "Incorrect API key provided.")

    @classmethod
    def no_model(cls, model: str = "unknown") -> Reply:
        return cls.error(
            404, "model_not_found", f"The model `{model}` does not exist.", param="model"
        )

    @classmethod
    def too_long(cls) -> Reply:
        return cls.error(
            400,
            "context_length_exceeded",
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130000 tokens. Please reduce the length of the messages.",
            param="messages",
        )

    @classmethod
    def server_error(cls) -> Reply:
        return cls.error(500, "server_error", "The server had an error processing your request.")


Responder = Callable[[FakeRequest], "Reply | str | dict | list"]


def scripted(replies: list[Reply], then: Reply | None = None) -> Responder:
    """Answer the n-th call with replies[n], then `then` (default: a 500 saying the script ran out)."""
    lock, count = threading.Lock(), [0]
    after = then or Reply.error(500, "fake_script_exhausted", "The fake's script ran out.")

    def responder(_: FakeRequest) -> Reply:
        with lock:
            n, count[0] = count[0], count[0] + 1
        return replies[n] if n < len(replies) else after

    return responder


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


class FakeOpenAI:
    def __init__(self, models: tuple[str, ...] | list[str] = DEFAULT_MODELS, latency: float = 0.0):
        self.models = list(models)
        self.latency = latency  # seconds added to every successful reply
        self.responder: Responder = lambda _: Reply.text("ok")
        self.errors: list[BaseException] = []  # exceptions raised by the responder
        self._lock = threading.Lock()
        self._requests: list[FakeRequest] = []
        self._calls = 0
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle
    def start(self) -> FakeOpenAI:
        self._stop.clear()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stop.set()  # wakes sleeping handlers, which then drop their connection
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for conn in self._conns:  # idle keep-alive connections block their threads
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._conns.clear()
        self._thread.join(timeout=2)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "FakeOpenAI is not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # Records
    @property
    def requests(self) -> list[FakeRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._calls = 0
            self.errors.clear()

    def _record(self, req: FakeRequest, chat: bool) -> None:
        with self._lock:
            if chat:
                req.index, self._calls = self._calls, self._calls + 1
            self._requests.append(req)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True if the server is stopping."""
        return self._stop.wait(None if seconds == float("inf") else seconds)

    # Routing: (status, JSON body, extra headers); None = drop the connection.
    def route(self, req: FakeRequest) -> tuple[int, dict, dict] | None:
        parts = req.path.split("?")[0].rstrip("/").split("/")
        if req.method == "GET" and parts[:3] == ["", "v1", "models"] and len(parts) <= 4:
            if len(parts) == 3:
                return 200, {"object": "list", "data": [_model(m) for m in self.models]}, {}
            if parts[3] in self.models:
                return 200, _model(parts[3]), {}
            return _error(Reply.no_model(parts[3]))
        if req.method == "POST" and parts == ["", "v1", "chat", "completions"]:
            return self._chat(req)
        return _fail(404, "unknown_url", f"Unknown request URL: {req.method} {req.path}.")

    def _chat(self, req: FakeRequest) -> tuple[int, dict, dict] | None:
        if not isinstance(req.body, dict) or not req.messages:
            return _fail(400, "invalid_request", "A JSON body with messages is required.")
        if req.body.get("stream"):
            return _fail(400, "unsupported_value", "The fake does not stream.", param="stream")
        try:
            reply = self.responder(req)
        except Exception as exc:  # a broken responder is a test bug: show it as a 500
            self.errors.append(exc)
            reply = Reply.error(500, "fake_responder_error", f"{type(exc).__name__}: {exc}")
        if isinstance(reply, str):
            reply = Reply.text(reply)
        elif not isinstance(reply, Reply):
            reply = Reply.json(reply)
        while reply.hang_seconds is not None:
            if self._sleep(reply.hang_seconds):
                return None
            reply = reply.then
        if reply.error_body is not None:
            return _error(reply)
        if self.latency and self._sleep(self.latency):
            return None
        return 200, self._completion(req, reply), reply.headers

    def _completion(self, req: FakeRequest, reply: Reply) -> dict:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": reply.refusal,
        }
        tool, finish = req.forced_tool, reply.finish_reason
        if reply.as_tool_call or (reply.as_tool_call is None and tool):
            name = tool or (req.tools[0]["function"]["name"] if req.tools else "tool")
            function = {"name": name, "arguments": reply.content or ""}
            call = {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function", "function": function}
            message.update(content=None, tool_calls=[call])
            finish = "tool_calls" if finish == "stop" else finish
        prompt = sum(3 + count_tokens(_text(m.get("content"))) for m in req.messages) + 3
        completion = count_tokens(reply.content or reply.refusal or "")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake"}


def _error(reply: Reply) -> tuple[int, dict, dict]:
    return reply.status, {"error": reply.error_body}, reply.headers


def _fail(status: int, code: str, message: str, **kw: Any) -> tuple[int, dict, dict]:
    return _error(Reply.error(status, code, message, **kw))


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._conns.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._conns.discard(self.connection)
            super().finish()

        def _handle(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(
                "utf-8", "replace"
            )
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = FakeRequest(self.command, self.path, headers, raw, body, time.monotonic())
            fake._record(
                req, self.command == "POST" and self.path.startswith("/v1/chat/completions")
            )
            answer = fake.route(req)
            if answer is None or fake._stop.is_set():
                self.close_connection = True
                return
            status, payload, extra = answer
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler
