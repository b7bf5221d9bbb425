"""Core micro-benchmarks: the I/O-free protocol objects, no sockets.

receive  a server connection (handshake done, untimed) is fed what clients
         send, masked frames cut in 64 KiB chunks, and hands over complete
         messages (``str`` for text).
send     a client connection turns messages into masked frames.
Cells: both operations, binary (random bytes) and text (JSON-like ASCII)
messages of every size in wire.SIZES, plus text with permessage-deflate
negotiated (default settings on both sides). Each contender runs in a worker
process of its own environment, pinned to the second CPU.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import procs, venvs, wire
from bench.contenders import CORE

CALL_TIMEOUT = 300.0  # seconds for one worker call: building inputs, checking, one rep


def cells(sizes: list[int]) -> list[dict[str, Any]]:
    kinds = ((False, ("binary", "text")), (True, ("text",)))  # deflate: text only
    return [
        {"op": op, "kind": kind, "size": size, "deflate": deflate}
        for deflate, kind_list in kinds
        for op in ("receive", "send")
        for kind in kind_list
        for size in sizes
    ]


def cell_name(cell: dict[str, Any]) -> str:
    kind = cell["kind"] + ("+deflate" if cell["deflate"] else "")
    return f"{cell['op']} {kind} {cell['size']}"


# --- inside the contender's environment ------------------------------------


class Runner:
    """Times one contender's adapter on any cell; inputs built and checked once."""

    def __init__(self, adapter: ModuleType) -> None:
        self.adapter = adapter
        self.inputs: dict[str, Any] = {}

    def _receive_input(self, kind: str, size: int, deflate: bool) -> list[bytes]:
        chunks, _ = wire.client_stream(kind, size, deflate)
        expected = wire.payloads(kind, size)
        got: list[object] = []
        feed = self.adapter.receiver(kind, deflate)
        for chunk in chunks[:40]:
            feed(chunk, got)
        if not got:
            raise AssertionError("no complete message in the first chunks")
        for i, message in enumerate(got):
            want_type = str if kind == "text" else (bytes, bytearray, memoryview)
            if not isinstance(message, want_type):
                raise AssertionError(f"a {kind} message arrived as {type(message).__name__}")
            if (message if kind == "text" else bytes(message)) != expected[i % len(expected)]:
                raise AssertionError(f"message {i} differs from what was sent")
        return chunks

    def _send_input(self, kind: str, size: int, deflate: bool) -> list[object]:
        data: list[object] = list(wire.payloads(kind, size))
        send = self.adapter.sender(kind, deflate)
        sample = data[:32]
        written = b"".join(self._joined(send(p)) for p in sample)
        decoded = wire.messages(written, masked=True, deflate=deflate)
        opcode = wire.TEXT if kind == "text" else wire.BINARY
        want = [(opcode, p.encode() if isinstance(p, str) else p) for p in sample]
        if decoded != want:
            raise AssertionError("the frames sent do not decode to the messages given")
        return data

    @staticmethod
    def _joined(out: bytes | list[bytes]) -> bytes:
        return b"".join(out) if isinstance(out, list) else bytes(out)

    def run(self, cell: dict[str, Any], seconds: float) -> dict[str, Any]:
        op, kind, size, deflate = cell["op"], cell["kind"], cell["size"], cell["deflate"]
        key = cell_name(cell)
        if key not in self.inputs:
            build = self._receive_input if op == "receive" else self._send_input
            self.inputs[key] = build(kind, size, deflate)
        if op == "receive":
            count, elapsed = self._time_receive(self.inputs[key], kind, deflate, seconds)
        else:
            count, elapsed = self._time_send(self.inputs[key], kind, deflate, seconds)
        return {"ok": True, "messages": count, "seconds": elapsed}

    def _time_receive(
        self, chunks: list[bytes], kind: str, deflate: bool, seconds: float
    ) -> tuple[int, float]:
        clock = time.perf_counter
        count, elapsed = 0, 0.0
        out: list[object] = []
        while elapsed < seconds:
            feed = self.adapter.receiver(kind, deflate)  # a fresh connection, untimed
            start = clock()
            for chunk in chunks:
                feed(chunk, out)
                if out:
                    count += len(out)
                    out.clear()
                    if clock() - start + elapsed >= seconds:
                        break
            elapsed += clock() - start
        return count, elapsed

    def _time_send(
        self, data: list[object], kind: str, deflate: bool, seconds: float
    ) -> tuple[int, float]:
        clock = time.perf_counter
        send: Callable[[object], object] = self.adapter.sender(kind, deflate)
        # Look at the clock about every 64 KiB of payload, not every message:
        # the payloads, cycled, cut into blocks of that size.
        per_block = max(1, wire.CHUNK // len(data[0]))
        cycle = data * -(-per_block // len(data))
        blocks = [cycle[i : i + per_block] for i in range(0, len(cycle), per_block)]
        count = 0
        start = clock()
        deadline = start + seconds
        while clock() < deadline:
            for block in blocks:
                for payload in block:
                    send(payload)
                count += len(block)
                if clock() >= deadline:
                    break
        return count, clock() - start


def worker(adapter_name: str) -> None:
    procs.pin(1)
    loaded = procs.load_adapter(adapter_name)
    if loaded is None:
        return
    adapter, hello = loaded
    runner = Runner(adapter)
    procs.serve_commands(lambda command: runner.run(command["cell"], command["seconds"]), hello)


# --- the orchestrator ---------------------------------------------------------


def run(
    out_dir: Path, reps: int, seconds: float, sizes: list[int], names: list[str] | None = None
) -> dict[str, Any]:
    """Every cell ``reps`` times for every contender, rep-major, in rotating order.

    Interleaving spreads a burst of noise over one rep of everyone rather
    than all reps of one; medians and per-rep ratios absorb it.
    """
    procs.pin(0)
    workers: dict[str, procs.Worker] = {}
    info: dict[str, Any] = {}
    for contender in CORE:
        if names and contender.name not in names:
            continue
        argv = [str(venvs.python(contender.env)), "-m", "bench.core", contender.adapter]
        worker_ = procs.Worker(
            contender.name, argv, out_dir / "logs" / f"core-{contender.name}.log"
        )
        hello = worker_.receive(120)
        if not hello.get("ok"):
            info[contender.name] = {"skipped": hello.get("error")}
            worker_.close()
            continue
        workers[contender.name] = worker_
        info[contender.name] = {"env": contender.env, **hello}
    grid = cells(sizes)
    results: dict[str, dict[str, Any]] = {
        cell_name(c): {**c, "reps": {n: [] for n in workers}, "errors": {}} for c in grid
    }
    order = list(workers)
    started = time.monotonic()
    for rep in range(reps):
        for index, cell in enumerate(grid):
            entry = results[cell_name(cell)]
            shift = (rep + index) % len(order)
            for name in order[shift:] + order[:shift]:
                if name in entry["errors"]:
                    continue
                try:
                    answer = workers[name].call({"cell": cell, "seconds": seconds}, CALL_TIMEOUT)
                except procs.WorkerFailed as exc:
                    answer = {"ok": False, "error": str(exc)}
                if not answer.get("ok"):
                    entry["errors"][name] = answer.get("error", "failed")
                    print(
                        f"[core] {name} {cell_name(cell)}: {entry['errors'][name]}", file=sys.stderr
                    )
                    continue
                # A contender drops out of a cell at its first error, so the
                # i-th rate of every contender comes from the same rep.
                entry["reps"][name].append(answer["messages"] / answer["seconds"])
        print(f"[core] rep {rep + 1}/{reps} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    for worker_ in workers.values():
        worker_.close()
    return {"contenders": info, "reps": reps, "seconds": seconds, "cells": list(results.values())}


if __name__ == "__main__":
    worker(sys.argv[1])
