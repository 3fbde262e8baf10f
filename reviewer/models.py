"""Typed records passed between pipeline stages: parse -> rules -> review -> report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

CRITERION_IDS: tuple[str, ...] = (
    "PURPOSE",
    "KPI",
    "EXIT",
    "EXPECT",
    "FIELD",
    "WORKFLOW",
    "ALIGN",
    "ROLES",
    "DATA",
    "RISK",
    "VENDOR",
    "OPS",
    "ROLLOUT",
    "BUDGET",
)

DocumentKind = Literal["poc_plan", "proposal", "vendor_sow", "progress_report"]
DOCUMENT_KINDS: tuple[str, ...] = ("poc_plan", "proposal", "vendor_sow", "progress_report")
Language = Literal["ja", "en", "mixed"]
ReportLanguage = Literal["ja", "en"]
Format = Literal["pdf", "docx", "md", "txt"]
Part = Literal["body", "header", "footer", "footnote", "endnote", "comment", "textbox"]
BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "code"]
Verdict = Literal["approve", "revise", "reject"]
Source = Literal["rules", "llm"]
Engine = Literal["rules", "llm", "mixed"]
AspectState = Literal["concrete", "vague", "missing"]


class ParseOptions(BaseModel):
    """What the user tells the parser: a PDF's password, or to read only the first pages."""

    password: str | None = Field(default=None, repr=False)
    max_pages: int | None = Field(default=None, ge=1)  # a partial review of a longer PDF


class Location(BaseModel):
    """Where a block sits, as precisely as the format allows."""

    page: int | None = None  # PDF page, 1-based
    section: list[str] = Field(default_factory=list)  # heading path, outermost first
    paragraph: int | None = None  # DOCX: 1-based paragraph ordinal in its part
    line: int | None = None  # Markdown/text: 1-based source line
    table: int | None = None  # 1-based table ordinal in the document
    row: int | None = None  # 1-based row within the table
    part: Part = "body"

    def label(self, lang: ReportLanguage = "en") -> str:
        """A short human-readable locator such as 'p. 3 · 2. KPI · table 1, row 2'."""
        ja = lang == "ja"
        bits: list[str] = []
        if self.page is not None:
            bits.append(f"{self.page}ページ" if ja else f"p. {self.page}")
        if self.part != "body":
            bits.append(_PART_LABELS[self.part][0 if ja else 1])
        if self.section:
            bits.append(" › ".join(s if len(s) <= 40 else s[:39] + "…" for s in self.section[-2:]))
        if self.table is not None:
            row = self.row if self.row is not None else "?"
            bits.append(f"表{self.table} 行{row}" if ja else f"table {self.table}, row {row}")
        elif self.line is not None:
            bits.append(f"{self.line}行目" if ja else f"line {self.line}")
        elif self.paragraph is not None and self.page is None:
            bits.append(f"段落{self.paragraph}" if ja else f"para. {self.paragraph}")
        return " · ".join(bits) or ("文書" if ja else "document")


_PART_LABELS: dict[str, tuple[str, str]] = {
    "header": ("ヘッダー", "header"),
    "footer": ("フッター", "footer"),
    "footnote": ("脚注", "footnote"),
    "endnote": ("文末脚注", "endnote"),
    "comment": ("コメント", "comment"),
    "textbox": ("テキストボックス", "text box"),
}


class Block(BaseModel):
    """One unit of text as a reader sees it: a heading, paragraph, list item or table row."""

    kind: BlockKind
    text: str  # original text; quotes shown to users come from here
    location: Location
    level: int | None = None  # heading level, 1 = top
    header: str | None = None  # table rows: the table's header row, for context


HiddenKind = Literal[
    "white_text",  # font colour equal (or close) to the background
    "tiny_font",  # 2 pt or smaller
    "vanish",  # Word's hidden property, directly or through a style
    "off_page",  # a shape or text placed outside the page
    "invisible_render",  # PDF text render mode 3 (neither fill nor stroke)
    "comment",  # Markdown/HTML comment
    "zero_width",  # zero-width or other invisible format characters
    "tag_chars",  # Unicode tag characters (U+E0000 block), which can spell out hidden text
    "alt_text",  # an image's or shape's description: read aloud by screen readers, not on the page
]


class HiddenText(BaseModel):
    """Text in the file that a reader does not see. Never credited to any criterion."""

    kind: HiddenKind
    text: str  # what it says (tag characters decoded), shortened for the report
    location: Location


class Document(BaseModel):
    """A parsed document: blocks in reading order with their locations."""

    name: str
    format: Format
    sha256: str
    size: int
    pages: int | None = None
    language: Language
    blocks: list[Block]
    warnings: list[str] = Field(default_factory=list)
    hidden: list[HiddenText] = Field(default_factory=list)  # kept out of blocks

    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


class Evidence(BaseModel):
    """A verbatim quote from the document with its location."""

    quote: str
    location: str  # human-readable, see Location.label
    where: Location
    aspect: str | None = None  # aspect the quote supports, if any
    concrete: bool = False


class Finding(BaseModel):
    """An aspect of a criterion that the document does not address concretely."""

    aspect: str
    status: Literal["missing", "vague"]
    message: str


class AspectStatus(BaseModel):
    id: str
    title: str
    status: AspectState


class RedFlag(BaseModel):
    """A commitment to one of the article's failure patterns, quoted."""

    id: str
    criterion: str
    quote: str
    location: str
    where: Location
    message: str


class CriterionResult(BaseModel):
    """One criterion's judgement, whichever engine produced it."""

    id: str
    title: str
    chapter: str
    level: int = Field(ge=0, le=3)
    weight: float
    source: Source = "rules"
    evidence: list[Evidence] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    aspects: list[AspectStatus] = Field(default_factory=list)
    red_flags: list[str] = Field(default_factory=list)  # ids of red flags that lowered this level
    recommendation: str
    questions: list[str] = Field(default_factory=list)
    searched: str | None = None  # level 0: what was looked for and where
    # LLM engine only:
    rules_level: int | None = None  # what the rules said, for the cross-check
    disagreement: str | None = None  # rules and LLM two or more levels apart
    fallback: str | None = None  # why this is the rules' judgement although the LLM was asked
    sample_levels: list[int] = Field(default_factory=list)  # --samples N: each answer's level


class InjectionEffect(BaseModel):
    """A criterion the LLM judged differently when the text addressed to it was left in."""

    criterion: str
    with_text: int = Field(ge=0, le=3)
    without_text: int = Field(ge=0, le=3)


class Injection(BaseModel):
    detected: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    # LLM engine: the levels are judged without the flagged text; a probe with it left in shows
    # whether it moved the model.
    influenced: bool = False
    effects: list[InjectionEffect] = Field(default_factory=list)


class Risk(BaseModel):
    criterion: str
    title: str
    level: int = Field(ge=0, le=3)
    reason: str


class Overall(BaseModel):
    score: int = Field(ge=0, le=100)
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)  # why this verdict, in report language
    risks: list[Risk] = Field(default_factory=list)  # the three biggest
    scenario: str | None = None  # id of the article's failure scenario it most resembles
    scenario_title: str | None = None


class Usage(BaseModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0  # criteria answered from the cache
    dropped_quotes: int = 0  # quotes the model gave that are not in the document
    reasked: int = 0  # criteria asked again for lack of a verified quote
    retries: int = 0  # calls repeated after 429, 5xx, timeouts or connection errors
    repairs: int = 0  # answers asked again because they did not validate
    fallbacks: int = 0  # criteria left to the rules after the LLM failed


class LLMInfo(BaseModel):
    """What produced an LLM review, pinned so two reviews can be compared."""

    model: str
    endpoint: str  # host only
    prompt_version: str
    prompt_hash: str  # sha256 of prompts/review.yaml, first 16 hex digits
    samples: int = 1
    temperature: float
    seed: int | None
    redacted: bool = True  # personal data replaced by placeholders before sending
    redactions: dict[str, int] = Field(default_factory=dict)  # placeholders sent, by kind


class DocumentInfo(BaseModel):
    name: str
    kind: DocumentKind
    kind_detected: bool  # False when --kind overrode detection
    language: Language
    sha256: str
    pages: int | None
    format: Format
    blocks: int
    ai_related: bool  # False: the document does not look like an AI project at all


class Review(BaseModel):
    """The result of reviewing one document: the JSON contract in DESIGN.md, plus extras."""

    schema_version: Literal["1"] = "1"
    document: DocumentInfo
    engine: Engine = "rules"
    lang: ReportLanguage
    rubric_version: str
    criteria: list[CriterionResult]
    red_flags: list[RedFlag] = Field(default_factory=list)
    injection: Injection = Field(default_factory=Injection)
    overall: Overall
    usage: Usage = Field(default_factory=Usage)
    llm: LLMInfo | None = None
    hidden: list[HiddenText] = Field(default_factory=list)  # reported, never credited
    warnings: list[str] = Field(default_factory=list)

    def criterion(self, cid: str) -> CriterionResult:
        return next(c for c in self.criteria if c.id == cid)
