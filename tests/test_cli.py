"""The command line: exit codes 0/1/2, one-line errors, gates, several files, the rubric listing."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from reviewer.cli import main
from reviewer.models import CRITERION_IDS

from .conftest import SAMPLES

STRONG = SAMPLES / "ja-poc-plan-strong.docx"
WEAK = SAMPLES / "ja-proposal-weak.docx"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("review: ")
    return lines[0]


def _encrypted_pdf(path):
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.encrypt("secret")
    with open(path, "wb") as fh:
        w.write(fh)


BAD_INPUTS = {
    "missing": lambda p: None,
    "empty": lambda p: p.write_bytes(b""),
    "whitespace": lambda p: p.write_text("  \n\n\t \n", encoding="utf-8"),
    "png-named-pdf": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    "legacy-doc": lambda p: p.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 512),
    "truncated-pdf": lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"),
    "corrupt-docx": lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 40),
    "encrypted-pdf": _encrypted_pdf,
    "xlsx-named-docx": lambda p: _zip(
        p, {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}
    ),
    "undecodable-text": lambda p: p.write_bytes(bytes(range(0x80, 0x100)) * 4),
}
SUFFIX = {
    "png-named-pdf": ".pdf",
    "legacy-doc": ".docx",
    "truncated-pdf": ".pdf",
    "corrupt-docx": ".docx",
    "encrypted-pdf": ".pdf",
    "xlsx-named-docx": ".docx",
    "undecodable-text": ".txt",
}


def _zip(path, parts):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    path = tmp_path / f"{case}{SUFFIX.get(case, '.md')}"
    BAD_INPUTS[case](path)
    code, out, err = run(capsys, path)
    assert code == 2
    line = _one_line_error(err)
    assert path.name in line
    assert out == ""


def test_directory_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path)
    assert code == 2
    assert "directory" in _one_line_error(err)


def test_encrypted_pdf_message_says_encrypted(tmp_path, capsys):
    path = tmp_path / "locked.pdf"
    _encrypted_pdf(path)
    _, _, err = run(capsys, path)
    assert "encrypted" in err.lower()


def test_review_sample_text_report(capsys):
    code, out, err = run(capsys, STRONG, "--format", "text")
    assert code == 0, err
    head = "\n".join(out.splitlines()[:8])
    assert "APPROVE" in head.upper() or "承認" in head
    assert "\x1b[" not in out  # not a terminal: no colours


def test_fail_under_and_require_gates(capsys):
    code, _, err = run(capsys, WEAK, "--fail-under", "90", "--format", "json")
    assert code == 1 and "below the gate" in err
    code, _, _ = run(
        capsys, STRONG, "--require", "EXIT>=2", "--require", "KPI>=2", "--format", "json"
    )
    assert code == 0
    code, _, err = run(capsys, WEAK, "--require", "VENDOR>=2", "--format", "json")
    assert code == 1 and "VENDOR level" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--require", "FOO>=2"],
        ["--require", "EXIT>2"],
        ["--fail-under", "101"],
        ["--format", "pdf"],
        ["--kind", "memo"],
        ["--bogus"],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    code, out, err = run(capsys, STRONG, *args)
    assert code == 2
    _one_line_error(err)


def test_no_arguments_is_a_usage_error(capsys):
    assert main([]) == 2


def test_several_files_json_array_and_bad_one_gives_2(tmp_path, capsys):
    empty = tmp_path / "empty.md"
    empty.write_text("")
    code, out, err = run(capsys, STRONG, empty, WEAK, "--format", "json")
    assert code == 2
    data = json.loads(out)
    assert [d["document"]["name"] for d in data] == [STRONG.name, WEAK.name]
    assert "empty.md" in err


def test_output_to_folder_for_several_files(tmp_path, capsys):
    code, out, _ = run(capsys, STRONG, WEAK, "--format", "html", "--output", tmp_path / "out")
    assert code == 0 and out == ""
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"{STRONG.name}.html", f"{WEAK.name}.html"]
    html = (tmp_path / "out" / f"{STRONG.name}.html").read_text(encoding="utf-8")
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_kind_override_and_lang(capsys):
    code, out, _ = run(capsys, STRONG, "--kind", "vendor_sow", "--lang", "en", "--format", "json")
    data = json.loads(out)
    assert data["document"]["kind"] == "vendor_sow" and data["document"]["kind_detected"] is False
    assert data["lang"] == "en"


def test_rubric_listing(capsys):
    code, out, _ = run(capsys, "rubric")
    assert code == 0
    for cid in CRITERION_IDS:
        assert cid in out
    assert "chapter" in out
    code, out, _ = run(capsys, "rubric", "--format", "json", "--lang", "ja")
    rows = json.loads(out)["criteria"]
    assert [r["id"] for r in rows] == list(CRITERION_IDS)
    assert all(1 <= r["chapter"] <= 16 for r in rows)


def test_console_script_no_traceback_on_missing_file(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", str(tmp_path / "nope.docx")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_rules_review_does_not_import_network_stack():
    probe = (
        "import contextlib, io, sys\n"
        "from reviewer.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main([{str(SAMPLES / 'en-proposal-keyword-stuffed.md')!r}, '--format', 'json'])\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain', 'langchain_core', 'langchain_openai', 'openai', 'httpx', 'tiktoken', 'requests', 'urllib3')]\n"
        "print(bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_output_single_file_and_existing_folder(tmp_path, capsys):
    target = tmp_path / "r.md"
    code, out, _ = run(capsys, STRONG, "--format", "md", "-o", target)
    assert code == 0 and out == "" and target.read_text(encoding="utf-8").startswith("#")
    folder = tmp_path / "reports"
    folder.mkdir()
    code, _, _ = run(capsys, STRONG, "--format", "json", "-o", folder)
    data = json.loads((folder / f"{STRONG.name}.json").read_text(encoding="utf-8"))
    assert data["document"]["name"] == STRONG.name
