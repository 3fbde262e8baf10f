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

DEPTS = [
    "請求センター",
    "営業企画部",
    "品質管理課",
    "経理部",
    "物流センター",
    "人事部",
    "法務部",
    "情報システム部",
]
TASKS = [
    "一次回答",
    "請求書照合",
    "点検記録の要約",
    "契約書レビュー",
    "需要予測",
    "問い合わせ分類",
    "議事録作成",
    "与信審査",
]
TEMPLATES = [
    "{dept}では{task}に1件あたり平均{a}分を要し、月末には未処理が{b}件を超えて滞留している。",
    "{task}の回答案を生成AIが作成し、{dept}の担当者{c}名が確認してから送信する流れに改める。",
    "{y}年{m}月{d}日の判定会議で、{dept}長が本番移行の可否を決定する。",
    "採用率が{p}%未満、または誤回答率が{q}%を超えた場合は{task}での利用を中止する。",
    "{dept}の担当者{c}名と課長1名が、毎週{wd}曜のワークショップで例外処理と暗黙の判断基準を洗い出す。",
    "{task}の履歴データのオーナーは{dept}とし、項目定義書を{y}年{m}月までに整備する。",
    "欠損率は毎月{dept}が確認し、{q}%を超えた項目は翌月の定例で修正方針を決める。",
    "個人情報はマスキングしたうえで国内リージョンのみで処理し、アクセスログを{c}年間保管する。",
    "外部送信の有無と学習利用の可否は、{y}年{m}月に法務部と情報セキュリティ室が審査する。",
    "運用開始後は{dept}が精度を月次で監視し、{p}%を下回った場合はプロンプトと参照文書を見直す。",
    "第1段階は{dept}の{c}名で{b}件を対象とし、採用率{p}%以上を満たしたら第2段階へ広げる。",
    "予算はデータ整備{a}百万円、運用{b}万円、研修{c}百万円、定着支援{q}百万円を計上する。",
    "なお、{task}の業務手順書は{dept}が改訂し、改訂版を{m}月中に全員へ配布する。",
    "本件の背景として、{dept}では熟練者の退職により{task}の品質にばらつきが生じている。",
]
KPI_HEADER = ("指標", "現状値", "目標値", "測定方法", "測定時期")
METRICS = ["一次回答時間", "回答案の採用率", "誤回答率", "再問い合わせ率", "処理件数", "残業時間"]


def make_docx(path: Path, pages: int) -> None:
    """A plan of `pages` pages whose sentences vary (numbers, departments, tasks) as real ones do."""
    import random

    import docx

    rng = random.Random(20261126)
    d = docx.Document()
    d.add_heading("業務AI活用 PoC計画書（ベンチマーク用）", 0)
    for page in range(pages):
        d.add_heading(f"{page + 1}. {rng.choice(TASKS)}の検証計画", 1)
        for _ in range(rng.randint(5, 8)):
            fields = {
                "dept": rng.choice(DEPTS),
                "task": rng.choice(TASKS),
                "a": rng.randint(3, 40),
                "b": rng.randint(50, 3000),
                "c": rng.randint(2, 30),
                "p": rng.randint(40, 95),
                "q": rng.randint(1, 9),
                "y": rng.choice([2026, 2027]),
                "m": rng.randint(1, 12),
                "d": rng.randint(1, 28),
                "wd": rng.choice("月火水木金"),
            }
            sentences = rng.sample(TEMPLATES, 2)
            d.add_paragraph("".join(t.format(**fields) for t in sentences))
        if page % 3 == 0:
            d.add_heading(f"{page + 1}.1 評価指標", 2)
            table = d.add_table(rows=1, cols=len(KPI_HEADER))
            for cell, value in zip(table.rows[0].cells, KPI_HEADER, strict=True):
                cell.text = value
            for metric in rng.sample(METRICS, 3):
                cells = table.add_row().cells
                values = (
                    metric,
                    f"{rng.randint(5, 60)}分",
                    f"{rng.randint(2, 20)}分以内",
                    "業務システムのログ",
                    rng.choice(["毎週", "毎月", "四半期ごと"]),
                )
                for cell, value in zip(cells, values, strict=True):
                    cell.text = value
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
