"""Build the bundled sample documents from the sources in ``samples/src/``.

Run from the repository root (or anywhere)::

    python samples/build.py            # build everything
    python samples/build.py ja-poc     # only sources whose name contains "ja-poc"

Each source is a UTF-8 file ``samples/src/<name>.md`` (or ``.txt``) that starts with a small
front matter block::

    ---
    outputs: ja-poc-plan-strong.docx, ja-poc-plan-strong.pdf
    lang: ja-JP                # ja-JP | en-GB | en-US : fonts, page size, core properties
    title: 生成AIによる…       # Word "Title" paragraph and core property
    subtitle: …                # optional, paragraph under the title
    author: …                  # core properties (author, subject, keywords, category, comments)
    header: …                  # Word page header text
    footer: …                  # Word page footer text; " | {page}" appends a PAGE field
    encoding: cp932            # only for .txt outputs
    newline: crlf              # only for .txt / .md outputs
    ---

What each output extension means:

* ``.docx`` - a real Word document made with python-docx: Title style, Heading 1/2/3 styles,
  "List Bullet"/"List Number" paragraphs, "Table Grid" tables (first row is the header row),
  a page header and footer, and fixed core properties.
* ``.pdf``  - the same DOCX converted with ``soffice --headless --convert-to pdf``. When the
  DOCX is not itself one of the outputs it is built in a temporary directory and discarded.
* ``.md`` / ``.txt`` - the body (everything after the front matter) written verbatim, in the
  front matter's ``encoding`` (default UTF-8) and newline style.

Body syntax for DOCX/PDF outputs (a small Markdown subset):

* ``# `` / ``## `` / ``### `` headings -> Heading 1 / 2 / 3
* ``- `` bullets (two leading spaces -> List Bullet 2), ``1. `` numbered items
* pipe tables ``| a | b |`` with an optional ``|---|---|`` separator line
* ``**bold**`` inline; ``<!-- pagebreak -->`` page break
* consecutive non-blank lines are joined into one paragraph (Japanese without a space)

Reproducibility: the DOCX zip entries and core properties carry fixed timestamps, so a DOCX is
byte-identical between runs. LibreOffice stamps every PDF with a creation date, a random
document ID and a checksum over the file; all three are overwritten in place with fixed values
of the same length, so the PDFs are byte-identical between runs on the same LibreOffice version.
LibreOffice is only needed for the PDF outputs; it is looked up as ``soffice`` or ``libreoffice``
on PATH (or ``$SOFFICE``).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
OUT = HERE

FIXED_TIME = dt.datetime(2025, 6, 2, 9, 0, 0)
ZIP_TIME = (2025, 6, 2, 9, 0, 0)

FONTS = {
    # lang prefix -> (latin font, east-asian font)
    "ja": ("Noto Sans CJK JP", "Noto Sans CJK JP"),
    "en": ("DejaVu Sans", "Noto Sans CJK JP"),
}


# --------------------------------------------------------------------------- source parsing


@dataclass
class Source:
    path: Path
    meta: dict[str, str]
    body: str
    outputs: list[str] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.meta.get("lang", "en-GB")

    @property
    def is_ja(self) -> bool:
        return self.lang.lower().startswith("ja")


def read_source(path: Path) -> Source:
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        end = text.index("\n---\n", 4)
        for line in text[4:end].splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, _, value = line.partition(":")
            value = re.sub(r"\s+#.*$", "", value.strip()) if " #" in value else value.strip()
            meta[key.strip()] = value
        body = text[end + len("\n---\n") :]
    outputs = [o.strip() for o in meta.get("outputs", "").split(",") if o.strip()]
    if not outputs:
        raise SystemExit(f"{path.name}: front matter has no 'outputs'")
    return Source(path=path, meta=meta, body=body, outputs=outputs)


# --------------------------------------------------------------------------- DOCX helpers


def _set_fonts(rpr_owner, latin: str, east_asian: str) -> None:
    """Set explicit fonts on a style or run, dropping theme fonts that would override them."""
    rpr = rpr_owner.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if rfonts.get(qn(attr)) is not None:
            del rfonts.attrib[qn(attr)]
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:cs"), latin)
    rfonts.set(qn("w:eastAsia"), east_asian)


def _set_lang(style, lang: str) -> None:
    rpr = style.element.get_or_add_rPr()
    el = rpr.find(qn("w:lang"))
    if el is None:
        el = OxmlElement("w:lang")
        rpr.append(el)
    if lang.lower().startswith("ja"):
        el.set(qn("w:val"), "en-US")
        el.set(qn("w:eastAsia"), "ja-JP")
    else:
        el.set(qn("w:val"), lang)
        el.set(qn("w:eastAsia"), "ja-JP")


def _setup_styles(doc, src: Source) -> None:
    latin, ea = FONTS["ja" if src.is_ja else "en"]
    base = 10 if src.is_ja else 10
    sizes = {
        "Normal": base,
        "Title": 17,
        "Subtitle": 10.5,
        "Heading 1": 12.5,
        "Heading 2": 11,
        "Heading 3": 10,
        "Header": 8.5,
        "Footer": 8.5,
        "List Bullet": None,
        "List Bullet 2": None,
        "List Number": None,
    }
    for name, size in sizes.items():
        style = doc.styles[name]
        _set_fonts(style.element, latin, ea)
        if size:
            style.font.size = Pt(size)
    _set_lang(doc.styles["Normal"], src.lang)
    normal = doc.styles["Normal"].paragraph_format
    normal.space_after = Pt(4)
    normal.line_spacing = 1.1 if src.is_ja else 1.15
    for name in ("Heading 1", "Heading 2", "Heading 3"):
        st = doc.styles[name]
        st.paragraph_format.space_before = Pt(10 if name == "Heading 1" else 6)
        st.paragraph_format.space_after = Pt(3)
        st.font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
        # Japanese documents use one (regular) weight, as Japanese Word's own heading styles
        # do: LibreOffice 7.x embeds each CJK weight as Type 1 subsets that barely compress,
        # and a second weight pushes a 4-page Japanese PDF well past 200 KB.
        if src.is_ja:
            st.font.bold = False
    doc.styles["Title"].font.color.rgb = RGBColor(0x10, 0x20, 0x40)
    if src.is_ja:
        doc.styles["Title"].font.bold = False
        doc.styles["Subtitle"].font.bold = False


def _setup_page(doc, src: Source) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    if src.lang.lower() == "en-us":
        section.page_width, section.page_height = Cm(21.59), Cm(27.94)
    else:
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = Cm(2.0)
    section.bottom_margin = Cm(1.8)
    section.header_distance = Cm(0.9)
    section.footer_distance = Cm(0.8)


def _add_field(paragraph, instr: str) -> None:
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), instr)
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    fld.append(run)
    paragraph._p.append(fld)


def _setup_header_footer(doc, src: Source) -> None:
    section = doc.sections[0]
    header = src.meta.get("header")
    if header:
        p = section.header.paragraphs[0]
        p.text = header
        p.style = doc.styles["Header"]
    footer = src.meta.get("footer")
    if footer:
        p = section.footer.paragraphs[0]
        p.style = doc.styles["Footer"]
        if "{page}" in footer:
            before, _, after = footer.partition("{page}")
            p.add_run(before)
            _add_field(p, "PAGE")
            if after:
                p.add_run(after)
        else:
            p.text = footer


def _core_properties(doc, src: Source) -> None:
    cp = doc.core_properties
    cp.title = src.meta.get("title", "")
    cp.subject = src.meta.get("subject", "")
    cp.author = src.meta.get("author", "")
    cp.keywords = src.meta.get("keywords", "")
    cp.category = src.meta.get("category", "")
    cp.comments = src.meta.get("comments", "")
    cp.language = src.lang
    cp.last_modified_by = src.meta.get("author", "")
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.last_printed = FIXED_TIME
    cp.revision = 1


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_NO_BOLD = False  # set per document: Japanese documents render **x** without bold (see above)


def _add_inline(paragraph, text: str, bold: bool = False) -> None:
    pos = 0
    for m in _BOLD.finditer(text):
        if m.start() > pos:
            run = paragraph.add_run(text[pos : m.start()])
            run.bold = bold or None
        run = paragraph.add_run(m.group(1))
        run.bold = True if not _NO_BOLD else None
        pos = m.end()
    if pos < len(text):
        run = paragraph.add_run(text[pos:])
        run.bold = bold or None


def _shade(cell, fill: str) -> None:
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.append(shd)


def _mark_header_row(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    trpr.append(el)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def _is_separator(line: str) -> bool:
    return bool(re.fullmatch(r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?", line.strip()))


def _display_len(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _column_widths(rows: list[list[str]], ncols: int, total_cm: float) -> list[Cm]:
    """Share the text width between columns by (damped) length of their longest cell."""
    weights, minimum = [], []
    for j in range(ncols):
        cells = [r[j] for r in rows if j < len(r)]
        longest = max((_display_len(c) for c in cells), default=4)
        weights.append(min(max(longest, 6), 60) ** 0.75)
        # a column is never narrower than its longest word (Latin words must not break)
        word = max((_display_len(w) for c in cells for w in c.split()), default=2)
        minimum.append(min(0.19 * word + 0.4, total_cm / ncols))
    widths = [w * total_cm / sum(weights) for w in weights]
    for _ in range(ncols):
        short = [j for j in range(ncols) if widths[j] < minimum[j] - 1e-6]
        if not short:
            break
        fixed = {j: minimum[j] for j in short}
        rest = [j for j in range(ncols) if j not in fixed]
        spare = total_cm - sum(fixed.values())
        share = sum(weights[j] for j in rest)
        widths = [fixed[j] if j in fixed else weights[j] * spare / share for j in range(ncols)]
    return [Cm(w) for w in widths]


def _add_table(doc, rows: list[list[str]], src: Source) -> None:
    ncols = max(len(r) for r in rows)
    table = doc.add_table(rows=0, cols=ncols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    section = doc.sections[0]
    text_width = (section.page_width - section.left_margin - section.right_margin) / 360000
    widths = _column_widths(rows, ncols, text_width)
    for j, col in enumerate(table.columns):
        col.width = widths[j]
    small = Pt(8.5 if src.is_ja else 8.5)
    for i, cells in enumerate(rows):
        row = table.add_row()
        if i == 0:
            _mark_header_row(row)
        for j in range(ncols):
            text = cells[j] if j < len(cells) else ""
            cell = row.cells[j]
            cell.width = widths[j]
            p = cell.paragraphs[0]
            p.paragraph_format.space_after = Pt(0)
            _add_inline(p, text, bold=(i == 0 and not src.is_ja))
            for run in p.runs:
                run.font.size = small
            if i == 0:
                _shade(cell, "D9E2F3")
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _join(lines: list[str], ja: bool) -> str:
    out = ""
    for line in lines:
        line = line.strip()
        if not out:
            out = line
        elif ja and not (out[-1].isascii() and line[:1].isascii()):
            out += line
        else:
            out += " " + line
    return out


def build_docx(src: Source) -> bytes:
    global _NO_BOLD
    _NO_BOLD = src.is_ja
    doc = Document()
    _setup_styles(doc, src)
    _setup_page(doc, src)
    _setup_header_footer(doc, src)
    _core_properties(doc, src)

    # python-docx's template starts with one empty paragraph only in some versions; remove any.
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)

    if src.meta.get("title"):
        doc.add_paragraph(src.meta["title"], style="Title")
    if src.meta.get("subtitle"):
        doc.add_paragraph(src.meta["subtitle"], style="Subtitle")

    lines = src.body.splitlines()
    i = 0
    para: list[str] = []

    def flush() -> None:
        if para:
            p = doc.add_paragraph()
            _add_inline(p, _join(para, src.is_ja))
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        if stripped == "<!-- pagebreak -->":
            flush()
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            i += 1
            continue
        m = re.match(r"^(#{1,3})\s+(.*)$", stripped)
        if m:
            flush()
            doc.add_heading(m.group(2).strip(), level=len(m.group(1)))
            i += 1
            continue
        if stripped.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                if not _is_separator(lines[i]):
                    rows.append(_split_row(lines[i]))
                i += 1
            _add_table(doc, rows, src)
            continue
        m = re.match(r"^(\s*)[-*・]\s+(.*)$", line)
        if m:
            flush()
            style = "List Bullet 2" if len(m.group(1)) >= 2 else "List Bullet"
            p = doc.add_paragraph(style=style)
            _add_inline(p, m.group(2).strip())
            i += 1
            continue
        m = re.match(r"^\s*\d+[.)]\s+(.*)$", line)
        if m:
            flush()
            p = doc.add_paragraph(style="List Number")
            _add_inline(p, m.group(1).strip())
            i += 1
            continue
        para.append(line)
        i += 1
    flush()

    raw = io.BytesIO()
    doc.save(raw)
    return _normalise_zip(raw.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX zip with fixed timestamps so that builds are byte-identical."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout,
    ):
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(item.filename))
    return out.getvalue()


# --------------------------------------------------------------------------- PDF


def _soffice() -> str:
    for cand in (os.environ.get("SOFFICE"), "soffice", "libreoffice"):
        if cand and shutil.which(cand):
            return shutil.which(cand)  # type: ignore[return-value]
    raise SystemExit("LibreOffice (soffice) not found on PATH; it is needed for the PDF samples")


def docx_to_pdf(docx_bytes: bytes, stem: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="samples-build-") as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / f"{stem}.docx"
        src.write_bytes(docx_bytes)
        profile = (tmpdir / "lo-profile").as_uri()
        cmd = [
            _soffice(),
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmpdir),
            str(src),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        pdf = tmpdir / f"{stem}.pdf"
        if res.returncode != 0 or not pdf.exists():
            raise SystemExit(f"soffice failed for {stem}: {res.stdout}\n{res.stderr}")
        return _normalise_pdf(pdf.read_bytes())


def _normalise_pdf(data: bytes) -> bytes:
    """Overwrite the creation date and the document ID with fixed values of the same length."""

    def fix_date(m: re.Match[bytes]) -> bytes:
        fixed = b"20250602090000"
        return m.group(1) + fixed + m.group(2)[len(fixed) :]

    data = re.sub(rb"(/CreationDate\s*\(D:)(\d{14})", fix_date, data)
    data = re.sub(rb"(/ModDate\s*\(D:)(\d{14})", fix_date, data)

    def fix_id(m: re.Match[bytes]) -> bytes:
        return b"<" + b"0" * len(m.group(1)) + b">"

    def fix_ids(m: re.Match[bytes]) -> bytes:
        return re.sub(rb"<([0-9A-Fa-f]+)>", fix_id, m.group(0))

    data = re.sub(rb"/ID\s*\[\s*<[0-9A-Fa-f]+>\s*<[0-9A-Fa-f]+>\s*\]", fix_ids, data)
    # LibreOffice's trailer checksum covers the (time-stamped) original bytes; zero it as well.
    data = re.sub(
        rb"(/DocChecksum\s*/)([0-9A-Fa-f]+)", lambda m: m.group(1) + b"0" * len(m.group(2)), data
    )
    return data


# --------------------------------------------------------------------------- text outputs


def build_text(src: Source) -> bytes:
    body = src.body.lstrip("\n")
    if src.meta.get("newline", "lf").lower() == "crlf":
        body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    encoding = src.meta.get("encoding", "utf-8")
    return body.encode(encoding)


# --------------------------------------------------------------------------- main


def build(src: Source) -> list[Path]:
    written: list[Path] = []
    docx_bytes: bytes | None = None
    for name in src.outputs:
        target = OUT / name
        ext = target.suffix.lower()
        if ext in (".docx", ".pdf"):
            if docx_bytes is None:
                docx_bytes = build_docx(src)
            data = docx_bytes if ext == ".docx" else docx_to_pdf(docx_bytes, target.stem)
        elif ext in (".md", ".txt"):
            data = build_text(src)
        else:
            raise SystemExit(f"{src.path.name}: unsupported output {name}")
        target.write_bytes(data)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    sources = sorted(p for p in SRC.iterdir() if p.suffix in (".md", ".txt"))
    if argv:
        sources = [p for p in sources if any(a in p.name for a in argv)]
    for path in sources:
        src = read_source(path)
        for target in build(src):
            print(f"{target.relative_to(HERE.parent)}  {target.stat().st_size:>8,d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
