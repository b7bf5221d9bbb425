"""The chart of docs/performance.md, drawn from a run's results with matplotlib.

Left: core messages/s relative to real wsproto 1.3.2 (log scale), for ours
and websockets, every cell. Right: server CPU µs per round trip with the raw
client, for one connection (32 B) and 50 connections (256 B), every server.
matplotlib is needed here only (``nox -s bench_report`` installs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.procs import median
from bench.report import core_cell_label, core_ratio, e2e_servers, e2e_values

COLOURS = {"ours": "#1f77b4", "websockets": "#ff7f0e", "rt": "#1f77b4", "conc": "#9467bd"}


def render(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 8.5), width_ratios=(1.1, 1))
    core = results.get("core")
    if core:
        cells = core["cells"]
        positions = range(len(cells))
        height = 0.4
        for offset, peer_name, label in (
            (-height / 2, "ours", "wsproto 2 (ours)"),
            (height / 2, "websockets", "websockets 17.4"),
        ):
            values = []
            for cell in cells:
                reps = cell["reps"]
                mine, base = reps.get(peer_name), reps.get("wsproto")
                if peer_name == "ours":
                    values.append(core_ratio(cell, "wsproto") or 0)
                else:
                    pairs = [a / b for a, b in zip(mine or [], base or [], strict=False) if b]
                    values.append(median(pairs) if pairs else 0)
            left.barh(
                [p + offset for p in positions],
                values,
                height,
                label=label,
                color=COLOURS[peer_name],
            )
        left.axvline(1, color="grey", linewidth=0.8)
        left.axvline(3, color="grey", linewidth=0.8, linestyle="--")
        left.set_xscale("log")
        left.set_yticks(list(positions), [core_cell_label(c) for c in cells], fontsize=7)
        left.invert_yaxis()
        left.set_xlabel("messages/s ÷ wsproto 1.3.2 (log; dashed: the 3x target)")
        left.set_title("Core (I/O-free)")
        left.legend(loc="lower right", fontsize=8)
    e2e = results.get("e2e")
    if e2e:
        servers = e2e_servers(e2e)
        positions = range(len(servers))
        height = 0.4
        for offset, test, size, label in (
            (-height / 2, "rt", 32, "1 connection, 32 B"),
            (height / 2, "conc", 256, "50 connections, 256 B"),
        ):
            values = []
            for name in servers:
                cpu = e2e_values(e2e, test, size, "raw", name, "server_us")
                values.append(median(cpu) if cpu else 0)
            right.barh(
                [p + offset for p in positions], values, height, label=label, color=COLOURS[test]
            )
        right.set_yticks(list(positions), servers, fontsize=8)
        right.invert_yaxis()
        right.set_xlabel("server CPU µs per round trip (lower is better)")
        right.set_title("End to end, raw client")
        right.legend(loc="lower right", fontsize=8)
    meta = results["meta"]
    fig.suptitle(
        f"wsproto benchmarks, {meta['started'][:10]}, {meta['machine'].get('cpu', '')}"
        + (" (quick run)" if meta["quick"] else ""),
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
