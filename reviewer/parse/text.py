"""Markdown and plain text, plus the line-flow logic shared with the PDF parser.

Plain text and PDF both arrive as lines. `assemble` turns lines into blocks: it joins lines that
belong to one paragraph (no space between Japanese characters, a space between English words,
de-hyphenated), starts a new block at list markers, headings, sentence ends and blank lines, and
keeps the heading path so every block knows its section.
"""

from __future__ import annotations

import html
import re
import unicodedata
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache

from ..errors import ParseError
from ..models import Block, HiddenKind, HiddenText, Location


@dataclass
class Parsed:
    """What a format parser hands back: blocks in reading order, plus page count and warnings."""

    blocks: list[Block]
    pages: int | None = None
    warnings: list[str] = field(default_factory=list)
    hidden: list[HiddenText] = field(default_factory=list)  # text a reader cannot see


# --- characters -----------------------------------------------------------------------------------

# Japanese (and other CJK) characters and punctuation, including full-width forms: a line break
# between two of these is not a space.
_CJK_RANGES = (
    "\u2e80-\u2fdf"  # radicals
    "\u3000-\u303f"  # CJK symbols and punctuation 、。「」
    "\u3040-\u30ff"  # hiragana, katakana, ・ ー
    "\u31f0-\u31ff"  # katakana extensions
    "\u3200-\u32ff"  # enclosed CJK ㈱
    "\u3300-\u33ff"  # compatibility ㌔
    "\u3400-\u4dbf"  # ext A
    "\u4e00-\u9fff"  # unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\ufe30-\ufe4f"  # vertical forms
    "\uff00-\uffef"  # full-width and half-width forms
)
CJK = f"[{_CJK_RANGES}]"
_CJK_CHAR = re.compile(CJK)
_ALNUM = "[A-Za-z0-9]"
_CJK_SPACE_ALNUM = re.compile(rf"{CJK} {_ALNUM}|{_ALNUM} {CJK}")
_CJK_ALNUM = re.compile(rf"{CJK}{_ALNUM}|{_ALNUM}{CJK}")


# Compiled when first needed (PDF and plain text): large character classes cost milliseconds each
# at start-up, which a Markdown review does not need to pay.
@cache
def _spaced_cjk() -> re.Pattern[str]:
    return re.compile(rf"(?<={CJK}) (?={CJK})")


@cache
def _adjacent_cjk() -> re.Pattern[str]:
    return re.compile(rf"{CJK}(?={CJK})")


_SPACES = re.compile(r"[ \u00a0]{2,}")


def is_cjk(ch: str) -> bool:
    return bool(ch) and _CJK_CHAR.match(ch) is not None


class _WideChars(dict):
    """1 for an East Asian wide or full-width character, else 0; looked up once per character."""

    def __missing__(self, c: str) -> int:
        wide = self[c] = 1 if unicodedata.east_asian_width(c) in "WF" else 0
        return wide


_WIDE = _WideChars()


def display_width(text: str) -> int:
    """Columns a string takes in a monospaced rendering (East Asian wide characters count 2)."""
    return len(text) + sum(map(_WIDE.__getitem__, text))


def prefers_cjk_latin_space(text: str) -> bool:
    """Does this text space Japanese from Latin and digits ("生成 AI") or not ("生成AI")?"""
    return len(_CJK_SPACE_ALNUM.findall(text)) > len(_CJK_ALNUM.findall(text))


def despace_cjk(line: str) -> str:
    """Undo letter-spacing ("調 達 仕 様 書") when most CJK neighbours in the line are spaced."""
    if " " not in line:
        return line  # nothing spaced
    spaced = len(_spaced_cjk().findall(line))
    if spaced >= 3 and spaced > len(_adjacent_cjk().findall(line)):
        return _spaced_cjk().sub("", line)
    return line


def join_lines(
    left: str, right: str, *, cjk_latin_space: bool = False, dehyphenate: bool = True
) -> str:
    """Join two wrapped lines of one paragraph the way a reader would."""
    left = left.rstrip()
    right = right.lstrip()
    if not left:
        return right
    if not right:
        return left
    a, b = left[-1], right[0]
    if a == "-" and len(left) >= 2 and left[-2].islower() and b.islower():
        # "imple-\nmentation" -> "implementation"; "system-\ngenerated" keeps its hyphen when
        # the producer does not hyphenate (word processors leave it off by default).
        return (left[:-1] if dehyphenate else left) + right
    if is_cjk(a) and is_cjk(b):
        return left + right
    if (is_cjk(a) and b.isascii() and b.isalnum()) or (is_cjk(b) and a.isascii() and a.isalnum()):
        return left + (" " if cjk_latin_space else "") + right
    if is_cjk(a) or is_cjk(b):
        return left + right  # 「AI」 and similar: punctuation meets Latin
    return left + " " + right


# --- line classification --------------------------------------------------------------------------

_KANJI_NUM = "0-9０-９一二三四五六七八九十百〇零"
_CHAPTER = re.compile(rf"^第[{_KANJI_NUM}]+([章部編節条項款])")
_MULTI_NUM = re.compile(
    r"^[0-9０-９]{1,2}(?:[.．][0-9０-９]{1,2})+[.．]?(?=[\s\u3000]|" + CJK + ")"
)
_SINGLE_NUM = re.compile(r"^[0-9０-９]{1,2}[.．、](?![0-9０-９])")
_SQUARE = re.compile(r"^[■□◆◇▼▽◎]")
_BRACKET = re.compile(r"^【[^】]{1,40}】")
# Markers that start a new block (list items and headings).
_BULLET = re.compile(r"^(?:[・•●○◯▶▷►➢➤✓✔☐☑◦▪▫‣⁃]|[-*+‐−–—](?=[\s\u3000]))")
_ENUM = re.compile(
    r"^(?:"
    r"[(（][0-9０-９]{1,3}[)）]"  # (1)
    r"|[0-9０-９]{1,3}[)）]"  # 1)
    r"|[①-⑳㉑-㉟㊱-㊿⑴-⒇⒈-⒛㈠-㈩]"  # ① ⑴ ⒈ ㈠
    r"|[(（][a-zA-Zａ-ｚＡ-Ｚア-ンｱ-ﾝ一二三四五六七八九十][)）]"  # (a) (ア) (一)
    r"|[A-Za-zＡ-Ｚａ-ｚ][)）.．](?=[\s\u3000])"  # A) a.
    r"|[ア-ン](?=[\s\u3000])"  # ア 業務管理の実施
    r")"
)
_NOTE = re.compile(r"^(?:※|注[:：0-9０-９)）]|Note:)")
_SENTENCE_END = re.compile(r"[。．！？!?：:][」』）)\]】]*$")
_ASCII_PERIOD_END = re.compile(r"[.][\"'”’)\]]*$")
_CLAUSE_END = re.compile(r"[、，,;；]$")
# Table-of-contents entries: a dot leader and a page number.
TOC_LINE = re.compile(r"(?:[.．·・…‥_]\s?){4,}\s*[0-9０-９ivxIVX]+\s*$")

HEADING_MAX_WIDTH = 60  # display columns; a longer line is a sentence, not a heading


def heading_kind(text: str) -> tuple[str, int] | None:
    """The numbering style of a heading-like line and its depth, e.g. ("num", 2) for "2.3 目的"."""
    if m := _CHAPTER.match(text):
        unit = m.group(1)
        return ("chapter", {"部": 0, "編": 0, "章": 1, "節": 2}.get(unit, 3))
    if m := _MULTI_NUM.match(text):
        return ("num", 1 + len(re.findall(r"[.．](?=[0-9０-９])", m.group(0))))
    if _SINGLE_NUM.match(text):
        return ("num", 1)
    if _SQUARE.match(text):
        return ("square", 0)
    if _BRACKET.match(text):
        return ("bracket", 0)
    return None


def list_marker(text: str) -> bool:
    return bool(_BULLET.match(text) or _ENUM.match(text) or _SINGLE_NUM.match(text))


def starts_block(text: str) -> bool:
    """Does this line begin a new block whatever precedes it (list item, numbered heading)?"""
    return bool(
        _BULLET.match(text)
        or _ENUM.match(text)
        or _NOTE.match(text)
        or heading_kind(text)
        or TOC_LINE.search(text)
    )


def ends_paragraph(text: str, *, ascii_period: bool) -> bool:
    text = text.rstrip()
    return bool(_SENTENCE_END.search(text) or (ascii_period and _ASCII_PERIOD_END.search(text)))


def heading_like(text: str, max_width: int = HEADING_MAX_WIDTH) -> bool:
    """Short, no sentence-final or clause punctuation: could be a heading."""
    t = text.strip()
    # A character takes one or two columns: the length bounds the width, mostly without counting.
    n = len(t)
    return (
        0 < n <= max_width
        and (2 * n <= max_width or display_width(t) <= max_width)
        and not _SENTENCE_END.search(t)
        and not _ASCII_PERIOD_END.search(t)
        and not _CLAUSE_END.search(t)
        and not TOC_LINE.search(t)
    )


_PAGE_DIGITS = re.compile(r"[0-9０-９]+")
_ROMAN_PAGE = re.compile(r"^[ivxlc]+$", re.I)


def is_page_number(text: str) -> bool:
    """ "3", "- 3 -", "3 / 20", "Page 3 of 20", "3ページ", "iv"."""
    if _ROMAN_PAGE.match(text):
        return True
    rest = _PAGE_DIGITS.sub("", text)
    rest = re.sub(r"(?i)page|of|p\.|ページ|頁|[-–—/|()\s.,:]", "", rest)
    return bool(_PAGE_DIGITS.search(text)) and not rest


# --- assembling lines into blocks -----------------------------------------------------------------


@dataclass
class Line:
    """One physical line of text with what the format knows about it."""

    text: str
    page: int | None = None
    lineno: int | None = None
    style_level: int | None = None  # PDF: heading level from the font
    break_after: bool = False  # layout says the paragraph ends after this line
    lost_marker: bool = False  # PDF: a list bullet or number that did not extract


@dataclass
class _Pending:
    lines: list[Line] = field(default_factory=list)
    kind: str = "paragraph"
    hkind: tuple[str, int] | None = None  # heading numbering kind
    level: int | None = None


class HeadingLevels:
    """Levels for pattern headings: numbering depth orders them, symbols slot in where first seen.

    "第1章" is above "1." which is above "1.1"; a "■ heading" or a bare title takes the level
    just below the last numbered heading seen before its first use (or the top, if none).
    """

    _ORDER = {"chapter": 0.0, "num": 10.0}

    def __init__(self, kinds: list[tuple[str, int]]):
        keys: dict[tuple[str, int], float] = {}
        last = -1.0
        for kind, depth in kinds:
            key = (kind, depth)
            if kind in self._ORDER:
                last = self._ORDER[kind] + depth
                keys.setdefault(key, last)
            elif key not in keys:
                keys[key] = last + 0.5
        ranked = sorted(set(keys.values()))
        self._levels = {k: ranked.index(v) + 1 for k, v in keys.items()}

    def level(self, kind: tuple[str, int]) -> int:
        return self._levels.get(kind, 1)


def assemble(
    lines: list[Line],
    *,
    ascii_period_ends: bool,
    pattern_headings: bool,
    isolated_headings: bool = False,
    cjk_latin_space: bool = False,
    dehyphenate: bool = True,
) -> list[Block]:
    """Group lines into blocks with kinds, heading levels and heading paths."""
    pendings: list[_Pending] = []
    cur: _Pending | None = None
    n = len(lines)

    def blank(i: int) -> bool:
        return i < 0 or i >= n or not lines[i].text.strip()

    def same_marker_neighbour(i: int, kind: tuple[str, int]) -> bool:
        """Is this "1." or "■" line part of a run of such lines (a list)?"""
        mine = _leading_number(lines[i].text.strip())
        for j, step in ((i - 1, -1), (i + 1, 1)):
            other = lines[j].text.strip() if not blank(j) else ""
            if not other or heading_kind(other) != kind:
                continue
            theirs = _leading_number(other)
            if mine is None or theirs is None or theirs == mine + step:
                return True
        return False

    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text:
            cur = None
            continue
        if TOC_LINE.search(text):
            cur = None
            pendings.append(_Pending([line], kind="toc"))
            continue
        kind = "paragraph"
        hkind: tuple[str, int] | None = None
        level: int | None = None
        # A full-width space at the start of a line is a Japanese paragraph indent.
        indented = line.text.startswith("\u3000")
        new_block = cur is None or line.lost_marker or indented or starts_block(text)
        if line.style_level is not None:
            kind, level, new_block = "heading", line.style_level, True
        elif pattern_headings and heading_like(text):
            hk = heading_kind(text)
            if hk and hk[0] in ("num", "square") and hk[1] <= 1 and same_marker_neighbour(i, hk):
                hk = None  # a run of "1." or "■" lines is a list, not a series of headings
            if hk:
                kind, hkind = "heading", hk
            elif (
                isolated_headings and blank(i - 1) and blank(i + 1) and _followed_by_text(lines, i)
            ):
                kind, hkind = "heading", ("plain", 0)
            if kind == "heading":
                new_block = True
        if kind == "paragraph" and (list_marker(text) or line.lost_marker):
            kind = "list_item"
        if cur is not None and cur.kind in ("heading", "toc"):
            # A heading wrapped over two lines in the same font is one heading.
            continued = (
                cur.kind == "heading"
                and line.style_level is not None
                and line.style_level == cur.level
                and lines[i - 1] is cur.lines[-1]
                and not starts_block(text)
                and not ends_paragraph(cur.lines[-1].text, ascii_period=True)
            )
            if continued:
                cur.lines.append(line)
                continue
            new_block = True
        if cur is not None and not new_block:
            prev = cur.lines[-1]
            if prev.break_after or ends_paragraph(prev.text, ascii_period=ascii_period_ends):
                new_block = True
        if new_block or cur is None:
            cur = _Pending([line], kind=kind, hkind=hkind, level=level)
            pendings.append(cur)
        else:
            cur.lines.append(line)

    levels = HeadingLevels([p.hkind for p in pendings if p.hkind])
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    for p in pendings:
        if p.kind == "toc":
            continue
        text = p.lines[0].text.strip()
        for ln in p.lines[1:]:
            text = join_lines(
                text, ln.text.strip(), cjk_latin_space=cjk_latin_space, dehyphenate=dehyphenate
            )
        text = _SPACES.sub(" ", text).strip()
        if not text:
            continue
        level = p.level
        if p.kind == "heading" and level is None and p.hkind is not None:
            level = levels.level(p.hkind)
        if p.kind == "heading" and level is not None:
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, text))
        first = p.lines[0]
        loc = Location(page=first.page, line=first.lineno, section=[t for _, t in path])
        blocks.append(
            Block(
                kind=p.kind, text=text, location=loc, level=level if p.kind == "heading" else None
            )  # type: ignore[arg-type]
        )
    return blocks


def _leading_number(text: str) -> int | None:
    m = re.match(r"[0-9０-９]+", text)
    return int(unicodedata.normalize("NFKC", m.group(0))) if m else None


def _followed_by_text(lines: list[Line], i: int) -> bool:
    """An isolated short line is a heading when a paragraph or a numbered heading follows it."""
    head = lines[i].text.strip()
    if display_width(head) > 44 or list_marker(head) or head[-1:].isdigit():
        return False
    for ln in lines[i + 1 :]:
        t = ln.text.strip()
        if t:
            return (
                ends_paragraph(t, ascii_period=True)
                or display_width(t) > 2 * display_width(head)
                or (heading_kind(t) is not None and heading_like(t))
            )
    return False


def count_tocs(lines: list[Line]) -> int:
    return sum(1 for ln in lines if TOC_LINE.search(ln.text.strip()))


# --- decoding -------------------------------------------------------------------------------------

_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def decode(data: bytes, name: str) -> tuple[str, str | None]:
    """Decoded text, and the encoding used when it was not UTF-8 (UTF-16 BOM, CP932, EUC-JP)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    candidates = []
    for codec, label in (("cp932", "CP932 (Shift_JIS)"), ("euc_jp", "EUC-JP")):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        non_ascii = sum(1 for c in text if ord(c) > 127) or 1
        # Text in another encoding often "decodes" as CP932 into a soup of half-width katakana
        # or private-use characters.
        odd = len(_HALFWIDTH_KANA.findall(text)) + len(_PRIVATE_USE.findall(text))
        candidates.append((odd / non_ascii, text, label))
    candidates.sort(key=lambda c: c[0])
    if candidates and candidates[0][0] < 0.3:
        return candidates[0][1], candidates[0][2]
    raise ParseError(
        name, "text is neither UTF-8 nor Shift_JIS/CP932; re-save the file as UTF-8 and try again"
    )


# --- plain text -----------------------------------------------------------------------------------


def parse_plain(text: str) -> list[Block]:
    """Plain text: paragraphs separated by blank lines, wrapped lines joined, headings guessed."""
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [Line(text=despace_cjk(t.rstrip()), lineno=i + 1) for i, t in enumerate(raw)]
    _mark_wrapped(lines)
    return assemble(
        lines,
        ascii_period_ends=True,
        pattern_headings=True,
        isolated_headings=True,
        cjk_latin_space=prefers_cjk_latin_space(text),
    )


def _mark_wrapped(lines: list[Line]) -> None:
    """A line clearly shorter than the file's wrap width ends its paragraph."""
    widths = sorted(display_width(ln.text.strip()) for ln in lines if ln.text.strip())
    if not widths:
        return
    wrap = widths[int(len(widths) * 0.9) - 1 if len(widths) > 1 else 0]
    for i, ln in enumerate(lines):
        t = ln.text.strip()
        if not t or i + 1 >= len(lines):
            continue
        nxt = lines[i + 1].text.strip()
        # Japanese wraps anywhere; English wraps when the next word does not fit.
        slack = 4 if is_cjk(t[-1]) else (display_width(nxt.split(" ")[0]) + 1 if nxt else 1)
        if display_width(t) + slack <= wrap:
            ln.break_after = True


# --- Markdown -------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:.*\n){0,200}?(?:---|\.\.\.)[ \t]*(?:\n|\Z)")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HTML_TAG = re.compile(r"<[^>]*>")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.I)
# Raw HTML a Markdown viewer does not show: comments, elements hidden by the `hidden` attribute or
# by their style, and the contents of script, style and template elements. A reference definition
# pointing nowhere ("[//]: # (note)") is the Markdown idiom for a comment.
_OPEN_TAG = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*(/?)>"
)
_ATTR = re.compile(r"([^\s=/]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    r"|(?:font-size|opacity)\s*:\s*0+(?:\.0+)?(?:[a-z%]+)?\s*(?:;|!|$)",
    re.I,
)
_UNSHOWN = frozenset(("script", "style", "template"))
_REF_COMMENT = re.compile(
    r"^ {0,3}\[[^\]\n]+\]:[ \t]*(?:<>|#)[ \t]+(?:\"([^\"\n]*)\"|'([^'\n]*)'|\(([^)\n]*)\))[ \t]*$",
    re.M,
)
# (kind, text, lines below the token's first line) of hidden text found in one token
_Found = list[tuple[HiddenKind, str, int]]


def looks_like_markdown(text: str) -> bool:
    """ATX headings, pipe tables or fenced code: clearly Markdown rather than plain text."""
    sample = text[:200_000]
    atx = len(re.findall(r"(?m)^#{1,6}[ \t]+\S", sample))
    table = re.search(
        r"(?m)^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$", sample
    )
    fences = len(re.findall(r"(?m)^ {0,3}```", sample))
    return atx >= 2 or bool(table) or (atx >= 1 and fences >= 2)


def preload() -> None:
    """Import markdown-it now (the sandbox calls this before forking, so each child need not)."""
    with suppress(ImportError):
        import markdown_it  # noqa: F401


def parse_markdown(text: str, hidden: list[HiddenText] | None = None) -> list[Block]:
    """CommonMark + GFM tables: headings, paragraphs, list items, table rows, code.

    Comments and hidden raw HTML are left out of the blocks; with `hidden`, they are added to it.
    """
    from markdown_it import MarkdownIt

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if m := _FRONT_MATTER.match(text):  # YAML front matter: metadata, not content
        text = "\n" * m.group(0).count("\n") + text[m.end() :]
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = md.parse(text)
    space = prefers_cjk_latin_space(text)

    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    list_depth = 0
    ordered: list[bool] = []
    table_no = 0
    row_no = 0
    header: str | None = None
    cells: list[str] = []
    row_line: int | None = None
    pending_prefix = ""

    def section() -> list[str]:
        return [t for _, t in path]

    found: _Found = []
    concealed: str | None = None  # a hiding HTML element an HTML block left open
    shown_lines: list[tuple[int, int]] = []  # lines some block shows (not reference definitions)

    def keep(line: int | None, **where: int) -> None:
        """Record the hidden text found in the token that starts at `line`."""
        if hidden is not None:
            for kind, content, offset in found:
                if content.strip():
                    at = Location(line=None if line is None else line + offset, section=section())
                    hidden.append(
                        HiddenText(kind=kind, text=content, location=at.model_copy(update=where))
                    )
        found.clear()

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        t = tok.type
        line = tok.map[0] + 1 if tok.map else None
        if tok.map and t in _SHOWN:
            shown_lines.append((tok.map[0], tok.map[1]))
        if concealed is not None and t in _CONCEALED:
            # Inside a hidden HTML element that an earlier HTML block left open.
            if t == "inline":
                found.append(("vanish", _inline_text(tok, space, found), 0))
                keep(row_line, table=table_no, row=row_no + 1)
            elif t in ("heading_open", "paragraph_open"):
                found.append(("vanish", _inline_text(tokens[i + 1], space, found), 0))
                keep(line)
                i += 2
            else:
                found.append(("vanish", tok.content, 0))
                keep(line)
            i += 1
            continue
        if t == "heading_open":
            inline = tokens[i + 1]
            content = _inline_text(inline, space, found)
            level = int(tok.tag[1])
            if content:
                while path and path[-1][0] >= level:
                    path.pop()
                path.append((level, content))
                blocks.append(
                    Block(
                        kind="heading",
                        text=content,
                        level=level,
                        location=Location(line=line, section=section()),
                    )
                )
            keep(line)
            i += 3
            continue
        if t in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
            ordered.append(t == "ordered_list_open")
        elif t in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            ordered.pop()
        elif t == "list_item_open":
            pending_prefix = (
                f"{tok.info}{tok.markup} " if ordered and ordered[-1] and tok.info else ""
            )
        elif t == "paragraph_open":
            inline = tokens[i + 1]
            content = _inline_text(inline, space, found)
            keep(line)
            if content:
                kind = "list_item" if list_depth else "paragraph"
                if pending_prefix:
                    content = pending_prefix + content
                blocks.append(
                    Block(kind=kind, text=content, location=Location(line=line, section=section()))
                )
            pending_prefix = ""
            i += 3
            continue
        elif t in ("fence", "code_block"):
            content = tok.content.strip("\n")
            if content.strip():
                blocks.append(
                    Block(
                        kind="code",
                        text=content.strip(),
                        location=Location(line=line, section=section()),
                    )
                )
        elif t == "html_block":
            shown, concealed = _hide_html(tok.content, found, concealed)
            content = _html_text(shown)
            keep(line)
            if content:
                kind = "list_item" if list_depth else "paragraph"
                blocks.append(
                    Block(kind=kind, text=content, location=Location(line=line, section=section()))
                )
        elif t == "table_open":
            table_no += 1
            row_no = 0
            header = None
        elif t == "tr_open":
            cells = []
            row_line = line
        elif t == "inline" and tokens[i - 1].type in ("th_open", "td_open"):
            cells.append(_inline_text(tok, space, found))
            keep(row_line, table=table_no, row=row_no + 1)
        elif t == "tr_close":
            row_no += 1
            row_text = " | ".join(cells).strip()
            if any(c.strip() for c in cells):
                blocks.append(
                    Block(
                        kind="table_row",
                        text=row_text,
                        header=header if header is not None and row_no > 1 else None,
                        location=Location(
                            line=row_line, section=section(), table=table_no, row=row_no
                        ),
                    )
                )
                if header is None:
                    header = row_text
        i += 1
    if hidden is not None and _REF_COMMENT.search(text):
        _reference_comments(text, shown_lines, blocks, hidden)
    return blocks


# Tokens whose text a hiding HTML element left open by an earlier block hides (table cells'
# "inline" tokens included; a heading's or paragraph's inline token is read with it).
_CONCEALED = frozenset(("heading_open", "paragraph_open", "fence", "code_block", "inline"))
# Block tokens whose lines a reader sees (a reference definition's lines belong to none).
_SHOWN = frozenset(
    ("paragraph_open", "heading_open", "fence", "code_block", "html_block", "table_open", "hr")
)


def _reference_comments(
    text: str, shown: list[tuple[int, int]], blocks: list[Block], hidden: list[HiddenText]
) -> None:
    """'[//]: # (note)' lines, which no block shows, as comments, in line order."""
    for m in _REF_COMMENT.finditer(text):
        index = text.count("\n", 0, m.start())
        if any(a <= index < b for a, b in shown):
            continue
        note = next(g for g in m.groups() if g is not None)
        before = [b for b in blocks if (b.location.line or 0) <= index + 1]
        section = list(before[-1].location.section) if before else []
        hidden.append(
            HiddenText(
                kind="comment", text=note, location=Location(line=index + 1, section=section)
            )
        )
    hidden.sort(key=lambda h: h.location.line or 0)


def _hide_html(source: str, found: _Found, concealed: str | None) -> tuple[str, str | None]:
    """An HTML block without what a viewer hides; that, and the block's comments, go to `found`.

    `concealed` names a hiding element an earlier block opened and left open: the block is hidden
    up to its closing tag. Returns the shown HTML and the hiding element still open, if any.
    """
    comments = [m.span() for m in _HTML_COMMENT.finditer(source)]
    out: list[str] = []
    at = pos = 0
    if concealed is not None:
        close = _closing(source, concealed, 0)
        inner_end, at = close if close else (len(source), len(source))
        found.append(("vanish", _html_text(source[:inner_end]), 0))
        if close is None:
            return "", concealed
        concealed, pos = None, at
    while (m := _OPEN_TAG.search(source, pos)) is not None:
        pos = m.end()
        name = m.group(1).lower()
        if (
            m.group(3)
            or any(a <= m.start() < b for a, b in comments)
            or not _hides(name, m.group(2))
        ):
            continue
        close = _closing(source, name, m.end())
        inner_end, end = close if close else (len(source), len(source))
        inner = source[m.end() : inner_end]
        content = inner.strip() if name in _UNSHOWN else _html_text(inner)
        found.append(("vanish", content, source.count("\n", 0, m.start())))
        out.append(source[at : m.start()])
        at = pos = end
        if close is None:  # open past this block: what follows is hidden too
            concealed = name
    out.append(source[at:])
    kept = "".join(out)
    for m in _HTML_COMMENT.finditer(kept):
        found.append(("comment", m.group()[4:-3], kept.count("\n", 0, m.start())))
    return kept, concealed


def _hides(name: str, attrs: str) -> bool:
    """Does this opening tag hide its content (hidden, display:none... or script/style)?"""
    if name in _UNSHOWN:
        return True
    for m in _ATTR.finditer(attrs):
        key = m.group(1).lower()
        if key == "hidden":
            return True
        if key == "style" and m.group(2) and _HIDING_STYLE.search(m.group(2).strip("\"'")):
            return True
    return False


def _closing(source: str, name: str, start: int) -> tuple[int, int] | None:
    """Where the element opened before `start` ends: (its closing tag's start, its end)."""
    tags = re.compile(rf"<(/?){re.escape(name)}(?=[\s/>])[^>]*>", re.I)
    depth = 1
    for m in tags.finditer(source, start):
        if m.group(1):
            depth -= 1
            if depth == 0:
                return m.start(), m.end()
        elif not m.group().endswith("/>"):
            depth += 1
    return None  # not closed in this source


def _inline_text(inline, cjk_latin_space: bool, found: _Found | None = None) -> str:  # noqa: ANN001
    """Visible text of an inline token: emphasis and links unwrapped, HTML comments dropped.

    Comments and the text of hidden inline HTML go to `found` with their line offset.
    """
    out: list[str] = []
    hiding: str | None = None  # the hidden element being read, and how deep in it
    depth = 0
    hid: list[str] = []
    lines = at = 0
    for child in inline.children or []:
        ct = child.type
        if ct == "html_inline" and found is not None:
            content = child.content
            if content.startswith("<!--"):
                found.append(("comment", content[4:].removesuffix("-->"), lines))
                continue
            tag = _OPEN_TAG.fullmatch(content.strip())
            if (
                hiding is None
                and tag
                and not tag.group(3)
                and _hides(tag.group(1).lower(), tag.group(2))
            ):
                hiding, depth, hid, at = tag.group(1).lower(), 1, [], lines
                continue
            if hiding is not None:
                if tag and tag.group(1).lower() == hiding and not tag.group(3):
                    depth += 1
                elif re.fullmatch(rf"</{re.escape(hiding)}\s*>", content.strip(), re.I):
                    depth -= 1
                    if depth == 0:
                        found.append(("vanish", "".join(hid), at))
                        hiding = None
                continue
        if hiding is not None:
            if ct in ("text", "code_inline"):
                hid.append(child.content)
            elif ct in ("softbreak", "hardbreak"):
                hid.append("\n")
                lines += 1
            continue
        if ct in ("text", "code_inline"):
            out.append(child.content)
        elif ct == "softbreak":
            out.append("\n")
            lines += 1
        elif ct == "hardbreak":
            out.append("\u2028")  # kept as a real line break below
            lines += 1
        elif ct == "html_inline" and _HTML_BREAK.fullmatch(child.content.strip()):
            out.append("\u2028")
        elif ct == "image" and found is not None and child.content.strip():
            # An image's alt text is not on the page: reported (it may address a reviewing AI),
            # never credited.
            found.append(("alt_text", child.content, lines))
        # other inline HTML (tags, comments) is markup
    if hiding is not None and found is not None:  # never closed: hidden to the end
        found.append(("vanish", "".join(hid), at))
    text = "".join(out)
    parts = text.split("\n")
    joined = parts[0]
    for part in parts[1:]:
        joined = join_lines(joined, part, cjk_latin_space=cjk_latin_space)
    return _SPACES.sub(" ", joined).replace("\u2028", "\n").strip()


def _html_text(source: str) -> str:
    """Visible text of an HTML block: comments removed, tags stripped."""
    text = _HTML_COMMENT.sub("", source)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    return "\n".join(ln.strip() for ln in html.unescape(text).splitlines() if ln.strip())
