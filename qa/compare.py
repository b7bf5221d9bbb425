"""Group layer_matrix.py outputs by scenario and show where runners differ."""
import json, sys, collections
rows = collections.defaultdict(dict)
for path in sys.argv[1:]:
    for line in open(path):
        d = json.loads(line)
        r, s = d.pop("runner"), d.pop("scenario")
        d.pop("tb", None)
        rows[s][r] = json.dumps(d, sort_keys=True)
for s, per in rows.items():
    vals = set(per.values())
    flag = "SAME" if len(vals) == 1 else "DIFF"
    print(f"== {s}: {flag}")
    for r, v in per.items():
        if flag == "DIFF" or r == next(iter(per)):
            print(f"   {r:14} {v}")
