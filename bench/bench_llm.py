"""LLM engine cost and speed against the fake OpenAI server with a simulated latency per call.

For generated plans of about 5, 20 and 100 pages in Japanese and English: calls, prompt and
completion tokens, prompt tokens ÷ document tokens, the largest number of criteria in one call,
wall time at concurrency 1 and 8 as a ratio to calls × latency, calls on a re-review, and the
offline token estimate against the real o200k count. Targets (issue 3) are printed beside.

    python bench/bench_llm.py [--latency 1.0]

The latency stands for a model's answer time (a real one takes seconds to write ~500 tokens);
local work (parsing, the rules, planning) adds to the wall time whatever the latency.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_review import DEPTS, KPI_HEADER, METRICS, TASKS, TEMPLATES  # noqa: E402
from reviewer.chunk import estimate_tokens  # noqa: E402
from reviewer.llm import LLMOptions, LLMReviewer, load_prompts  # noqa: E402
from reviewer.parse import parse_file  # noqa: E402
from reviewer.review import review  # noqa: E402
from reviewer.rubric import load_rubric  # noqa: E402
from reviewer.rules import build_corpus  # noqa: E402
from tests.fake_models import agreeing, asked  # noqa: E402
from tests.fake_openai import FakeOpenAI, count_tokens  # noqa: E402

EN_TEMPLATES = [
    "The {dept} team spends an average of {a} minutes per {task} case, and over {b} cases are waiting at month end.",
    "A generative AI model drafts the {task} answer and one of {c} reviewers in {dept} checks it before it is sent.",
    "At the gate review on {y}-{m:02d}-{d:02d}, the head of {dept} decides whether to move to production.",
    "If fewer than {p}% of drafts are accepted, or more than {q}% contain an error, {task} use stops.",
    "{c} front-line staff from {dept} meet every {wd} to list exceptions and the unwritten rules of {task}.",
    "{dept} owns the {task} history data and will publish a field dictionary by {y}-{m:02d}.",
    "Missing values are checked monthly by {dept}; any field above {q}% is fixed at the next review.",
    "Personal data is masked and processed in the home region only; access logs are kept for {c} years.",
    "Legal and information security review external transmission and training use in {y}-{m:02d}.",
    "After go-live {dept} monitors accuracy monthly and revises prompts if it falls below {p}%.",
    "Phase 1 covers {c} users in {dept} and {b} cases; phase 2 starts when acceptance reaches {p}%.",
    "The budget includes data preparation of {a}k, operations of {b}k, training of {c}k and change support of {q}k.",
    "The {task} procedure manual will be revised by {dept} and sent to all staff in month {m}.",
    "Background: since experienced staff retired, the quality of {task} in {dept} has varied widely.",
]
EN_DEPTS = ["Claims", "Sales Planning", "Quality", "Finance", "Logistics", "HR", "Legal", "IT"]
EN_TASKS = ["first reply", "invoice matching", "inspection summary", "contract review", "forecast", "ticket triage"]
EN_METRICS = ["reply time", "draft acceptance", "error rate", "repeat contacts", "cases handled"]
EN_HEADER = ("Metric", "Baseline", "Target", "Method", "When")


def make_markdown(path: Path, pages: int, lang: str) -> None:
    """A plan of about `pages` pages (seven paragraphs of two sentences each, a KPI table every third)."""
    rng = random.Random(20261126 + pages)
    ja = lang == "ja"
    templates, depts, tasks = (TEMPLATES, DEPTS, TASKS) if ja else (EN_TEMPLATES, EN_DEPTS, EN_TASKS)
    header, metrics = (KPI_HEADER, METRICS) if ja else (EN_HEADER, EN_METRICS)
    out = ["# 業務AI活用 PoC計画書" if ja else "# AI pilot plan"]
    for page in range(pages):
        task = rng.choice(tasks)
        out.append(f"\n## {page + 1}. {task}{'の検証計画' if ja else ' pilot'}\n")
        for _ in range(7):
            fields = {
                "dept": rng.choice(depts),
                "task": rng.choice(tasks),
                "a": rng.randint(3, 40),
                "b": rng.randint(50, 3000),
                "c": rng.randint(2, 30),
                "p": rng.randint(40, 95),
                "q": rng.randint(1, 9),
                "y": rng.choice([2026, 2027]),
                "m": rng.randint(1, 12),
                "d": rng.randint(1, 28),
                "wd": rng.choice("月火水木金") if ja else rng.choice(["Monday", "Wednesday", "Friday"]),
            }
            out.append(("" if ja else " ").join(t.format(**fields) for t in rng.sample(templates, 2)) + "\n")
        if page % 3 == 0:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            for metric in rng.sample(metrics, 3):
                out.append(f"| {metric} | {rng.randint(5, 60)} | {rng.randint(2, 20)} | log | monthly |")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def overhead_tokens(path: Path, rubric) -> int:
    """Real tokens of the prompts without document text, over all groups: the rubric overhead."""
    doc = parse_file(path)
    reviewer = LLMReviewer(doc, build_corpus(doc, rubric), rubric, "poc_plan", doc.language if doc.language != "mixed" else "ja",
                           LLMOptions(model="m", base_url=None, api_key="x"))
    total = 0
    for group in load_prompts().groups:
        system, user = reviewer._render(group, [], False, "=" * 8)
        total += count_tokens(system) + count_tokens(user) + 9
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=1.0, help="simulated seconds per call")
    ap.add_argument("--pages", default="5,20,100")
    args = ap.parse_args()
    rubric = load_rubric()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(latency=args.latency) as fake:
        for lang in ("ja", "en"):
            for pages in (int(p) for p in args.pages.split(",")):
                path = Path(tmp) / f"{lang}-{pages}.md"
                make_markdown(path, pages, lang)
                text = parse_file(path).text()
                doc_tokens = count_tokens(text)
                estimate_error = (estimate_tokens(text) - doc_tokens) / doc_tokens
                fake.responder = agreeing(review(path, engine="rules"))
                r_over = overhead_tokens(path, rubric)
                row = {"doc": f"{lang} {pages}p", "doc_tokens": doc_tokens, "est_err": estimate_error, "overhead": r_over}
                for conc in (1, 8):
                    fake.reset()
                    opts = LLMOptions(model="gpt-4.1-mini", base_url=fake.base_url, api_key="x",
                                      concurrency=conc, cache_dir=None)
                    started = time.perf_counter()
                    result = review(path, engine="llm", llm_options=opts)
                    wall = time.perf_counter() - started
                    u = result.usage
                    row.update(calls=u.llm_calls, prompt=u.prompt_tokens, completion=u.completion_tokens,
                               max_criteria=max(len(asked(q)) for q in fake.requests if q.index >= 0))
                    row[f"wall{conc}"] = wall / (u.llm_calls * args.latency)
                    row["engine"] = result.engine
                cache = Path(tmp) / f"cache-{lang}-{pages}"
                opts = LLMOptions(model="gpt-4.1-mini", base_url=fake.base_url, api_key="x", concurrency=8, cache_dir=cache)
                review(path, engine="llm", llm_options=opts)
                fake.reset()
                again = review(path, engine="llm", llm_options=opts)
                row["recalls"] = again.usage.llm_calls + fake.calls
                rows.append(row)

    print(f"fake server latency {args.latency:.2f} s per call\n")
    head = ("document", "doc tok", "est err", "calls", "max crit", "prompt", "compl", "prompt/doc", "limit", "wall/(calls×lat) c1", "c8", "re-review calls")
    print(" | ".join(head))
    print("|".join("---" for _ in head))
    for r in rows:
        if r["doc_tokens"] >= 10_000:
            limit, ok = "≤ 1.50", r["prompt"] / r["doc_tokens"] <= 1.5
        else:
            bound = r["doc_tokens"] + 2 * r["overhead"]
            limit, ok = f"≤ {bound / r['doc_tokens']:.2f} (doc+2×{r['overhead']})", r["prompt"] <= bound
        print(" | ".join([
            r["doc"], str(r["doc_tokens"]), f"{r['est_err']:+.1%}", str(r["calls"]), str(r["max_criteria"]),
            str(r["prompt"]), str(r["completion"]), f"{r['prompt'] / r['doc_tokens']:.2f}", limit + ("" if ok else " MISSED"),
            f"{r['wall1']:.2f}", f"{r['wall8']:.2f}", str(r["recalls"]),
        ]))
    print("\ntargets: calls ≤ 14; max criteria per call < 14; wall/(calls×latency) ≤ 0.35 at concurrency ≥ 4;"
          " re-review 0 calls; estimate within ±10%")


if __name__ == "__main__":
    main()
