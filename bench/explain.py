"""Show how the rules judged criteria on a document: each unit that names the topic or an aspect,
with its signals; for tuning patterns.

Usage: python bench/explain.py FILE CRITERION[,CRITERION...]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from reviewer.parse import parse_file
from reviewer.rubric import load_rubric
from reviewer.rules import Engine, build_corpus, detect_kind

path, cids = sys.argv[1], sys.argv[2].split(",")
doc = parse_file(path)
r = load_rubric()
c = build_corpus(doc, r)
kind = detect_kind(c, r)
e = Engine(r, c, kind, "en")
for cid in cids:
    crit = r.criterion(cid)
    res, flags = e.judge(crit, 1)
    print(f"== {cid} level {res.level} flags {[f.id for f in flags]}")
    for a in res.aspects:
        print("  ", a.id, a.status)
    th = c.hits(crit.topic)
    for u in c.units:
        ah = [a.id for a in crit.aspects if u.index in c.hits(a.patterns)]
        topic_ctx, ctx = e._context(crit, u, th, [c.hits(a.patterns) for a in crit.aspects])
        actx = [crit.aspects[i].id for i in ctx]
        top = u.index in th or topic_ctx
        if ah or top:
            print(
                f"   [{u.index}] {'T' if top else ' '} {ah} ctx{actx} sig={sorted(e.signals(u))} vague={e.is_vague(u)} :: {u.norm[:150]}"
            )
