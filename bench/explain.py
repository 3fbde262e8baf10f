"""Show how the rules judged criteria on a document: each unit that names the topic or an aspect,
with its signals; for tuning patterns.

Usage: python bench/explain.py FILE CRITERION[,CRITERION...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from reviewer.parse import parse_file
from reviewer.rubric import load_rubric
from reviewer.rules import build_corpus, Engine, detect_kind

path, cids = sys.argv[1], sys.argv[2].split(",")
doc = parse_file(path)
r = load_rubric()
c = build_corpus(doc)
kind = detect_kind(c, r)
e = Engine(r, c, kind, "en")
for cid in cids:
    crit = r.criterion(cid)
    res, flags = e.judge(crit, 1)
    print(f"== {cid} level {res.level} flags {[f.id for f in flags]}")
    for a in res.aspects:
        print("  ", a.id, a.status)
    th = c.hits(crit.topic.regex)
    for u in c.units:
        ah = [a.id for a in crit.aspects if u.index in c.hits(a.patterns.regex)]
        actx = [a.id for a in crit.aspects if c.in_context(a.patterns.regex, u)]
        top = u.index in th or c.in_context(crit.topic.regex, u)
        if ah or top:
            print(
                f"   [{u.index}] {'T' if top else ' '} {ah} ctx{actx} sig={sorted(e.signals(u))} vague={e.is_vague(u)} :: {u.norm[:150]}"
            )
