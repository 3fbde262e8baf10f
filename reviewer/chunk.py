"""Chunk stage: a Document's blocks into heading-aware chunks that keep their locations.

The LLM engine sends chunks, not whole documents, so that a long document costs about its own
length in prompt tokens: each group of criteria gets the chunks most relevant to it.
"""

from __future__ import annotations

import re
from functools import cache

from pydantic import BaseModel

from . import config
from .models import Document

# Token counts must work offline (tiktoken downloads its encodings on first use), so they are
# estimated per script. Weights fitted against the o200k_base tokenizer on the samples and the
# bench sets; bench/bench_llm.py measures the error against the real tokenizer (within ±10%).
_TOKEN_WEIGHTS = (
    (re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"), 0.98),  # kanji
    (re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]"), 0.67),  # kana
    (re.compile(r"[\u3000-\u303f\uff00-\uffef]"), 0.97),  # full-width punctuation, letters
    (re.compile(r"[A-Za-z]+"), 1.14),  # a Latin word
    (re.compile(r"[0-9]"), 0.6),
    (
        re.compile(
            r"[^\sA-Za-z0-9\u3000-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
        ),
        0.6,
    ),
)

# Break long sections at paragraphs, then Japanese and English sentence ends, then clauses.
_SEPARATORS = [
    "\n\n",
    "\n",
    "。",
    "．",
    "！",
    "？",
    "! ",
    "? ",
    ". ",
    "；",
    "; ",
    "、",
    "，",
    ", ",
    " ",
    "",
]


def estimate_tokens(text: str) -> int:
    """Tokens the text costs a current OpenAI tokenizer, estimated without one."""
    return round(sum(weight * len(rx.findall(text)) for rx, weight in _TOKEN_WEIGHTS))


class Chunk(BaseModel):
    """A run of consecutive blocks (or part of one long block) under one heading path."""

    index: int
    text: str  # original text; table rows under their header line
    blocks: list[int]  # indices into Document.blocks that this chunk covers
    tokens: int


def chunk_document(
    doc: Document, max_tokens: int = config.CHUNK_TOKENS, skip: set[int] | None = None
) -> list[Chunk]:
    """Split a document into chunks of at most about max_tokens, never across a top-level heading.

    Blocks in `skip` are left out (text that must not reach the model)."""
    chunks: list[Chunk] = []
    for text, spans in _sections(doc, skip or set()):
        pieces = [(text, 0)] if estimate_tokens(text) <= max_tokens else _split(text, max_tokens)
        for piece, start in pieces:
            end = start + len(piece)
            blocks = [i for s, e, i in spans if s < end and e > start] or [spans[0][2]]
            chunks.append(Chunk(index=0, text=piece, blocks=blocks, tokens=estimate_tokens(piece)))
    merged: list[Chunk] = []
    for c in chunks:  # small neighbours in the same top-level section travel together
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.tokens + c.tokens <= max_tokens
            and _top(doc, prev.blocks[0]) == _top(doc, c.blocks[0])
        ):
            prev.text += "\n" + c.text
            prev.blocks.extend(b for b in c.blocks if b not in prev.blocks)
            prev.tokens += c.tokens
        else:
            merged.append(c)
    for i, c in enumerate(merged):
        c.index = i
    return merged


def _top(doc: Document, block: int) -> str | None:
    section = doc.blocks[block].location.section
    return section[0] if section else None


def _sections(doc: Document, skip: set[int]) -> list[tuple[str, list[tuple[int, int, int]]]]:
    """Text per heading, with (start, end, block index) spans; a table's header precedes its rows."""
    out: list[tuple[str, list[tuple[int, int, int]]]] = []
    parts: list[str] = []
    spans: list[tuple[int, int, int]] = []
    pos = 0
    header: str | None = None

    def flush() -> None:
        nonlocal parts, spans, pos
        if parts:
            out.append(("\n".join(parts), spans))
        parts, spans, pos = [], [], 0

    for i, block in enumerate(doc.blocks):
        if i in skip:
            continue
        if block.kind == "heading":
            flush()
        if (
            block.kind == "table_row"
            and block.header
            and block.header != header
            and block.text != block.header
        ):
            parts.append(block.header)
            spans.append((pos, pos + len(block.header), i))
            pos += len(block.header) + 1
        header = block.header if block.kind == "table_row" else None
        parts.append(block.text)
        spans.append((pos, pos + len(block.text), i))
        pos += len(block.text) + 1
    flush()
    return out


def _split(text: str, max_tokens: int) -> list[tuple[str, int]]:
    """(piece, start offset) with langchain's recursive splitter on Japanese-aware separators."""
    pieces = []
    for doc in _splitter(max_tokens).create_documents([text]):
        pieces.append((doc.page_content, int(doc.metadata.get("start_index", 0))))
    return pieces


@cache
def _splitter(max_tokens: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=_SEPARATORS,
        chunk_size=max_tokens,
        chunk_overlap=0,
        length_function=estimate_tokens,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
