"""Agreement of the rules engine with hand labels.

- the samples' sidecars (samples/expected/);
- the example passages the patterns were tuned on (rubrics/examples/);
- the dev passages in bench/dev/, bench/dev2/ and bench/dev3/, each written blind, measured once
  (64.3%, 72.3% and 74.1% in range), then used for tuning;
- six whole documents in each of bench/docs/, bench/docs2/ and bench/docs3/, written and labelled blind,
  measured once (42/84, 46/84 and 50/84 exact; 78/84, 77/84 and 79/84 within one level), then used
  for tuning;
- the held-out passages in bench/heldout/ and the held-out documents in bench/docs-heldout/,
  written blind and never tuned on: only their totals are printed, so they stay held out.

Prints per sample and per tuned document the criteria that disagree, exact and within-one
agreement over all labels, the confusion of expected vs got levels, and the share of example
passages inside their labelled range.

Usage: python bench/agreement.py [--verbose]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewer.parse import parse_bytes  # noqa: E402
from reviewer.review import review  # noqa: E402


def documents(folder: Path, label: str, *, held_out: bool = False) -> None:
    """Whole documents against their sidecars in folder/expected/; a held-out set prints only its
    totals, so nobody learns which labels it misses."""
    exact = near = total = 0
    confusion: Counter[tuple[int, int]] = Counter()
    kinds = verdicts = docs = 0
    for sidecar in sorted((folder / "expected").glob("*.yaml")):
        spec = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
        got = review(folder / spec["document"], engine="rules")
        docs += 1
        kinds += got.document.kind == spec["kind"]
        verdicts += got.overall.verdict == spec.get("verdict")
        wrong = []
        for cid, item in spec["levels"].items():
            level = got.criterion(cid).level
            total += 1
            exact += level == item["level"]
            near += abs(level - item["level"]) <= 1
            confusion[(item["level"], level)] += 1
            if level != item["level"]:
                wrong.append(f"{cid} {level}≠{item['level']}")
        if not held_out:
            print(
                f"{spec['document']:<36} score {got.overall.score:>3} {got.overall.verdict:<7} "
                f"(label {spec.get('verdict', '-'):<7}) {'; '.join(wrong) or 'all agree'}"
            )
    print(
        f"\n{label}: {docs} documents, {total} labels: exact {exact}/{total} = {exact / total:.1%}, "
        f"within one level {near}/{total} = {near / total:.1%}; kind {kinds}/{docs}, verdict {verdicts}/{docs}"
    )
    if not held_out:
        print(
            "expected→got: "
            + ", ".join(f"{e}→{g}: {n}" for (e, g), n in sorted(confusion.items()) if e != g)
        )


def examples(verbose: bool, folder: Path, label: str) -> None:
    ok = near = total = exact = exact_total = 0
    per: Counter[str] = Counter()
    direction: Counter[str] = Counter()
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for ex in data["examples"]:
            low = ex.get("expect", ex.get("min", 0))
            high = ex.get("expect", ex.get("max", 3))
            doc = parse_bytes(ex["text"].encode("utf-8"), "passage.md")
            level = review(doc, lang=ex["lang"], engine="rules").criterion(data["criterion"]).level
            total += 1
            if "expect" in ex:
                exact_total += 1
                exact += level == ex["expect"]
            near += low - 1 <= level <= high + 1
            if low <= level <= high:
                ok += 1
            else:
                per[data["criterion"]] += 1
                direction["too high" if level > high else "too low"] += 1
                if verbose:
                    print(f"  {data['criterion']} {ex['id']}: got {level}, expected {low}..{high}")
    print(
        f"{label}: {ok}/{total} = {ok / max(total, 1):.1%} inside their labelled range, "
        f"{near / max(total, 1):.1%} within one level; exact labels {exact}/{exact_total}; "
        f"misses {dict(direction)}, by criterion {dict(per) or 'none'}"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    documents(ROOT / "samples", "samples")
    examples(args.verbose, ROOT / "rubrics" / "examples", "examples (tuned on)")
    examples(
        args.verbose,
        ROOT / "bench" / "dev",
        "dev passages (held out until measured once, then tuned on)",
    )
    examples(
        args.verbose, ROOT / "bench" / "dev2", "dev2 passages (second blind set, then tuned on)"
    )
    examples(
        args.verbose, ROOT / "bench" / "dev3", "dev3 passages (third blind set, then tuned on)"
    )
    print()
    documents(ROOT / "bench" / "docs", "blind documents (bench/docs, written blind, then tuned on)")
    print()
    documents(ROOT / "bench" / "docs2", "blind documents (bench/docs2, second set, then tuned on)")
    print()
    documents(ROOT / "bench" / "docs3", "blind documents (bench/docs3, third set, then tuned on)")
    if (ROOT / "bench" / "heldout").is_dir():
        examples(False, ROOT / "bench" / "heldout", "held-out passages (never tuned on)")
    if (ROOT / "bench" / "docs-heldout" / "expected").is_dir():
        documents(
            ROOT / "bench" / "docs-heldout",
            "held-out documents (bench/docs-heldout, never tuned on)",
            held_out=True,
        )
