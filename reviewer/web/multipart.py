"""An in-memory reader for the upload form (multipart/form-data): one file and a few fields.

Starlette's form parser spools files over 1 MB to a temporary file on disk; a confidential
document must not touch the disk, so the upload is read here into memory instead, with a cap on
the file, on each field and on the number of parts. The request's total size is capped before
this runs (guard.BodyLimit), while the body arrives.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 256
MAX_PARTS = 16
MAX_NAME_CHARS = 200
_EXTENDED_NAME = re.compile(rb"filename\*\s*=\s*([\w!#$%&+^`{}~.-]*)'[^']*'([^;\s]+)", re.I)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class FormError(Exception):
    """An upload that is not the expected form (HTTP 400)."""


class FileTooLarge(Exception):
    """The file part alone is over the limit (HTTP 413)."""


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_data: bytes | None = None


@dataclass
class _Part:
    name: str = ""
    file_name: str | None = None
    data: bytearray = field(default_factory=bytearray)
    keep: bool = False


async def read_form(
    content_type: str,
    chunks: AsyncIterator[bytes],
    *,
    file_field: str,
    fields: Collection[str],
    max_file_bytes: int,
) -> Form:
    """Read the body into a Form: the file part `file_field` and the named text `fields`.

    Other parts are read and dropped. Raises FormError or FileTooLarge.
    """
    media, params = parse_options_header(content_type or "")
    if media != b"multipart/form-data" or not params.get(b"boundary"):
        raise FormError(f"expected a multipart/form-data upload with a field {file_field!r}")
    form = Form()
    part = _Part()
    header_name = bytearray()
    header_value = bytearray()
    disposition = b""
    count = 0

    def on_part_begin() -> None:
        nonlocal part, disposition, count
        count += 1
        if count > MAX_PARTS:
            raise FormError(f"too many parts in the form (at most {MAX_PARTS})")
        part, disposition = _Part(), b""

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        nonlocal disposition
        if header_name.lower() == b"content-disposition":
            disposition = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, options = parse_options_header(disposition)
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if part.name == file_field:
            if form.file_data is not None:
                raise FormError("send one file per request")
            part.file_name = _file_name(disposition, options.get(b"filename"))
            part.keep = True
        else:
            part.keep = part.name in fields

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if not part.keep:
            return
        part.data.extend(data[start:end])
        if part.file_name is not None:
            if len(part.data) > max_file_bytes:
                raise FileTooLarge()
        elif len(part.data) > MAX_FIELD_BYTES:
            raise FormError(f"the field {part.name!r} is too long")

    def on_part_end() -> None:
        if not part.keep:
            return
        if part.file_name is not None:
            form.file_name, form.file_data = part.file_name, bytes(part.data)
            part.data.clear()
        else:
            form.fields[part.name] = part.data.decode("utf-8", "replace").strip()

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in chunks:
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise FormError("the upload is not valid multipart/form-data") from None
    if form.file_data is None:
        raise FormError(f"no file: send the document in the multipart field {file_field!r}")
    return form


def _file_name(disposition: bytes, plain: bytes | None) -> str:
    """The file's own name (no folders), for the report; "upload" when none was sent."""
    name = ""
    extended = _EXTENDED_NAME.search(disposition)
    if extended:
        charset = extended.group(1).decode("ascii", "replace") or "utf-8"
        try:
            name = unquote(extended.group(2).decode("ascii", "replace"), encoding=charset)
        except LookupError:
            name = unquote(extended.group(2).decode("ascii", "replace"))
    elif plain:
        name = plain.decode("utf-8", "replace")
    name = _UNSAFE_NAME.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:MAX_NAME_CHARS] or "upload"
