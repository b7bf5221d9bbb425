"""Run the benchmarks: ``python -m bench [--quick] [--out DIR]`` from the checkout.

Creates (or reuses) the environments, measures the cores, the end-to-end
echo servers and idle memory, and writes DIR/results.json and
DIR/results.md. A full run takes about ten minutes on two CPUs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import core, e2e, procs, report, venvs, wire
from bench.contenders import CORE, E2E, RAW_CLIENT

RESULTS = procs.ROOT / "bench" / "results"

# reps x seconds per cell; --quick is a smoke run, its numbers are not for quoting.
FULL = {"core_reps": 5, "core_seconds": 0.3, "e2e_reps": 3, "e2e_seconds": 1.0}
QUICK = {"core_reps": 2, "core_seconds": 0.1, "e2e_reps": 1, "e2e_seconds": 0.3}
E2E_SIZES = [32, 4096, 256 * 1024]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--out", type=Path, help="results folder (default: bench/results/DATE, or tmp-DATE-quick)"
    )
    parser.add_argument("--only", default="core,e2e", help="core, e2e (with memory), or both")
    parser.add_argument("--contenders", help="comma-separated names (default: all)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    today = time.strftime("%Y-%m-%d")
    out: Path = args.out or RESULTS / (f"tmp-{today}-quick" if args.quick else today)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    names = args.contenders.split(",") if args.contenders else None
    parts = args.only.split(",")

    started = time.time()
    envs = sorted({c.env for c in [*CORE, *E2E, RAW_CLIENT] if not names or c.name in names})
    envs = sorted({*envs, RAW_CLIENT.env})
    results = {
        "meta": {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join(["python -m bench", *sys.argv[1:]]),
            "quick": args.quick,
            "settings": settings,
            "machine": procs.machine(),
            "checkout": venvs.checkout(),
            "environments": venvs.ensure_all(envs),
        }
    }
    if "core" in parts:
        results["core"] = core.run(
            out, settings["core_reps"], settings["core_seconds"], list(wire.SIZES), names
        )
    if "e2e" in parts:
        results["e2e"] = e2e.measure(
            out, settings["e2e_reps"], settings["e2e_seconds"], E2E_SIZES, names
        )
    results["meta"]["minutes"] = round((time.time() - started) / 60, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    print(f"[bench] wrote {out}/results.json and results.md", file=sys.stderr)
    print(f"[bench] render the docs: python -m bench.report {out} --docs", file=sys.stderr)


if __name__ == "__main__":
    main()
