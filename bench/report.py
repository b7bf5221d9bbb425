"""Tables, target ratios and the docs page from a run's results.json.

    python -m bench.report RESULTS_DIR          # rewrite RESULTS_DIR/results.md
    python -m bench.report RESULTS_DIR --docs   # also docs/performance.md and its chart

Every ratio is taken within one run, rep by rep (contender rep i over peer
rep i, which ran moments apart), and the median of those ratios is shown;
that cancels most of the noise of a shared machine. Standard library only,
except the chart (bench/chart.py, matplotlib).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import ROOT, median

DOCS_PAGE = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "_static" / "performance.png"
#: Hand-written notes on the targets not met, included after the targets table.
LIMITS = ROOT / "bench" / "limits.md"
NOISY = 0.25  # a spread (max - min over reps) beyond this share of the median is marked ±


def size_label(size: int) -> str:
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    return f"{size >> 10} KiB" if size >= 1024 else f"{size} B"


def rate_label(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value / 1e3:.1f}k" if value >= 1e3 else f"{value:.0f}"


def ratio_label(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def paired(mine: list[float], theirs: list[float]) -> float | None:
    """Median of rep-by-rep ratios (a contender leaves a cell at its first error)."""
    ratios = [a / b for a, b in zip(mine, theirs, strict=False) if b]
    return median(ratios) if ratios else None


def marked(values: list[float], label: Callable[[float], str]) -> str:
    if not values:
        return "-"
    middle = median(values)
    noisy = middle and (max(values) - min(values)) / middle > NOISY
    return label(middle) + (" ±" if noisy else "")


# --- core ---------------------------------------------------------------------


def core_cell_label(cell: dict[str, Any]) -> str:
    kind = cell["kind"] + (" + deflate" if cell["deflate"] else "")
    return f"{cell['op']} {kind} {size_label(cell['size'])}"


def core_ratio(cell: dict[str, Any], peer: str) -> float | None:
    reps = cell["reps"]
    if not reps.get("ours") or not reps.get(peer):
        return None
    return paired(reps["ours"], reps[peer])


def websockets_goal(size: int) -> float:
    return 1.0 if size <= 4096 else 0.8


def core_section(core: dict[str, Any]) -> list[str]:
    names = [n for n, info in core["contenders"].items() if info.get("ok")]
    rows = []
    for cell in core["cells"]:
        row = [core_cell_label(cell)]
        for name in names:
            rates = cell["reps"].get(name, [])
            text = marked(rates, rate_label)
            if name == "ours" and rates:
                text += f" · {median(rates) * cell['size'] / 1e6:,.0f} MB/s"
            row.append("ERR" if name in cell["errors"] else text)
        for peer, goal in (("wsproto", 3.0), ("websockets", websockets_goal(cell["size"]))):
            ratio = core_ratio(cell, peer)
            met = "" if ratio is None else (" ✓" if ratio >= goal else " ✗")
            row.append(ratio_label(ratio) + met)
        rows.append(row)
    header = ["cell", *[f"{n} msg/s" for n in names], "ours ÷ wsproto", "ours ÷ websockets"]
    lines = [
        (
            f"Messages per second (median of {core['reps']} reps x {core['seconds']} s); "
            "MB/s of payload for ours. receive: a server connection fed masked client "
            "frames in 64 KiB chunks, delivering whole messages; send: a client connection "
            "framing and masking messages. deflate: permessage-deflate negotiated with "
            "default settings (text only); from 4 KiB up, zlib's own work dominates these "
            "cells for every contender. Targets: ≥ 3x wsproto 1.3.2 everywhere, "
            "≥ 1x websockets up to 4 KiB and ≥ 0.8x above (✓ met, ✗ not)."
        ),
        "",
    ]
    return lines + table(header, rows)


# --- end to end ---------------------------------------------------------------

E2E_TESTS = [("rt", 32), ("rt", 4096), ("rt", 256 * 1024), ("conc", 256)]


def e2e_label(test: str, size: int) -> str:
    return f"rt {size_label(size)}" if test == "rt" else f"50x{size_label(size)}"


def e2e_cell(e2e: dict[str, Any], test: str, size: int, client: str) -> dict[str, Any] | None:
    for cell in e2e["cells"]:
        if (cell["test"], cell["size"], cell["client"]) == (test, size, client):
            return cell
    return None


def e2e_values(
    e2e: dict[str, Any], test: str, size: int, client: str, name: str, key: str
) -> list[float]:
    cell = e2e_cell(e2e, test, size, client)
    return [rep[key] for rep in cell["reps"].get(name, [])] if cell else []


def server_cpu_ratio(
    e2e: dict[str, Any], test: str, size: int, mine: str, peer: str
) -> float | None:
    ours = e2e_values(e2e, test, size, "raw", mine, "server_us")
    theirs = e2e_values(e2e, test, size, "raw", peer, "server_us")
    return paired(ours, theirs) if ours and theirs else None


def e2e_servers(e2e: dict[str, Any]) -> list[str]:
    return [n for n, info in e2e["contenders"].items() if info.get("ok")]


def e2e_section(e2e: dict[str, Any]) -> list[str]:
    servers = e2e_servers(e2e)
    labels = [e2e_label(test, size) for test, size in E2E_TESTS]

    def grid(client: str, key: str, label: Callable[[float], str]) -> list[list[str]]:
        rows = []
        for name in servers:
            row = [name]
            for test, size in E2E_TESTS:
                cell = e2e_cell(e2e, test, size, client)
                failed = cell is not None and name in cell["errors"]
                values = e2e_values(e2e, test, size, client, name, key)
                row.append("ERR" if failed else marked(values, label))
            rows.append(row)
        return rows

    def cpu_label(value: float) -> str:
        return f"{value:.1f}"

    lines = [
        (
            f"Medians of {e2e['reps']} reps x {e2e['seconds']} s. The raw client (stdlib sockets, "
            "frames masked in advance, no extension offered) drives every server, so the "
            "server's CPU time per round trip (all its threads, from /proc) compares the "
            "servers themselves; the *-streams rows echo the same bytes over plain streams "
            "with no WebSocket work: the ceiling of each event loop."
        ),
        "",
        "**Server CPU µs per round trip** (raw client; lower is better):",
        "",
        *table(["server", *labels], grid("raw", "server_us", cpu_label)),
        "",
        "**Round trips per second, raw client:**",
        "",
        *table(["server", *labels], grid("raw", "round_trips_per_s", rate_label)),
        "",
        (
            "**Round trips per second, each library's own client** (library defaults: "
            "websockets and ours negotiate permessage-deflate with their own clients, so "
            "they compress these random payloads; aiohttp, picows and trio-websocket "
            "do not):"
        ),
        "",
        *table(["server", *labels], grid("own", "round_trips_per_s", rate_label)),
    ]
    memory = e2e["memory"]
    rows = []
    for name in servers:
        entry = memory["servers"].get(name, {})
        if "kib_per_conn" not in entry:
            rows.append([name, "-", "-", "-", f"ERR {entry.get('error', '')}"[:60]])
            continue
        rows.append(
            [
                name,
                str(entry["rss_before_kib"]),
                str(entry["rss_held_kib"]),
                str(entry["rss_after_kib"]),
                f"{entry['kib_per_conn']:.1f}",
            ]
        )
    lines += [
        "",
        (
            f"**Server memory per idle connection** ({memory['conns']} connections held open by "
            "the raw client after one 32 B round trip each; RSS in KiB):"
        ),
        "",
        *table(["server", "RSS before", "RSS with them", "RSS after closing", "KiB/conn"], rows),
    ]
    return lines


# --- targets --------------------------------------------------------------------


CORE_TARGETS: list[tuple[str, str, Callable[[int], bool], float]] = [
    ("wsproto", "every size", lambda size: True, 3.0),
    ("websockets", "≤ 4 KiB", lambda size: size <= 4096, 1.0),
    ("websockets", "64 KiB-1 MiB", lambda size: size > 4096, 0.8),
]


def targets(results: dict[str, Any]) -> list[list[str]]:
    """Every target of issue 5: [target, measured, goal, verdict]."""
    rows = []

    def add(what: str, value: float | None, goal: str, met: bool | None) -> None:
        verdict = "not measured" if value is None else ("met" if met else "**not met**")
        rows.append([what, ratio_label(value), goal, verdict])

    core = results.get("core")
    for op in ("receive", "send") if core else ():
        for peer, sizes, fits, goal in CORE_TARGETS:
            known = [
                (ratio, cell)
                for cell in core["cells"]
                if cell["op"] == op and fits(cell["size"])
                if (ratio := core_ratio(cell, peer)) is not None
            ]
            if not known:
                continue
            worst, cell = min(known, key=lambda pair: pair[0])
            met = sum(ratio >= goal for ratio, _ in known)
            add(
                f"core {op}, messages/s, ours ÷ {peer}, {sizes}: the lowest of "
                f"{len(known)} cells ({met} met) is {core_cell_label(cell)}",
                worst,
                f"≥ {goal:g}x",
                met == len(known),
            )
    e2e = results.get("e2e")
    if e2e:
        checks = [
            ("ours-asyncio", "websockets-asyncio", "rt", 32, 1.0),
            ("ours-asyncio", "websockets-asyncio", "conc", 256, 1.0),
            ("ours-asyncio", "aiohttp", "rt", 32, 1.0),
            ("ours-trio", "websockets-trio", "rt", 32, 0.5),
            ("ours-trio", "websockets-trio", "conc", 256, 0.5),
            ("ours-trio", "trio-websocket", "rt", 32, 0.5),
            ("ours-trio", "trio-websocket", "conc", 256, 0.5),
            ("ours-asyncio", "asyncio-streams", "rt", 256 * 1024, 1.2),
            ("ours-trio", "trio-streams", "rt", 256 * 1024, 1.2),
        ]
        for mine, peer, test, size, goal in checks:
            ratio = server_cpu_ratio(e2e, test, size, mine, peer)
            add(
                f"server CPU per round trip, {e2e_label(test, size)}: {mine} ÷ {peer}",
                ratio,
                f"≤ {goal:g}x",
                ratio is not None and ratio <= goal,
            )
        servers = e2e["memory"]["servers"]
        for mine, peer in (
            ("ours-asyncio", "websockets-asyncio"),
            ("ours-trio", "websockets-trio"),
        ):
            a = servers.get(mine, {}).get("kib_per_conn")
            b = servers.get(peer, {}).get("kib_per_conn")
            ratio = a / b if a is not None and b else None
            add(
                f"memory per idle connection: {mine} ÷ {peer}",
                ratio,
                "≤ 1x",
                ratio is not None and ratio <= 1.0,
            )
    return rows


def targets_section(results: dict[str, Any]) -> list[str]:
    return table(["target (issue 5)", "measured", "goal", "verdict"], targets(results))


# --- whole documents --------------------------------------------------------------


def machine_lines(results: dict[str, Any]) -> list[str]:
    meta = results["meta"]
    machine = meta["machine"]
    return [
        (
            f"- CPU: {machine.get('cpu', '?')}, {machine['cpus']} CPUs; "
            f"load average at the start {' '.join(machine.get('loadavg', []))}"
        ),
        f"- Linux {machine['kernel']}, Python {machine['python']}, zlib {machine['zlib']}",
        f"- Run {meta['started']}, {meta['minutes']} minutes, checkout {meta['checkout']}"
        + (" (**--quick**: a smoke run, not for quoting)" if meta["quick"] else ""),
        f"- Command: `{meta['command'].strip()}` (what `nox -s bench` runs)",
    ]


def versions_lines(results: dict[str, Any]) -> list[str]:
    seen = {}
    for part in ("core", "e2e"):
        for name, info in results.get(part, {}).get("contenders", {}).items():
            if info.get("ok"):
                versions = info.get("versions", {})
                seen[name] = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "path")
            else:
                seen[name] = f"skipped: {info.get('error') or info.get('skipped')}"
    return [f"- {name}: {text}" for name, text in seen.items()]


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Benchmark results", "", *machine_lines(results), ""]
    lines += ["## Targets", "", *targets_section(results), ""]
    if "core" in results:
        lines += ["## Core", "", *core_section(results["core"]), ""]
    if "e2e" in results:
        lines += ["## End to end", "", *e2e_section(results["e2e"]), ""]
    lines += ["## Versions", "", *versions_lines(results), ""]
    return "\n".join(lines)


INTRO = """\
# Performance

This page is generated from one run of the project's benchmarks (`bench/`):
do not edit it by hand. It compares wsproto with the other Python WebSocket
stacks on the same machine in the same run, each in its own virtual
environment with pinned versions (the real wsproto 1.3.2 and this one both
import as `wsproto`):

- **Core**: the I/O-free protocol objects, no sockets. *receive*: a server
  connection fed masked client frames in 64 KiB chunks; *send*: a client
  connection framing and masking messages. Peers: wsproto 1.3.2 and
  websockets' I/O-free core with its C speedups.
- **End to end**: echo servers over loopback, server and client in separate
  processes, one connection doing round trips (32 B, 4 KiB, 256 KiB) or 50 at
  once (256 B), on asyncio and on trio: this library's `wsproto.anyio`,
  websockets (asyncio and trio), trio-websocket, aiohttp and picows, and the
  same bytes over plain asyncio, trio and anyio streams (no WebSocket work:
  the ceiling of each event loop).
- **Memory**: server RSS per idle connection, 500 connections.

The machine is small and shared, so absolute numbers move between runs:
compare within one run. Each cell runs several times, contenders interleaved
in rotating order; tables show medians, and ratios are medians of rep-by-rep
ratios. A server's CPU time per round trip, measured with a client that
costs the same for everyone, is the steadiest figure.

## Reproduce

```console
$ python3 -m nox -s bench            # about ten minutes; -- --quick: a smoke run
$ python3 -m nox -s bench_report -- bench/results/DATE  # this page, its chart
```

The first writes `bench/results/DATE/results.json` and `results.md`; the
environments are cached in `.bench-venvs/` (or `$BENCH_VENVS`). Nothing here
is part of the test suite or CI.

## Machine
"""


def docs_page(results: dict[str, Any], source: str) -> str:
    lines = [INTRO]
    lines += [*machine_lines(results), f"- Results: `{source}`", ""]
    lines += ["## Targets", "", *targets_section(results), ""]
    if LIMITS.exists():
        lines += [LIMITS.read_text().strip(), ""]
    lines += [
        (
            "![Core throughput relative to wsproto 1.3.2, and server CPU per round trip]"
            "(_static/performance.png)"
        ),
        "",
    ]
    if "core" in results:
        lines += ["## Core", "", *core_section(results["core"]), ""]
    if "e2e" in results:
        lines += ["## End to end", "", *e2e_section(results["e2e"]), ""]
    lines += ["## Versions measured", "", *versions_lines(results), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("results", type=Path, help="a results folder (or its results.json)")
    parser.add_argument(
        "--docs", action="store_true", help="write docs/performance.md and its chart"
    )
    args = parser.parse_args()
    path: Path = args.results
    if path.is_dir():
        path = path / "results.json"
    results = json.loads(path.read_text())
    (path.parent / "results.md").write_text(markdown(results))
    print(f"wrote {path.parent / 'results.md'}", file=sys.stderr)
    if args.docs:
        from bench import chart

        try:
            source = str(path.resolve().relative_to(ROOT))
        except ValueError:
            source = str(path)
        DOCS_PAGE.write_text(docs_page(results, source))
        chart.render(results, CHART)
        print(f"wrote {DOCS_PAGE} and {CHART}", file=sys.stderr)


if __name__ == "__main__":
    main()
