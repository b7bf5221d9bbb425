"""Drive the load runs: ``python -m load [--soak-seconds N] [--parts ...] [--backends ...]``.

For each backend, three parts, each with a fresh server process:

concurrent
    ``--connections`` (1,000) WebSockets open at once from ``--client-processes``
    client processes; each exchanges ``--messages`` sequence-numbered
    messages. Reports lost, duplicated or reordered messages (must be none),
    clean closes (must be all), echoed messages/s, the server's RSS per
    connection and its peak RSS.
soak
    ``--soak-seconds`` (300) of churn (normal exchanges and closes, aborts,
    drops mid-message, idle peers the keepalive must close), the server's RSS
    and open descriptors sampled every ``--sample-seconds``. Flat means: the
    mean RSS over the last fifth of the churn exceeds the mean over its
    second fifth (after warm-up) by less than 10 % + 2 MiB, and once the
    clients are gone the descriptors are back to their count before the run.
flood
    One connection floods the server with empty messages, 1-byte messages and
    pings for ``--flood-seconds`` each, once reading the answers (server CPU
    per message) and once not (back-pressure: the flood must stall, and the
    server's RSS stay bounded).

Results go to ``--out``/DATE/results.json, the soak curve to
docs/_static/soak.png (``--plot``), a summary to stdout. Loopback only;
everything stops by itself.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from .procstat import cpu_seconds, open_fds, peak_rss_bytes, raise_fd_limit, rss_bytes

MIB = 2**20


class Server:
    """The server process: started, asked for stats, stopped."""

    def __init__(self, backend: str, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "load.server", backend, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.stdout: IO[str] = self.process.stdout
        line = self.stdout.readline()
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.process.pid

    def command(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        result: dict[str, Any] = json.loads(self.stdout.readline())
        return result

    def sample(self) -> dict[str, Any]:
        return {
            "rss": rss_bytes(self.pid),
            "fds": open_fds(self.pid),
            "cpu": cpu_seconds(self.pid),
        }

    def stop(self) -> dict[str, Any]:
        final = self.command("stop")
        self.process.wait(timeout=120)
        return final


def client(mode: str, backend: str, port: int, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "load.client", mode, backend, str(port), *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def last_json(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def concurrent(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    # Keepalive off: under this load a pong can wait behind many unread
    # messages for longer than the ping timeout (see docs/security.md).
    server = Server(backend, "--ping-interval=0")
    before = server.sample()
    per_process = args.connections // args.client_processes
    clients = [
        client(
            "concurrent",
            backend,
            server.port,
            f"--connections={per_process}",
            f"--messages={args.messages}",
        )
        for _ in range(args.client_processes)
    ]
    for process in clients:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"a client did not connect: {line!r}")
    held = server.sample()
    held_stats = server.command("stats")
    for process in clients:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = [last_json(process, timeout=600) for process in clients]
    after = server.sample()
    peak = peak_rss_bytes(server.pid)
    final = server.stop()
    messages = sum(r["messages"] for r in results)
    seconds = max(r["exchange_seconds"] or 0.0 for r in results)
    return {
        "connections_held": held_stats["open"],
        "messages": messages,
        "expected_messages": per_process * args.client_processes * args.messages,
        "lost": sum(r["lost"] for r in results),
        "duplicated_or_reordered": sum(r["duplicated_or_reordered"] for r in results),
        "client_clean_closes": sum(r["clean_closes"] for r in results),
        "server_close_codes": final["codes"],
        "server_handler_errors": final["errors"],
        "client_errors": [e for r in results for e in r["errors"]][:20],
        "exchange_seconds": seconds,
        "messages_per_second": messages / seconds if seconds else None,
        "server_cpu_seconds_exchange": after["cpu"] - held["cpu"],
        "rss_before": before["rss"],
        "rss_held": held["rss"],
        "rss_per_connection": (held["rss"] - before["rss"]) / max(1, held_stats["open"]),
        "peak_rss": peak,
        "fds_held": held["fds"],
    }


def soak(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    ping = args.soak_ping_interval
    server = Server(backend, f"--ping-interval={ping}", "--disconnect-timeout=2")
    baseline = server.sample()
    start = time.monotonic()
    clients = [
        client(
            "soak",
            backend,
            server.port,
            f"--seconds={args.soak_seconds}",
            f"--workers={args.soak_workers}",
            f"--seed={seed}",
            f"--ping-interval={ping}",
        )
        for seed in range(args.client_processes)
    ]
    samples: list[dict[str, Any]] = []

    def take(phase: str) -> dict[str, Any]:
        sample = server.sample()
        sample["t"] = time.monotonic() - start
        sample["phase"] = phase
        stats = server.command("stats")
        sample["open"] = stats["open"]
        sample["blocks"] = stats["blocks"]
        samples.append(sample)
        return sample

    while any(process.poll() is None for process in clients):
        take("churn")
        time.sleep(args.sample_seconds)
    results = [last_json(process, timeout=600) for process in clients]
    # The clients are gone: connections must drain (bounded wait) and descriptors come back.
    drain_deadline = time.monotonic() + 60
    while True:
        sample = take("drain")
        if (sample["open"] == 0 and sample["fds"] <= baseline["fds"]) or (
            time.monotonic() > drain_deadline
        ):
            break
        time.sleep(args.sample_seconds)
    final = server.stop()
    counts: dict[str, int] = {}
    for r in results:
        for key, value in r["counts"].items():
            counts[key] = counts.get(key, 0) + value
    return {
        "seconds": args.soak_seconds,
        "connections": sum(counts.values()),
        "behaviours": counts,
        "messages": sum(r["messages"] for r in results),
        "bad_messages": sum(r["bad_messages"] for r in results),
        "unclean_closes": sum(r["unclean_closes"] for r in results),
        "idle_closed_by_server": sum(r["idle_closed_by_server"] for r in results),
        "others_closed_by_server": sum(r.get("closed_by_server", 0) for r in results),
        "client_errors": sum(r.get("error_count", 0) for r in results),
        "client_error_examples": [e for r in results for e in r["errors"]][:10],
        "server_close_codes": final["codes"],
        "server_handler_errors": final["errors"],
        "baseline_fds": baseline["fds"],
        **flatness(samples, baseline["fds"]),
        "samples": samples,
    }


def flatness(samples: list[dict[str, Any]], baseline_fds: int) -> dict[str, Any]:
    """Whether a soak's samples are flat at the end, and the figures that say so.

    Flat: over the last two fifths of the churn, RSS grows by less than 5 %
    (it only rises to the allocator's high-water mark, so its last value is
    its peak); Python's allocated blocks, which saw-tooth with the garbage
    collector, peak less than 5 % above their peak over the second and third
    fifths; after the drain no connection is open and the descriptors are
    back to their count before the run.
    """
    churn = [s for s in samples if s["phase"] == "churn"]
    fifth = len(churn) // 5
    middle, last = churn[fifth : 3 * fifth], churn[3 * fifth :]
    rss_growth = last[-1]["rss"] / last[0]["rss"] - 1
    blocks_middle = max(s["blocks"] for s in middle)
    blocks_last = max(s["blocks"] for s in last)
    blocks_growth = blocks_last / blocks_middle - 1
    final = samples[-1]
    return {
        "final_fds": final["fds"],
        "final_open": final["open"],
        "rss_at_three_fifths": last[0]["rss"],
        "rss_at_end": last[-1]["rss"],
        "rss_growth_last_two_fifths": rss_growth,
        "blocks_peak_middle": blocks_middle,
        "blocks_peak_last": blocks_last,
        "blocks_peak_growth": blocks_growth,
        "blocks_after_drain": final["blocks"],
        "max_rss": max(s["rss"] for s in samples),
        "flat": rss_growth < 0.05
        and blocks_growth < 0.05
        and final["open"] == 0
        and final["fds"] <= baseline_fds,
    }


def flood(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for kind in ("empty", "tiny", "ping"):
        for read in (True, False):
            server = Server(backend, "--ping-interval=1000")
            before = server.sample()
            options = [f"--kind={kind}", f"--seconds={args.flood_seconds}"]
            process = client("flood", backend, server.port, *options, *(["--read"] if read else []))
            rss: list[int] = []
            while process.poll() is None:
                rss.append(rss_bytes(server.pid))
                time.sleep(0.25)
            outcome = last_json(process, timeout=120)
            after = server.sample()
            peak = peak_rss_bytes(server.pid)
            server.stop()
            answered = outcome["received"]
            series = outcome["series"]
            # Back-pressure: sent frames over the last third of the flood.
            tail = [sent for t, sent in series if t >= outcome["seconds"] * 2 / 3]
            results[f"{kind}-{'read' if read else 'no-read'}"] = {
                "sent": outcome["sent"],
                "answered": answered,
                "seconds": outcome["seconds"],
                "server_cpu_seconds": after["cpu"] - before["cpu"],
                "server_cpu_us_per_message": (
                    (after["cpu"] - before["cpu"]) / answered * 1e6 if answered else None
                ),
                "sent_in_last_third": (tail[-1] - tail[0]) if len(tail) > 1 else None,
                "rss_before": before["rss"],
                "rss_max": max(rss, default=before["rss"]),
                "peak_rss": peak,
            }
    return results


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (memory, blocks, descriptors) = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
    for backend, parts in results["backends"].items():
        samples = parts.get("soak", {}).get("samples", [])
        if not samples:
            continue
        minutes = [s["t"] / 60 for s in samples]
        memory.plot(minutes, [s["rss"] / MIB for s in samples], label=backend)
        blocks.plot(minutes, [s["blocks"] / 1000 for s in samples], label=backend)
        descriptors.plot(minutes, [s["fds"] for s in samples], label=backend)
    memory.set_ylabel("server RSS (MiB)")
    memory.set_ylim(bottom=0)
    blocks.set_ylabel("Python blocks (thousands)")
    blocks.set_ylim(bottom=0)
    descriptors.set_ylabel("server open fds")
    descriptors.set_xlabel("minutes (churn, then drain)")
    descriptors.set_ylim(bottom=0)
    memory.legend()
    memory.set_title(f"Soak, connections churning: {results['date']}, {results['machine']}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def summary(results: dict[str, Any]) -> str:
    lines = [f"# load run {results['date']} on {results['machine']}"]
    for backend, parts in results["backends"].items():
        if "concurrent" in parts:
            c = parts["concurrent"]
            lines.append(
                f"{backend} concurrent: {c['connections_held']} held, {c['messages']}/"
                f"{c['expected_messages']} messages, lost {c['lost']}, dup/reordered "
                f"{c['duplicated_or_reordered']}, clean closes {c['client_clean_closes']}, "
                f"server codes {c['server_close_codes']}, "
                f"{c['messages_per_second'] or 0:,.0f} msg/s, "
                f"{c['rss_per_connection'] / 1024:.1f} KiB/conn, peak RSS "
                f"{c['peak_rss'] / MIB:.1f} MiB, errors {c['client_errors'][:3]}"
            )
        if "soak" in parts:
            s = parts["soak"]
            lines.append(
                f"{backend} soak {s['seconds']} s: {s['connections']} connections "
                f"{s['behaviours']}, {s['messages']} messages, bad {s['bad_messages']}, "
                f"unclean {s['unclean_closes']}, idle closed {s['idle_closed_by_server']}, "
                f"others closed by the server {s.get('others_closed_by_server', 0)}, "
                f"client errors {s['client_errors']} {s['client_error_examples'][:3]}, "
                f"RSS {s['rss_at_three_fifths'] / MIB:.1f} -> {s['rss_at_end'] / MIB:.1f} MiB "
                f"over the last 2/5 ({s['rss_growth_last_two_fifths']:+.1%}, max "
                f"{s['max_rss'] / MIB:.1f}), Python blocks peak {s['blocks_peak_middle']:,} -> "
                f"{s['blocks_peak_last']:,} ({s['blocks_peak_growth']:+.1%}), "
                f"{s['blocks_after_drain']:,} after the drain, "
                f"fds {s['baseline_fds']} -> {s['final_fds']}, "
                f"flat {s['flat']}, server codes {s['server_close_codes']}"
            )
        for name, f in parts.get("flood", {}).items():
            per = f["server_cpu_us_per_message"]
            lines.append(
                f"{backend} flood {name}: sent {f['sent']:,}, answered {f['answered']:,}, "
                f"server CPU {f['server_cpu_seconds']:.1f} s"
                + (f" ({per:.1f} us/message)" if per else "")
                + f", sent in last third {f['sent_in_last_third']}, RSS "
                f"{f['rss_before'] / MIB:.1f} -> max {f['rss_max'] / MIB:.1f} MiB"
            )
    return "\n".join(lines)


def report(folder: Path, plot_path: Path | None) -> None:
    """Recompute an earlier run's soak verdicts from its samples; rewrite its summary."""
    results = json.loads((folder / "results.json").read_text())
    for parts in results["backends"].values():
        if "soak" in parts:
            soaked = parts["soak"]
            soaked.update(flatness(soaked["samples"], soaked["baseline_fds"]))
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    text = summary(results)
    (folder / "summary.md").write_text(text + "\n")
    print(text)
    if plot_path:
        plot(results, plot_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", nargs="+", default=["asyncio", "trio"])
    parser.add_argument("--parts", nargs="+", default=["concurrent", "soak", "flood"])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--soak-seconds", type=float, default=300.0)
    parser.add_argument("--soak-workers", type=int, default=50)
    parser.add_argument("--soak-ping-interval", type=float, default=2.0)
    parser.add_argument("--sample-seconds", type=float, default=2.0)
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("load/results"))
    parser.add_argument("--plot", type=Path, default=Path("docs/_static/soak.png"))
    parser.add_argument(
        "--report",
        type=Path,
        help="recompute the verdicts, summary and soak curve of an earlier run's folder",
    )
    args = parser.parse_args()
    if args.report:
        report(args.report, args.plot)
        return
    limit = raise_fd_limit()
    if "concurrent" in args.parts and limit < args.connections + 100:
        sys.exit(f"ulimit -n is {limit}: too low for {args.connections} connections")
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%MZ")
    results: dict[str, Any] = {
        "date": date,
        "machine": f"{os.cpu_count()} cores (shared), Python {platform.python_version()}",
        "fd_limit": limit,
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "backends": {},
    }
    runs = {"concurrent": concurrent, "soak": soak, "flood": flood}
    for backend in args.backends:
        parts: dict[str, Any] = {}
        results["backends"][backend] = parts
        for part in args.parts:
            print(f"{backend}: {part} ...", flush=True)
            parts[part] = runs[part](backend, args)
    out = args.out / date
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    text = summary(results)
    (out / "summary.md").write_text(text + "\n")
    print(text)
    if "soak" in args.parts and args.plot:
        plot(results, args.plot)
        print(f"soak curve: {args.plot}")


if __name__ == "__main__":
    main()
