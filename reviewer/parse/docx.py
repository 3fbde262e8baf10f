"""DOCX: python-docx opens the package; the XML is walked here so no visible text is missed.

python-docx's own paragraph and table API skips content controls, text boxes, fields, tracked
changes, nested tables and notes, and repeats merged cells. So the body's elements are walked in
document order, and headers, footers, footnotes, endnotes and comments are read from their parts
through the package relationships. Nothing external is fetched; the XML parser neither resolves
entities nor loads DTDs.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from .. import config
from ..errors import ParseError
from ..models import Block, HiddenKind, HiddenText, Location, Part
from .text import Parsed, heading_kind, heading_like, is_page_number

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
M_NS = "http://schemas.openxmlformats.org/officeDocument/2006/math"
WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
V_NS = "urn:schemas-microsoft-com:vml"
O_NS = "urn:schemas-microsoft-com:office:office"
W = f"{{{W_NS}}}"
MC = f"{{{MC_NS}}}"
R = f"{{{R_NS}}}"
M = f"{{{M_NS}}}"
WP = f"{{{WP_NS}}}"
A = f"{{{A_NS}}}"
WPS = f"{{{WPS_NS}}}"
V = f"{{{V_NS}}}"

_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
RT_STYLES = _RT + "styles"
RT_NUMBERING = _RT + "numbering"
RT_FOOTNOTES = _RT + "footnotes"
RT_ENDNOTES = _RT + "endnotes"
RT_COMMENTS = _RT + "comments"

# A DOCX may expand far beyond its zipped size; refuse zip bombs before reading any part: the
# total unzipped size is capped, and so is one part's compression ratio (Word's XML compresses
# about 10:1; a bomb's filler, a thousand to one).
UNZIPPED_LIMIT_FACTOR = 4
MAX_RATIO = 200
RATIO_CHECKED_FROM = 10 * 1024 * 1024  # bytes unzipped; small parts may compress as they like

_HEADING_NAME = re.compile(r"^(?:heading|見出し)\s*([1-9])$")
_TITLE_NAMES = {"title", "表題", "タイトル"}
_TOC_NAME = re.compile(r"^(?:toc|目次)\s*[1-9]$|^table of figures$|^図表目次$")
_LIST_NAME = re.compile(r"list|箇条書き|リスト|段落番号")
_NOTE_SKIP = {"separator", "continuationSeparator", "continuationNotice"}
# Fields whose cached result is a page number, not text: PAGE, NUMPAGES, SECTIONPAGES.
_PAGE_FIELD = re.compile(r"\s*(?:PAGE|NUMPAGES|SECTIONPAGES)\b", re.I)


def _on(el: Any, attr: str = "val") -> bool:
    """A w:b / w:vanish style toggle: present and not switched off."""
    if el is None:
        return False
    return el.get(W + attr, "true") not in ("0", "false", "off")


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# --- what a reader can see ------------------------------------------------------------------------
#
# A run is hidden from a reader when Word's `vanish` is on (directly, through its character style
# or its paragraph style's chain, or the document defaults), when its font is 2 pt or smaller, or
# when its colour is (nearly) the colour behind it: its own highlight or shading, the paragraph's,
# the table cell's, a text box's fill, shapes placed behind the text, or the page colour. A text
# box placed wholly off the page, or a drawing marked hidden, hides everything in it. Where what is
# behind the text cannot be known (a picture, a gradient, a theme colour with modifiers), the text
# counts as visible: only text that is certainly unreadable is taken out of the blocks.

TINY_HALF_POINTS = 4  # w:sz counts half-points: 2 pt or smaller cannot be read
NEAR_COLOUR = 24  # per RGB channel: a text colour this close to what is behind it is not seen
EMU_PER_TWIP = 635
CLEAR = ""  # a transparent surface: what is below shows through
UNKNOWN = "?"  # a surface whose colour cannot be told (picture, gradient, modified theme colour)

# What is behind a run: the colours it may be drawn on ("RRGGBB"), or None when unknown. Text is
# unreadable only when it is close to every one of them.
_Back = frozenset[str] | None

_HEX = re.compile(r"[0-9A-Fa-f]{6}")
_HIGHLIGHT = {
    "black": "000000",
    "blue": "0000FF",
    "cyan": "00FFFF",
    "green": "00FF00",
    "magenta": "FF00FF",
    "red": "FF0000",
    "yellow": "FFFF00",
    "white": "FFFFFF",
    "darkBlue": "000080",
    "darkCyan": "008080",
    "darkGreen": "008000",
    "darkMagenta": "800080",
    "darkRed": "800000",
    "darkYellow": "808000",
    "darkGray": "808080",
    "lightGray": "C0C0C0",
}
_NAMED = {"white": "FFFFFF", "black": "000000", "window": "FFFFFF", "silver": "C0C0C0"}
_SCHEME = {"bg1": "FFFFFF", "lt1": "FFFFFF", "tx1": "000000", "dk1": "000000"}


def _hex(value: str | None) -> str | None:
    """'FFFFFF' for a hex colour; None for 'auto' and anything unreadable."""
    if value and _HEX.fullmatch(value.strip()):
        return value.strip().upper()
    return None


def _near(a: str, b: str) -> bool:
    return all(abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16)) <= NEAR_COLOUR for i in (0, 2, 4))


def _over(back: _Back, surface: str) -> _Back:
    """What is behind text once a surface is laid over `back`."""
    if surface == CLEAR:
        return back
    if surface == UNKNOWN:
        return None
    return frozenset((surface,))


def _among(back: _Back, surfaces: list[str]) -> _Back:
    """`back`, or any of these surfaces (shapes that may lie under the text)."""
    if back is None or UNKNOWN in surfaces:
        return None
    extra = [s for s in surfaces if s != CLEAR]
    return back | frozenset(extra) if extra else back


def _shd(shd: Any) -> str:
    """The surface a w:shd paints: its fill for clear shading, its colour for solid."""
    val = shd.get(W + "val") or "clear"
    if val == "nil":
        return CLEAR
    if val == "clear":
        fill = shd.get(W + "fill")
        if fill is None or fill == "auto":
            return CLEAR
        return _hex(fill) or UNKNOWN
    if val == "solid":
        return _hex(shd.get(W + "color")) or UNKNOWN
    return UNKNOWN  # a pattern mixes two colours


def _rpr_look(rpr: Any | None) -> tuple[dict[str, Any], str | None]:
    """The run properties that decide visibility, and the character style, of one w:rPr."""
    look: dict[str, Any] = {}
    style = None
    if rpr is None:
        return look, style
    for el in rpr:
        tag = el.tag
        if tag == W + "rStyle":
            style = el.get(W + "val")
        elif tag == W + "color":
            look["color"] = _hex(el.get(W + "val"))  # None: automatic, always readable
        elif tag == W + "sz" or tag == W + "szCs":
            value = el.get(W + "val")
            if value is not None:
                look[tag[len(W) :]] = _int(value, 24)
        elif tag in (W + "vanish", W + "cs", W + "rtl"):
            look[tag[len(W) :]] = _on(el)
        elif tag == W + "shd":
            look["shd"] = _shd(el)
        elif tag == W + "highlight":
            name = el.get(W + "val") or "none"
            look["highlight"] = CLEAR if name == "none" else _HIGHLIGHT.get(name, UNKNOWN)
    return look, style


def _hidden_by(look: dict[str, Any], back: _Back) -> HiddenKind | None:
    """Why a run with these properties, drawn on `back`, cannot be read (None: it can)."""
    if look.get("vanish"):
        return "vanish"
    size = look.get("sz")
    if look.get("cs") or look.get("rtl"):
        size = look.get("szCs", size)
    if size is not None and size <= TINY_HALF_POINTS:
        return "tiny_font"
    colour = look.get("color")
    if colour is None:
        return None
    if "shd" in look:
        back = _over(back, look["shd"])
    if "highlight" in look:
        back = _over(back, look["highlight"])
    if back and all(_near(colour, b) for b in back):
        return "white_text"
    return None


def _alt_texts(p: Any) -> list[str]:
    """Alt text (description and title) of the drawings and VML shapes in this paragraph itself
    (not those in a text box inside it, which has paragraphs of its own)."""
    out: list[str] = []
    for el in p.iter(WP + "docPr", *_VML_SHAPES, V + "imagedata"):
        if _inside(el, p):
            continue
        for value in (el.get("descr"), el.get("title"), el.get("alt"), el.get(f"{{{O_NS}}}title")):
            if value and value.strip() and value.strip() not in out:
                out.append(value.strip())
    return out


def _inside(el: Any, p: Any) -> bool:
    """Is `el` below a text box that is itself below paragraph `p`?"""
    for a in el.iterancestors():
        if a is p:
            return False
        if a.tag == W + "txbxContent":
            return True
    return False


def _drawing_colour(fill: Any) -> str:
    """The colour of an a:solidFill (or a:fillRef), when it can be told without the theme."""
    for el in fill:
        if len(el):  # lumMod, alpha, tint...: the colour is modified
            return UNKNOWN
        val = el.get("val")
        if el.tag == A + "srgbClr":
            return _hex(val) or UNKNOWN
        if el.tag == A + "schemeClr":
            return _SCHEME.get(val or "", UNKNOWN)
        if el.tag == A + "prstClr":
            return _NAMED.get(val or "", UNKNOWN)
        if el.tag == A + "sysClr":
            return _hex(el.get("lastClr")) or UNKNOWN
        return UNKNOWN
    return UNKNOWN


def _vml_colour(value: str | None) -> str:
    if not value:
        return "FFFFFF"  # VML fills white unless told otherwise
    value = value.strip().split()[0]
    if value.startswith("#"):
        digits = value[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return _hex(digits) or UNKNOWN
    return _NAMED.get(value.lower(), UNKNOWN)


def _shape_fill(shape: Any) -> str:
    """The surface a shape (wps:wsp or a VML shape) paints under its text."""
    if shape.tag == WPS + "wsp":
        sppr = shape.find(WPS + "spPr")
        if sppr is not None:
            for el in sppr:
                if el.tag == A + "noFill":
                    return CLEAR
                if el.tag == A + "solidFill":
                    return _drawing_colour(el)
                if el.tag in (A + "gradFill", A + "blipFill", A + "pattFill", A + "grpFill"):
                    return UNKNOWN
        style = shape.find(WPS + "style")
        ref = style.find(A + "fillRef") if style is not None else None
        if ref is None or ref.get("idx") in (None, "0"):
            return CLEAR
        return _drawing_colour(ref)
    if shape.get("filled", "t").lower() in ("f", "false"):
        return CLEAR
    fill = shape.find(V + "fill")
    if fill is not None:
        if fill.get("on", "t").lower() in ("f", "false"):
            return CLEAR
        if fill.get("type") not in (None, "solid"):
            return UNKNOWN
    return _vml_colour(shape.get("fillcolor"))


def _anchor_fill(anchor: Any) -> str:
    """What a floating drawing paints: its shapes' fill, or unknown for pictures and charts."""
    found = CLEAR
    data = anchor.find(f"{A}graphic/{A}graphicData")
    if data is None:
        return CLEAR
    shapes = list(data.iter(WPS + "wsp"))
    if not shapes:
        return UNKNOWN  # a picture, chart, SmartArt...
    for shape in shapes:
        fill = _shape_fill(shape)
        if fill == UNKNOWN or (fill != CLEAR and found not in (CLEAR, fill)):
            return UNKNOWN
        if fill != CLEAR:
            found = fill
    return found


def _in_fallback(el: Any) -> bool:
    return any(a.tag == MC + "Fallback" for a in el.iterancestors())


_VML_SHAPES = (V + "shape", V + "rect", V + "roundrect", V + "oval", V + "image", V + "group")
_VML_STYLE = re.compile(r"\s*([a-z-]+)\s*:\s*([^;]*)")
_VML_LENGTH = re.compile(r"(-?[0-9.]+)\s*(pt|in|cm|mm|px|emu)?$")
_EMU_PER = {"pt": 12700, "in": 914400, "cm": 360000, "mm": 36000, "px": 9525, "emu": 1}


def _vml_style(shape: Any) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2).strip()
        for m in _VML_STYLE.finditer(shape.get("style") or "")
    }


def _vml_emu(value: str | None) -> int | None:
    m = _VML_LENGTH.match((value or "").strip().lower())
    if m is None:
        return None
    try:
        return round(float(m.group(1)) * _EMU_PER[m.group(2) or "px"])
    except ValueError:
        return None


def _floating(root: Any) -> tuple[list[str], list[str]]:
    """Surfaces of a part's floating drawings: those behind the text, and all of them."""
    behind: list[str] = []
    every: list[str] = []
    for anchor in root.iter(WP + "anchor"):
        if _in_fallback(anchor):
            continue
        fill = _anchor_fill(anchor)
        every.append(fill)
        if anchor.get("behindDoc") in ("1", "true", "on"):
            behind.append(fill)
    for shape in root.iter(*_VML_SHAPES):
        if _in_fallback(shape) or any(a.tag in _VML_SHAPES for a in shape.iterancestors()):
            continue
        style = _vml_style(shape)
        if style.get("position") != "absolute":
            continue
        fill = UNKNOWN if shape.find(f".//{V}imagedata") is not None else _shape_fill(shape)
        every.append(fill)
        if style.get("z-index", "").startswith("-"):
            behind.append(fill)
    return behind, every


@dataclass
class _Page:
    """The page in EMU (the largest of the document's sections) and its margins' ranges."""

    width: int = 12240 * EMU_PER_TWIP
    height: int = 16838 * EMU_PER_TWIP
    left: tuple[int, int] = (1440 * EMU_PER_TWIP, 1440 * EMU_PER_TWIP)
    right: tuple[int, int] = (1440 * EMU_PER_TWIP, 1440 * EMU_PER_TWIP)
    top: tuple[int, int] = (1440 * EMU_PER_TWIP, 1440 * EMU_PER_TWIP)
    bottom: tuple[int, int] = (1440 * EMU_PER_TWIP, 1440 * EMU_PER_TWIP)

    @classmethod
    def of(cls, body: Any) -> _Page:
        sizes: list[tuple[int, int]] = []
        margins: dict[str, list[int]] = {"left": [], "right": [], "top": [], "bottom": []}
        for sp in body.iter(W + "sectPr"):
            size = sp.find(W + "pgSz")
            if size is not None:
                sizes.append((_int(size.get(W + "w"), 12240), _int(size.get(W + "h"), 15840)))
            mar = sp.find(W + "pgMar")
            if mar is not None:
                for side in margins:
                    margins[side].append(abs(_int(mar.get(W + side), 1440)))
        page = cls()
        if sizes:
            page.width = max(w for w, _ in sizes) * EMU_PER_TWIP
            page.height = max(h for _, h in sizes) * EMU_PER_TWIP
        for side, values in margins.items():
            if values:
                setattr(page, side, (min(values) * EMU_PER_TWIP, max(values) * EMU_PER_TWIP))
        return page

    def across(self, relative: str | None) -> tuple[int, int]:
        """Where, from the page's left edge, a horizontal offset relative to this may start."""
        w = self.width
        return {
            "page": (0, 0),
            "leftMargin": (0, 0),
            "margin": self.left,
            "column": (self.left[0], w - self.right[0]),
            "character": (self.left[0], w - self.right[0]),
            "rightMargin": (w - self.right[1], w - self.right[0]),
        }.get(relative or "", (0, w))

    def down(self, relative: str | None) -> tuple[int, int]:
        """Where, from the page's top edge, a vertical offset relative to this may start."""
        h = self.height
        return {
            "page": (0, 0),
            "topMargin": (0, 0),
            "margin": self.top,
            "bottomMargin": (h - self.bottom[1], h - self.bottom[0]),
        }.get(relative or "", (0, h))

    def off(self, start: tuple[int, int], offset: int, size: int, limit: int) -> bool:
        """Is a span wholly before 0 or after `limit`, wherever in `start` its origin lies?"""
        return start[1] + offset + size <= 0 or start[0] + offset >= limit


_VML_ACROSS = {
    "page": "page",
    "margin": "margin",
    "left-margin-area": "leftMargin",
    "right-margin-area": "rightMargin",
    "char": "character",
}
_VML_DOWN = {
    "page": "page",
    "margin": "margin",
    "top-margin-area": "topMargin",
    "bottom-margin-area": "bottomMargin",
}


def _off_page(anchor: Any, page: _Page) -> bool:
    """Is this wp:anchor placed wholly outside the page?"""
    extent = anchor.find(WP + "extent")
    cx = max(0, _int(extent.get("cx"))) if extent is not None else 0
    cy = max(0, _int(extent.get("cy"))) if extent is not None else 0
    if anchor.get("simplePos") in ("1", "true", "on"):
        pos = anchor.find(WP + "simplePos")
        if pos is None:
            return False
        x, y = _int(pos.get("x")), _int(pos.get("y"))
        return page.off((0, 0), x, cx, page.width) or page.off((0, 0), y, cy, page.height)
    for tag, start, limit, size in (
        ("positionH", page.across, page.width, cx),
        ("positionV", page.down, page.height, cy),
    ):
        pos = anchor.find(WP + tag)
        offset = pos.find(WP + "posOffset") if pos is not None else None
        if offset is None or not (offset.text or "").strip():
            continue  # aligned (left, centre...) or not placed: on the page
        if page.off(start(pos.get("relativeFrom")), _int(offset.text.strip()), size, limit):
            return True
    return False


def _vml_off_page(style: dict[str, str], page: _Page) -> bool:
    if style.get("position") != "absolute":
        return False
    width = max(0, _vml_emu(style.get("width")) or 0)
    height = max(0, _vml_emu(style.get("height")) or 0)
    x = _vml_emu(style.get("margin-left", style.get("left")))
    y = _vml_emu(style.get("margin-top", style.get("top")))
    across = page.across(_VML_ACROSS.get(style.get("mso-position-horizontal-relative", "")))
    down = page.down(_VML_DOWN.get(style.get("mso-position-vertical-relative", "")))
    return (x is not None and page.off(across, x, width, page.width)) or (
        y is not None and page.off(down, y, height, page.height)
    )


@dataclass
class _Box:
    """A text box found in a run: its content, why it is hidden (if it is), what is behind it."""

    content: Any
    hidden: HiddenKind | None
    back: _Back


# --- styles and numbering -------------------------------------------------------------------------


def _numbering_and_outline(ppr: Any | None) -> tuple[str | None, int | None, int | None]:
    """numId, ilvl and outline level from a paragraph's or a style's w:pPr."""
    num_id: str | None = None
    ilvl: int | None = None
    outline: int | None = None
    if ppr is None:
        return num_id, ilvl, outline
    numpr = ppr.find(W + "numPr")
    if numpr is not None:
        nid = numpr.find(W + "numId")
        lvl = numpr.find(W + "ilvl")
        num_id = nid.get(W + "val") if nid is not None else None
        ilvl = _int(lvl.get(W + "val")) if lvl is not None else None
    ol = ppr.find(W + "outlineLvl")
    if ol is not None:
        outline = _int(ol.get(W + "val"), 9)
    return num_id, ilvl, outline


@dataclass
class _Style:
    sid: str
    names: list[str]
    based_on: str | None
    outline: int | None
    num_id: str | None
    ilvl: int | None
    look: dict[str, Any] = field(default_factory=dict)  # run properties it sets (visibility)
    shd: str | None = None  # paragraph shading it sets


# A style chain's heading level, whether it marks a table-of-contents entry or a list, and the
# first automatic numbering it carries (numId, ilvl, style id).
_Traits = tuple[int | None, bool, bool, tuple[str, int | None, str] | None]


class _Styles:
    def __init__(self, root: Any | None):
        self.by_id: dict[str, _Style] = {}
        self.numbering_styles: dict[str, str] = {}  # numbering style id -> numId
        self.default: str | None = None
        self._traits: dict[str | None, _Traits] = {}
        # Visibility: document defaults, character styles, table styles' shading.
        self.defaults: dict[str, Any] = {}
        self.characters: dict[str, tuple[str | None, dict[str, Any]]] = {}
        self.tables: dict[str, tuple[str | None, list[str]]] = {}
        self.default_table: str | None = None
        self._looks: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        self._shading: dict[str | None, str | None] = {}
        if root is None:
            return
        defaults = root.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
        self.defaults = _rpr_look(defaults)[0]
        for s in root.iter(W + "style"):
            sid = s.get(W + "styleId") or ""
            kind = s.get(W + "type")
            ppr = s.find(W + "pPr")
            num_id, ilvl, outline = _numbering_and_outline(ppr)
            if kind == "numbering":
                if num_id:
                    self.numbering_styles[sid] = num_id
                continue
            based = s.find(W + "basedOn")
            based_on = based.get(W + "val") if based is not None else None
            if kind == "character":
                self.characters[sid] = (based_on, _rpr_look(s.find(W + "rPr"))[0])
                continue
            if kind == "table":
                self.tables[sid] = (based_on, [_shd(shd) for shd in s.iter(W + "shd")])
                if s.get(W + "default") in ("1", "true", "on"):
                    self.default_table = sid
                continue
            if kind != "paragraph":
                continue
            names = []
            name = s.find(W + "name")
            if name is not None and name.get(W + "val"):
                names.append(name.get(W + "val"))
            aliases = s.find(W + "aliases")
            if aliases is not None and aliases.get(W + "val"):
                names.extend(aliases.get(W + "val").split(","))
            names = [unicodedata.normalize("NFKC", n).strip().casefold() for n in names]
            shd = ppr.find(W + "shd") if ppr is not None else None
            self.by_id[sid] = _Style(
                sid,
                names,
                based_on,
                outline,
                num_id,
                ilvl,
                _rpr_look(s.find(W + "rPr"))[0],
                _shd(shd) if shd is not None else None,
            )
            if s.get(W + "default") in ("1", "true", "on"):
                self.default = sid

    def traits(self, sid: str | None) -> _Traits:
        """What a paragraph style says through its chain of base styles (cached per style id)."""
        found = self._traits.get(sid)
        if found is None:
            found = self._traits[sid] = self._chain_traits(sid)
        return found

    def _chain_traits(self, sid: str | None) -> _Traits:
        level: int | None = None
        is_list = False
        toc = False
        style_num: tuple[str, int | None, str] | None = None
        for style in self.chain(sid):
            for name in style.names:
                if level is None and (m := _HEADING_NAME.match(name)):
                    level = int(m.group(1))
                elif level is None and name in _TITLE_NAMES:
                    level = 1
                if _TOC_NAME.match(name):
                    toc = True
                if _LIST_NAME.search(name):
                    is_list = True
            if level is None and style.outline is not None:
                level = style.outline + 1 if style.outline < 9 else 0
            if style_num is None and style.num_id is not None:
                style_num = (style.num_id, style.ilvl, style.sid)
        return level, toc, is_list, style_num

    def chain(self, sid: str | None) -> Iterator[_Style]:
        seen: set[str] = set()
        sid = sid or self.default
        while sid and sid not in seen and sid in self.by_id and len(seen) < 32:
            seen.add(sid)
            style = self.by_id[sid]
            yield style
            sid = style.based_on

    def look(self, paragraph: str | None, character: str | None) -> dict[str, Any]:
        """Run properties from the defaults, the paragraph style's chain, the character style's."""
        key = (paragraph, character)
        found = self._looks.get(key)
        if found is None:
            found = dict(self.defaults)
            for style in reversed(list(self.chain(paragraph))):
                found.update(style.look)
            for look in reversed(list(self._based(self.characters, character))):
                found.update(look)
            self._looks[key] = found
        return found

    def shading(self, paragraph: str | None) -> str | None:
        """The paragraph shading a paragraph style sets through its chain."""
        if paragraph not in self._shading:
            self._shading[paragraph] = next(
                (s.shd for s in self.chain(paragraph) if s.shd is not None), None
            )
        return self._shading[paragraph]

    def table_fills(self, sid: str | None) -> list[str]:
        """Every shading a table style (and its bases) may paint in some of its cells."""
        fills: list[str] = []
        for found in self._based(self.tables, sid or self.default_table):
            fills.extend(found)
        return fills

    @staticmethod
    def _based(styles: dict[str, tuple[str | None, Any]], sid: str | None) -> Iterator[Any]:
        seen: set[str] = set()
        while sid and sid not in seen and sid in styles and len(seen) < 32:
            seen.add(sid)
            based_on, value = styles[sid]
            yield value
            sid = based_on


_KANA = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
)
_IROHA = (
    "イロハニホヘトチリヌルヲワカヨタレソツネナラムウヰノオクヤマケフコエテアサキユメミシヱヒモセス"
)
_HALF_KANA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝ"
_KANJI_DIGITS = "〇一二三四五六七八九"
_TRADITIONAL = "甲乙丙丁戊己庚辛壬癸"


def _roman(n: int) -> str:
    out = ""
    for value, sym in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while n >= value:
            out += sym
            n -= value
    return out


def _letters(n: int) -> str:
    # Word repeats the letter: A..Z, AA..ZZ, AAA...
    n = max(1, n)
    return chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _kanji(n: int) -> str:
    if n <= 0:
        return "〇"
    if n >= 100:
        return "".join(_KANJI_DIGITS[int(d)] for d in str(n))
    tens, ones = divmod(n, 10)
    out = ("" if tens == 1 else _KANJI_DIGITS[tens]) + "十" if tens else ""
    return out + (_KANJI_DIGITS[ones] if ones else "")


def _format(n: int, fmt: str) -> str:
    seq = lambda s: s[(n - 1) % len(s)] if n > 0 else str(n)  # noqa: E731
    if fmt in ("decimal", "decimalHalfWidth", "ordinal", "cardinalText", "ordinalText"):
        return str(n)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("decimalFullWidth", "decimalFullWidth2"):
        return str(n).translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "upperLetter":
        return _letters(n)
    if fmt == "lowerLetter":
        return _letters(n).lower()
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese"):
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt == "decimalEnclosedParen":
        return chr(0x2474 + n - 1) if 1 <= n <= 20 else f"({n})"
    if fmt == "decimalEnclosedFullstop":
        return chr(0x2488 + n - 1) if 1 <= n <= 20 else f"{n}."
    if fmt == "aiueoFullWidth":
        return seq(_KANA)
    if fmt == "aiueo":
        return seq(_HALF_KANA)
    if fmt in ("iroha", "irohaFullWidth"):
        return seq(_IROHA)
    if fmt == "ideographDigital":
        return "".join(_KANJI_DIGITS[int(d)] for d in str(n))
    if fmt in ("ideographTraditional",):
        return seq(_TRADITIONAL)
    if fmt.startswith(("japanese", "chinese", "ideograph", "taiwanese")):
        return _kanji(n)
    return str(n)


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = ""
    legal: bool = False
    suffix: str = "tab"
    style: str | None = None


class _Numbering:
    """Renders Word's automatic list and heading numbers ("1.", "2.3", "(1)", "①")."""

    def __init__(self, root: Any | None, styles: _Styles):
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.links: dict[str, str] = {}  # abstractNum id -> numbering style it follows
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.counters: dict[str, list[int]] = {}
        self.started: set[tuple[str, int]] = set()
        self.styles = styles
        if root is None:
            return
        for a in root.iter(W + "abstractNum"):
            aid = a.get(W + "abstractNumId") or ""
            levels: dict[int, _Level] = {}
            for lvl in a.iter(W + "lvl"):
                levels[_int(lvl.get(W + "ilvl"))] = self._level(lvl)
            self.abstract[aid] = levels
            link = a.find(W + "numStyleLink")
            if link is not None and link.get(W + "val"):
                self.links[aid] = link.get(W + "val")
        for num in root.iter(W + "num"):
            nid = num.get(W + "numId") or ""
            aid_el = num.find(W + "abstractNumId")
            aid = aid_el.get(W + "val") if aid_el is not None else ""
            overrides: dict[int, int] = {}
            for ov in num.iter(W + "lvlOverride"):
                so = ov.find(W + "startOverride")
                if so is not None:
                    overrides[_int(ov.get(W + "ilvl"))] = _int(so.get(W + "val"), 1)
            self.nums[nid] = (aid or "", overrides)

    @staticmethod
    def _level(lvl: Any) -> _Level:
        out = _Level()
        for tag, attr in (
            ("start", "start"),
            ("numFmt", "fmt"),
            ("lvlText", "text"),
            ("suff", "suffix"),
        ):
            el = lvl.find(W + tag)
            if el is not None and el.get(W + "val") is not None:
                value = el.get(W + "val")
                setattr(out, attr, _int(value, 1) if attr == "start" else value)
        out.legal = _on(lvl.find(W + "isLgl"))
        ps = lvl.find(W + "pStyle")
        out.style = ps.get(W + "val") if ps is not None else None
        return out

    def _resolve(self, num_id: str) -> tuple[str, dict[int, _Level], dict[int, int]] | None:
        entry = self.nums.get(num_id)
        if entry is None:
            return None
        aid, overrides = entry
        for _ in range(4):  # follow numStyleLink to the list style's own numbering
            link = self.links.get(aid)
            if not link or link not in self.styles.numbering_styles:
                break
            target = self.nums.get(self.styles.numbering_styles[link])
            if target is None or target[0] == aid:
                break
            aid = target[0]
        levels = self.abstract.get(aid)
        return (aid, levels, overrides) if levels else None

    def level_for_style(self, num_id: str, style_id: str | None) -> int:
        resolved = self._resolve(num_id)
        if resolved and style_id:
            for ilvl, lvl in resolved[1].items():
                if lvl.style == style_id:
                    return ilvl
        return 0

    def label(self, num_id: str, ilvl: int) -> str | None:
        """The number Word shows for the next paragraph in this list, or None for bullets."""
        resolved = self._resolve(num_id)
        if resolved is None:
            return None
        aid, levels, overrides = resolved
        ilvl = max(0, min(8, ilvl))
        lvl = levels.get(ilvl)
        if lvl is None:
            return None
        counters = self.counters.setdefault(aid, [0] * 9)
        if ilvl in overrides and (num_id, ilvl) not in self.started:
            counters[ilvl] = overrides[ilvl] - 1
        self.started.add((num_id, ilvl))
        if counters[ilvl] == 0 and lvl.start != 1:
            counters[ilvl] = lvl.start - 1
        counters[ilvl] += 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if lvl.fmt in ("bullet", "none") or not lvl.text:
            return None

        def sub(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            other = levels.get(k, _Level())
            n = counters[k] or other.start
            return _format(n, "decimal" if lvl.legal else other.fmt)

        text = re.sub(r"%([1-9])", sub, lvl.text)
        return text + ("" if lvl.suffix == "nothing" else " ")


# --- the walker -----------------------------------------------------------------------------------


@dataclass
class _Where:
    part: Part = "body"
    table: int | None = None
    row: int | None = None


@dataclass
class _Walker:
    styles: _Styles
    numbering: _Numbering
    blocks: list[Block] = field(default_factory=list)
    path: list[tuple[int, str]] = field(default_factory=list)
    tables: int = 0
    paragraphs: Counter[str] = field(default_factory=Counter)
    fields: list[list[str]] = field(default_factory=list)  # [state, instruction] per open field
    note_sections: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    tocs: int = 0
    objects: int = 0
    depth_levels: dict[tuple[str, int], int] = field(default_factory=dict)
    styled_level: int = 0
    # Text a reader cannot see: recorded here, kept out of the blocks.
    hidden: list[HiddenText] = field(default_factory=list)
    page: _Page = field(default_factory=_Page)
    back: _Back = frozenset(("FFFFFF",))  # behind the current container (page, cell, text box)
    floating: list[str] = field(default_factory=list)  # fills of the part's floating drawings
    forced: HiddenKind | None = None  # inside a text box off the page or hidden
    para_style: str | None = None  # the paragraph being read: its style, what is behind it
    para_back: _Back = None
    pieces: list[list[Any]] = field(default_factory=list)  # its hidden text: [kind, text, at]

    def section(self) -> list[str]:
        return [t for _, t in self.path]

    def start_part(self, root: Any, page_colour: str) -> None:
        """Before reading a part: what lies behind its text (page colour, shapes behind text)."""
        behind, self.floating = _floating(root)
        self.back = _among(frozenset((page_colour,)), behind)
        self.forced = None

    def hidden_kind(self, r: Any) -> HiddenKind | None:
        """Why this run cannot be seen in the paragraph being read, or None."""
        if self.forced:
            return self.forced
        rpr = r.find(W + "rPr")
        direct, char_style = _rpr_look(rpr)
        look = self.styles.look(self.para_style, char_style)
        if direct:
            look = {**look, **direct}
        return _hidden_by(look, self.para_back)

    def _box(self, content: Any, top: Any, run_hidden: HiddenKind | None) -> _Box:
        """A text box found under `top` (a run's drawing): hidden how, and what is behind it."""
        hidden: HiddenKind | None = "vanish" if run_hidden == "vanish" else None
        shape = None
        for el in content.iterancestors():
            tag = el.tag
            if shape is None and (tag == WPS + "wsp" or tag in _VML_SHAPES):
                shape = el
                if tag in _VML_SHAPES:
                    style = _vml_style(el)
                    if style.get("visibility") == "hidden" or style.get("display") == "none":
                        hidden = hidden or "vanish"
                    elif _vml_off_page(style, self.page):
                        hidden = hidden or "off_page"
            elif tag in (WP + "anchor", WP + "inline"):
                pr = el.find(WP + "docPr")
                if pr is not None and pr.get("hidden") in ("1", "true", "on"):
                    hidden = hidden or "vanish"
                elif tag == WP + "anchor" and _off_page(el, self.page):
                    hidden = hidden or "off_page"
            if el is top:
                break
        fill = _shape_fill(shape) if shape is not None else CLEAR
        back = _among(self.back, self.floating) if fill == CLEAR else _over(self.back, fill)
        return _Box(content, hidden, back)

    def record(self, kind: HiddenKind, text: str, location: Location) -> None:
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            self.hidden.append(HiddenText(kind=kind, text=text, location=location))

    # containers: body, cell, text box, note, comment, header, footer
    def container(self, el: Any, where: _Where) -> None:
        for child in el:
            tag = child.tag
            if tag == W + "p":
                self.paragraph(child, where)
            elif tag == W + "tbl":
                self.table(child, where)
            elif tag == W + "sdt":
                if not _placeholder(child):
                    content = child.find(W + "sdtContent")
                    if content is not None:
                        self.container(content, where)
            elif tag in (W + "customXml", W + "ins", W + "moveTo", W + "smartTag"):
                self.container(child, where)
            elif tag == MC + "AlternateContent":
                choice = child.find(MC + "Choice")
                if choice is not None:
                    self.container(choice, where)
            elif tag in (W + "commentRangeStart",):
                self._note_ref("comment", child.get(W + "id"))
            elif tag == W + "altChunk":
                self.objects += 1

    def _note_ref(self, kind: str, nid: str | None) -> None:
        if nid is not None:
            self.note_sections.setdefault((kind, nid), self.section())

    def paragraph(
        self,
        p: Any,
        where: _Where,
        *,
        collect: list[str] | None = None,
        defer: list[Any] | None = None,
    ) -> None:
        """Emit one paragraph (or, inside a table cell, append its text to `collect`)."""
        # Field instructions never span paragraphs; an unterminated one must not eat the rest.
        self.fields = [f for f in self.fields if f[0] == "result"]
        ppr = p.find(W + "pPr")
        style_id = None
        num_id: str | None = None
        ilvl: int | None = None
        outline: int | None = None
        shading = None
        if ppr is not None:
            ps = ppr.find(W + "pStyle")
            style_id = ps.get(W + "val") if ps is not None else None
            num_id, ilvl, outline = _numbering_and_outline(ppr)
            shading = ppr.find(W + "shd")
        self.para_style = style_id
        surface = _shd(shading) if shading is not None else self.styles.shading(style_id)
        self.para_back = self.back if surface is None else _over(self.back, surface)
        self.pieces = []

        boxes: list[_Box] = []
        out: list[str] = []
        self.inline(p, out, boxes)
        text = "".join(out)
        text = "\n".join(line.rstrip() for line in text.split("\n")).strip()
        pieces = self.pieces

        style_level, toc, is_list, style_num = self.styles.traits(style_id)
        level: int | None = style_level
        if outline is not None:  # the paragraph's own outline level overrides its style's
            level = outline + 1 if outline < 9 else 0
        level = level or None

        # Automatic numbering: the paragraph's own numPr, else its style's.
        label = None
        if num_id is None and style_num is not None:
            num_id = style_num[0]
            if ilvl is None:
                ilvl = (
                    style_num[1]
                    if style_num[1] is not None
                    else self.numbering.level_for_style(style_num[0], style_num[2])
                )
        if num_id and num_id != "0":
            is_list = True
            if text or boxes:
                label = self.numbering.label(num_id, ilvl or 0)
        if label and text:
            text = label + text

        if toc and text:
            self.tocs += 1
            text = ""
        if level and text:
            text = re.sub(r"\s+", " ", text)  # "1.0 \tPurpose" -> "1.0 Purpose" in section paths
            hk = heading_kind(text)
            if hk and hk[0] in ("num", "chapter"):
                self.depth_levels[hk] = level
            self.styled_level = level
        elif (
            text
            and collect is None
            and where.part == "body"
            and where.table is None
            and not is_list
            and heading_like(text)
            and _all_bold(p, self.hidden_kind)
        ):
            # Manual formatting: a short bold line used as a heading ("2.2 Expectations").
            hk = heading_kind(text)
            if hk and hk[0] in ("num", "chapter"):
                level = self.depth_levels.get(hk, max(1, hk[1]))
            else:
                level = min(9, self.styled_level + 1)
            text = re.sub(r"\s+", " ", text)
        if collect is not None:
            if text:
                collect.append(text)
        elif text:
            kind = "heading" if level else ("list_item" if is_list else "paragraph")
            if kind == "heading" and where.part == "body":
                while self.path and self.path[-1][0] >= (level or 1):
                    self.path.pop()
                self.path.append((level or 1, text))
            self.paragraphs[where.part] += 1
            self.blocks.append(
                Block(
                    kind=kind,  # type: ignore[arg-type]
                    text=text,
                    level=level if kind == "heading" else None,
                    location=Location(
                        section=self.section(),
                        paragraph=self.paragraphs[where.part],
                        part=where.part,
                        table=where.table,
                        row=where.row,
                    ),
                )
            )
        if pieces:
            # Where a reader would find it: the paragraph's block, else its section (and row).
            if collect is None and text:
                here = self.blocks[-1].location
            else:
                here = Location(
                    section=self.section(), part=where.part, table=where.table, row=where.row
                )
            for hidden_kind, hidden_text, _ in pieces:
                self.record(hidden_kind, hidden_text, here.model_copy(deep=True))
        # Descriptions of images and shapes: not on the page, so never credited, but a place to
        # hide instructions to a reviewing AI.
        for alt in _alt_texts(p):
            here = (
                self.blocks[-1].location
                if collect is None and text
                else Location(
                    section=self.section(), part=where.part, table=where.table, row=where.row
                )
            )
            self.record("alt_text", alt, here.model_copy(deep=True))
        if defer is not None:
            defer.extend(boxes)  # a text box in a table cell follows the row
        else:
            for box in boxes:
                self.textbox(box, where)

    def table(self, tbl: Any, where: _Where) -> None:
        self.tables += 1
        number = self.tables
        rows = [tr for tr in _unwrap(tbl, "tr")]
        cells_by_row = [list(_unwrap(tr, "tc")) for tr in rows]
        layout = bool(rows) and all(len(cells) <= 1 for cells in cells_by_row)
        header: str | None = None
        # Behind a cell: its own shading, else the table's, else whatever the table style may
        # paint there (banded rows, a header row), else what is behind the table.
        outside = self.back
        tblpr = tbl.find(W + "tblPr")
        table_shd = tblpr.find(W + "shd") if tblpr is not None else None
        style = tblpr.find(W + "tblStyle") if tblpr is not None else None
        table_back = _among(
            outside if table_shd is None else _over(outside, _shd(table_shd)),
            self.styles.table_fills(style.get(W + "val") if style is not None else None),
        )
        for index, (tr, cells) in enumerate(zip(rows, cells_by_row, strict=True), start=1):
            if _row_deleted(tr):
                continue
            here = _Where(part=where.part, table=number, row=index)
            if layout:
                # A one-column table is a box around ordinary paragraphs: read them as such.
                for tc in cells:
                    self.back = _cell_back(tc, table_back)
                    self.container(tc, here)
                self.back = outside
                continue
            texts: list[str] = []
            nested: list[tuple[Any, _Back]] = []
            boxes: list[_Box] = []
            for tc in cells:
                if _vmerge_continue(tc):
                    texts.append("")
                    continue
                parts: list[str] = []
                self.back = _cell_back(tc, table_back)
                for child in _cell_children(tc):
                    if child.tag == W + "p":
                        self.paragraph(child, here, collect=parts, defer=boxes)
                    elif child.tag == W + "tbl":
                        nested.append((child, self.back))
                self.back = outside
                texts.append("\n".join(parts))
            while texts and not texts[-1].strip():
                texts.pop()
            if any(t.strip() for t in texts):
                text = " | ".join(t.strip() for t in texts).strip()
                self.blocks.append(
                    Block(
                        kind="table_row",
                        text=text,
                        header=header,
                        location=Location(
                            section=self.section(), part=where.part, table=number, row=index
                        ),
                    )
                )
                if header is None:
                    header = text
            for box in boxes:
                self.textbox(box, where)
            for inner, back in nested:
                self.back = back
                self.table(inner, _Where(part=where.part))
                self.back = outside

    def textbox(self, box: _Box, where: _Where) -> None:
        part: Part = "textbox" if where.part == "body" else where.part
        saved = self.back, self.forced
        self.back = box.back
        self.forced = self.forced or box.hidden
        self.container(box.content, _Where(part=part))
        self.back, self.forced = saved

    def inline(self, el: Any, out: list[str], boxes: list[_Box]) -> None:
        """Visible text of runs under `el`, in order; text boxes are collected for later."""
        for child in el:
            tag = child.tag
            if tag == W + "r":
                self.run(child, out, boxes)
            elif tag == W + "fldSimple":
                if not _PAGE_FIELD.match(child.get(W + "instr") or ""):
                    self.inline(child, out, boxes)
            elif tag in (
                W + "hyperlink",
                W + "smartTag",
                W + "customXml",
                W + "ins",
                W + "moveTo",
                W + "dir",
                W + "bdo",
            ):
                self.inline(child, out, boxes)
            elif tag == W + "sdt":
                if not _placeholder(child):
                    content = child.find(W + "sdtContent")
                    if content is not None:
                        self.inline(content, out, boxes)
            elif tag == MC + "AlternateContent":
                choice = child.find(MC + "Choice")
                if choice is not None:
                    self.inline(choice, out, boxes)
            elif tag in (M + "oMath", M + "oMathPara"):
                out.append("".join(t.text or "" for t in child.iter(M + "t")))
            elif tag == W + "commentRangeStart":
                self._note_ref("comment", child.get(W + "id"))
            # w:del and w:moveFrom hold deleted text; w:pPr holds no text

    def run(self, r: Any, out: list[str], boxes: list[_Box]) -> None:
        hidden = self.hidden_kind(r)
        sink = out if hidden is None else []
        for child in r:
            tag = child.tag
            # Text inside a field instruction, or the cached result of a page-number field, is
            # not document text.
            in_instr = any(f[0] != "result" for f in self.fields)
            if tag == W + "t":
                if not in_instr:
                    sink.append(child.text or "")
            elif tag in (W + "tab", W + "ptab"):
                if not in_instr:
                    sink.append("\t")
            elif tag in (W + "br", W + "cr"):
                if not in_instr:
                    sink.append("\n")
            elif tag == W + "noBreakHyphen":
                if not in_instr:
                    sink.append("-")
            elif tag == W + "sym":
                code = child.get(W + "char") or ""
                try:
                    ch = chr(int(code, 16))
                except ValueError:
                    ch = ""
                if ch and not (0xE000 <= ord(ch) <= 0xF8FF):
                    sink.append(ch)
            elif tag == W + "instrText":
                if self.fields and self.fields[-1][0] == "instr":
                    self.fields[-1][1] += child.text or ""
            elif tag == W + "fldChar":
                kind = child.get(W + "fldCharType")
                if kind == "begin":
                    self.fields.append(["instr", ""])
                elif kind == "separate" and self.fields:
                    top = self.fields[-1]
                    top[0] = "skip" if _PAGE_FIELD.match(top[1]) else "result"
                elif kind == "end" and self.fields:
                    self.fields.pop()
            elif tag in (W + "footnoteReference", W + "endnoteReference"):
                self._note_ref(tag[len(W) :].replace("Reference", ""), child.get(W + "id"))
            elif tag == W + "commentReference":
                self._note_ref("comment", child.get(W + "id"))
            elif tag == W + "ruby":
                base = child.find(W + "rubyBase")  # the text; w:rt is the reading aid above it
                if base is not None:
                    self.inline(base, out, boxes)
            elif tag in (W + "drawing", W + "pict", MC + "AlternateContent", W + "object"):
                found = _textboxes(child)
                boxes.extend(self._box(box, child, hidden) for box in found)
                if tag == W + "object" and not found:
                    self.objects += 1
        if hidden is not None and sink:
            self._hide(hidden, "".join(sink), out)

    def _hide(self, kind: HiddenKind, text: str, out: list[str]) -> None:
        """Keep a hidden run's text out of the paragraph, as a piece of hidden text."""
        last = self.pieces[-1] if self.pieces else None
        joined = last is not None and last[0] == kind and last[2] == len(out)
        if not text.strip():
            # Spacing in an unreadable colour or size is still spacing; a vanished one is not.
            if kind in ("white_text", "tiny_font"):
                out.append(text)
                if last is not None and joined:
                    last[1] += text
                    last[2] = len(out)
            return
        if last is not None and joined:
            last[1] += text
        else:
            self.pieces.append([kind, text, len(out)])


def _textboxes(el: Any) -> list[Any]:
    """w:txbxContent under `el`, taking mc:Choice and never mc:Fallback (the same box again)."""
    found: list[Any] = []

    def visit(node: Any) -> None:
        tag = node.tag
        if tag == MC + "AlternateContent":
            choice = node.find(MC + "Choice")
            if choice is not None:
                visit(choice)
        elif tag == W + "txbxContent":
            found.append(node)  # a box inside this box is found when its paragraphs are read
        elif isinstance(tag, str):
            for child in node:
                visit(child)

    visit(el)
    return found


def _all_bold(p: Any, hidden: Callable[[Any], str | None]) -> bool:
    """Is every run with visible text in this paragraph bold (direct formatting)?"""
    seen = False
    skip = (W + "del", W + "moveFrom", W + "txbxContent", MC + "Fallback")
    for r in p.iter(W + "r"):
        if any(a.tag in skip for a in r.iterancestors()):
            continue
        if not any((t.text or "").strip() for t in r.iter(W + "t")) or hidden(r):
            continue
        rpr = r.find(W + "rPr")
        if rpr is None or not _on(rpr.find(W + "b")):
            return False
        seen = True
    return seen


def _placeholder(sdt: Any) -> bool:
    """A content control still showing its placeholder ("Click here to enter text")."""
    pr = sdt.find(W + "sdtPr")
    return pr is not None and _on(pr.find(W + "showingPlcHdr"))


# --- tables ---------------------------------------------------------------------------------------


def _unwrap(el: Any, tag: str) -> Iterator[Any]:
    """Children with this tag, looking through content controls and custom XML wrappers."""
    for child in el:
        if child.tag == W + tag:
            yield child
        elif child.tag == W + "sdt":
            if not _placeholder(child):
                content = child.find(W + "sdtContent")
                if content is not None:
                    yield from _unwrap(content, tag)
        elif child.tag in (W + "customXml", W + "ins", W + "moveTo"):
            yield from _unwrap(child, tag)
        elif child.tag == MC + "AlternateContent":
            choice = child.find(MC + "Choice")
            if choice is not None:
                yield from _unwrap(choice, tag)


def _row_deleted(tr: Any) -> bool:
    trpr = tr.find(W + "trPr")
    return trpr is not None and trpr.find(W + "del") is not None


def _cell_back(tc: Any, table: _Back) -> _Back:
    """What is behind a cell's text: its own shading, else the table's."""
    tcpr = tc.find(W + "tcPr")
    shd = tcpr.find(W + "shd") if tcpr is not None else None
    if shd is None:
        return table
    surface = _shd(shd)
    return table if surface == CLEAR else _over(table, surface)


def _vmerge_continue(tc: Any) -> bool:
    tcpr = tc.find(W + "tcPr")
    if tcpr is None:
        return False
    vm = tcpr.find(W + "vMerge")
    return vm is not None and vm.get(W + "val", "continue") != "restart"


def _cell_children(tc: Any) -> Iterator[Any]:
    for child in tc:
        if child.tag in (W + "p", W + "tbl"):
            yield child
        elif child.tag == W + "sdt":
            if not _placeholder(child):
                content = child.find(W + "sdtContent")
                if content is not None:
                    yield from _cell_children(content)
        elif child.tag in (W + "customXml", W + "ins", W + "moveTo"):
            yield from _cell_children(child)
        elif child.tag == MC + "AlternateContent":
            choice = child.find(MC + "Choice")
            if choice is not None:
                yield from _cell_children(choice)


# --- the package ----------------------------------------------------------------------------------


def preload() -> None:
    """Import python-docx and lxml now (the sandbox calls this before forking, so each child
    need not: the import is most of a small file's parse time)."""
    with suppress(ImportError):  # a broken install is reported by the parse itself
        import docx.opc.package  # noqa: F401
        import lxml.etree  # noqa: F401


def parse(data: bytes, name: str) -> Parsed:
    """Parse DOCX bytes into blocks: body in order, then headers/footers, notes and comments."""
    _check_zip(data, name)
    try:
        from docx.opc.package import OpcPackage
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ParseError(
            name, f"DOCX support is not installed ({exc}); reinstall reviewer"
        ) from None
    try:
        package = OpcPackage.open(BytesIO(data))
        main = package.main_document_part
        root = _xml(main)
        body = root.find(W + "body")
        if body is None:
            raise ParseError(name, "DOCX file is corrupt: the document has no body")
        styles = _Styles(_related_xml(main, RT_STYLES))
        walker = _Walker(styles, _Numbering(_related_xml(main, RT_NUMBERING), styles))
        walker.page = _Page.of(body)
        background = root.find(W + "background")
        page_colour = (
            _hex(background.get(W + "color")) if background is not None else None
        ) or "FFFFFF"
        walker.start_part(root, page_colour)
        walker.container(body, _Where())
        body_blocks = walker.blocks
        body_hidden = walker.hidden
        walker.blocks = []
        walker.hidden = []
        headers, footers = _headers_footers(walker, main, body, page_colour)
        notes: list[Block] = []
        for reltype, tag, part in (
            (RT_FOOTNOTES, "footnote", "footnote"),
            (RT_ENDNOTES, "endnote", "endnote"),
            (RT_COMMENTS, "comment", "comment"),
        ):
            # Comments are read in the margin, on white; notes on the page.
            notes.extend(
                _notes(
                    walker, main, reltype, tag, part, "FFFFFF" if part == "comment" else page_colour
                )
            )
    except ParseError:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds on a broken package
        raise ParseError(
            name, f"DOCX file is corrupt ({_why(exc)}); open and re-save it in Word"
        ) from None

    warnings: list[str] = []
    if walker.tocs:
        warnings.append(
            f"skipped {walker.tocs} table-of-contents entr{'y' if walker.tocs == 1 else 'ies'}"
        )
    if walker.objects:
        warnings.append(
            f"{walker.objects} embedded object(s) (spreadsheets, charts, imported files) "
            "were not read"
        )
    order = {"header": 0, "body": 1, "textbox": 1, "footer": 2}
    hidden = body_hidden + walker.hidden
    hidden.sort(key=lambda h: order.get(h.location.part, 3))  # stable: reading order kept
    return Parsed(blocks=headers + body_blocks + footers + notes, warnings=warnings, hidden=hidden)


def _check_zip(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            infos = zf.infolist()
            rels = zf.read("_rels/.rels") if "_rels/.rels" in zf.namelist() else b""
    except Exception as exc:
        raise ParseError(name, f"DOCX file is corrupt ({_why(exc)})") from None
    for info in infos:
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise ParseError(
                name,
                f"DOCX part {info.filename} expands {info.file_size // max(info.compress_size, 1)} "
                f"times when unzipped ({info.file_size / 1_048_576:.0f} MB): a zip bomb, not a "
                "Word document",
            )
    total = sum(i.file_size for i in infos)
    limit = UNZIPPED_LIMIT_FACTOR * config.MAX_FILE_BYTES
    if total > limit:
        raise ParseError(
            name,
            f"DOCX expands to {total / 1_048_576:.0f} MB when unzipped, more than the limit of "
            f"{limit / 1_048_576:.0f} MB; is it really a Word document?",
        )
    if b"purl.oclc.org/ooxml" in rels:
        raise ParseError(
            name,
            "DOCX is saved as 'Strict Open XML', which is not supported; "
            "save it as a normal Word document",
        )
    if not rels:
        raise ParseError(
            name, "DOCX file is corrupt: _rels/.rels is missing; open and re-save it in Word"
        )


def _why(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, KeyError) and "no item named" in msg:
        m = re.search(r"named '([^']+)'", msg)
        return f"missing part {m.group(1)}" if m else msg
    return (f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__)[:160]


def _safe_parser() -> Any:
    """An lxml parser that resolves no entities, loads no DTD and touches no network.

    A new one per call: lxml parsers must not be shared between threads (the web server).
    """
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def _xml(part: Any) -> Any:
    element = getattr(part, "element", None)  # python-docx XmlPart: parsed with entities off
    if element is not None:
        return element
    from lxml import etree

    return etree.fromstring(part.blob, _safe_parser())


def _related_xml(part: Any, reltype: str) -> Any | None:
    for rel in part.rels.values():
        if rel.reltype == reltype and not rel.is_external:
            return _xml(rel.target_part)
    return None


def _headers_footers(
    walker: _Walker, main: Any, body: Any, page_colour: str
) -> tuple[list[Block], list[Block]]:
    """Headers and footers of every section (default, first, even), each text once."""
    sect_prs = list(body.iter(W + "sectPr"))
    seen_parts: set[str] = set()
    out: dict[str, list[Block]] = {"header": [], "footer": []}
    seen_text: set[tuple[str, str]] = set()
    seen_hidden: set[tuple[str, str, str]] = set()
    hidden: list[HiddenText] = []
    for sp in sect_prs:
        for child in sp:
            kind = {W + "headerReference": "header", W + "footerReference": "footer"}.get(child.tag)
            rid = child.get(R + "id")
            if kind is None or not rid or rid in seen_parts or rid not in main.rels:
                continue
            seen_parts.add(rid)
            rel = main.rels[rid]
            if rel.is_external:
                continue
            saved_path = walker.path
            walker.path = []
            walker.fields = []
            walker.blocks = []
            walker.hidden = []
            part_root = _xml(rel.target_part)
            walker.start_part(part_root, page_colour)
            walker.container(part_root, _Where(part=kind))  # type: ignore[arg-type]
            walker.path = saved_path
            for block in walker.blocks:
                key = (kind, re.sub(r"\s+", " ", block.text))
                if key in seen_text or is_page_number(block.text):
                    continue
                seen_text.add(key)
                block.location.paragraph = None
                out[kind].append(block)
            for item in walker.hidden:
                hkey = (item.location.part, item.kind, item.text)
                if hkey not in seen_hidden:
                    seen_hidden.add(hkey)
                    item.location.paragraph = None
                    hidden.append(item)
            walker.blocks = []
            walker.hidden = []
    walker.hidden = hidden
    return out["header"], out["footer"]


def _notes(
    walker: _Walker, main: Any, reltype: str, tag: str, part: str, page_colour: str
) -> list[Block]:
    root = _related_xml(main, reltype)
    if root is None:
        return []
    walker.start_part(root, page_colour)
    blocks: list[Block] = []
    saved = walker.path
    for note in root.iter(W + tag):
        if note.get(W + "type") in _NOTE_SKIP:
            continue
        section = walker.note_sections.get((tag, note.get(W + "id") or ""), [])
        walker.path = [(i + 1, s) for i, s in enumerate(section)]
        walker.fields = []
        walker.blocks = []
        walker.container(note, _Where(part=part))  # type: ignore[arg-type]
        blocks.extend(walker.blocks)
    walker.path = saved
    walker.blocks = []
    return blocks
