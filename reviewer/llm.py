"""LLM stage: the rubric's criteria asked of an OpenAI-compatible model, in small parallel groups.

Each group of criteria (prompts/review.yaml) gets the chunks most relevant to it within a token
budget, so a long document costs about its own length. Answers are validated by pydantic, their
quotes verified against the document; a criterion the model cannot support, or that fails after
retries, is left to the rules and marked. Nothing here is imported by a rules-only review.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import openai
import yaml
from jinja2 import Environment, StrictUndefined, Template
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from . import config
from .cache import Cache
from .chunk import Chunk, chunk_document, estimate_tokens
from .errors import LLMError
from .merge import Judgement, Judgements, QuoteFinder, Verified
from .models import Document, LLMInfo, ReportLanguage, Usage
from .redact import Redactor
from .rubric import Criterion, Rubric
from .rules import Corpus
from .text import normalize

Progress = Callable[[int, int], None]  # (calls done, calls planned)

# --samples N > 1 asks for different answers: a temperature that lets them differ, one seed per
# sample so the run can be repeated. One sample is asked at temperature 0 with seed 0.
SAMPLE_TEMPERATURE = 0.7
_RETRY_AFTER_MAX_S = 30.0


# ---------------------------------------------------------------------------------------------
# Prompts and options


@dataclass(frozen=True)
class Prompts:
    version: str
    hash: str
    groups: list[list[str]]
    system: Template
    user: Template
    repair: Template
    reask: Template


@cache
def load_prompts() -> Prompts:
    path = config.data_dir("prompts") / "review.yaml"
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return Prompts(
        version=str(data["version"]),
        hash=hashlib.sha256(raw).hexdigest()[:16],
        groups=[list(g) for g in data["groups"]],
        system=env.from_string(data["system"]),
        user=env.from_string(data["user"]),
        repair=env.from_string(data["repair"]),
        reask=env.from_string(data["reask"]),
    )


@dataclass
class LLMOptions:
    """How to reach the model and how hard to try; from the environment and the command line."""

    model: str
    base_url: str | None
    api_key: str
    timeout: float = config.LLM_TIMEOUT_S
    deadline: float = config.LLM_DEADLINE_S
    concurrency: int = config.LLM_CONCURRENCY
    samples: int = 1
    cache_dir: Path | None = None  # None: no cache
    backoff: float = 0.5  # seconds; the first retry waits up to this, doubling to 20 s
    redact: bool = True  # personal data replaced by placeholders before anything is sent
    audit_log: Path | None = None  # one JSON line per call, never document text

    @classmethod
    def from_env(
        cls,
        *,
        concurrency: int | None = None,
        samples: int = 1,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        redact: bool = True,
    ) -> LLMOptions:
        env = os.environ
        return cls(
            model=config.llm_model(),
            base_url=env.get("OPENAI_BASE_URL") or None,
            # Local servers (vLLM, Ollama, llama.cpp) take any key; the client insists on one.
            api_key=env.get("OPENAI_API_KEY") or "not-needed",
            timeout=config.positive_env("REVIEWER_LLM_TIMEOUT", config.LLM_TIMEOUT_S),
            deadline=config.positive_env("REVIEWER_LLM_DEADLINE", config.LLM_DEADLINE_S),
            concurrency=concurrency
            or int(config.positive_env("REVIEWER_CONCURRENCY", config.LLM_CONCURRENCY)),
            samples=samples,
            cache_dir=(cache_dir or config.cache_dir()) if use_cache else None,
            redact=redact,
            audit_log=Path(env["REVIEWER_AUDIT_LOG"]) if env.get("REVIEWER_AUDIT_LOG") else None,
        )

    @property
    def endpoint(self) -> str:
        return urlparse(self.base_url).netloc if self.base_url else "api.openai.com"

    def temperature(self) -> float:
        return 0.0 if self.samples == 1 else SAMPLE_TEMPERATURE


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Answer:
    """The model's judgement of one criterion, its quotes verified; or why there is none."""

    judgement: Judgement | None = None
    verified: Verified | None = None
    fallback: str | None = None
    sample_levels: list[int] = field(default_factory=list)


@dataclass
class LLMReview:
    answers: dict[str, Answer]
    usage: Usage
    info: LLMInfo
    warnings: list[str]


# ---------------------------------------------------------------------------------------------
# Planning: which chunks each group of criteria sees


@dataclass
class Task:
    ids: list[str]
    sample: int
    passages: list[Chunk]
    partial: bool


def relevance(
    crit: Criterion, corpus: Corpus, unit_chunk: dict[int, int], sections: list[str]
) -> list[float]:
    """How much each chunk says about a criterion: its rubric patterns, weighted, per chunk.

    unit_chunk maps the corpus's units to chunks; sections holds each chunk's normalised
    heading path."""
    score = [0.0] * len(sections)
    weighted = [(crit.topic, 2.0)] + [(a.patterns, 1.0) for a in crit.aspects]
    weighted += [(f.patterns, 2.0) for f in crit.red_flags]
    for patterns, weight in weighted:
        for unit_index in corpus.hits(patterns):
            chunk = unit_chunk.get(unit_index)
            if chunk is not None:
                score[chunk] += weight
    for i, section in enumerate(sections):  # a chunk under a heading that names the topic
        if section and crit.topic.search(section):
            score[i] += 3.0
    return score


def plan(
    doc: Document,
    chunks: list[Chunk],
    corpus: Corpus,
    rubric: Rubric,
    groups: list[list[str]],
    overhead: int,
    label: Callable[[Chunk], str],
) -> dict[int, list[Chunk]]:
    """Chunks per group, most relevant first, within the budget: the document's own length once, plus some room.

    Budget for document text over all calls: for a document of LONG_DOCUMENT_TOKENS or more,
    1.5 x its tokens less the prompts' own overhead, so prompt tokens stay within 1.5 x the
    document; for a shorter one, its tokens plus the overhead (prompt tokens within document +
    2 x overhead). Chunks go to groups in turn, most relevant first; a chunk relevant to nothing
    is sent only while budget remains.
    """
    total = sum(c.tokens for c in chunks)
    if total >= config.LONG_DOCUMENT_TOKENS:
        budget = int(1.5 * total) - overhead
    else:
        budget = total + overhead
    budget = int(budget * 0.95) - overhead // 10  # the estimates' margin of error
    label_tokens = {c.index: estimate_tokens(label(c)) + 4 for c in chunks}
    by_id = {c.id: c for c in rubric.criteria}
    block_chunk: dict[int, int] = {}
    for c in chunks:
        for b in c.blocks:
            block_chunk.setdefault(b, c.index)
    block_index = {id(b): i for i, b in enumerate(doc.blocks)}
    unit_chunk = {
        u.index: block_chunk[i]
        for u in corpus.units
        if (i := block_index.get(id(u.block), -1)) in block_chunk
    }
    sections = [normalize(" / ".join(doc.blocks[c.blocks[0]].location.section)) for c in chunks]
    ranked: list[list[tuple[float, Chunk]]] = []
    for ids in groups:
        scores = [0.0] * len(chunks)
        for cid in ids:
            rel = relevance(by_id[cid], corpus, unit_chunk, sections)
            top = max(rel) or 1.0
            scores = [s + r / top for s, r in zip(scores, rel, strict=True)]
        ranked.append(
            sorted(
                ((s, c) for s, c in zip(scores, chunks, strict=True)),
                key=lambda x: (-x[0], x[1].index),
            )
        )
    chosen: dict[int, list[Chunk]] = {g: [] for g in range(len(groups))}
    used = {g: 0 for g in range(len(groups))}
    for relevant in (True, False):
        pos = {g: 0 for g in range(len(groups))}
        progress = True
        while progress:
            progress = False
            for g, order in enumerate(ranked):
                while pos[g] < len(order):
                    score, chunk = order[pos[g]]
                    pos[g] += 1
                    if (score > 0) != relevant:
                        continue
                    cost = chunk.tokens + label_tokens[chunk.index]
                    if cost > budget or used[g] + cost > config.GROUP_MAX_TOKENS:
                        continue
                    chosen[g].append(chunk)
                    used[g] += cost
                    budget -= cost
                    progress = True
                    break
    return chosen  # most relevant first: a context-length error drops the tail


# ---------------------------------------------------------------------------------------------
# Calling the model


class _ContextTooLong(Exception):
    pass


class _BadAnswer(Exception):
    pass


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.RateLimitError):
        return _error_code(exc) != "insufficient_quota"
    if isinstance(exc, openai.APIStatusError):  # 5xx, request timeout, conflict
        return exc.status_code >= 500 or exc.status_code in (408, 409)
    return isinstance(exc, openai.APIConnectionError)  # timeouts included


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error", body)
    code = getattr(exc, "code", None) or (err.get("code") if isinstance(err, dict) else None)
    return str(code) if code else None


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _fatal(exc: openai.APIStatusError, options: LLMOptions) -> LLMError | None:
    """Errors no retry can cure, as a message that says what to fix."""
    code = _error_code(exc)
    where = options.endpoint
    if isinstance(exc, openai.RateLimitError) and code == "insufficient_quota":
        return LLMError(
            f"{where}: the API key has no quota left (insufficient_quota); check billing, or use --engine rules"
        )
    if isinstance(exc, openai.AuthenticationError):
        return LLMError(f"{where}: the API key was refused (401); check OPENAI_API_KEY")
    if isinstance(exc, openai.PermissionDeniedError):
        return LLMError(
            f"{where}: access denied (403) to model {options.model}; check the key's project and permissions"
        )
    if isinstance(exc, openai.NotFoundError):
        return LLMError(
            f"{where}: model {options.model!r} not found (404); set REVIEWER_MODEL to a model the endpoint serves"
        )
    return None


class Caller:
    """One review's model calls: retries, usage, the deadline."""

    def __init__(
        self,
        options: LLMOptions,
        usage: Usage,
        deadline_at: float,
        audit: Callable[[dict], None] | None = None,
    ):
        self.options = options
        self.usage = usage
        self.deadline_at = deadline_at
        self.audit = audit
        self._lock = threading.Lock()
        self._chat: dict[int, ChatOpenAI] = {}

    def chat(self, sample: int) -> ChatOpenAI:
        with self._lock:
            if sample not in self._chat:
                o = self.options
                self._chat[sample] = ChatOpenAI(
                    model=o.model,
                    base_url=o.base_url,
                    api_key=o.api_key,
                    timeout=o.timeout,
                    max_retries=0,  # tenacity retries; the SDK's would multiply with them
                    temperature=o.temperature(),
                    seed=sample,
                    use_responses_api=False,  # chat completions: what every compatible server speaks
                    store=False,  # the provider keeps no copy of the answer
                )
            return self._chat[sample]

    def ask(
        self, messages: list[BaseMessage], sample: int, ids: list[str]
    ) -> tuple[Judgements, AIMessage]:
        """One validated answer, retrying transient failures; raises _BadAnswer on bad output."""
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            wait=self._wait,
            stop=stop_after_attempt(config.LLM_ATTEMPTS) | self._past_deadline,
            before_sleep=self._note_retry,
            reraise=True,
        )
        message = retrying(self._attempt, messages, sample, ids)
        try:
            return Judgements.model_validate_json(_content(message)), message
        except ValidationError as exc:
            raise _BadAnswer(_short_error(exc)) from None

    def _attempt(self, messages: list[BaseMessage], sample: int, ids: list[str]) -> AIMessage:
        remaining = self.deadline_at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("review deadline reached")
        with self._lock:
            self.usage.llm_calls += 1
        started = time.monotonic()
        outcome, message = "ok", None
        try:
            message = self.chat(sample).invoke(
                messages,
                response_format=response_format(),
                timeout=min(self.options.timeout, remaining),
            )
        except openai.BadRequestError as exc:
            outcome = _reason(exc)
            if _error_code(exc) == "context_length_exceeded" or "maximum context length" in str(
                exc
            ):
                raise _ContextTooLong(str(exc)) from exc
            raise
        except openai.APIStatusError as exc:
            outcome = _reason(exc)
            fatal = _fatal(exc, self.options)
            if fatal:
                raise fatal from None
            raise
        except Exception as exc:
            outcome = _reason(exc)
            raise
        finally:
            meta = (getattr(message, "usage_metadata", None) or {}) if message else {}
            with self._lock:
                self.usage.prompt_tokens += int(meta.get("input_tokens", 0))
                self.usage.completion_tokens += int(meta.get("output_tokens", 0))
            if self.audit:
                self.audit(
                    {
                        "criteria": ids,
                        "sample": sample,
                        "outcome": outcome,
                        "seconds": round(time.monotonic() - started, 3),
                        "prompt_tokens": int(meta.get("input_tokens", 0)),
                        "completion_tokens": int(meta.get("output_tokens", 0)),
                    }
                )
        return message  # type: ignore[return-value]

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = _retry_after(exc)
        if after is not None:
            return min(after, _RETRY_AFTER_MAX_S)
        return wait_random_exponential(multiplier=self.options.backoff, max=20)(state)

    def _past_deadline(self, state: RetryCallState) -> bool:
        return time.monotonic() + self._wait(state) >= self.deadline_at

    def _note_retry(self, state: RetryCallState) -> None:
        with self._lock:
            self.usage.retries += 1


def _content(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content or "")


def _short_error(exc: ValidationError) -> str:
    errors = exc.errors()[:3]
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in errors
    )


@cache
def response_format() -> dict:
    """The answer's JSON schema in OpenAI's strict structured-output form."""
    schema = Judgements.model_json_schema()
    _strict(schema)
    return {
        "type": "json_schema",
        "json_schema": {"name": "judgements", "schema": schema, "strict": True},
    }


def _strict(node: object) -> None:
    # Strict mode: every object closed and every property required; titles are noise.
    if isinstance(node, dict):
        node.pop("title", None)
        if node.get("type") == "object" and "properties" in node:
            node["additionalProperties"] = False
            node["required"] = list(node["properties"])
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)


# ---------------------------------------------------------------------------------------------
# The review


class LLMReviewer:
    """Asks the model about one document and returns an Answer per criterion."""

    def __init__(
        self,
        doc: Document,
        corpus: Corpus,
        rubric: Rubric,
        kind: str,
        lang: ReportLanguage,
        options: LLMOptions,
        withheld: set[int] | None = None,
        uncredited: set[int] | None = None,
        progress: Progress | None = None,
    ):
        self.doc, self.corpus, self.rubric = doc, corpus, rubric
        self.kind, self.lang, self.options = kind, lang, options
        self.prompts = load_prompts()
        # Blocks not sent to the model, and blocks whose quotes earn no credit (text addressed to
        # the reviewer: a vendor must not win a level with it).
        self.withheld = withheld or set()
        self.uncredited = uncredited or set()
        self.finder = QuoteFinder(doc, self.uncredited)
        self.progress = progress
        self.usage = Usage()
        self.warnings: list[str] = []
        self.redactor = Redactor() if options.redact else None
        self.caller = Caller(
            options,
            self.usage,
            time.monotonic() + options.deadline,
            self._audit if options.audit_log else None,
        )
        self._lock = threading.Lock()
        self._done = 0
        self._planned = 0

    # -- public

    def start(self) -> None:
        """Plan the calls and send them; the caller may do other work (the rules) meanwhile."""
        ids = [c.id for c in self.rubric.criteria]
        self._samples: dict[str, list[tuple[Judgement, Verified]]] = {cid: [] for cid in ids}
        self._failures: dict[str, str] = {}
        self._cache = Cache(self.options.cache_dir) if self.options.cache_dir else None
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.options.concurrency))
        tasks = self._tasks(self._cache, self._samples)
        self._planned = len(tasks)
        self._pending = {self._pool.submit(self._task, t): t for t in tasks}
        self._report()

    def finish(self) -> LLMReview:
        """Wait for the answers (until the deadline) and return one per criterion."""
        try:
            self._collect()
        finally:
            # Threads still waiting on a hung call end at their own timeout; nobody waits for them.
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self._cache:
                self._cache.close()
        answers = {
            cid: self._answer(cid, got, self._failures.get(cid))
            for cid, got in self._samples.items()
        }
        self.usage.fallbacks = sum(1 for a in answers.values() if a.fallback)
        info = LLMInfo(
            model=self.options.model,
            endpoint=self.options.endpoint,
            prompt_version=self.prompts.version,
            prompt_hash=self.prompts.hash,
            samples=self.options.samples,
            temperature=self.options.temperature(),
            seed=0 if self.options.samples == 1 else None,
            redacted=self.options.redact,
            redactions=dict(self.redactor.counts) if self.redactor else {},
        )
        return LLMReview(answers, self.usage, info, self.warnings)

    # -- planning and cache

    def _cache_key(self, cid: str, sample: int) -> str:
        o = self.options
        return Cache.key(
            self.doc.sha256,
            ",".join(str(b) for b in sorted(self.withheld)),
            ",".join(str(b) for b in sorted(self.uncredited)),
            cid,
            self.kind,
            self.lang,
            self.rubric.version,
            self.prompts.version,
            self.prompts.hash,
            o.model,
            o.endpoint,
            "redacted" if o.redact else "plain",
            str(sample),
            str(o.samples),
        )

    def _tasks(self, cache: Cache | None, samples: dict[str, list]) -> list[Task]:
        groups = self.prompts.groups
        asks: list[tuple[int, int, list[str]]] = []  # (sample, group, criteria not in the cache)
        for sample in range(self.options.samples):
            for g, group in enumerate(groups):
                ask = []
                for cid in group:
                    hit = cache.get(self._cache_key(cid, sample)) if cache else None
                    if hit is not None:
                        judgement = Judgement.model_validate_json(hit)
                        samples[cid].append((judgement, self._verify(judgement)))
                        self.usage.cache_hits += 1
                    else:
                        ask.append(cid)
                if ask:
                    asks.append((sample, g, ask))
        if not asks:  # all answered from the cache: no chunking, no planning
            return []
        chunks = chunk_document(self.doc, skip=self.withheld)
        overhead = sum(self._overhead(g) for g in groups)
        chosen = plan(self.doc, chunks, self.corpus, self.rubric, groups, overhead, self._label)
        return [
            Task(ask, sample, chosen[g], len(chosen[g]) < len(chunks)) for sample, g, ask in asks
        ]

    def _overhead(self, ids: list[str]) -> int:
        system, user = self._render(ids, [], False, "=" * 8)
        return estimate_tokens(system) + estimate_tokens(user)

    # -- running

    def _collect(self) -> None:
        pending, failures, cache = self._pending, self._failures, self._cache
        while pending:
            remaining = self.caller.deadline_at - time.monotonic()
            done, _ = wait(pending, timeout=max(0.0, remaining), return_when=FIRST_COMPLETED)
            if not done:  # deadline: what has not answered falls back
                for task in pending.values():
                    for cid in task.ids:
                        failures.setdefault(cid, "deadline")
                break
            for future in done:
                task = pending.pop(future)
                exc = future.exception()
                if isinstance(exc, LLMError):
                    raise exc
                if exc is not None:
                    for cid in task.ids:
                        failures.setdefault(cid, _reason(exc))
                else:
                    for cid, (judgement, verified, failure) in future.result().items():
                        if failure:
                            failures.setdefault(cid, failure)
                            continue
                        self._samples[cid].append((judgement, verified))
                        if cache:
                            cache.put(
                                self._cache_key(cid, task.sample), judgement.model_dump_json()
                            )
                with self._lock:
                    self._done += 1
                self._report()

    def _task(self, task: Task) -> dict[str, tuple[Judgement | None, Verified | None, str | None]]:
        passages = list(task.passages)
        for _ in range(4):  # a context-length error halves the passages
            try:
                return self._ask_group(task, passages)
            except _ContextTooLong:
                if len(passages) <= 1:
                    break
                passages = _halve(passages)
                task.partial = True
        return {cid: (None, None, "context length") for cid in task.ids}

    def _ask_group(self, task: Task, passages: list[Chunk]) -> dict:
        marker = f"===== DOCUMENT {secrets.token_hex(8)} ====="
        system, user = self._render(task.ids, passages, task.partial, marker)
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        try:
            answer, raw = self.caller.ask(messages, task.sample, task.ids)
            answer = self._check(answer, task.ids)
        except _BadAnswer as exc:
            with self._lock:
                self.usage.repairs += 1
            repair = self.prompts.repair.render(error=str(exc), ids=", ".join(task.ids))
            messages = [*messages, HumanMessage(repair)]
            try:
                answer, raw = self.caller.ask(messages, task.sample, task.ids)
                answer = self._check(answer, task.ids)
            except _BadAnswer:
                return {cid: (None, None, "invalid answer") for cid in task.ids}
        out: dict[str, tuple[Judgement | None, Verified | None, str | None]] = {}
        weak: list[str] = []
        for j in answer.criteria:
            verified = self._verify(j)
            out[j.id] = (j, verified, None)
            if j.level >= 2 and not verified.evidence:
                weak.append(j.id)
        if weak:
            out.update(self._reask(messages, raw, weak, out, task.sample))
        return out

    def _reask(self, messages, raw, weak, out, sample) -> dict:
        dropped = [q for cid in weak for q in out[cid][1].dropped]  # type: ignore[union-attr]
        with self._lock:
            self.usage.reasked += len(weak)
        prompt = self.prompts.reask.render(dropped=dropped or ["(none given)"], ids=", ".join(weak))
        retry_messages = [*messages, AIMessage(_content(raw)), HumanMessage(prompt)]
        result: dict = {}
        try:
            answer, _ = self.caller.ask(retry_messages, sample, weak)
            answer = self._check(answer, weak)
        except (_BadAnswer, _ContextTooLong):
            return {cid: (None, None, "no verified quote") for cid in weak}
        for j in answer.criteria:
            verified = self._verify(j)
            verified.dropped = out[j.id][1].dropped + verified.dropped
            if j.level >= 2 and not verified.evidence:
                result[j.id] = (None, verified, "no verified quote")
            else:
                result[j.id] = (j, verified, None)
        return result

    def _check(self, answer: Judgements, ids: list[str]) -> Judgements:
        """Every criterion asked, once; unknown ones are an error the model can repair."""
        got = [j.id for j in answer.criteria]
        missing = [cid for cid in ids if cid not in got]
        extra = [cid for cid in got if cid not in ids]
        dupes = {cid for cid in got if got.count(cid) > 1}
        if missing or extra or dupes:
            bits = []
            if missing:
                bits.append(f"missing {', '.join(missing)}")
            if extra:
                bits.append(f"not asked: {', '.join(extra)}")
            if dupes:
                bits.append(f"repeated: {', '.join(sorted(dupes))}")
            raise _BadAnswer("; ".join(bits))
        if self.redactor is None:
            return answer
        # Placeholders back to what the document says, so quotes verify and the report reads.
        restore = self.redactor.restore
        for j in answer.criteria:
            for q in j.evidence:
                q.quote = restore(q.quote)
            j.recommendation = restore(j.recommendation)
            j.questions = [restore(q) for q in j.questions]
        return answer

    def _verify(self, judgement: Judgement) -> Verified:
        crit = self.rubric.criterion(judgement.id)
        verified = self.finder.verify(judgement.evidence, self.lang, {a.id for a in crit.aspects})
        with self._lock:
            self.usage.dropped_quotes += len(verified.dropped)
        return verified

    def _answer(
        self, cid: str, got: list[tuple[Judgement, Verified]], failure: str | None
    ) -> Answer:
        if not got:
            return Answer(fallback=failure or "no answer")
        ordered = sorted(got, key=lambda jv: jv[0].level)
        judgement, verified = ordered[(len(ordered) - 1) // 2]  # the lower median
        return Answer(judgement, verified, None, [j.level for j, _ in got])

    # -- prompts

    def _render(
        self, ids: list[str], passages: list[Chunk], partial: bool, marker: str
    ) -> tuple[str, str]:
        lang = self.lang
        system = self.prompts.system.render(
            marker=marker,
            language="Japanese" if lang == "ja" else "English",
            audience="the vendor" if self.kind == "vendor_sow" else "the document's author",
        )
        criteria = []
        for cid in ids:
            c = self.rubric.criterion(cid)
            criteria.append(
                {
                    "id": c.id,
                    "title": f"{c.title('en')} / {c.title('ja')}",
                    "guards_against": c.guards_against(lang),
                    "levels": {n: c.levels[n](lang) for n in range(4)},
                    "aspects": [{"id": a.id, "title": a.title(lang)} for a in c.aspects],
                }
            )
        rendered = [
            {
                "label": self._redacted(self._label(p)),
                "text": self._redacted(_defuse(p.text, marker)),
            }
            for p in sorted(passages, key=lambda c: c.index)
        ]
        user = self.prompts.user.render(
            kind=self.kind, criteria=criteria, partial=partial, marker=marker, passages=rendered
        )
        return system, user

    def _redacted(self, text: str) -> str:
        return self.redactor.redact(text) if self.redactor else text

    def _audit(self, event: dict) -> None:
        """One JSON line per call: what was asked of whom and what it cost, never the text."""
        assert self.options.audit_log is not None
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "endpoint": self.options.endpoint,
            "model": self.options.model,
            "prompt_version": self.prompts.version,
            "prompt_hash": self.prompts.hash,
            "rubric_version": self.rubric.version,
            "content_sha256": self.doc.sha256,
            **event,
            "redactions": dict(self.redactor.counts) if self.redactor else None,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            try:
                with open(self.options.audit_log, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError as exc:
                raise LLMError(
                    f"REVIEWER_AUDIT_LOG {self.options.audit_log}: {exc.strerror}"
                ) from None

    def _label(self, chunk: Chunk) -> str:
        return self.doc.blocks[chunk.blocks[0]].location.label(self.lang)

    def _report(self) -> None:
        if self.progress:
            self.progress(self._done, self._planned)


def _defuse(text: str, marker: str) -> str:
    # The marker is random per call, so a document cannot know it; this guards the impossible case.
    return text.replace(marker, "")


def _halve(passages: list[Chunk]) -> list[Chunk]:
    keep = max(1, len(passages) // 2)
    return passages[:keep]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "connection error"
    return type(exc).__name__


def describe_failure(reason: str, lang: ReportLanguage) -> str:
    """A fallback reason for the report."""
    if lang == "ja":
        return f"LLMの判定が得られなかったため（{reason}）、ルールの判定を用いた"
    return f"the LLM gave no usable judgement ({reason}); the rules' judgement is used"


__all__ = [
    "LLMOptions",
    "LLMReview",
    "LLMReviewer",
    "load_prompts",
    "plan",
    "response_format",
]
