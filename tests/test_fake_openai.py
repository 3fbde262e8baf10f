"""The fake OpenAI server works with the real clients (openai, langchain-openai) over real HTTP."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import bpe_openai
import httpx
import openai
import pydantic
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.fake_openai import FakeOpenAI, Reply, scripted

ENC = bpe_openai.get_encoding("o200k_base")


class Verdict(BaseModel):
    level: int
    reason: str


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def client(fake: FakeOpenAI, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", **{"max_retries": 0, **kw})


def chat(fake: FakeOpenAI, **kw) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=fake.base_url, api_key="test", model="gpt-4.1-mini", **{"max_retries": 0, **kw}
    )


def ask(c: openai.OpenAI, text: str = "hello"):
    return c.chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": text}]
    )


def test_openai_client_gets_the_scripted_content_and_usage(fake):
    fake.responder = lambda req: Reply.json({"answer": "はい", "n": req.index})
    messages = [
        {"role": "system", "content": "You review plans."},
        {"role": "user", "content": "計画書を読んでください"},
    ]
    out = client(fake).chat.completions.create(model="gpt-4o-mini", messages=messages)

    content = out.choices[0].message.content
    assert json.loads(content) == {"answer": "はい", "n": 0}
    assert out.model == "gpt-4o-mini" and out.object == "chat.completion"
    assert out.choices[0].finish_reason == "stop" and out.system_fingerprint
    prompt = sum(3 + len(ENC.encode(m["content"])) for m in messages) + 3
    assert out.usage.prompt_tokens == prompt
    assert out.usage.completion_tokens == len(ENC.encode(content))
    assert out.usage.total_tokens == prompt + out.usage.completion_tokens
    assert fake.calls == 1


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_structured_output(fake, method):
    fake.responder = lambda req: Reply.json({"level": 2, "reason": "KPIに基準値がない"})
    structured = chat(fake).with_structured_output(Verdict, method=method, include_raw=True)
    out = structured.invoke("Review this plan.")

    assert out["parsed"] == Verdict(level=2, reason="KPIに基準値がない")
    assert out["parsing_error"] is None
    raw = out["raw"]
    assert raw.usage_metadata["input_tokens"] == 3 + len(ENC.encode("Review this plan.")) + 3
    assert (
        raw.response_metadata["token_usage"]["total_tokens"] == raw.usage_metadata["total_tokens"]
    )
    # Plain chat completions, never the Responses API, for both methods.
    req = fake.requests[-1]
    assert req.path == "/v1/chat/completions" and req.body["stream"] is False
    if method == "json_schema":
        assert req.response_format["type"] == "json_schema"
        assert req.response_format["json_schema"]["strict"] is True
        assert "tools" not in req.body and json.loads(raw.content)["level"] == 2
        assert raw.response_metadata["finish_reason"] == "stop"
    else:
        assert req.tool_choice == {"type": "function", "function": {"name": "Verdict"}}
        assert req.body["parallel_tool_calls"] is False and "response_format" not in req.body
        assert raw.tool_calls[0]["name"] == "Verdict" and raw.content == ""
        assert raw.response_metadata["finish_reason"] == "tool_calls"


def test_langchain_malformed_json(fake):
    fake.responder = lambda req: Reply.text('{"level": 2, "reason": ')
    # json_schema: the openai client's own parse() raises, even with include_raw=True.
    with pytest.raises(pydantic.ValidationError):
        chat(fake).with_structured_output(Verdict, include_raw=True).invoke("Review.")
    # function_calling: the broken call lands in invalid_tool_calls and parsed is silently None.
    structured = chat(fake).with_structured_output(
        Verdict, method="function_calling", include_raw=True
    )
    out = structured.invoke("Review.")
    assert out["parsed"] is None and out["parsing_error"] is None
    assert out["raw"].invalid_tool_calls[0]["name"] == "Verdict"


def test_langchain_refusal(fake):
    fake.responder = lambda req: Reply.refused("No.")
    out = chat(fake).with_structured_output(Verdict, include_raw=True).invoke("Review.")
    assert out["parsed"] is None and "No." in str(out["parsing_error"])


def test_rate_limit_is_a_rate_limit_error_with_retry_after(fake):
    fake.responder = lambda req: Reply.rate_limit()
    with pytest.raises(openai.RateLimitError) as err:
        ask(client(fake))
    assert err.value.response.headers["retry-after"] == "1"
    assert err.value.code == "rate_limit_exceeded" and err.value.status_code == 429
    fake.responder = lambda req: Reply.quota()
    with pytest.raises(openai.RateLimitError) as err:
        ask(client(fake))
    assert err.value.code == "insufficient_quota" and err.value.type == "insufficient_quota"


def test_client_retries_after_a_rate_limit(fake):
    fast_retry = Reply.error(429, "rate_limit_exceeded", headers={"retry-after-ms": "20"})
    fake.responder = scripted([fast_retry, fast_retry, Reply.text("third time")])
    out = ask(client(fake, max_retries=2))
    assert out.choices[0].message.content == "third time"
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


def test_langchain_maps_errors_to_openai_subclasses(fake):
    fake.responder = lambda req: Reply.too_long()
    with pytest.raises(openai.BadRequestError) as err:
        chat(fake).invoke("hi")
    # openai 3.x puts only the message in str(e), so langchain's context-overflow check
    # (which looks for the code in str(e)) misses it: match on .code instead.
    assert err.value.code == "context_length_exceeded"
    fake.responder = lambda req: Reply.bad_key()
    with pytest.raises(openai.AuthenticationError):
        chat(fake).invoke("hi")


def test_hang_times_out_and_stop_returns_promptly():
    fake = FakeOpenAI().start()
    fake.responder = lambda req: Reply.hang()  # never answers
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(client(fake, timeout=0.5))
    assert time.monotonic() - started < 2
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1


def test_finite_hang_then_answers_and_latency_applies(fake):
    fake.responder = lambda req: Reply.hang(0.2, then=Reply.text("late"))
    fake.latency = 0.1
    started = time.monotonic()
    assert ask(client(fake)).choices[0].message.content == "late"
    assert time.monotonic() - started >= 0.3


def test_concurrent_calls_overlap_under_latency(fake):
    fake.latency = 0.3
    c = client(fake)
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: ask(c, f"call {i}"), range(4)))
    assert time.monotonic() - started < 1.0
    assert [o.choices[0].message.content for o in outs] == ["ok"] * 4
    assert sorted(r.index for r in fake.requests) == [0, 1, 2, 3]


def test_requests_are_recorded_with_their_bodies(fake):
    ask(client(fake), "連絡先 taro@example.com を含む計画")
    httpx.get(fake.base_url + "/models")
    chat_req, models_req = fake.requests
    assert chat_req.method == "POST" and chat_req.index == 0
    assert chat_req.headers["authorization"] == "Bearer test"
    assert chat_req.body["messages"][0]["content"] == "連絡先 taro@example.com を含む計画"
    assert "taro@example.com" in chat_req.prompt and chat_req.model == "gpt-4.1-mini"
    assert models_req.path == "/v1/models" and models_req.index == -1
    assert fake.calls == 1
    fake.reset()
    assert fake.requests == [] and fake.calls == 0


def test_models_list_and_unknown_model(fake):
    c = client(fake)
    assert "gpt-4.1-mini" in [m.id for m in c.models.list()]
    assert c.models.retrieve("gpt-4.1-mini").id == "gpt-4.1-mini"
    with pytest.raises(openai.NotFoundError) as err:
        c.models.retrieve("gpt-9")
    assert err.value.code == "model_not_found"


def test_streaming_and_unknown_paths_are_openai_errors(fake):
    with pytest.raises(openai.BadRequestError, match="stream"):
        client(fake).chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    response = httpx.post(fake.base_url + "/responses", json={"input": "hi"})
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
