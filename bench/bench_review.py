"""Speed of a full rules review against bare text extraction, and cold start.

Prints, in one run:
- for a generated 100-page DOCX and its PDF: median full-review time / median bare extraction time
  (python-docx paragraphs + table cells; pypdf extract_text per page), and peak memory;
- cold start: a rules-only review of a one-page file as a whole process, against
  `python -c "import pypdf, docx"`, and which heavy modules it imported.

Usage: python bench/bench_review.py [--pages 100] [--repeat 5]
The PDF needs LibreOffice (`soffice`); without it the PDF row is skipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTION_JA = [
    (
        "目的と対象業務",
        "本PoCは、保険金請求窓口における一次回答業務を対象とする。現状、1件あたりの回答作成に平均14分を要し、"
        "月末には未回答が300件を超えて滞留している。生成AIで回答案を作成し、担当者が確認して送信する流れに改める。",
    ),
    ("評価指標", None),
    (
        "判定と撤退の基準",
        "2027年3月15日の判定会議で、業務部長が本番移行の可否を決定する。"
        "回答案の採用率が60%未満、または誤回答率が2%を超えた場合は中止する。",
    ),
    (
        "現場の参画",
        "請求センターの担当者5名と課長1名が、毎週水曜のワークショップで例外処理と暗黙の判断基準を洗い出す。",
    ),
    (
        "データ",
        "回答履歴データのオーナーは業務企画課とし、項目定義書を2026年12月までに整備する。欠損率は毎月確認する。",
    ),
    (
        "セキュリティ",
        "個人情報はマスキングしたうえで国内リージョンのみで処理し、アクセスログを1年間保管する。",
    ),
]
KPI_ROWS = [
    ("指標", "現状値", "目標値", "測定方法", "測定時期"),
    ("一次回答時間", "平均14分", "6分以内", "問い合わせ管理システムのログ", "毎月末"),
    ("回答案の採用率", "-", "60%以上", "送信前の編集有無を記録", "毎週"),
    ("誤回答率", "1.5%", "1.0%以下", "品質管理課の抜き取り検査（月100件）", "毎月"),
]


def make_docx(path: Path, pages: int) -> None:
    import docx

    d = docx.Document()
    d.add_heading("保険金請求一次回答 生成AI PoC計画書", 0)
    for page in range(pages):
        for title, body in SECTION_JA:
            d.add_heading(f"{page + 1}.{SECTION_JA.index((title, body)) + 1} {title}", 2)
            if body is None:
                table = d.add_table(rows=0, cols=len(KPI_ROWS[0]))
                for row in KPI_ROWS:
                    cells = table.add_row().cells
                    for cell, value in zip(cells, row, strict=True):
                        cell.text = value
            else:
                d.add_paragraph(body)
        d.add_page_break()
    d.save(path)


def make_pdf(docx_path: Path, outdir: Path) -> Path | None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        return None
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(outdir), str(docx_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return outdir / (docx_path.stem + ".pdf")


def bare_docx(path: Path) -> int:
    import docx

    d = docx.Document(str(path))
    texts = [p.text for p in d.paragraphs]
    texts += [c.text for t in d.tables for r in t.rows for c in r.cells]
    return sum(map(len, texts))


def bare_pdf(path: Path) -> int:
    import pypdf

    return sum(len(p.extract_text()) for p in pypdf.PdfReader(str(path)).pages)


def full_review(path: Path) -> int:
    from reviewer.review import review

    return review(path, engine="rules").overall.score


def median_time(fn, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb(code: str) -> float:
    """Peak resident memory of a child process running `code`."""
    probe = code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def process_time(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        docx_path = tmpdir / "plan-100.docx"
        make_docx(docx_path, args.pages)
        pdf_path = make_pdf(docx_path, tmpdir)
        rows = []
        for label, path, bare in (("DOCX", docx_path, bare_docx), ("PDF", pdf_path, bare_pdf)):
            if path is None:
                print(f"{label}: skipped (LibreOffice not installed)")
                continue
            full_review(path)  # warm: imports, rubric load, regex compile
            t_bare = median_time(bare, path, args.repeat)
            t_full = median_time(full_review, path, args.repeat)
            mem = peak_rss_mb(
                f"import sys; sys.path.insert(0, '.'); from bench.bench_review import full_review; "
                f"from pathlib import Path; full_review(Path({str(path)!r}))"
            )
            pages = None
            if label == "PDF":
                import pypdf

                pages = len(pypdf.PdfReader(str(path)).pages)
            rows.append((label, pages, t_bare, t_full, mem))
        for label, pages, t_bare, t_full, mem in rows:
            what = f"{pages} pages" if pages else f"{args.pages} page breaks"
            print(
                f"{label} ({what}): bare extraction {t_bare * 1000:.0f} ms, full review {t_full * 1000:.0f} ms, "
                f"ratio {t_full / t_bare:.2f}, peak RSS {mem:.0f} MB"
            )

        one_page = ROOT / "samples" / "en-proposal-keyword-stuffed.md"
        if not one_page.exists():
            one_page = tmpdir / "one.md"
            one_page.write_text("# Plan\n\nWe will set KPIs.\n", encoding="utf-8")
        review_bin = Path(sys.executable).parent / "review"
        cmd = [str(review_bin), str(one_page), "--format", "json"]
        base = process_time([sys.executable, "-c", "import pypdf, docx"], args.repeat * 2)
        cold = process_time(cmd, args.repeat * 2)
        probe = (
            "import contextlib, io, json, sys\n"
            "from reviewer.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main([{str(one_page)!r}, '--format', 'json'])\n"
            "heavy = ('langchain', 'langchain_openai', 'langchain_core', 'openai', 'httpx', 'tiktoken', 'requests')\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
        )
        mods = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT
        )
        heavy = mods.stdout.strip().splitlines()[-1] if mods.stdout.strip() else "?"
        print(
            f"cold start: `review {one_page.name} --format json` {cold * 1000:.0f} ms vs "
            f"`python -c 'import pypdf, docx'` {base * 1000:.0f} ms, ratio {cold / base:.2f}; "
            f"network/LLM modules imported: {heavy}"
        )
        print(
            json.dumps(
                {
                    "docx_ratio": rows[0][3] / rows[0][2] if rows else None,
                    "pdf_ratio": rows[1][3] / rows[1][2] if len(rows) > 1 else None,
                    "cold_ratio": cold / base,
                }
            )
        )


if __name__ == "__main__":
    main()
