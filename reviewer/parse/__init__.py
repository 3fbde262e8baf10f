"""parse: a file's bytes -> Document (blocks in reading order, each with its location).

The format is decided by content, not by the file name: PDF by its signature, DOCX by a zip that
holds word/document.xml, anything else that decodes as text is Markdown or plain text. pypdf and
python-docx are imported only when a PDF or DOCX arrives, so a Markdown review starts quickly.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import zipfile
from io import BytesIO
from pathlib import Path

from .. import config
from ..errors import ParseError
from ..models import Block, Document, Format, HiddenText, ParseOptions
from ..text import detect_language

__all__ = ["parse_bytes", "parse_file", "sniff"]

_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd", ".mkdn")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_OTHER_BINARY = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
)


def parse_file(
    path: str | Path, *, name: str | None = None, options: ParseOptions | None = None
) -> Document:
    """Read and parse a PDF, DOCX, Markdown or text file; a bad file raises ParseError."""
    p = Path(path)
    shown = str(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ParseError(shown, "file not found; check the path") from None
    except PermissionError:
        raise ParseError(shown, "permission denied; check the file's permissions") from None
    except OSError as exc:
        raise ParseError(shown, f"cannot read the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ParseError(
            shown, "is a directory; give a document file (PDF, DOCX, Markdown or text)"
        )
    if not stat.S_ISREG(st.st_mode):
        raise ParseError(shown, "is not a regular file (device, pipe or socket); give a document")
    if st.st_size > config.MAX_FILE_BYTES:
        raise ParseError(shown, _too_big(st.st_size))
    try:
        with p.open("rb") as fh:
            data = fh.read(config.MAX_FILE_BYTES + 1)
    except PermissionError:
        raise ParseError(shown, "permission denied; check the file's permissions") from None
    except IsADirectoryError:
        raise ParseError(shown, "is a directory; give a document file") from None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise ParseError(shown, "file not found; check the path") from None
        raise ParseError(shown, f"cannot read the file ({exc.strerror or exc})") from None
    doc = _parse(data, name or p.name, shown, options or ParseOptions())
    return doc


def parse_bytes(data: bytes, name: str, options: ParseOptions | None = None) -> Document:
    """Parse an uploaded document; `name` is the file's name, used in messages and the report."""
    return _parse(data, os.path.basename(name) or name, name, options or ParseOptions())


def sniff(data: bytes, name: str = "") -> Format:
    """The format of these bytes ("pdf", "docx", "md", "txt"), or ParseError if unsupported."""
    return _sniff(data, name, name)


def _parse(data: bytes, name: str, shown: str, options: ParseOptions) -> Document:
    if len(data) > config.MAX_FILE_BYTES:
        raise ParseError(shown, _too_big(len(data)))
    fmt = _sniff(data, name, shown)
    if fmt == "pdf":
        from . import pdf

        parsed = pdf.parse(data, shown, options)
    elif fmt == "docx":
        from . import docx

        parsed = docx.parse(data, shown)
    else:
        from . import text as textmod

        body, encoding = textmod.decode(data, shown)
        if len(body) > config.MAX_TEXT_CHARS:
            raise ParseError(shown, _too_long(len(body)))
        if fmt == "txt" and textmod.looks_like_markdown(body):
            fmt = "md"
        hidden: list[HiddenText] = []  # Markdown comments and hidden HTML
        md = fmt == "md"
        blocks = textmod.parse_markdown(body, hidden) if md else textmod.parse_plain(body)
        parsed = textmod.Parsed(blocks=blocks, hidden=hidden)
        if encoding:
            parsed.warnings.append(f"decoded as {encoding}")
    hidden = [*parsed.hidden, *strip_invisible(parsed.blocks)]
    blocks = [b for b in parsed.blocks if b.text.strip()]
    if not blocks:
        raise ParseError(shown, "the document contains no text")
    chars = sum(len(b.text) for b in blocks)
    if chars > config.MAX_TEXT_CHARS:
        raise ParseError(shown, _too_long(chars))
    return Document(
        name=name,
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        pages=parsed.pages,
        language=detect_language("\n".join(b.text for b in blocks)),
        blocks=blocks,
        warnings=parsed.warnings + _hidden_warnings(hidden),
        hidden=_shortened(hidden),
    )


# --- invisible characters -------------------------------------------------------------------------
#
# Zero-width and other invisible format characters, bidirectional controls and Unicode tag
# characters survive NFKC. Inside a word they stop the rubric's patterns from matching what a
# reader sees (「K\u200bPI」), and tag characters can spell out a whole message nobody sees. They are
# taken out of every block, whatever the format; a block that had them gets one finding per kind
# (tag characters decoded). A soft hyphen is only a hyphenation hint: removed without a finding.

_ZERO_WIDTH = "\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"  # noqa: RUF001
_TAGS = "\U000e0000-\U000e007f"
_INVISIBLE = re.compile(f"[\u00ad{_ZERO_WIDTH}{_TAGS}]")
_INVISIBLE_RUN = re.compile(f"[{_ZERO_WIDTH}]+")
_TAG_RUN = re.compile(f"[{_TAGS}]+")
# Emoji sequences use these legitimately: the zero-width joiner between pictographs (👩‍💻) and
# tag characters after a black flag (the flags of England, Scotland, Wales).
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff"
_KEPT = re.compile(
    f"(?:(?<=[{_EMOJI}])|(?<=[{_EMOJI}]\ufe0f))\u200d(?=[{_EMOJI}])"
    "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"
)
SNIPPET = 60  # characters of visible text shown on each side of the first invisible one

MAX_HIDDEN_ITEMS = 500
MAX_HIDDEN_CHARS = 1000


def strip_invisible(blocks: list[Block]) -> list[HiddenText]:
    """Take invisible characters out of the blocks' text; one finding per block and kind."""
    found: list[HiddenText] = []
    cleaned = False
    for block in blocks:
        text = block.text
        if not _INVISIBLE.search(text):
            continue
        cleaned = True
        kept = [m.span() for m in _KEPT.finditer(text)]
        tags = [m for m in _TAG_RUN.finditer(text) if not any(a <= m.start() < b for a, b in kept)]
        zero = [
            m for m in _INVISIBLE_RUN.finditer(text) if not any(a <= m.start() < b for a, b in kept)
        ]
        if zero:
            found.append(
                HiddenText(kind="zero_width", text=_marked(text, zero), location=block.location)
            )
        decoded = " ".join(d for d in (_decode(m.group()) for m in tags) if d.strip())
        if decoded:
            found.append(HiddenText(kind="tag_chars", text=decoded, location=block.location))
        block.text = _strip(text)
        if block.header is not None:
            block.header = _strip(block.header)
    if cleaned:  # section paths repeat heading texts, which were cleaned too
        for block in blocks:
            section = block.location.section
            if any(_INVISIBLE.search(s) for s in section):
                block.location.section = [_strip(s) for s in section]
        for item in found:
            item.location = item.location.model_copy(deep=True)
    return found


def _strip(text: str) -> str:
    kept = [m.span() for m in _KEPT.finditer(text)]
    if not kept:
        return _INVISIBLE.sub("", text)
    out, at = [], 0
    for a, b in kept:
        out.append(_INVISIBLE.sub("", text[at:a]))
        out.append(text[a:b])
        at = b
    out.append(_INVISIBLE.sub("", text[at:]))
    return "".join(out)


def _decode(tags: str) -> str:
    """Tag characters as the ASCII they spell (U+E0041 -> "A"); language and cancel tags dropped."""
    return "".join(chr(ord(c) - 0xE0000) for c in tags if 0xE0020 <= ord(c) <= 0xE007E)


def _marked(text: str, runs: list[re.Match[str]]) -> str:
    """The block's text around its invisible characters, each run shown as ⟨U+200B×3⟩."""
    start = max(0, runs[0].start() - SNIPPET)
    end = min(len(text), runs[0].end() + SNIPPET)
    out: list[str] = ["…" if start else ""]
    at = start
    for m in runs:
        if m.start() >= end:
            break
        out.append(_strip(text[at : m.start()]))
        counts: list[list] = []
        for c in m.group():
            code = f"U+{ord(c):04X}"
            if counts and counts[-1][0] == code:
                counts[-1][1] += 1
            else:
                counts.append([code, 1])
        out.append("⟨" + " ".join(c if n == 1 else f"{c}×{n}" for c, n in counts) + "⟩")
        at = m.end()
    out.append(_strip(text[at:end]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def _shortened(hidden: list[HiddenText]) -> list[HiddenText]:
    """At most MAX_HIDDEN_ITEMS findings, each on one line and at most MAX_HIDDEN_CHARS long."""
    out = hidden[:MAX_HIDDEN_ITEMS]
    for item in out:
        text = item.text
        if item.kind not in ("tag_chars", "zero_width"):  # tag characters: say it in ASCII
            text = _TAG_RUN.sub(lambda m: _decode(m.group()), text)
        text = " ".join(_strip(text).split())
        if len(text) > MAX_HIDDEN_CHARS:
            text = text[: MAX_HIDDEN_CHARS - 1] + "…"
        item.text = text
    return [item for item in out if item.text]


def _hidden_warnings(hidden: list[HiddenText]) -> list[str]:
    if len(hidden) <= MAX_HIDDEN_ITEMS:
        return []
    return [f"{len(hidden) - MAX_HIDDEN_ITEMS} more passages of hidden text are not listed"]


def _sniff(data: bytes, name: str, shown: str) -> Format:
    if not data.strip() or not data.lstrip(b"\xef\xbb\xbf").strip():
        raise ParseError(shown, "file is empty")
    head = data[:8192]
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(data, name, shown)
    if data.startswith(_OLE2):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise ParseError(
                shown,
                "Office file is password-protected; remove the password and save it as .docx",
            )
        raise ParseError(
            shown, "legacy Word/Excel binary (.doc/.xls) is not supported; save it as .docx"
        )
    if data.startswith(b"{\\rtf"):
        raise ParseError(shown, "RTF is not supported; save it as .docx or PDF")
    for magic, label in _IMAGES:
        if data.startswith(magic):
            raise ParseError(
                shown, f"{label} image is not supported (no OCR); give a PDF, DOCX or text file"
            )
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" or data[4:12] in (b"ftypheic", b"ftypavif"):
        raise ParseError(
            shown, "image files are not supported (no OCR); give a PDF, DOCX or text file"
        )
    for magic, label in _OTHER_BINARY:
        if data.startswith(magic) and (label != "a Windows executable" or b"\x00" in head):
            raise ParseError(
                shown, f"file is {label}, not a document; give a PDF, DOCX or text file"
            )
    if not head.startswith((b"\xff\xfe", b"\xfe\xff")) and _binary(head):
        raise ParseError(
            shown, "binary file of an unsupported type; give a PDF, DOCX, Markdown or text file"
        )
    if name.lower().endswith(_MARKDOWN_SUFFIXES):
        return "md"
    return "txt"


def _binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(8, len(head) // 20)


def _sniff_zip(data: bytes, name: str, shown: str) -> Format:
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            names = set(zf.namelist())
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
    # NotImplementedError: an unknown zip version or compression; RuntimeError: an encrypted entry.
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        KeyError,
        NotImplementedError,
        RuntimeError,
    ):
        if name.lower().endswith((".docx", ".docm", ".dotx")) or b"word/" in data[:4096]:
            raise ParseError(
                shown, "DOCX file is corrupt or truncated (not a readable zip archive)"
            ) from None
        raise ParseError(
            shown, "ZIP archive is corrupt or truncated, and not a supported document"
        ) from None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        raise ParseError(
            shown, "Excel workbooks (.xlsx) are not supported; save the content as .docx or PDF"
        )
    if "ppt/presentation.xml" in names:
        raise ParseError(
            shown, "PowerPoint files (.pptx) are not supported; export the slides as PDF"
        )
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise ParseError(
            shown, "OpenDocument files (.odt/.ods/.odp) are not supported; save as .docx or PDF"
        )
    if name.lower().endswith((".docx", ".docm", ".dotx")):
        raise ParseError(shown, "DOCX file is corrupt: word/document.xml is missing")
    raise ParseError(
        shown, "ZIP archive is not a supported document; give a PDF, DOCX, Markdown or text file"
    )


def _too_big(size: int) -> str:
    return (
        f"file is {size / 1_048_576:.1f} MB, more than the limit of "
        f"{config.MAX_FILE_BYTES / 1_048_576:.0f} MB; split it or remove images"
    )


def _too_long(chars: int) -> str:
    limit = config.MAX_TEXT_CHARS
    return f"document has {chars:,} characters of text, more than the limit of {limit:,}; split it"
