"""parse: every format to blocks with locations, and every bad input to a one-line ParseError."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from lxml import etree

from reviewer import config
from reviewer.errors import ParseError
from reviewer.models import Block, Document
from reviewer.parse import parse_bytes, parse_file
from reviewer.parse.text import join_lines

FIXTURES = Path(__file__).parent / "fixtures"

MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
V_NS = "urn:schemas-microsoft-com:vml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.wordprocessingml"


def texts(doc: Document, **where) -> list[str]:
    """Block texts, optionally filtered by kind or location fields."""
    out = []
    for b in doc.blocks:
        if "kind" in where and b.kind != where["kind"]:
            continue
        if "part" in where and b.location.part != where["part"]:
            continue
        out.append(b.text)
    return out


def block(doc: Document, contains: str) -> Block:
    found = [b for b in doc.blocks if contains in b.text]
    assert found, f"no block contains {contains!r}: {texts(doc)}"
    return found[0]


def docx_bytes(doc) -> bytes:  # noqa: ANN001 - python-docx Document
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def add_part(data: bytes, partname: str, content_type: str, reltype: str, xml: str) -> bytes:
    """Add an XML part to a saved DOCX, with its content type and a relationship from the body."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                override = f'<Override PartName="/{partname}" ContentType="{content_type}"/>'
                body = body.replace(b"</Types>", override.encode() + b"</Types>")
            elif item.filename == "word/_rels/document.xml.rels":
                target = partname.removeprefix("word/")
                rid = "rIdX" + hashlib.sha1(partname.encode()).hexdigest()[:8]
                rel = f'<Relationship Id="{rid}" Type="{reltype}" Target="{target}"/>'
                body = body.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            dst.writestr(item, body)
        dst.writestr(partname, xml)
    return out.getvalue()


def replace_in_part(data: bytes, partname: str, old: str, new: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == partname:
                assert old.encode() in body, f"{old!r} not in {partname}"
                body = body.replace(old.encode(), new.encode())
            dst.writestr(item, body)
    return out.getvalue()


# --- PDF ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ja_pdf() -> Document:
    return parse_file(FIXTURES / "ja_plan.pdf")


def test_pdf_japanese_lines_are_joined_without_spaces(ja_pdf: Document) -> None:
    assert ja_pdf.format == "pdf" and ja_pdf.pages == 3 and ja_pdf.language == "ja"
    purpose = block(ja_pdf, "本プロジェクトは")
    # One paragraph, several PDF lines: breaks inside words vanish, sentence ends stay.
    assert "短縮することを目的とする。現状の平均処理時間は12分であり、生成AIが" in purpose.text
    assert "エスカレーション後の対応は対象外とする。" in purpose.text
    assert "\n" not in purpose.text and "  " not in purpose.text
    assert purpose.kind == "paragraph" and purpose.location.page == 1
    # Typesetting gaps between Japanese and Latin text are not spaces in the text.
    assert "KPIは次のとおりとする。" in texts(ja_pdf)


def test_pdf_headings_levels_and_section_paths(ja_pdf: Document) -> None:
    headings = [(b.text, b.level) for b in ja_pdf.blocks if b.kind == "heading"]
    assert ("1. 目的", 1) in headings
    assert ("2.1 測定方法", 2) in headings
    assert ("3. PoC出口判定", 1) in headings
    method = block(ja_pdf, "処理時間は通話記録システム")
    assert method.location.section == ["2. KPI", "2.1 測定方法"]
    gate = block(ja_pdf, "PoCの最終週に")
    assert gate.location.page == 2 and gate.location.section == ["3. PoC出口判定"]
    bullets = texts(ja_pdf, kind="list_item")
    assert bullets == ["処理時間の週次集計", "回答精度の抜き取り評価"]  # symbol-font bullet dropped


def test_pdf_running_header_kept_once_and_page_numbers_dropped(ja_pdf: Document) -> None:
    headers = [b for b in ja_pdf.blocks if b.location.part == "header"]
    assert [b.text for b in headers] == ["社外秘 AI導入PoC計画書"]
    assert not any("社外秘" in t for t in texts(ja_pdf, part="body"))
    assert not any(re.fullmatch(r"-\s*\d+\s*-", t) for t in texts(ja_pdf))


def test_pdf_english_paragraphs() -> None:
    doc = parse_file(FIXTURES / "en_plan.pdf")
    assert doc.language == "en" and doc.pages == 2
    purposes = [t for t in texts(doc) if t.startswith("The pilot reduces")]
    assert len(purposes) == 2  # two paragraphs, not one, not one per line
    assert all(t.endswith("stay with the existing team.") for t in purposes)
    assert "with suggested answers drawn from past replies we expect five minutes." in purposes[0]
    assert texts(doc, kind="list_item") == [
        "Weekly handling-time report",
        "Accuracy sample of fifty answers",
    ]
    assert texts(doc, part="header") == ["Confidential - AI pilot plan"]
    assert not any(t.startswith("Page") for t in texts(doc))
    assert block(doc, "3. Team").location.page == 2


def test_join_lines_rules() -> None:
    assert (
        join_lines("平均処理時間を短縮するこ", "とを目的とする。")
        == "平均処理時間を短縮することを目的とする。"
    )
    assert join_lines("現状は", "「未定」である") == "現状は「未定」である"
    assert (
        join_lines("the average handling", "time of enquiries")
        == "the average handling time of enquiries"
    )
    assert join_lines("imple-", "mentation") == "implementation"
    assert join_lines("system-", "generated", dehyphenate=False) == "system-generated"
    assert (
        join_lines("Go-", "Live") == "Go- Live"
    )  # only lowercase-hyphen-lowercase is a hyphenation
    assert join_lines("生成", "AIを活用") == "生成AIを活用"
    assert join_lines("生成", "AIを活用", cjk_latin_space=True) == "生成 AIを活用"


def test_letter_spacing_and_page_numbers() -> None:
    from reviewer.parse.text import despace_cjk, is_page_number

    assert despace_cjk("調 達 仕 様 書") == "調達仕様書"
    assert despace_cjk("デジタル庁 戦略・組織グループ") == "デジタル庁 戦略・組織グループ"
    assert all(is_page_number(t) for t in ("3", "- 3 -", "3 / 20", "Page 3 of 20", "3ページ", "iv"))
    assert not any(is_page_number(t) for t in ("第3章", "3. 目的", "Confidential"))


def _pdf_writer_copy(**encrypt):  # noqa: ANN003
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(FIXTURES / "en_plan.pdf").pages:
        writer.add_page(page)
    if encrypt:
        writer.encrypt(algorithm="RC4-128", **encrypt)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_pdf_ruled_table_read_as_rows_with_header(ja_pdf: Document) -> None:
    rows = [b for b in ja_pdf.blocks if b.kind == "table_row"]
    assert [b.text for b in rows] == [
        "指標 | 現状 | 目標",
        "処理時間 | 12分 | 5分",
        "回答精度 | 80% | 95%",
    ]
    assert [b.header for b in rows] == [None, "指標 | 現状 | 目標", "指標 | 現状 | 目標"]
    assert [(b.location.table, b.location.row) for b in rows] == [(1, 1), (1, 2), (1, 3)]
    assert all(b.location.page == 1 and b.location.section == ["2. KPI"] for b in rows)
    # The cells are not also read as loose paragraphs, and the text around the table is intact.
    loose = [t for t in texts(ja_pdf) if re.search(r"指標\s*現状|処理時間\s*12分|80%\s*95%", t)]
    assert not loose
    assert "KPIは次のとおりとする。" in texts(ja_pdf)


def _raw_pdf(pages: list[str]) -> bytes:
    """A PDF whose pages have the given content streams, with Helvetica as /F1."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    for content in pages:
        page = writer.add_blank_page(width=595, height=842)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(content.encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _text(x: float, y: float, s: str, size: float = 10) -> str:
    return f"BT /F1 {size} Tf 1 0 0 1 {x} {y} Tm ({s}) Tj ET\n"


def _grid(xs: list[float], ys: list[float], *, filled: bool = False) -> str:
    """Rules for a table: stroked lines, or thin filled rectangles as Word draws borders."""
    out = "0.5 w\n"
    for y in ys:
        out += (
            f"{xs[0]} {y} {xs[-1] - xs[0]} 0.5 re f\n"
            if filled
            else f"{xs[0]} {y} m {xs[-1]} {y} l S\n"
        )
    for x in xs:
        out += (
            f"{x} {ys[-1]} 0.5 {ys[0] - ys[-1]} re f\n"
            if filled
            else f"{x} {ys[0]} m {x} {ys[-1]} l S\n"
        )
    return out


def test_pdf_ruled_table_from_raw_content_stream() -> None:
    xs, ys = [72, 200, 330, 460], [700, 680, 640, 620]
    page1 = (
        _text(72, 760, "1. Measures", 16)
        + _text(72, 730, "The pilot is judged on the measures in the table below.")
        + _grid(xs, ys)
        + _text(76, 686, "Measure")
        + _text(204, 686, "Baseline")
        + _text(334, 686, "Target")
        # A cell of two lines reads as one text; an empty cell stays in its column.
        + _text(76, 666, "Average handling")
        + _text(76, 652, "time")
        + _text(204, 666, "12 min")
        + _text(76, 626, "Budget")
        + _text(334, 626, "40,000")
        + "72 560 388 40 re S\n"  # a box around a paragraph: one column, not a table
        + _text(76, 575, "Boxed note about the pilot.")
        + _text(72, 500, "After the table the text goes on as a paragraph.")
    )
    doc = parse_bytes(_raw_pdf([page1]), "table.pdf")
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [b.text for b in rows] == [
        "Measure | Baseline | Target",
        "Average handling time | 12 min",
        "Budget |  | 40,000",  # as the DOCX parser joins an empty cell
    ]
    assert rows[1].header == rows[2].header == "Measure | Baseline | Target"
    assert [b.location.row for b in rows] == [1, 2, 3]
    assert all(b.location.table == 1 and b.location.page == 1 for b in rows)
    assert rows[0].location.section == ["1. Measures"]
    paragraphs = texts(doc, kind="paragraph")
    assert "Boxed note about the pilot." in paragraphs
    assert "After the table the text goes on as a paragraph." in paragraphs
    assert [b.kind for b in doc.blocks].index("table_row") > texts(doc).index(
        "The pilot is judged on the measures in the table below."
    )


def test_pdf_table_continued_on_next_page_is_one_table() -> None:
    xs = [72, 250, 460]
    page1 = (
        _text(72, 760, "Budget", 16)
        + _grid(xs, [120, 100, 80, 60], filled=True)
        + _text(76, 106, "Item")
        + _text(254, 106, "Amount")
        + _text(76, 86, "Licences")
        + _text(254, 86, "10,000")
        + _text(76, 66, "Data preparation and")
        + _text(254, 66, "6,000")
    )
    page2 = (
        _grid(xs, [780, 760, 740, 720], filled=True)
        + _text(76, 766, "Item")
        + _text(254, 766, "Amount")  # the repeated header row
        + _text(76, 746, "cleansing")  # the rest of the row split by the page break
        + _text(76, 726, "Total")
        + _text(254, 726, "16,000")
        + _text(72, 680, "The amounts exclude tax.")
    )
    doc = parse_bytes(_raw_pdf([page1, page2]), "budget.pdf")
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [b.text for b in rows] == [
        "Item | Amount",
        "Licences | 10,000",
        "Data preparation and cleansing | 6,000",
        "Total | 16,000",
    ]
    assert {b.location.table for b in rows} == {1}
    assert all(b.header == "Item | Amount" for b in rows[1:])
    assert "The amounts exclude tax." in texts(doc, kind="paragraph")


def test_pdf_encrypted_with_password() -> None:
    data = _pdf_writer_copy(user_password="secret", owner_password="owner")
    with pytest.raises(ParseError, match="PDF is encrypted; give its password with --password"):
        parse_bytes(data, "locked.pdf")


def test_pdf_with_only_an_owner_password_is_read() -> None:
    data = _pdf_writer_copy(user_password="", owner_password="owner")
    doc = parse_bytes(data, "restricted.pdf")
    assert any(t.startswith("The pilot reduces") for t in texts(doc))


def test_pdf_without_text() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(
        ParseError, match=r"no text could be extracted \(scanned/image-only PDF\?\)"
    ):
        parse_bytes(buf.getvalue(), "scan.pdf")


@pytest.mark.parametrize(
    "data",
    [
        (FIXTURES / "en_plan.pdf").read_bytes()[:1500],
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF",
    ],
    ids=["truncated", "garbage", "no-pages"],
)
def test_pdf_corrupt(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"PDF (is corrupt|has no pages)"):
        parse_bytes(data, "broken.pdf")


def test_pdf_page_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "MAX_PDF_PAGES", 2)
    with pytest.raises(ParseError, match="PDF has 3 pages, more than the limit of 2"):
        parse_file(FIXTURES / "ja_plan.pdf")


@pytest.mark.parametrize(
    "path",
    [
        FIXTURES / "ja_plan.pdf",
        FIXTURES / "en_plan.pdf",
        Path(__file__).parent.parent / "samples" / "ja-vendor-proposal-marunage.pdf",
    ],
)
def test_pdf_fonts_shared_across_pages_read_the_same(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fonts decoded once per document give exactly the blocks of fonts decoded on every page."""
    from reviewer.parse import pdf

    shared = parse_file(path)
    monkeypatch.setattr(pdf, "_share_fonts_in_pypdf", lambda: False)
    assert parse_file(path) == shared


def test_pdf_font_sharing_stays_inside_a_parse() -> None:
    """Outside a parse (and in other threads) pypdf builds a new Font on every call, as before."""
    from pypdf import PdfReader
    from pypdf.generic._font import Font

    from reviewer.parse import pdf

    parse_file(FIXTURES / "en_plan.pdf")  # installs the wrapper
    reader = PdfReader(FIXTURES / "en_plan.pdf")
    font = next(iter(reader.pages[0]["/Resources"]["/Font"].values())).get_object()
    assert Font.from_font_resource(font) is not Font.from_font_resource(font)
    with pdf._shared_fonts():
        assert Font.from_font_resource(font) is Font.from_font_resource(font)


# --- DOCX ---------------------------------------------------------------------------------------


def _plan_docx():  # noqa: ANN202 - python-docx Document
    doc = DocxDocument()
    doc.add_heading("AI導入計画書", level=0)
    doc.add_heading("1. 目的", level=1)
    doc.add_paragraph("問い合わせ対応の処理時間を短縮する。")
    doc.add_heading("1.1 背景", level=2)
    doc.add_paragraph("現状は属人化している。")
    doc.add_paragraph("現場ヒアリング", style="List Bullet")
    doc.add_paragraph("データ整備", style="List Number")
    doc.add_heading("2. KPI", level=1)
    doc.add_paragraph("KPIは次の表のとおり。")
    table = doc.add_table(rows=4, cols=3)
    for r, row in enumerate(
        [
            ["指標", "現状", "目標"],
            ["処理時間", "12分", "5分"],
            ["", "", ""],
            ["回答精度", "80%", "95%"],
        ]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.add_paragraph("表の後の段落。")
    doc.add_heading("3. 体制", level=1)
    doc.add_paragraph("オーナーは業務部長とする。")
    return doc


def test_docx_blocks_in_document_order_with_tables() -> None:
    doc = parse_bytes(docx_bytes(_plan_docx()), "plan.docx")
    assert doc.format == "docx" and doc.language == "ja" and doc.pages is None
    order = texts(doc)
    assert order.index("KPIは次の表のとおり。") < order.index("指標 | 現状 | 目標")
    assert order.index("回答精度 | 80% | 95%") < order.index("表の後の段落。")
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [b.text for b in rows] == [
        "指標 | 現状 | 目標",
        "処理時間 | 12分 | 5分",
        "回答精度 | 80% | 95%",
    ]
    assert rows[0].header is None
    assert rows[1].header == "指標 | 現状 | 目標" and rows[2].header == "指標 | 現状 | 目標"
    assert [(b.location.table, b.location.row) for b in rows] == [(1, 1), (1, 2), (1, 4)]
    assert rows[1].location.section == ["2. KPI"]


def test_docx_headings_lists_and_paths() -> None:
    doc = parse_bytes(docx_bytes(_plan_docx()), "plan.docx")
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        ("AI導入計画書", 1),
        ("1. 目的", 1),
        ("1.1 背景", 2),
        ("2. KPI", 1),
        ("3. 体制", 1),
    ]
    background = block(doc, "現状は属人化している。")
    assert background.location.section == ["1. 目的", "1.1 背景"]
    assert background.location.paragraph is not None
    assert texts(doc, kind="list_item") == ["現場ヒアリング", "1. データ整備"]
    ordinals = [b.location.paragraph for b in doc.blocks if b.kind != "table_row"]
    assert ordinals == sorted(ordinals) and len(set(ordinals)) == len(ordinals)


def test_docx_heading_from_japanese_style_name_and_outline_level() -> None:
    doc = DocxDocument()
    ja = doc.styles.add_style("見出し 2", WD_STYLE_TYPE.PARAGRAPH)
    base = doc.styles.add_style("PlanChapter", WD_STYLE_TYPE.PARAGRAPH)
    base.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="0"/>'))
    derived = doc.styles.add_style("PlanChapterBlue", WD_STYLE_TYPE.PARAGRAPH)
    derived.base_style = base
    doc.add_paragraph("第1章 概要", style=derived)
    doc.add_paragraph("現状と課題", style=ja)
    doc.add_paragraph("本文。")
    direct = doc.add_paragraph("直接指定の見出し")
    direct._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {nsdecls("w")} w:val="2"/>'))
    parsed = parse_bytes(docx_bytes(doc), "styles.docx")
    levels = {b.text: b.level for b in parsed.blocks if b.kind == "heading"}
    assert levels == {"第1章 概要": 1, "現状と課題": 2, "直接指定の見出し": 3}
    assert block(parsed, "本文。").location.section == ["第1章 概要", "現状と課題"]


NUMBERING = f"""<w:numbering {nsdecls("w")}>
  <w:abstractNum w:abstractNumId="7">
    <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/>
      <w:pStyle w:val="Heading1"/></w:lvl>
    <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/>
      <w:pStyle w:val="Heading2"/></w:lvl>
  </w:abstractNum>
  <w:abstractNum w:abstractNumId="8">
    <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimalEnclosedCircle"/>
      <w:lvlText w:val="%1"/><w:suff w:val="nothing"/></w:lvl>
  </w:abstractNum>
  <w:num w:numId="3"><w:abstractNumId w:val="7"/></w:num>
  <w:num w:numId="4"><w:abstractNumId w:val="8"/></w:num>
</w:numbering>"""


def test_docx_automatic_numbering_of_headings_and_lists() -> None:
    doc = DocxDocument()
    for name, ilvl in (("Heading 1", 0), ("Heading 2", 1)):
        ppr = doc.styles[name].element.get_or_add_pPr()
        ppr.append(
            parse_xml(
                f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{ilvl}"/><w:numId w:val="3"/></w:numPr>'
            )
        )
    doc.add_heading("目的", level=1)
    doc.add_heading("背景", level=2)
    doc.add_heading("範囲", level=2)
    for text in ("現場ヒアリング", "データ整備"):
        p = doc.add_paragraph(text)
        p._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="0"/><w:numId w:val="4"/></w:numPr>')
        )
    doc.add_heading("体制", level=1)
    doc.add_heading("役割", level=2)
    data = docx_bytes(doc)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        old = zf.read("word/numbering.xml").decode()
    data = replace_in_part(data, "word/numbering.xml", old, NUMBERING)
    parsed = parse_bytes(data, "numbered.docx")
    assert texts(parsed) == [
        "1. 目的",
        "1.1 背景",
        "1.2 範囲",
        "①現場ヒアリング",
        "②データ整備",
        "2. 体制",
        "2.1 役割",
    ]
    assert block(parsed, "データ整備").kind == "list_item"
    assert block(parsed, "2.1 役割").location.section == ["2. 体制", "2.1 役割"]


def test_docx_merged_cells_are_not_repeated() -> None:
    doc = DocxDocument()
    table = doc.add_table(rows=3, cols=3)
    for r, row in enumerate(
        [["区分", "指標", "目標"], ["品質", "精度", "95%"], ["", "誤答率", "2%"]]
    ):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(1, 0).merge(table.cell(2, 0))  # vertical merge
    wide = doc.add_table(rows=2, cols=3)
    wide.cell(0, 0).text = "出口判定"
    wide.cell(0, 0).merge(wide.cell(0, 2))  # horizontal merge (gridSpan)
    wide.cell(1, 0).text = "判定者"
    wide.cell(1, 1).text = "業務部長"
    wide.cell(1, 2).text = "最終週"
    parsed = parse_bytes(docx_bytes(doc), "merged.docx")
    assert texts(parsed, kind="table_row") == [
        "区分 | 指標 | 目標",
        "品質 | 精度 | 95%",
        "| 誤答率 | 2%",  # the merged cell's text is not repeated on its second row
        "出口判定",  # one cell spanning three columns: once, not three times
        "判定者 | 業務部長 | 最終週",
    ]


def test_docx_nested_table_rows_follow_their_row() -> None:
    doc = DocxDocument()
    outer = doc.add_table(rows=2, cols=2)
    outer.cell(0, 0).text = "項目"
    outer.cell(0, 1).text = "内容"
    outer.cell(1, 0).text = "KPI"
    outer.cell(1, 1).text = "下表のとおり"
    inner = outer.cell(1, 1).add_table(rows=2, cols=2)
    inner.cell(0, 0).text = "指標"
    inner.cell(0, 1).text = "目標"
    inner.cell(1, 0).text = "処理時間"
    inner.cell(1, 1).text = "5分"
    doc.add_paragraph("表の後。")
    parsed = parse_bytes(docx_bytes(doc), "nested.docx")
    rows = [(b.text, b.location.table, b.location.row, b.header) for b in parsed.blocks]
    assert rows[:4] == [
        ("項目 | 内容", 1, 1, None),
        ("KPI | 下表のとおり", 1, 2, "項目 | 内容"),
        ("指標 | 目標", 2, 1, None),
        ("処理時間 | 5分", 2, 2, "指標 | 目標"),
    ]
    assert texts(parsed)[-1] == "表の後。"


def test_docx_headers_and_footers_of_every_section_once() -> None:
    doc = DocxDocument()
    first = doc.sections[0]
    first.header.paragraphs[0].text = "社外秘"
    first.different_first_page_header_footer = True
    first.first_page_header.paragraphs[0].text = "表紙用ヘッダー"
    footer = first.footer.paragraphs[0]
    footer.text = "株式会社サンプル"
    footer._p.append(
        parse_xml(
            f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'
        )
    )
    page_only = first.first_page_footer.paragraphs[0]
    page_only._p.append(
        parse_xml(
            f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'
        )
    )
    doc.add_paragraph("本文一。")
    second = doc.add_section()
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "社外秘"  # same text in a second header part
    doc.add_paragraph("本文二。")
    parsed = parse_bytes(docx_bytes(doc), "sections.docx")
    headers = texts(parsed, part="header")
    assert sorted(headers) == ["社外秘", "表紙用ヘッダー"]
    assert texts(parsed, part="footer") == ["株式会社サンプル"]  # the PAGE field's "1" is not text
    assert texts(parsed, part="body") == ["本文一。", "本文二。"]
    assert all(b.location.part == "header" for b in parsed.blocks[:2])


def _notes_docx() -> bytes:
    doc = DocxDocument()
    doc.add_heading("1. データ", level=1)
    p = doc.add_paragraph("学習データは顧客情報を含む")
    p._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:footnoteReference w:id="2"/></w:r>'))
    p.add_run("。")
    doc.add_heading("2. 運用", level=1)
    q = doc.add_paragraph("運用は情報システム部が担う")
    q._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:endnoteReference w:id="1"/></w:r>'))
    doc.add_comment(q.runs[0], text="担当者名を明記してください。", author="査読者")
    data = docx_bytes(doc)
    footnotes = f"""<w:footnotes {nsdecls("w")}>
      <w:footnote w:type="separator" w:id="-1">
        <w:p><w:r><w:separator/></w:r></w:p></w:footnote>
      <w:footnote w:type="continuationSeparator" w:id="0">
        <w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>
      <w:footnote w:id="2"><w:p><w:r><w:footnoteRef/></w:r>
        <w:r><w:t xml:space="preserve"> 匿名化した上で利用する。</w:t></w:r></w:p></w:footnote>
    </w:footnotes>"""
    endnotes = f"""<w:endnotes {nsdecls("w")}>
      <w:endnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:endnote>
      <w:endnote w:id="1"><w:p><w:r><w:endnoteRef/></w:r>
        <w:r><w:t>体制図は別紙参照。</w:t></w:r></w:p></w:endnote>
    </w:endnotes>"""
    data = add_part(
        data, "word/footnotes.xml", f"{CT}.footnotes+xml", f"{REL}/footnotes", footnotes
    )
    return add_part(data, "word/endnotes.xml", f"{CT}.endnotes+xml", f"{REL}/endnotes", endnotes)


def test_docx_footnotes_endnotes_and_comments() -> None:
    parsed = parse_bytes(_notes_docx(), "notes.docx")
    footnote = [b for b in parsed.blocks if b.location.part == "footnote"]
    assert [b.text for b in footnote] == ["匿名化した上で利用する。"]  # separators skipped
    assert footnote[0].location.section == ["1. データ"]  # where it was referenced
    assert texts(parsed, part="endnote") == ["体制図は別紙参照。"]
    comment = [b for b in parsed.blocks if b.location.part == "comment"]
    assert [b.text for b in comment] == ["担当者名を明記してください。"]
    assert comment[0].location.section == ["2. 運用"]
    assert "学習データは顧客情報を含む。" in texts(parsed, part="body")


def _textbox_run(text: str) -> etree._Element:
    """A run holding a text box the way Word writes it: DrawingML choice plus a VML fallback."""
    E = etree.Element
    S = etree.SubElement
    run = E(qn("w:r"))
    alt = S(run, f"{{{MC_NS}}}AlternateContent", nsmap={"mc": MC_NS, "wps": WPS_NS, "v": V_NS})
    choice = S(alt, f"{{{MC_NS}}}Choice", Requires="wps")
    drawing = S(choice, qn("w:drawing"))
    shape = S(S(drawing, f"{{{WPS_NS}}}wsp"), f"{{{WPS_NS}}}txbx")
    for target in (
        shape,
        S(
            S(S(S(alt, f"{{{MC_NS}}}Fallback"), qn("w:pict")), f"{{{V_NS}}}shape"),
            f"{{{V_NS}}}textbox",
        ),
    ):
        content = S(target, qn("w:txbxContent"))
        t = S(S(S(content, qn("w:p")), qn("w:r")), qn("w:t"))
        t.text = text
    return run


def test_docx_text_box_read_once_from_choice() -> None:
    doc = DocxDocument()
    doc.add_heading("3. リスク", level=1)
    p = doc.add_paragraph("図1の注記を参照。")
    p._p.append(_textbox_run("個人情報は社外に送信しない"))
    doc.add_paragraph("次の段落。")
    parsed = parse_bytes(docx_bytes(doc), "textbox.docx")
    boxes = [b for b in parsed.blocks if b.location.part == "textbox"]
    assert [b.text for b in boxes] == ["個人情報は社外に送信しない"]
    assert boxes[0].location.section == ["3. リスク"]
    assert sum("個人情報は社外に送信しない" in t for t in texts(parsed)) == 1
    order = texts(parsed)
    assert (
        order.index("図1の注記を参照。")
        < order.index("個人情報は社外に送信しない")
        < order.index("次の段落。")
    )


def test_docx_content_controls_fields_and_tracked_changes() -> None:
    doc = DocxDocument()
    body = doc.element.body
    body.insert(
        0,
        parse_xml(
            f"""<w:sdt {nsdecls("w")}><w:sdtPr/><w:sdtContent>
              <w:p><w:r><w:t>コンテンツコントロール内の目的。</w:t></w:r></w:p>
            </w:sdtContent></w:sdt>"""
        ),
    )
    body.insert(
        1,
        parse_xml(
            f"""<w:sdt {nsdecls("w")}><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>
              <w:p><w:r><w:t>ここをクリックして入力</w:t></w:r></w:p>
            </w:sdtContent></w:sdt>"""
        ),
    )
    doc.add_paragraph()._p.append(parse_xml(f"<w:r {nsdecls('w')}><w:t>予算は</w:t></w:r>"))
    mixed = doc.paragraphs[-1]._p
    for xml in (
        "<w:sdt><w:sdtContent><w:r><w:t>500万円</w:t></w:r></w:sdtContent></w:sdt>",
        '<w:del w:id="1" w:author="a"><w:r><w:delText>1000万円</w:delText></w:r></w:del>',
        '<w:ins w:id="2" w:author="a"><w:r><w:t>（税込）</w:t></w:r></w:ins>',
        "<w:r><w:tab/><w:t>詳細:</w:t><w:br/></w:r>",
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText> HYPERLINK "https://example.com" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        '<w:r><w:t>見積書</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>',
        '<w:hyperlink w:anchor="x"><w:r><w:t>を参照</w:t></w:r></w:hyperlink>',
        "<w:r><w:rPr><w:vanish/></w:rPr><w:t>非表示の注記</w:t></w:r>",
        "<w:r><w:t>。</w:t></w:r>",
    ):
        for child in list(parse_xml(f"<w:wrap {nsdecls('w')}>{xml}</w:wrap>")):
            mixed.append(child)
    table = doc.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "担当"
    cell = table.cell(0, 1)._tc
    cell.remove(cell.findall(qn("w:p"))[0])
    cell.append(
        parse_xml(
            f"""<w:sdt {nsdecls("w")}><w:sdtContent>
            <w:p><w:r><w:t>情報システム部</w:t></w:r></w:p></w:sdtContent></w:sdt>"""
        )
    )
    parsed = parse_bytes(docx_bytes(doc), "controls.docx")
    body_texts = texts(parsed)
    assert body_texts[0] == "コンテンツコントロール内の目的。"
    assert "ここをクリックして入力" not in " ".join(body_texts)  # placeholder, not content
    assert "予算は500万円（税込）\t詳細:\n見積書を参照。" in body_texts
    assert not any("1000万円" in t or "HYPERLINK" in t or "非表示" in t for t in body_texts)
    assert "担当 | 情報システム部" in texts(parsed, kind="table_row")


def test_docx_does_not_resolve_entities() -> None:
    secret = Path(__file__).resolve()  # a local file an external entity points at
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    data = docx_bytes(_plan_docx())
    data = replace_in_part(
        data, "word/document.xml", "standalone='yes'?>", "standalone='yes'?>" + doctype
    )
    data = replace_in_part(data, "word/document.xml", "表の後の段落。", "表の後の段落。&xxe;")
    parsed = parse_bytes(data, "xxe.docx")
    assert "表の後の段落。" in texts(parsed)
    assert "parse: every format" not in parsed.text()  # the file was not read into the text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[: len(d) // 2], "corrupt or truncated"),
        (
            lambda d: replace_in_part(d, "word/document.xml", "</w:body>", "</w:bodyy>"),
            "DOCX file is corrupt",
        ),
        (lambda d: _drop(d, "[Content_Types].xml"), "DOCX file is corrupt"),
        (
            lambda d: add_part(d, "word/x.xml", "application/xml", f"{REL}/footnotes", "<x"),
            "DOCX file is corrupt",
        ),
        (lambda d: _drop(d, "word/styles.xml"), "DOCX file is corrupt"),
    ],
    ids=["truncated", "bad-xml", "no-content-types", "bad-part-xml", "missing-part"],
)
def test_docx_corrupt(mutate, message: str) -> None:  # noqa: ANN001
    data = mutate(docx_bytes(_plan_docx()))
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_bytes(data, "broken.docx")


def _drop(data: bytes, name: str) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename != name:
                dst.writestr(item, src.read(item.filename))
    return out.getvalue()


def test_docx_zip_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = docx_bytes(_plan_docx())
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("word/media/padding.bin", b"\0" * (20 * len(data)))
    bomb = out.getvalue()
    monkeypatch.setattr(config, "MAX_FILE_BYTES", len(bomb) + 10)
    with pytest.raises(ParseError, match="when unzipped, more than the limit"):
        parse_bytes(bomb, "bomb.docx")


# --- Markdown -----------------------------------------------------------------------------------

MARKDOWN = """---
title: 提案書
---
# AI導入提案書

<!-- 社内メモ: この段落は表示されない -->

## 1. 目的

問い合わせ対応の処理時間を
短縮する。<!-- inline comment -->

- 現場ヒアリング
- データ整備
  - 定義書の作成

1. 第一段階
2. 第二段階

| 指標 | 現状 | 目標 |
|------|------|------|
| 処理時間 | 12分 | 5分 |
| **回答精度** | 80% | 95% |

### 1.1 構成

```mermaid
flowchart LR
  A --> B
```
"""


def test_markdown_blocks() -> None:
    doc = parse_bytes(MARKDOWN.encode(), "proposal.md")
    assert doc.format == "md" and doc.language == "ja"
    kinds = [(b.kind, b.text) for b in doc.blocks]
    assert kinds[:3] == [
        ("heading", "AI導入提案書"),
        ("heading", "1. 目的"),
        ("paragraph", "問い合わせ対応の処理時間を短縮する。"),
    ]
    assert texts(doc, kind="list_item") == [
        "現場ヒアリング",
        "データ整備",
        "定義書の作成",
        "1. 第一段階",
        "2. 第二段階",
    ]
    rows = [b for b in doc.blocks if b.kind == "table_row"]
    assert [b.text for b in rows] == [
        "指標 | 現状 | 目標",
        "処理時間 | 12分 | 5分",
        "回答精度 | 80% | 95%",
    ]
    assert rows[1].header == "指標 | 現状 | 目標" and rows[0].header is None
    assert (rows[1].location.table, rows[1].location.row, rows[1].location.line) == (1, 2, 22)
    code = [b for b in doc.blocks if b.kind == "code"]
    assert code[0].text == "flowchart LR\n  A --> B"
    assert code[0].location.section == ["AI導入提案書", "1. 目的", "1.1 構成"]
    assert not any("社内メモ" in t or "comment" in t or "title:" in t for t in texts(doc))
    assert block(doc, "処理時間を短縮").location.line == 10
    assert block(doc, "処理時間を短縮").location.section == ["AI導入提案書", "1. 目的"]
    assert [b.level for b in doc.blocks if b.kind == "heading"] == [1, 2, 3]


def test_markdown_detected_by_content() -> None:
    doc = parse_bytes(
        b"# Plan\n\nSome text.\n\n## KPIs\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "plan.txt"
    )
    assert doc.format == "md"
    assert texts(doc, kind="heading") == ["Plan", "KPIs"]


# --- plain text -------------------------------------------------------------------------------

PLAIN = """AI導入計画書

1. 目的
コールセンターの処理時間を短縮する。現状は12分であり、これを5分に
短縮することを目標とする。

2. 進め方
1. 現場ヒアリング
2. データ整備
3. PoC

■ 予算
ライセンス費用に加えてデータ整備費用を計上する。

Purpose of the pilot is to reduce the handling time of customer
enquiries by suggesting answers drawn from earlier replies.
"""


def test_plain_text_paragraphs_headings_and_lines() -> None:
    doc = parse_bytes(PLAIN.encode("utf-8"), "plan.txt")
    assert doc.format == "txt" and doc.warnings == []
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [("AI導入計画書", 1), ("1. 目的", 2), ("2. 進め方", 2), ("■ 予算", 3)]
    goal = block(doc, "コールセンター")
    assert goal.text == (
        "コールセンターの処理時間を短縮する。現状は12分であり、これを5分に短縮することを目標とする。"
    )
    assert goal.location.line == 4 and goal.location.section == ["AI導入計画書", "1. 目的"]
    assert texts(doc, kind="list_item") == ["1. 現場ヒアリング", "2. データ整備", "3. PoC"]
    english = block(doc, "Purpose of the pilot")
    assert english.text.endswith(
        "customer enquiries by suggesting answers drawn from earlier replies."
    )
    assert block(doc, "ライセンス費用").location.section[-1] == "■ 予算"


def test_text_utf8_bom() -> None:
    doc = parse_bytes("\ufeff目的: 処理時間を短縮する。\n".encode(), "bom.txt")
    assert doc.blocks[0].text == "目的: 処理時間を短縮する。"
    assert doc.warnings == []


def test_text_cp932() -> None:
    data = "計画書\n\n目的は処理時間の短縮である。ＫＰＩは処理時間とする。\n".encode("cp932")
    doc = parse_bytes(data, "sjis.txt")
    assert "目的は処理時間の短縮である。ＫＰＩは処理時間とする。" in texts(doc)
    assert doc.warnings == ["decoded as CP932 (Shift_JIS)"]


def test_text_in_unknown_encoding() -> None:
    with pytest.raises(ParseError, match="neither UTF-8 nor Shift_JIS/CP932"):
        parse_bytes(b"\x85\x86\xa0 plan \x85\x86\xa0\n" * 3, "latin.txt")


# --- input errors and the document record ---------------------------------------------------------


def test_document_record(tmp_path: Path) -> None:
    data = "# 計画\n\n目的を記す。\n".encode()
    path = tmp_path / "plan.md"
    path.write_bytes(data)
    doc = parse_file(path)
    assert doc.name == "plan.md" and doc.size == len(data)
    assert doc.sha256 == hashlib.sha256(data).hexdigest()
    assert parse_file(str(path), name="upload.md").name == "upload.md"
    assert parse_bytes(data, "/tmp/dir/plan.md").name == "plan.md"
    assert all(b.text == b.text.strip() and b.text for b in doc.blocks)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="file not found") as err:
        parse_file(tmp_path / "nope.pdf")
    assert err.value.path.endswith("nope.pdf")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="is a directory"):
        parse_file(tmp_path)


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(fifo)
    with pytest.raises(ParseError, match="is not a regular file"):
        parse_file(fifo)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("本文。")

    def deny(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(ParseError, match="permission denied"):
        parse_file(path)


@pytest.mark.parametrize(
    "data", [b"", b"  \n\t\r\n ", b"\xef\xbb\xbf\n"], ids=["0-bytes", "spaces", "bom"]
)
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(ParseError, match="file is empty"):
        parse_file(path)


def test_file_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.txt"
    path.write_text("あ" * 200)
    with pytest.raises(ParseError, match="more than the limit"):
        parse_file(path)
    with pytest.raises(ParseError, match="more than the limit"):
        parse_bytes(b"x" * 101, "big.txt")


def test_text_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "MAX_TEXT_CHARS", 10)
    with pytest.raises(ParseError, match="characters of text, more than the limit"):
        parse_bytes(("長い本文です。" * 5).encode(), "long.txt")


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
            "old.doc",
            "legacy Word/Excel binary (.doc/.xls) is not supported; save it as .docx",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
            + "EncryptedPackage".encode("utf-16-le")
            + b"\0" * 64,
            "locked.docx",
            "password-protected",
        ),
        (
            _zip({"xl/workbook.xml": b"<x/>"}),
            "sheet.xlsx",
            "Excel workbooks (.xlsx) are not supported",
        ),
        (
            _zip({"ppt/presentation.xml": b"<x/>"}),
            "deck.pptx",
            "PowerPoint files (.pptx) are not supported",
        ),
        (_zip({"readme.txt": b"hello"}), "bundle.zip", "ZIP archive is not a supported document"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "scan.png", "PNG image is not supported (no OCR)"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "photo.jpg", "JPEG image is not supported"),
        (b"GIF89a" + b"\0" * 100, "anim.gif", "GIF image is not supported"),
        (b"plain\0binary\0data" * 10, "blob.bin", "binary file of an unsupported type"),
        (b"PK\x03\x04garbage", "broken.docx", "DOCX file is corrupt or truncated"),
    ],
    ids=[
        "doc",
        "encrypted-office",
        "xlsx",
        "pptx",
        "zip",
        "png",
        "jpeg",
        "gif",
        "binary",
        "bad-zip",
    ],
)
def test_unsupported_inputs(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)) as err:
        parse_bytes(data, name)
    assert "\n" not in str(err.value)


def test_type_is_decided_by_content_not_extension() -> None:
    pdf = (FIXTURES / "en_plan.pdf").read_bytes()
    assert parse_bytes(pdf, "report.txt").format == "pdf"
    assert parse_bytes(docx_bytes(_plan_docx()), "plan.bin").format == "docx"
    assert parse_bytes("目的を記す。".encode(), "notes.pdf").format == "txt"


def test_markdown_review_does_not_import_pdf_or_docx_libraries() -> None:
    code = (
        "import sys; from reviewer.parse import parse_bytes; "
        "parse_bytes(b'# T\\n\\ntext', 'a.md'); parse_bytes(b'text', 'a.txt'); "
        "print(sorted(m for m in ('pypdf', 'docx', 'lxml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.stdout.strip() == "[]"
