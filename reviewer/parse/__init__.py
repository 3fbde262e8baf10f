"""parse: a file's bytes -> Document (blocks in reading order, each with its location).

The format is decided by content, not by the file name: PDF by its signature, DOCX by a zip that
holds word/document.xml, anything else that decodes as text is Markdown or plain text. pypdf and
python-docx are imported only when a PDF or DOCX arrives, so a Markdown review starts quickly.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import zipfile
from io import BytesIO
from pathlib import Path

from .. import config
from ..errors import ParseError
from ..models import Document, Format
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


def parse_file(path: str | Path, *, name: str | None = None) -> Document:
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
    doc = _parse(data, name or p.name, shown)
    return doc


def parse_bytes(data: bytes, name: str) -> Document:
    """Parse an uploaded document; `name` is the file's name, used in messages and the report."""
    return _parse(data, os.path.basename(name) or name, name)


def sniff(data: bytes, name: str = "") -> Format:
    """The format of these bytes ("pdf", "docx", "md", "txt"), or ParseError if unsupported."""
    return _sniff(data, name, name)


def _parse(data: bytes, name: str, shown: str) -> Document:
    if len(data) > config.MAX_FILE_BYTES:
        raise ParseError(shown, _too_big(len(data)))
    fmt = _sniff(data, name, shown)
    if fmt == "pdf":
        from . import pdf

        parsed = pdf.parse(data, shown)
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
        blocks = textmod.parse_markdown(body) if fmt == "md" else textmod.parse_plain(body)
        parsed = textmod.Parsed(blocks=blocks)
        if encoding:
            parsed.warnings.append(f"decoded as {encoding}")
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
        warnings=parsed.warnings,
    )


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
