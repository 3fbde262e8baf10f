"""PDF text a reader cannot see, found while pypdf extracts it like any other text.

pypdf's text visitors report every run of text; this module follows the graphics state beside
them (fill and stroke colours, text render mode, fill alpha, font size, horizontal scaling, the
current matrix inside form XObjects) and what the page paints (filled paths and images), and
tells which runs a reader cannot see:

- `invisible_render`: render mode 3 or 7 (neither filled nor stroked), or a fully transparent
  fill, unless an image lies under the text: that is a scanned page's OCR layer, which a reader
  sees as the image;
- `tiny_font`: 2 pt or smaller, or squeezed to a twentieth of its width;
- `off_page`: placed wholly outside the page's crop box;
- `white_text`: a colour (nearly) equal to what lies under the run's origin: the last filled area
  painted there before it, else the white page. An image there, a pattern, a partly transparent
  fill or a colour space that is not plain gray, RGB or CMYK makes the colour unknowable, and
  then the text counts as visible.

Forms (XObjects) are followed: pypdf reads their content from the identity matrix, so the form's
matrix and the matrix in force where it is drawn place it on the page.

pypdf hands text over in pieces that may span several text operators; when the ink changes
between two operators of one piece, the piece gathered so far is handed over first, so each piece
has one ink.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..models import HiddenKind, HiddenText, Location
from .text import join_lines

TINY_POINTS = 2.0  # a font this small cannot be read
BACKGROUND_MIN = 3.0  # points: a filled area narrower than this is a rule, not a background
SQUEEZED = 0.05  # horizontal scaling (Tz) this narrow cannot be read either
NEAR_COLOUR = 24  # per RGB channel: a text colour this close to what is behind it is not seen
WHITE = "FFFFFF"
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

# (render mode, fill colour, stroke colour, fill alpha, stroke alpha, horizontal scaling, font
# size set by Tf); a colour is "RRGGBB" or None when it cannot be told.
Ink = tuple[int, str | None, str | None, float, float, float, float | None]
PLAIN: Ink = (0, "000000", "000000", 1.0, 1.0, 1.0, None)
MODE, FILL, STROKE, FILL_ALPHA, STROKE_ALPHA, SCALING, SIZE = range(7)

_TEXT_OPS = frozenset((b"Tj", b"TJ", b"'", b'"'))
_PATH_OPS = frozenset((b"m", b"l", b"c", b"v", b"y", b"re", b"h"))
_FILL_OPS = frozenset((b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"))
_END_PATH_OPS = frozenset((b"S", b"s", b"n"))
_SPACES = {"/DeviceGray": 1, "/G": 1, "/DeviceRGB": 3, "/RGB": 3, "/DeviceCMYK": 4, "/CMYK": 4}


def _colour(values: Any, space: int | None) -> str | None:
    """Gray, RGB or CMYK components as "RRGGBB"; None for anything else."""
    try:
        return _colour_of(tuple(values), space)
    except TypeError:  # not hashable
        return None


@lru_cache(maxsize=512)
def _colour_of(values: tuple[Any, ...], space: int | None) -> str | None:
    try:
        nums = [min(1.0, max(0.0, float(v))) for v in values]
    except (TypeError, ValueError):
        return None
    if space is not None and len(nums) != space:
        return None
    if len(nums) == 1:
        r = g = b = nums[0]
    elif len(nums) == 3:
        r, g, b = nums
    elif len(nums) == 4:
        c, m, y, k = nums
        r, g, b = (1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k)
    else:
        return None
    return "".join(f"{round(v * 255):02X}" for v in (r, g, b))


def _near(a: str, b: str) -> bool:
    return all(abs(int(a[i : i + 2], 16) - int(b[i : i + 2], 16)) <= NEAR_COLOUR for i in (0, 2, 4))


def _mult(a: tuple[float, ...] | list[float], b: tuple[float, ...]) -> tuple[float, ...]:
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def _apply(m: tuple[float, ...] | list[float], x: float, y: float) -> tuple[float, float]:
    return (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])


def _resolve(obj: Any) -> Any:
    try:
        return obj.get_object() if obj is not None else None
    except Exception:
        return None


def _dict(parent: Any, key: str) -> Any:
    try:
        found = _resolve(parent.get(key)) if parent is not None else None
    except Exception:
        return None
    return found if hasattr(found, "get") else None


@dataclass(slots=True)
class Mark:
    """What decides whether a run of text can be seen: its ink and its origin on the page."""

    ink: Ink
    x: float
    y: float
    scale: float  # the form's scaling, for sizes
    upright: bool  # runs left to right, not turned or mirrored
    painted: int  # how many areas the page had painted before it


class PageInk:
    """The graphics state and painted areas of one page, beside pypdf's extraction."""

    def __init__(self) -> None:
        self.resources: list[tuple[Any, tuple[float, ...]]] = [(None, _IDENTITY)]
        self.forms: list[bool] = []  # per Do being read: did it open a form?
        self.box: tuple[float, float, float, float] | None = None
        self.ink: Ink = PLAIN
        self.spaces: tuple[int | None, int | None] = (1, 1)  # fill and stroke colour spaces
        self.stack: list[tuple[Ink, tuple[int | None, int | None]]] = []
        self.pending: Ink | None = None  # the ink of the text pypdf has gathered, not handed over
        self.segments: list[tuple[bytes, Any, Any]] = []  # the path being built
        self.also: Any = _nothing  # another visitor of the same operators, called first
        self.has_forms = False
        self._alike: dict[str, bool] = {}
        # Filled areas large enough to lie under text, in painting order, with their colour.
        self.areas: list[tuple[float, float, float, float, str | None]] = []
        self.colours: set[str | None] = set()  # theirs
        self.images: list[tuple[float, float, float, float]] = []

    def start(self, page: Any, also: Any = None) -> None:
        """Before the page's content is read: its resources and crop box, the other visitor."""
        resources = _dict(page, "/Resources")
        self.resources = [(resources, _IDENTITY)]  # per form being read: resources, matrix
        self.also = also or _nothing
        xobjects = _dict(resources, "/XObject")
        with suppress(Exception):
            self.has_forms = xobjects is not None and any(
                str(_dict(xobjects, str(key)).get("/Subtype")) == "/Form" for key in xobjects
            )
        try:
            box = page.cropbox
            self.box = (float(box.left), float(box.bottom), float(box.right), float(box.top))
        except Exception:
            self.box = None

    # -- pypdf's operator visitors ----------------------------------------------------------------

    def before(self, op: bytes, args: Any, cm: Any, tm: Any) -> None:
        self.also(op, args, cm, tm)
        if op in _TEXT_OPS:
            ink = self.ink
            if ink is not self.pending and self.pending is not None and ink != self.pending:
                _hand_over()
            self.pending = ink
            return
        if op in _PATH_OPS:
            self.segments.append((op, args, cm))  # measured only if the path is filled
            return
        handler = _HANDLERS.get(op)
        if handler is not None:
            with suppress(Exception):  # a damaged resource or operand: the state stays as it was
                handler(self, args, cm)

    def after(self, op: bytes, args: Any, cm: Any, tm: Any) -> None:
        if op == b"Do" and self.forms and self.forms.pop():
            self.resources.pop()
            self._restore(args, cm)  # a form's content runs inside its own q ... Q

    def mark(self, x: float, y: float, cm: Any, tm: Any) -> Mark:
        """The ink of the text pypdf hands over now, drawn at (x, y) in its content's space."""
        base = self.resources[-1][1]
        if base is not _IDENTITY:
            x, y = _apply(base, x, y)
            m = _mult(_mult(tm, cm), base)
            scale = (base[2] ** 2 + base[3] ** 2) ** 0.5
            upright = m[0] > 0 and m[3] > 0 and abs(m[1]) < 1e-6 and abs(m[2]) < 1e-6
        else:
            scale = 1.0
            upright = (
                tm[0] * cm[0] + tm[1] * cm[2] > 0
                and tm[2] * cm[1] + tm[3] * cm[3] > 0
                and abs(tm[0] * cm[1] + tm[1] * cm[3]) < 1e-6
                and abs(tm[2] * cm[0] + tm[3] * cm[2]) < 1e-6
            )
        return Mark(self.pending or self.ink, x, y, scale, upright, len(self.areas))

    # -- the state --------------------------------------------------------------------------------

    def _set(self, field: int, value: Any) -> None:
        ink = self.ink
        if ink[field] != value:  # the same ink stays the same object: cheap to compare
            self.ink = ink[:field] + (value,) + ink[field + 1 :]  # type: ignore[assignment]

    def _save(self, args: Any, cm: Any) -> None:
        self.stack.append((self.ink, self.spaces))

    def _restore(self, args: Any, cm: Any) -> None:
        if self.stack:
            self.ink, self.spaces = self.stack.pop()

    def _fill(self, args: Any, cm: Any, space: int | None = None) -> None:
        self._set(FILL, _colour(args, space))

    def _stroke(self, args: Any, cm: Any, space: int | None = None) -> None:
        self._set(STROKE, _colour(args, space))

    def _space(self, name: Any) -> int | None:
        """Components of a colour space that maps plainly to gray, RGB or CMYK; else None."""
        name = str(name)
        if name in _SPACES:
            return _SPACES[name]
        found = _resolve(_dict(self.resources[-1][0], "/ColorSpace").get(name))
        if isinstance(found, list) and found:
            family = str(found[0])
            if family == "/ICCBased" and len(found) > 1:
                n = _resolve(found[1]).get("/N")
                return int(n) if n in (1, 3, 4) else None
            return {"/CalGray": 1, "/CalRGB": 3}.get(family)
        return _SPACES.get(str(found))

    def _fill_space(self, args: Any, cm: Any) -> None:
        space = self._space(args[0])
        self.spaces = (space, self.spaces[1])
        self._set(FILL, "000000" if space else None)

    def _stroke_space(self, args: Any, cm: Any) -> None:
        space = self._space(args[0])
        self.spaces = (self.spaces[0], space)
        self._set(STROKE, "000000" if space else None)

    def _fill_in_space(self, args: Any, cm: Any) -> None:
        self._set(FILL, _colour(args, self.spaces[0]) if self.spaces[0] else None)

    def _stroke_in_space(self, args: Any, cm: Any) -> None:
        self._set(STROKE, _colour(args, self.spaces[1]) if self.spaces[1] else None)

    def _graphics_state(self, args: Any, cm: Any) -> None:
        states = _dict(self.resources[-1][0], "/ExtGState")
        state = _dict(states, str(args[0]))
        if state is None:
            return
        if "/ca" in state:
            self._set(FILL_ALPHA, float(state["/ca"]))
        if "/CA" in state:
            self._set(STROKE_ALPHA, float(state["/CA"]))

    # -- what the page paints ---------------------------------------------------------------------

    def _paint(self, args: Any, cm: Any) -> None:
        segments, self.segments = self.segments, []
        if not segments or self.ink[3] <= 0:  # a transparent fill paints nothing
            return
        base = self.resources[-1][1]
        xs: list[float] = []
        ys: list[float] = []
        for op, operands, matrix in segments:
            if op == b"h":
                continue
            try:
                nums = [float(a) for a in operands]
            except (TypeError, ValueError):
                continue
            if op == b"re" and len(nums) >= 4:
                x, y, w, h = nums[:4]
                points = [(x, y), (x + w, y + h), (x, y + h), (x + w, y)]
            else:
                points = list(zip(nums[0::2], nums[1::2], strict=False))
            for px, py in points:
                px, py = _apply(matrix, px, py)
                if base is not _IDENTITY:
                    px, py = _apply(base, px, py)
                xs.append(px)
                ys.append(py)
        if not xs:
            return
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        # A rule or a border is too thin to read text on.
        if x1 - x0 >= BACKGROUND_MIN and y1 - y0 >= BACKGROUND_MIN:
            colour = self.ink[1] if self.ink[3] >= 1 else None
            self.areas.append((x0, y0, x1, y1, colour))
            self.colours.add(colour)
            self._alike.clear()

    def _end_path(self, args: Any, cm: Any) -> None:
        self.segments = []

    def _image_at(self, cm: Any) -> None:
        m = tuple(float(v) for v in cm)
        base = self.resources[-1][1]
        if base is not _IDENTITY:
            m = _mult(m, base)
        xs, ys = zip(*(_apply(m, u, v) for u, v in ((0, 0), (1, 0), (0, 1), (1, 1))), strict=True)
        self.images.append((min(xs), min(ys), max(xs), max(ys)))

    def _do(self, args: Any, cm: Any) -> None:
        resources, base = self.resources[-1]
        xobject = _dict(_dict(resources, "/XObject"), str(args[0]))
        subtype = str(xobject.get("/Subtype", "")) if xobject is not None else ""
        if subtype == "/Form":
            # pypdf reads the form's content on its own, from the identity matrix: where it lands
            # on the page is the form's matrix, then the current one, then the form's own base.
            matrix = xobject.get("/Matrix") or _IDENTITY
            inner = _mult(tuple(float(v) for v in matrix), _mult(tuple(cm), base))
            self.resources.append((_dict(xobject, "/Resources") or resources, inner))
            self.forms.append(True)
            self._save(args, cm)
            return
        self.forms.append(False)
        self._image_at(cm)  # an image, or something that cannot be told from one

    def _inline_image(self, args: Any, cm: Any) -> None:
        self._image_at(cm)

    # -- deciding ---------------------------------------------------------------------------------

    def hidden(self, mark: Mark, size: float, width: Callable[[], float]) -> HiddenKind | None:
        """Why a run of text with this mark, size and width (points) cannot be seen, or None."""
        mode, fill, stroke, fa, sa, tz, tf_size = mark.ink
        size *= mark.scale  # a form may scale its content
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            x, y = mark.x, mark.y
            if mark.upright:
                if x >= x1 or y >= y1 or y + size <= y0 or (x < x0 and x + width() <= x0):
                    return "off_page"
            elif not (x0 <= x <= x1 and y0 <= y <= y1):
                # However it is turned, the text stays within this of its origin.
                reach = max(width() * mark.scale, size, 1.0)
                if x - reach >= x1 or x + reach <= x0 or y - reach >= y1 or y + reach <= y0:
                    return "off_page"
        fills = mode in (0, 2, 4, 6) and fa > 0
        strokes = mode in (1, 2, 5, 6) and sa > 0
        if not (fills or strokes):
            return None if self._image_under(mark) else "invisible_render"
        if abs(tz) <= SQUEEZED or (tf_size is not None and size <= TINY_POINTS):
            return "tiny_font"
        colours = ([fill] if fills else []) + ([stroke] if strokes else [])
        if None in colours or (fills and fa < 1) or (strokes and not fills and sa < 1):
            return None
        if not all(self._like_a_surface(c) for c in colours):  # type: ignore[arg-type]
            return None  # no surface on this page has a colour like the text's
        behind = self._behind(mark)
        if behind is not None and all(_near(c, behind) for c in colours):  # type: ignore[arg-type]
            return "white_text"
        return None

    def _like_a_surface(self, colour: str) -> bool:
        alike = self._alike.get(colour)
        if alike is None:
            surfaces = (WHITE, *(c for c in self.colours if c is not None))
            alike = self._alike[colour] = any(_near(colour, s) for s in surfaces)
        return alike

    def _image_under(self, mark: Mark) -> bool:
        return any(a <= mark.x <= c and b <= mark.y <= d for a, b, c, d in self.images)

    def _behind(self, mark: Mark) -> str | None:
        """The colour under the text's origin: the last area painted there before it, else the
        white page; None when it cannot be told (an image, an unknown colour)."""
        if self._image_under(mark):
            return None
        for a, b, c, d, colour in reversed(self.areas[: mark.painted]):
            if a <= mark.x <= c and b <= mark.y <= d:
                return colour
        return WHITE


def _nothing(op: bytes, args: Any, cm: Any, tm: Any) -> None:
    pass


def _set_mode(ink: PageInk, args: Any, cm: Any) -> None:
    ink._set(MODE, int(args[0]))


def _set_scaling(ink: PageInk, args: Any, cm: Any) -> None:
    ink._set(SCALING, float(args[0]) / 100)


def _set_font(ink: PageInk, args: Any, cm: Any) -> None:
    ink._set(SIZE, abs(float(args[1])))


_HANDLERS = {
    b"q": PageInk._save,
    b"Q": PageInk._restore,
    b"g": lambda ink, args, cm: ink._fill(args, cm, 1),
    b"rg": lambda ink, args, cm: ink._fill(args, cm, 3),
    b"k": lambda ink, args, cm: ink._fill(args, cm, 4),
    b"G": lambda ink, args, cm: ink._stroke(args, cm, 1),
    b"RG": lambda ink, args, cm: ink._stroke(args, cm, 3),
    b"K": lambda ink, args, cm: ink._stroke(args, cm, 4),
    b"cs": PageInk._fill_space,
    b"CS": PageInk._stroke_space,
    b"sc": PageInk._fill_in_space,
    b"scn": PageInk._fill_in_space,
    b"SC": PageInk._stroke_in_space,
    b"SCN": PageInk._stroke_in_space,
    b"gs": PageInk._graphics_state,
    b"Tr": _set_mode,
    b"Tz": _set_scaling,
    b"Tf": _set_font,
    b"Do": PageInk._do,
    b"INLINE IMAGE": PageInk._inline_image,
    **dict.fromkeys(_FILL_OPS, PageInk._paint),
    **dict.fromkeys(_END_PATH_OPS, PageInk._end_path),
}


def _hand_over() -> None:
    """Make pypdf hand the text it has gathered to the visitor now, before the ink changes.

    pypdf keeps the text of consecutive operators on one line together and offers no way to cut
    it; its extractor is a local of the frame that called the visitor. If that is not found (a
    different pypdf), the piece keeps the ink of its first operator.
    """
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return
        extractor = frame.f_locals.get("extractor")
        flush = getattr(extractor, "_flush_text", None)
        if flush is not None:
            flush()
            return
        frame = frame.f_back


def split_hidden(ink: PageInk, lines: list[Any], page: int) -> tuple[list[Any], list[HiddenText]]:
    """Take the runs a reader cannot see out of a page's lines (a line left empty goes too).

    `lines` are pdf._PLine records whose fragments carry a Mark. Hidden runs become findings,
    located by page; consecutive ones of one kind, with nothing visible between, are one finding.
    """
    found: list[HiddenText] = []
    piece: list[str] = []  # lines of the finding being gathered
    here: list[str] = []  # its text on the current line
    kind: HiddenKind | None = None

    def end_line() -> None:
        if here:
            piece.append("".join(here))
            here.clear()

    def close() -> None:
        nonlocal kind
        end_line()
        text = ""
        for part in piece:
            text = join_lines(text, part)
        if kind is not None and text.strip():
            found.append(HiddenText(kind=kind, text=text, location=Location(page=page)))
        piece.clear()
        kind = None

    kept_lines = []
    for line in lines:
        kept = []
        for frag in line.frags:
            mark = frag.mark
            why = ink.hidden(mark, frag.size, frag.width) if mark is not None else None
            if why is None:
                kept.append(frag)
                if kind is not None and frag.text.strip():
                    close()  # something a reader sees ends the hidden passage
                continue
            if kind is not None and why != kind:
                close()
            kind = why
            here.append(frag.text)
        end_line()
        if len(kept) != len(line.frags):
            if not any(f.text.strip() for f in kept):
                continue  # the line held nothing a reader sees
            line.frags = kept
        kept_lines.append(line)
    close()
    return kept_lines, found
