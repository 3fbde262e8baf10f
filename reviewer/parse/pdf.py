"""PDF: text per page with pypdf, lines re-flowed into paragraphs, headings from the fonts.

pypdf gives lines in content order. A visitor callback also reports each text run's position,
font and size; from those we learn which lines are headings (larger or bold type), where a
paragraph ends (a line stopping well short of the right margin, or a wider gap to the next line)
and which lines are running headers, footers and page numbers.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import threading
from collections import Counter
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import reduce, wraps
from io import BytesIO
from operator import add, itemgetter
from typing import Any

from .. import config
from ..errors import ParseError
from ..models import Block, HiddenText, Location, ParseOptions
from .ink import Mark, PageInk, split_hidden
from .text import (
    Line,
    Parsed,
    assemble,
    count_tocs,
    despace_cjk,
    display_width,
    heading_kind,
    heading_like,
    is_cjk,
    is_page_number,
    join_lines,
    starts_block,
)

_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|[-,_]w[6-9]\b|extrab|ultrab", re.I)
_DIGITS = re.compile(r"[0-9０-９]+")
_NO_LINE_START = re.compile(
    r"[、。，．,.）)」』】〕〉》！？!?ー々ゝゞぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ・：；:;]"
)
STYLED_HEADING_MAX_WIDTH = 90  # display columns
# A gap this wide (in ems) inside a line separates table cells or tab stops, not words.
CELL_GAP_EM = 2.0
_WORD_PROCESSOR = re.compile(r"Microsoft|\bWord\b|LibreOffice|OpenOffice|Writer|Google|Pages", re.I)
_PUA = re.compile(r"[\ue000-\uf8ff]+\s*")
_RUNS_OF_SPACES = re.compile(r"[ \u00a0]{2,}")


@dataclass(slots=True)
class _Frag:
    text: str
    x: float
    y: float
    size: float
    bold: bool
    metrics: _Widths | None = None
    mark: Mark | None = None  # its ink and place on the page: can a reader see it?

    def width(self, text: str | None = None) -> float:
        """Advance of `text` (default: this run's text) in points, from the font's widths."""
        return _em_width(self.text if text is None else text, self.metrics) * self.size


@dataclass(slots=True)
class _PLine:
    frags: list[_Frag] = field(default_factory=list)
    page: int = 0
    text: str = ""
    raw: str = ""
    size: float = 0.0
    bold: bool = False
    x1: float = 0.0
    y: float | None = None
    table: _Table | None = None  # a ruled table read as rows, standing in this line's place

    def finish(self) -> None:
        self.raw = "".join(f.text for f in self.frags).rstrip()
        self.text = _join_frags(self.frags).rstrip()
        sizes: dict[float, int] = {}
        bold = total = 0
        for f in self.frags:
            n = len(f.text.strip())
            key = round(f.size * 2) / 2
            sizes[key] = sizes.get(key, 0) + n
            total += n
            bold += n if f.bold else 0
        # The most characters; the first size seen among equals (as Counter.most_common).
        self.size = max(sizes.items(), key=itemgetter(1))[0] if total else 0.0
        self.bold = total > 0 and bold / total >= 0.6
        visible = [f for f in self.frags if f.text.strip()]
        if visible:
            self.y = visible[0].y
            self.x1 = max(f.x + f.width(f.text.rstrip()) for f in visible)

    @property
    def style(self) -> tuple[float, bool]:
        return (self.size, self.bold)


_JA_LETTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff10-\uff5a々〆]")
_JA_PUNCT = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]")
_LATIN = re.compile(r"[A-Za-z0-9%]")
_FIRST_WORD = re.compile(r"[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+")


def _join_frags(frags: list[_Frag]) -> str:
    """Join a line's text runs, dropping the spaces pypdf infers from Japanese typesetting gaps.

    Word and LibreOffice leave a small gap between Japanese and Latin text ("生成AI", "12分") and
    around compressed punctuation; pypdf turns every such gap into a space ("生成 AI", "12 分").
    A space that is not a character of either run, between such neighbours, across a gap under
    0.8 em, is dropped. Wide gaps (table cells, tabs) keep their space.
    """
    out = ""
    prev: _Frag | None = None
    pending = ""
    for f in frags:
        body = f.text.lstrip()
        if not body:
            pending += f.text
            continue
        ws = pending + f.text[: len(f.text) - len(body)]
        pending = ""
        if (
            ws
            and prev is not None
            and out
            and not out[-1].isspace()
            and _typeset_gap(prev, out[-1], f, body[0])
        ):
            ws = ""
        out += ws + body
        prev = f
    return out + pending


def _typeset_gap(prev: _Frag, a: str, f: _Frag, b: str) -> bool:
    ja_a, ja_b = bool(_JA_LETTER.match(a)), bool(_JA_LETTER.match(b))
    pair = (ja_a and _LATIN.match(b)) or (ja_b and _LATIN.match(a))
    punct = _JA_PUNCT.match(a) or _JA_PUNCT.match(b)
    if not (pair or punct):
        return False
    size = prev.size or f.size or 10.0
    if abs(f.y - prev.y) > 0.5 * size:
        return False
    gap = f.x - (prev.x + prev.width(prev.text.strip()))
    return gap < 0.8 * size


class _CharWidths(dict):
    """Advance per character in ems, filled on first use: the font's width where it lists one,
    else an estimate (a space, a full-width character, anything else)."""

    def __init__(self, table: dict[str, float], default: float | None):
        super().__init__()
        self.table = table
        self.default = default

    def __missing__(self, c: str) -> float:
        known = self.table.get(c)
        if known:
            w = known
        elif c == " ":
            w = 0.28
        elif is_cjk(c) or display_width(c) == 2:
            w = self.default if self.default and self.default >= 0.5 else 1.0
        else:
            w = 0.55
        self[c] = w
        return w


class _Widths(tuple):
    """(widths by character, default width) of one font, with the per-character lookup."""

    def __new__(cls, table: dict[str, float], default: float | None) -> _Widths:
        self = super().__new__(cls, (table, default))
        self.chars = _CharWidths(table, default)
        return self

    def __getnewargs__(self) -> tuple[dict[str, float], float | None]:  # copy and pickle
        return (self[0], self[1])


_ESTIMATES = _CharWidths({}, None)  # for text whose font is not known


def _em_width(text: str, metrics: _Widths | None = None) -> float:
    """Advance of a string in ems: the font's own widths where known, else an estimate."""
    # Added up from 0.0 left to right, as a loop would.
    chars = metrics.chars if metrics is not None else _ESTIMATES
    return reduce(add, map(chars.__getitem__, text), 0.0)


class _FontWidths:
    """Character widths per font, read once per font dictionary (pypdf's font model)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, _Widths | None]] = {}
        self._bold: dict[int, tuple[Any, bool]] = {}

    def bold(self, font: Any) -> bool:
        """Does the font's name say bold? (Raises as reading the name does, on a broken font.)"""
        hit = self._bold.get(id(font))
        if hit is not None and hit[0] is font:
            return hit[1]
        base = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(_BOLD_FONT.search(base))
        self._bold[id(font)] = (font, bold)
        return bold

    def get(self, font: Any) -> _Widths | None:
        if font is None:
            return None
        hit = self._cache.get(id(font))
        if hit is not None and hit[0] is font:
            return hit[1]
        widths: _Widths | None
        try:
            from pypdf.generic._font import Font  # not public API: fall back to estimates

            f = Font.from_font_resource(font)
            cmap = f.character_map or {}
            table: dict[str, float] = {}
            for code, w in f.character_widths.items():
                if code == "default" or not w:
                    continue
                u = cmap.get(code, code) if cmap else code
                if isinstance(u, str) and len(u) == 1:
                    table[u] = float(w) / 1000
            default = f.character_widths.get("default")
            widths = _Widths(table, float(default) / 1000 if default else None)
        except Exception:
            widths = None
        self._cache[id(font)] = (font, widths)
        return widths


def parse(data: bytes, name: str, options: ParseOptions | None = None) -> Parsed:
    """Parse PDF bytes into blocks with page numbers and heading paths."""
    warnings: list[str] = []
    hidden: list[HiddenText] = []
    with _pypdf_log() as log, _shared_fonts():
        pages, page_height, producer = _extract(
            data, name, warnings, hidden, options or ParseOptions()
        )
    if log.records:
        warnings.append("the PDF has structural errors; text was recovered where possible")
    lines, header_footer = _drop_running_lines(pages, page_height)
    # A page whose only text is the running header or footer is a scanned page too.
    empty = [i + 1 for i, page in enumerate(lines) if not any(ln.text.strip() for ln in page)]
    if len(empty) == len(pages):
        raise ParseError(
            name, "no text could be extracted (scanned/image-only PDF?); OCR is not done"
        )
    if empty:
        shown = ", ".join(map(str, empty[:10])) + (" …" if len(empty) > 10 else "")
        warnings.append(f"no text on page(s) {shown} (images only?); those pages were skipped")

    # Blank lines at a page's top or bottom are layout, not paragraph breaks: a sentence may run on.
    lines = [_trim_blank(page) for page in lines]
    _join_split_tables(lines)
    tables: dict[str, _Table] = {}
    for ln in (ln for page in lines for ln in page if ln.table is not None):
        ln.text = f"\ue000table{len(tables)}\ue000"  # a stand-in that assemble() keeps apart
        tables[ln.text] = ln.table
    flow = _to_flow_lines(lines)
    tocs = count_tocs(flow)
    if tocs:
        warnings.append(f"skipped {tocs} table-of-contents line(s)")
    blocks = assemble(
        flow,
        ascii_period_ends=False,
        pattern_headings=not any(ln.style_level for ln in flow),
        cjk_latin_space=False,  # the gaps were typesetting, not spaces (see _join_frags)
        # Word processors do not hyphenate unless asked: a "-" at a line end is a real hyphen.
        dehyphenate=not _WORD_PROCESSOR.search(producer),
    )
    blocks = _expand_tables(blocks, tables)
    once: dict[tuple[str, str], HiddenText] = {}  # repeated on every page: reported once
    for item in hidden:
        once.setdefault((item.kind, item.text), item)
    hidden = list(once.values())
    return Parsed(blocks=header_footer + blocks, pages=len(pages), warnings=warnings, hidden=hidden)


def _trim_blank(page: list[_PLine]) -> list[_PLine]:
    start, end = 0, len(page)
    while start < end and not page[start].text.strip():
        start += 1
    while end > start and not page[end - 1].text.strip():
        end -= 1
    return page[start:end]


def preload() -> None:
    """Import pypdf now (the sandbox calls this before forking, so each child need not)."""
    with suppress(ImportError):  # a broken install is reported by the parse itself
        import pypdf.errors  # noqa: F401
        import pypdf.generic._font  # noqa: F401


def _extract(
    data: bytes, name: str, warnings: list[str], hidden: list[HiddenText], options: ParseOptions
) -> tuple[list[list[_PLine]], float, str]:
    """Lines per page (text a reader cannot see goes to `hidden`), median page height, producer."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ParseError(
            name, f"PDF support is not installed ({exc}); reinstall reviewer"
        ) from None

    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Many PDFs only restrict editing and open with the empty user password.
            password = options.password or ""
            try:
                ok = reader.decrypt(password)
            except DependencyError:
                ok = 0
            if not ok and options.password:
                raise ParseError(name, "PDF is encrypted and the password given does not open it")
            if not ok:
                raise ParseError(
                    name,
                    "PDF is encrypted; give its password with --password, or remove the password "
                    "(open it and print or export to a new PDF) and try again",
                )
        count = len(reader.pages)
        try:
            meta = reader.metadata or {}
            producer = f"{meta.get('/Producer', '')} {meta.get('/Creator', '')}"
        except Exception:  # damaged metadata is not worth failing over
            producer = ""
    except ParseError:
        raise
    except Exception as exc:  # pypdf leaks ValueError, KeyError, AttributeError... on bad input
        raise ParseError(
            name, f"PDF is corrupt or truncated and cannot be read ({_why(exc)})"
        ) from None
    if count == 0:
        raise ParseError(name, "PDF has no pages")
    total = count
    if options.max_pages is not None and options.max_pages < count:
        count = options.max_pages  # a partial review, said so in the warnings
        warnings.append(f"partial review: pages 1-{count} of {total} (--max-pages)")
    if count > config.MAX_PDF_PAGES:
        raise ParseError(
            name,
            f"PDF has {count} pages, more than the limit of {config.MAX_PDF_PAGES}; split it, "
            f"or review the first pages with --max-pages {config.MAX_PDF_PAGES}",
        )

    pages: list[list[_PLine]] = []
    heights: list[float] = []
    failed: list[int] = []
    fonts = _FontWidths()
    for number in range(1, count + 1):
        lines: list[_PLine] = [_PLine(page=number)]
        ink = PageInk()

        def visit(
            text: str, cm: Any, tm: Any, font: Any, size: float, lines=lines, ink=ink
        ) -> None:
            if not text:
                return
            try:
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or 1.0
                bold = fonts.bold(font)
                mark = ink.mark(x, y, cm, tm)
            except Exception:  # odd matrices or font dictionaries: keep the text anyway
                x = y = 0.0
                scale, bold, mark = 1.0, False, None
            metrics = fonts.get(font)
            if "\n" not in text:  # most runs: one piece of one line
                lines[-1].frags.append(
                    _Frag(text, x, y, float(size or 0) * scale, bold, metrics, mark)
                )
                return
            for j, part in enumerate(text.split("\n")):
                if j:
                    lines.append(_PLine(page=lines[0].page))
                if part:
                    lines[-1].frags.append(
                        _Frag(part, x, y, float(size or 0) * scale, bold, metrics, mark)
                    )

        rules = _Rules()
        try:
            page = reader.pages[number - 1]
            ink.start(page, also=rules.visit)
            page.extract_text(
                visitor_text=visit,
                visitor_operand_before=ink.before,
                visitor_operand_after=ink.after if ink.has_forms else None,
            )
            heights.append(float(page.mediabox.height))
        except Exception:
            failed.append(number)
            lines = []
        lines, found = split_hidden(ink, lines, number)
        hidden.extend(found)
        for ln in lines:
            ln.finish()
        if lines and rules.h and rules.v:
            with suppress(Exception):  # odd geometry: the lines as they came are still readable
                lines = _read_tables(lines, rules)
        pages.append(lines)
    if failed and len(failed) == count:
        raise ParseError(name, "PDF is corrupt: no page could be read")
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (" …" if len(failed) > 10 else "")
        warnings.append(f"page(s) {shown} could not be read and were skipped")
    return pages, statistics.median(heights) if heights else 842.0, producer


def _why(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:160] if msg else type(exc).__name__


# --- running headers and footers ------------------------------------------------------------------


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", re.sub(r"\s+", "", text))


def _drop_running_lines(
    pages: list[list[_PLine]], height: float
) -> tuple[list[list[_PLine]], list[Block]]:
    """Remove lines repeated at the top or bottom of most pages; keep the texty ones once."""
    n = len(pages)
    if n < 2:
        return pages, []
    candidates: list[dict[str, _PLine]] = []
    for page in pages:
        visible = [ln for ln in page if ln.text.strip() and ln.table is None]
        edge = visible[:2] + visible[-2:]
        with_y = [ln for ln in visible if ln.y is not None]
        edge += (
            sorted(with_y, key=lambda ln: ln.y or 0)[:2]
            + sorted(with_y, key=lambda ln: -(ln.y or 0))[:2]
        )
        cands: dict[str, _PLine] = {}
        for ln in edge:
            cands.setdefault(_running_key(ln.text), ln)
        candidates.append(cands)
    seen = Counter(key for cands in candidates for key in cands)
    need = max(2, math.ceil(n * 0.5))
    running = {k for k, c in seen.items() if c >= need and k}
    if not running:
        return pages, []

    kept: list[Block] = []
    done: set[str] = set()
    out: list[list[_PLine]] = []
    for page, cands in zip(pages, candidates, strict=True):
        drop = {id(cands[k]) for k in running if k in cands}
        for key in running:
            ln = cands.get(key)
            if ln is None or key in done:
                continue
            done.add(key)
            text = re.sub(r"\s+", " ", ln.text).strip()
            if is_page_number(text):
                continue
            # Which edge of the page: by position when known, else by order in the text.
            top = ln.y > height / 2 if ln.y is not None else page.index(ln) < len(page) / 2
            kept.append(
                Block(
                    kind="paragraph",
                    text=text,
                    location=Location(page=ln.page, part="header" if top else "footer"),
                )
            )
        out.append([ln for ln in page if id(ln) not in drop])
    kept.sort(key=lambda b: (b.location.part != "header", b.location.page or 0))
    return out, kept


# --- geometry: paragraph ends and headings --------------------------------------------------------


def _to_flow_lines(pages: list[list[_PLine]]) -> list[Line]:
    plines = [ln for page in pages for ln in page]
    tabular = [_tabular(ln) for ln in plines]
    text_lines = [ln for ln in plines if ln.table is None]  # ruled tables stand apart
    # The body text's size: the most characters on prose lines (long, not table rows). A
    # document dense with small-print tables must not make the table font the "body".
    sized: Counter[float] = Counter()
    for ln, tab in zip(plines, tabular, strict=True):
        if not tab and ln.table is None and display_width(ln.text.strip()) >= 20:
            sized[ln.size] += len(ln.text.strip())
    if not sized:
        for ln in text_lines:
            sized[ln.size] += len(ln.text.strip())
    body_size = sized.most_common(1)[0][0] if sized else 0.0
    body_chars = sum(len(ln.text) for ln in text_lines if ln.size == body_size)
    body_bold = sum(
        len(ln.text) for ln in text_lines if ln.bold and ln.size == body_size
    ) > 0.5 * max(1, body_chars)
    right = _right_margin(text_lines, body_size)
    pitch = _line_pitch(text_lines, body_size)

    breaks = [False] * len(plines)
    # The next line with text after each line (None after the last one).
    following: list[int | None] = [None] * len(plines)
    upcoming: int | None = None
    for i in range(len(plines) - 1, -1, -1):
        following[i] = upcoming
        if plines[i].text.strip():
            upcoming = i
    for i, ln in enumerate(plines):
        if not ln.text.strip():
            continue
        j = following[i]
        if j is None:
            continue
        nxt = plines[j]
        breaks[i] = (
            tabular[i]
            or tabular[j]  # a table row (cells side by side) is never part of a paragraph
            or ln.table is not None
            or nxt.table is not None
            or _ends_short(ln, nxt, right)
            or _gap_after(ln, nxt, pitch, plines, i)
        )

    levels = _style_levels(plines, body_size, body_bold, breaks)
    flow: list[Line] = []
    for i, ln in enumerate(plines):
        if ln.table is not None:
            flow.append(Line(text=ln.text, page=ln.page, break_after=True))
            continue
        raw = ln.text
        # Symbol-font bullets (Wingdings) come out as private-use characters: a marker, not text.
        marker = bool(_PUA.match(raw.lstrip()))
        text = _PUA.sub("", raw).strip()
        text = despace_cjk(_RUNS_OF_SPACES.sub(" ", text))
        flow.append(
            Line(
                text=text,
                page=ln.page,
                style_level=levels.get(i),
                break_after=breaks[i],
                lost_marker=marker or bool(ln.raw[:1] == " " and raw.strip()),
            )
        )
    return flow


def _tabular(ln: _PLine) -> bool:
    """Does the line hold cells side by side (wide gaps between its runs)?"""
    size = ln.size or 10.0
    visible = [f for f in ln.frags if f.text.strip()]
    for a, b in zip(visible, visible[1:], strict=False):
        if (
            abs(a.y - b.y) < 0.5 * size
            and b.x - (a.x + a.width(a.text.strip())) >= CELL_GAP_EM * size
        ):
            return True
    return False


def _run_length(plines: list[_PLine], i: int, breaks: list[bool]) -> int:
    """How many lines, from line i on, run on in the same type without a paragraph end."""
    n = 1
    j = i
    while j + 1 < len(plines) and not breaks[j]:
        nxt = plines[j + 1]
        text = nxt.text.strip()
        if not text or nxt.style != plines[i].style or starts_block(text):
            break
        n += 1
        j += 1
    # Count backwards too: the second line of a wrapped paragraph is part of the same run.
    j = i
    while j > 0 and not breaks[j - 1]:
        prev = plines[j - 1]
        if not prev.text.strip() or prev.style != plines[i].style:
            break
        n += 1
        j -= 1
    return n


def _right_margin(plines: list[_PLine], body: float) -> float:
    """Where full lines end. Lines ending in a CJK character give exact ends; prefer those."""
    long = [ln for ln in plines if ln.size == body and display_width(ln.text.strip()) >= 20]
    ends = sorted(ln.x1 for ln in long if is_cjk(ln.text.rstrip()[-1:]))
    if len(ends) < 5:
        ends = sorted(ln.x1 for ln in long)
    if len(ends) < 5:
        ends = sorted(ln.x1 for ln in plines if ln.text.strip())
    if not ends:
        return 0.0
    return ends[min(len(ends) - 1, int(len(ends) * 0.75))]


def _line_pitch(plines: list[_PLine], body: float) -> float | None:
    gaps = []
    for a, b in zip(plines, plines[1:], strict=False):
        if a.page == b.page and a.size == body == b.size and a.y is not None and b.y is not None:
            d = a.y - b.y
            if 0.5 * body < d < 3 * body:
                gaps.append(d)
    return statistics.median(gaps) if len(gaps) >= 3 else None


def _ends_short(ln: _PLine, nxt: _PLine, right: float) -> bool:
    """Does this line stop well before the right margin, so its paragraph ends here?"""
    if right <= 0 or not ln.frags:
        return False
    size = ln.size or 10.0
    text = ln.text.rstrip()
    following = nxt.text.strip()
    if is_cjk(text[-1:]) or is_cjk(following[:1]):
        # Japanese wraps anywhere, so a full line ends within a character of the margin; two or
        # three when line-breaking rules (禁則) pushed a character down to sit with 、。」 etc.
        room = (3.2 if _NO_LINE_START.match(following) else 1.5) * size
    else:
        # English wraps at spaces: the paragraph ended if the next word would have fitted here.
        word = _FIRST_WORD.match(following)
        word = word.group(0) if word else following[:1]
        room = (0.28 + min(_em_width(word), 12.0)) * (nxt.size or size) + 1.0 * size
    return ln.x1 + room < right


def _gap_after(ln: _PLine, nxt: _PLine, pitch: float | None, plines: list[_PLine], i: int) -> bool:
    if nxt.page != ln.page or ln.y is None or nxt.y is None:
        return False
    if plines[i + 1] is not nxt:
        return True  # a blank line in between
    d = ln.y - nxt.y
    if d < -0.5 * (ln.size or 10):
        return True  # next line is higher up the page: another column or a text box
    return pitch is not None and d > 1.6 * pitch


def _style_levels(
    plines: list[_PLine], body: float, body_bold: bool, breaks: list[bool]
) -> dict[int, int]:
    """Heading levels for lines set in a larger or bold type than the body text."""
    cands: dict[int, tuple[float, bool]] = {}
    for i, ln in enumerate(plines):
        text = ln.text.strip()
        # Type already says "heading" here, so a longer line (a wrapped title) may qualify.
        if (
            ln.table is not None
            or not text
            or not heading_like(text, STYLED_HEADING_MAX_WIDTH)
            or body <= 0
        ):
            continue
        bigger = ln.size >= body * 1.12
        bolder = ln.bold and not body_bold and ln.size >= body * 0.95
        if not (bigger or bolder):
            continue
        if _run_length(plines, i, breaks) > 2:
            continue  # three or more full lines in this type: an emphasised paragraph
        cands[i] = ln.style
    if not cands:
        return {}
    # Styles used only on the first page, before any other heading style, are the cover's
    # (title, date, issuer): level 1 and left out of the ranking.
    pages_of: dict[tuple[float, bool], set[int]] = {}
    last_seen: dict[tuple[float, bool], int] = {}
    first_seen: dict[tuple[float, bool], int] = {}
    for i, style in cands.items():
        pages_of.setdefault(style, set()).add(plines[i].page)
        last_seen[style] = i
        first_seen.setdefault(style, i)
    cover: set[tuple[float, bool]] = set()
    if plines[-1].page > 2:
        page1 = {s for s, pages in pages_of.items() if pages == {1}}
        others = [first_seen[s] for s in pages_of if s not in page1]
        if others:
            cover = {s for s in page1 if last_seen[s] < min(others)}
    styles = sorted(set(cands.values()) - cover, key=lambda s: (-s[0], not s[1]))
    rank = {s: r + 1 for r, s in enumerate(styles)}
    rank.update({s: 1 for s in cover})
    # Numbered headings ("1.", "2.3", "第2章") anchor the ranks to real depths.
    anchored: dict[tuple[float, bool], Counter[int]] = {}
    for i, style in cands.items():
        hk = heading_kind(plines[i].text.strip())
        if hk and hk[0] in ("num", "chapter"):
            anchored.setdefault(style, Counter())[max(1, hk[1])] += 1
    offset = 0
    anchored = {s: c for s, c in anchored.items() if s not in cover}
    if anchored:
        top = min(anchored, key=lambda s: rank[s])
        offset = anchored[top].most_common(1)[0][0] - rank[top]
    return {i: 1 if s in cover else max(1, rank[s] + offset) for i, s in cands.items()}


# --- ruled tables ---------------------------------------------------------------------------------

# Positions closer than this (points) are the same rule; rules meet within it.
RULE_TOL = 2.0
# A filled rectangle thinner than this is drawn as a rule (Word draws borders so); thicker ones are
# cell shading.
RULE_MAX_THICKNESS = 2.5
MAX_RULES = 3000  # per page and direction: beyond it the page is a drawing, not a table
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_STROKE = {b"S", b"s", b"B", b"B*", b"b", b"b*"}
_PATH = {b"m", b"l", b"re", b"h", b"n"} | _PAINT


class _Rules:
    """Horizontal and vertical rules drawn on a page, from the content stream's path operators."""

    def __init__(self) -> None:
        self.h: list[tuple[float, float, float]] = []  # (y, x0, x1)
        self.v: list[tuple[float, float, float]] = []  # (x, y0, y1)
        self._segs: list[tuple[float, float, float, float]] = []
        self._rects: list[tuple[float, float, float, float]] = []
        self._at: tuple[float, float] | None = None
        self._start: tuple[float, float] | None = None

    def visit(self, op: bytes, args: Any, cm: Any, tm: Any) -> None:
        if op not in _PATH:
            return
        try:
            if op == b"m":
                self._at = self._start = _apply(cm, float(args[0]), float(args[1]))
            elif op == b"l":
                to = _apply(cm, float(args[0]), float(args[1]))
                if self._at is not None:
                    self._segs.append((*self._at, *to))
                self._at = to
            elif op == b"h":
                if self._at is not None and self._start is not None:
                    self._segs.append((*self._at, *self._start))
                self._at = self._start
            elif op == b"re":
                x, y, w, h = (float(a) for a in args[:4])
                a, b = _apply(cm, x, y), _apply(cm, x + w, y + h)
                self._rects.append(
                    (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
                )
            else:
                self._paint(op)
        except (TypeError, ValueError, IndexError):
            self._segs.clear()
            self._rects.clear()

    def _paint(self, op: bytes) -> None:
        if op in _PAINT and len(self.h) < MAX_RULES and len(self.v) < MAX_RULES:
            stroke = op in _STROKE
            for x0, y0, x1, y1 in self._segs:
                if stroke:
                    self._add(x0, y0, x1, y1)
            for x0, y0, x1, y1 in self._rects:
                w, h = x1 - x0, y1 - y0
                if stroke:
                    self._add(x0, y0, x1, y0)
                    self._add(x0, y1, x1, y1)
                    self._add(x0, y0, x0, y1)
                    self._add(x1, y0, x1, y1)
                elif h <= RULE_MAX_THICKNESS and w > h:
                    self._add(x0, (y0 + y1) / 2, x1, (y0 + y1) / 2)
                elif w <= RULE_MAX_THICKNESS and h > w:
                    self._add((x0 + x1) / 2, y0, (x0 + x1) / 2, y1)
        self._segs.clear()
        self._rects.clear()
        self._at = self._start = None

    def _add(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if abs(y1 - y0) < 0.5 and abs(x1 - x0) > 2 * RULE_TOL:
            self.h.append((y0, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) < 0.5 and abs(y1 - y0) > 2 * RULE_TOL:
            self.v.append((x0, min(y0, y1), max(y0, y1)))


def _apply(cm: Any, x: float, y: float) -> tuple[float, float]:
    return (x * cm[0] + y * cm[2] + cm[4], x * cm[1] + y * cm[3] + cm[5])


def _merge_positions(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if out and v - out[-1] <= RULE_TOL:
            continue
        out.append(v)
    return out


@dataclass
class _Table:
    """A ruled table on one page (or continued over several): its rows of cell texts."""

    page: int
    columns: list[float]  # x of the vertical rules
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class _Grid:
    x0: float
    x1: float
    y0: float
    y1: float
    ys: list[float]  # row rules, top first
    v: list[tuple[float, float, float]]

    def cell(self, x: float, y: float) -> tuple[int, float] | None:
        """The row index and the cell's left edge for a point inside the table."""
        if not (self.x0 - 0.5 <= x <= self.x1 + 0.5 and self.y0 - 0.5 <= y <= self.y1 + 0.5):
            return None
        row = next((r for r in range(len(self.ys) - 1) if y >= self.ys[r + 1]), None)
        if row is None:
            return None
        left = max(
            (
                vx
                for vx, vy0, vy1 in self.v
                if vx <= x + 0.5 and vy0 - RULE_TOL <= y <= vy1 + RULE_TOL
            ),
            default=self.x0,
        )
        return row, left


def _grids(rules: _Rules) -> list[_Grid]:
    """Connected sets of rules that form a table: two or more columns between vertical rules."""
    h, v = rules.h, rules.v
    parent = list(range(len(h) + len(v)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (y, hx0, hx1) in enumerate(h):
        for j, (x, vy0, vy1) in enumerate(v):
            if hx0 - RULE_TOL <= x <= hx1 + RULE_TOL and vy0 - RULE_TOL <= y <= vy1 + RULE_TOL:
                parent[find(i)] = find(len(h) + j)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(len(h)):
        groups.setdefault(find(i), ([], []))[0].append(i)
    for j in range(len(v)):
        groups.setdefault(find(len(h) + j), ([], []))[1].append(j)
    grids: list[_Grid] = []
    for hs, vs in groups.values():
        xs = _merge_positions([v[j][0] for j in vs])
        ys = _merge_positions([h[i][0] for i in hs])
        if len(xs) < 3 or len(ys) < 2:
            continue  # a box around text, or a line under a heading: not a table
        grids.append(
            _Grid(
                x0=xs[0],
                x1=xs[-1],
                y0=ys[0],
                y1=ys[-1],
                ys=ys[::-1],
                v=[v[j] for j in vs],
            )
        )
    return grids


def _read_tables(lines: list[_PLine], rules: _Rules) -> list[_PLine]:
    """Take the text inside ruled tables out of the page's lines; one stand-in line per table."""
    if len(rules.h) * len(rules.v) > 250_000:
        return lines
    grids = _grids(rules)
    if not grids:
        return lines
    cells: list[dict[tuple[int, float], list[_Frag]]] = [{} for _ in grids]
    first: dict[int, int] = {}  # grid -> index of the first line with text in it
    out: list[_PLine] = []
    trimmed: list[tuple[_PLine, list[_Frag]]] = []
    for ln in lines:
        keep: list[_Frag] = []
        taken = False
        for f in ln.frags:
            size = f.size or 10.0
            # A point inside the run's first character: its baseline sits just above a rule.
            px, py = f.x + 0.25 * size, f.y + 0.3 * size
            hit = None
            for g, grid in enumerate(grids):
                where = grid.cell(px, py)
                if where is not None:
                    hit = (g, where)
                    break
            if hit is None:
                keep.append(f)
                continue
            taken = True
            cells[hit[0]].setdefault(hit[1], []).append(f)
            if f.text.strip():
                first.setdefault(hit[0], len(out))
        if not taken:
            out.append(ln)
        elif any(f.text.strip() for f in keep):
            trimmed.append((ln, keep))  # changed only once the tables have been read
            out.append(ln)
    if not first:
        return lines
    page = lines[0].page
    inserts: list[tuple[int, int, _PLine]] = []
    for g, at in first.items():
        grid = grids[g]
        rows: list[list[str]] = []
        for r in range(len(grid.ys) - 1):
            lefts = sorted(
                left
                for (row, left), frags in cells[g].items()
                if row == r and any(f.text.strip() for f in frags)
            )
            if not lefts:
                continue
            edges = _merge_positions(
                [
                    vx
                    for vx, vy0, vy1 in grid.v
                    if vy0 - RULE_TOL <= (grid.ys[r] + grid.ys[r + 1]) / 2 <= vy1 + RULE_TOL
                ]
            )
            texts = [""] * max(1, len(edges) - 1)
            for left in lefts:
                col = max(0, min(len(texts) - 1, sum(1 for e in edges if e <= left + RULE_TOL) - 1))
                texts[col] = join_lines(texts[col], _cell_text(cells[g][(r, left)]))
            rows.append(texts)
        if not rows:
            continue
        table = _Table(page=page, columns=_merge_positions([vx for vx, _, _ in grid.v]), rows=rows)
        inserts.append((at, -grid.y1, _PLine(page=page, text="\ue000table\ue000", table=table)))
    for at, _, stand_in in sorted(inserts, key=lambda t: (t[0], t[1]), reverse=True):
        out.insert(at, stand_in)
    for ln, keep in trimmed:
        ln.frags = keep
        ln.finish()
    return out


def _cell_text(frags: list[_Frag]) -> str:
    """A cell's text: its lines top to bottom, each run left to right, wrapped lines joined."""
    rows: list[list[_Frag]] = []
    for f in sorted(frags, key=lambda f: -f.y):
        if rows and abs(rows[-1][0].y - f.y) <= 0.5 * (f.size or 10.0):
            rows[-1].append(f)
        else:
            rows.append([f])
    text = ""
    for row in rows:
        line = _PUA.sub("", _join_frags(sorted(row, key=lambda f: f.x))).strip()
        text = join_lines(text, despace_cjk(re.sub(r"[ \u00a0]{2,}", " ", line)))
    return text


def _join_split_tables(pages: list[list[_PLine]]) -> None:
    """A table running over a page break is one table: the continuation joins the table above.

    The continuation's repeated header row is dropped; a row split by the page break (its
    continuation has blank cells where the row above had text, and starts no new item) is
    joined back together.
    """
    last: _PLine | None = None
    for page in pages:
        visible = [ln for ln in page if ln.text.strip()]
        if not visible:
            continue
        top = visible[0]
        prev = last
        last = visible[-1] if visible[-1].table is not None else None
        if prev is None or top.table is None or prev.table is None or top.page != prev.page + 1:
            continue
        a, b = prev.table, top.table
        if len(a.columns) != len(b.columns) or any(
            abs(x - y) > RULE_TOL for x, y in zip(a.columns, b.columns, strict=True)
        ):
            continue
        rows = b.rows
        if rows and len(a.rows) > 1 and rows[0] == a.rows[0]:
            rows = rows[1:]
        if rows and a.rows and len(rows[0]) == len(a.rows[-1]):
            above, cont = a.rows[-1], rows[0]
            gaps = any(not c.strip() and t.strip() for c, t in zip(cont, above, strict=True))
            if gaps and not starts_block(cont[0].strip()):
                a.rows[-1] = [join_lines(t, c) for t, c in zip(above, cont, strict=True)]
                rows = rows[1:]
        a.rows.extend(rows)
        page.remove(top)
        if len(visible) == 1:
            last = prev  # the page held only the continuation: the table may go on further


def _expand_tables(blocks: list[Block], tables: dict[str, _Table]) -> list[Block]:
    """Replace each table's stand-in block with one table_row block per row, header first."""
    out: list[Block] = []
    number = 0
    for b in blocks:
        table = tables.get(b.text)
        if table is None:
            out.append(b)
            continue
        number += 1
        header: str | None = None
        for r, cells in enumerate(table.rows, start=1):
            while cells and not cells[-1].strip():
                cells = cells[:-1]
            text = " | ".join(c.strip() for c in cells).strip()
            if not text:
                continue
            out.append(
                Block(
                    kind="table_row",
                    text=text,
                    header=header,
                    location=Location(
                        page=table.page, section=b.location.section, table=number, row=r
                    ),
                )
            )
            if header is None:
                header = text
    return out


# --- pypdf's fonts --------------------------------------------------------------------------------

# pypdf decodes every font of a page (its widths and ToUnicode map) again on each page, which is a
# quarter of the extraction time of a long document whose pages share their fonts. While a PDF is
# parsed here, Font.from_font_resource returns the Font already built for the same font dictionary
# of the same document (pypdf only reads a Font during extraction, and sets its space width to
# the same value on every page). Elsewhere, and in other threads, it behaves as before.
_FONTS: ContextVar[dict[int, tuple[Any, Any]] | None] = ContextVar(
    "reviewer_pdf_fonts", default=None
)
_FONTS_LOCK = threading.Lock()


def _share_fonts_in_pypdf() -> bool:
    """Wrap pypdf's Font.from_font_resource once; False if this pypdf has no such method."""
    try:
        from pypdf.generic._font import Font  # not public API: without it, nothing is shared
    except ImportError:
        return False
    with _FONTS_LOCK:
        current = Font.__dict__.get("from_font_resource")
        if not isinstance(current, classmethod):
            return False
        if getattr(current.__func__, "_reviewer_shared", False):
            return True
        build = current.__func__

        @wraps(build)
        def from_font_resource(cls: Any, pdf_font_dict: Any) -> Any:
            fonts = _FONTS.get()
            if fonts is None or cls is not Font:
                return build(cls, pdf_font_dict)
            hit = fonts.get(id(pdf_font_dict))
            if hit is not None and hit[0] is pdf_font_dict:
                return hit[1]
            font = build(cls, pdf_font_dict)
            fonts[id(pdf_font_dict)] = (pdf_font_dict, font)  # the key object is kept alive
            return font

        from_font_resource._reviewer_shared = True  # type: ignore[attr-defined]
        Font.from_font_resource = classmethod(from_font_resource)  # type: ignore[method-assign]
        return True


@contextmanager
def _shared_fonts():
    """Fonts built once per document while the block runs (in this thread or task only)."""
    if not _share_fonts_in_pypdf():
        yield
        return
    token = _FONTS.set({})
    try:
        yield
    finally:
        _FONTS.reset(token)


# --- pypdf's logging ------------------------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.records.append(record)


_LOG_LOCK = threading.Lock()
_log_users = 0
_log_propagate = True


@contextmanager
def _pypdf_log():
    """Collect pypdf's warnings instead of letting them reach stderr."""
    global _log_users, _log_propagate
    logger = logging.getLogger("pypdf")
    handler = _Collect()
    with _LOG_LOCK:
        if _log_users == 0:
            _log_propagate = logger.propagate
            logger.propagate = False
        _log_users += 1
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        with _LOG_LOCK:
            logger.removeHandler(handler)
            _log_users -= 1
            if _log_users == 0:
                logger.propagate = _log_propagate
