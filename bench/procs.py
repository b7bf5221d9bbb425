"""Processes: JSON-line workers with timeouts, CPU pinning, /proc readings.

Linux only (it reads /proc). Standard library only: workers import it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import resource
import socket
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent  # workers run with the checkout as cwd


class WorkerFailed(RuntimeError):
    """A worker did not answer in time, or exited; it has been killed."""


class Worker:
    """A child process answering one JSON line per JSON-line command."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name = name
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(b"{"):
                self.lines.put(line)
        self.lines.put(None)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise WorkerFailed(f"{self.name}: no answer in {timeout:.0f} s (killed)") from None
        if line is None:
            self.kill()
            raise WorkerFailed(f"{self.name}: exited, see {self.log.name}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.alive:
            raise WorkerFailed(f"{self.name}: not running")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(command).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            self.kill()
            raise WorkerFailed(f"{self.name}: {exc}") from None
        return self.receive(timeout)

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)

    def close(self) -> None:
        if self.alive and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def serve_commands(
    handle: Callable[[dict[str, Any]], dict[str, Any]], hello: dict[str, Any]
) -> None:
    """The worker's side: say hello, then answer each command line on stdin."""
    out: TextIO = sys.stdout
    out.write(json.dumps(hello) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = handle(json.loads(line))
        except Exception as exc:
            traceback.print_exc()
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:400]}
        out.write(json.dumps(answer) + "\n")
        out.flush()


def load_adapter(name: str) -> tuple[Any, dict[str, Any]] | None:
    """Import ``bench.adapters.NAME`` and the hello a worker answers with.

    If it cannot be imported, serve commands with a failure (so the
    orchestrator records why and goes on) and return ``None``.
    """
    import importlib

    try:
        adapter = importlib.import_module(f"bench.adapters.{name}")
        hello = {"ok": True, "versions": adapter.versions(), "python": sys.version.split()[0]}
    except Exception as exc:
        serve_commands(lambda _: {"ok": False}, {"ok": False, "error": repr(exc)[:400]})
        return None
    return adapter, hello


def pin(cpu: int | None, pid: int = 0) -> None:
    """Run every thread of process ``pid`` (0: this one) on ``cpu`` only (None: anywhere).

    Does nothing on a one-CPU machine.
    """
    count = os.cpu_count() or 1
    if count < 2:
        return
    cpus = set(range(count)) if cpu is None else {cpu % count}
    tasks = os.listdir(f"/proc/{pid or os.getpid()}/task")
    for tid in tasks:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cpus)


def cpu_seconds(pid: int) -> float:
    """On-CPU time of every thread of ``pid`` so far (scheduler nanoseconds)."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(OSError, ValueError),
                open(f"/proc/{pid}/task/{tid}/schedstat") as f,
            ):
                total += int(f.read().split()[0])
    return total / 1e9


def user_system_ticks(pid: int) -> tuple[int, int]:
    """utime and stime of ``pid`` (clock ticks): how its CPU time splits user/kernel."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]), int(fields[12])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def allow_many_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def machine() -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, kernel, Python, zlib, load."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
    return info
