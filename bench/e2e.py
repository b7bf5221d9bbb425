"""End-to-end echo over loopback, and server memory per idle connection.

Every server runs in its own process (all started at once, idle when not
measured); clients are persistent worker processes. Two clients per server:
its own library's ("own"), and the raw client (adapters/e2e_raw_client.py),
which costs the same against everyone, so the server's CPU time per round
trip — read from /proc, the least noisy figure — compares servers.

rt N     one connection doing round trips of N-byte binary messages.
50x256   fifty connections doing round trips at once; total round trips/s.
memory   a fresh server, warmed up, holds 500 idle connections (each did one
         round trip): RSS growth / 500.

CPU placement matters on a small VM: a wake-up across CPUs costs tens of µs
there, so one-connection round trips run server and client on the same CPU
(library costs show, not the hypervisor's), and the 50-connection test puts
the server on CPU 0 and the client on CPU 1.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import procs, venvs
from bench.contenders import E2E, RAW_CLIENT, Contender, by_name

HOST = "127.0.0.1"
CLIENT_CPU = 1
SERVER_CPU = {"rt": CLIENT_CPU, "conc": 0}
IDLE_CONNECTIONS = 500
SETTLE = 0.5  # seconds a server is left alone before its RSS is read


class Server:
    def __init__(self, contender: Contender, logs: Path) -> None:
        self.contender = contender
        self.port = procs.free_port()
        self.log = (logs / f"server-{contender.name}.log").open("ab")
        argv = [str(venvs.python(contender.env)), "-m", "bench.e2e", "serve", contender.name]
        self.proc = subprocess.Popen(
            [*argv, str(self.port)], cwd=procs.ROOT, stdout=self.log, stderr=self.log
        )

    def ready(self) -> bool:
        return procs.wait_listening(self.port, self.proc, 30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


class Clients:
    """One worker per client kind, restarted when one dies."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.workers: dict[str, procs.Worker] = {}
        self.hello: dict[str, dict[str, Any]] = {}

    def start(self, contender: Contender) -> dict[str, Any]:
        argv = [str(venvs.python(contender.env)), "-m", "bench.e2e", "client", contender.name]
        worker = procs.Worker(contender.name, argv, self.logs / f"client-{contender.name}.log")
        hello = worker.receive(120)
        if hello.get("ok"):
            self.workers[contender.name] = worker
        else:
            worker.close()
        self.hello[contender.name] = hello
        return hello

    def call(self, name: str, command: dict[str, Any]) -> dict[str, Any]:
        worker = self.workers.get(name)
        if worker is None:
            return {"ok": False, "error": "no client worker"}
        try:
            return worker.call(command, command.get("seconds", 1.0) + 90)
        except procs.WorkerFailed as exc:
            worker.close()
            self.start(by_name(name))
            return {"ok": False, "error": str(exc)}

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


def measure(
    out_dir: Path, reps: int, seconds: float, sizes: list[int], names: list[str] | None = None
) -> dict[str, Any]:
    """Round trips of every cell, rep-major in rotating order, then the memory test."""
    procs.pin(0)
    logs = out_dir / "logs"
    contenders = [c for c in E2E if not names or c.name in names]
    clients = Clients(logs)
    clients.start(RAW_CLIENT)
    info: dict[str, Any] = {}
    for contender in contenders:
        hello = clients.start(contender)
        info[contender.name] = {"env": contender.env, **hello}
    servers = {c.name: Server(c, logs) for c in contenders}
    for name, server in list(servers.items()):
        if not server.ready():
            info[name]["ok"] = False
            info[name]["error"] = "the server did not start (see its log)"
            servers.pop(name).stop()
    grid = [("rt", size, 1) for size in sizes] + [("conc", 256, 50)]
    cells = [
        {"test": test, "size": size, "conns": conns, "client": client, "reps": {}, "errors": {}}
        for test, size, conns in grid
        for client in ("raw", "own")
    ]
    order = list(servers)
    started = time.monotonic()
    for rep in range(reps):
        for index, cell in enumerate(cells):
            shift = (rep + index) % len(order)
            for name in order[shift:] + order[:shift]:
                if name in cell["errors"] or (
                    cell["client"] == "own" and name not in clients.workers
                ):
                    continue
                answer = round_trips(clients, servers[name], cell, seconds)
                if not answer.get("ok"):
                    cell["errors"][name] = answer.get("error", "failed")
                    print(
                        f"[e2e] {name} {cell_name(cell)}: {cell['errors'][name]}", file=sys.stderr
                    )
                    if servers[name].proc.poll() is not None:
                        servers[name].stop()
                        servers[name] = Server(servers[name].contender, logs)
                        servers[name].ready()
                    continue
                cell["reps"].setdefault(name, []).append(
                    {
                        "round_trips_per_s": answer["round_trips"] / answer["seconds"],
                        "server_us": answer["server_cpu"] / answer["round_trips"] * 1e6,
                        "client_us": answer["client_cpu"] / answer["round_trips"] * 1e6,
                        "server_system_share": answer.get("server_system_share"),
                    }
                )
        print(f"[e2e] rep {rep + 1}/{reps} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    for server in servers.values():
        server.stop()
    memory = {c.name: idle_memory(clients, c, logs) for c in contenders if c.name in order}
    clients.close()
    return {
        "contenders": info,
        "raw_client": clients.hello.get(RAW_CLIENT.name),
        "reps": reps,
        "seconds": seconds,
        "cells": cells,
        "memory": {"conns": IDLE_CONNECTIONS, "servers": memory},
    }


def cell_name(cell: dict[str, Any]) -> str:
    return f"{cell['test']} {cell['conns']}x{cell['size']} {cell['client']}"


def round_trips(
    clients: Clients, server: Server, cell: dict[str, Any], seconds: float
) -> dict[str, Any]:
    procs.pin(SERVER_CPU[cell["test"]], server.proc.pid)
    command = {
        "test": cell["test"],
        "port": server.port,
        "size": cell["size"],
        "conns": cell["conns"],
        "seconds": seconds,
        "warmup": 20,
        "server_pid": server.proc.pid,
        "websocket": server.contender.websocket,
    }
    client = RAW_CLIENT.name if cell["client"] == "raw" else server.contender.name
    return clients.call(client, command)


def idle_memory(clients: Clients, contender: Contender, logs: Path) -> dict[str, Any]:
    server = Server(contender, logs)
    try:
        if not server.ready():
            return {"error": "the server did not start"}
        procs.pin(CLIENT_CPU, server.proc.pid)
        base = {"port": server.port, "size": 32, "websocket": contender.websocket}
        warm = {**base, "test": "rt", "conns": 4, "seconds": 0.2, "warmup": 5}
        answer = clients.call(RAW_CLIENT.name, warm)
        if not answer.get("ok"):
            return {"error": answer.get("error")}
        time.sleep(SETTLE)
        before = procs.rss_kib(server.proc.pid)
        answer = clients.call(RAW_CLIENT.name, {**base, "test": "hold", "conns": IDLE_CONNECTIONS})
        time.sleep(SETTLE)
        held = procs.rss_kib(server.proc.pid)
        clients.call(RAW_CLIENT.name, {"test": "release"})
        if not answer.get("ok"):
            return {"error": answer.get("error", "could not open the connections")}
        time.sleep(SETTLE)
        after = procs.rss_kib(server.proc.pid)
        return {
            "rss_before_kib": before,
            "rss_held_kib": held,
            "rss_after_kib": after,
            "kib_per_conn": (held - before) / IDLE_CONNECTIONS,
        }
    finally:
        server.stop()


def worker(role: str, name: str, port: str | None = None) -> None:
    """Inside a contender's environment: a server, or a client answering commands."""
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # no per-connection log lines
    procs.allow_many_files()
    contender = by_name(name)
    if role == "serve":
        adapter = importlib.import_module(f"bench.adapters.{contender.adapter}")
        adapter.serve(HOST, int(port or 0), contender.options)
        return
    procs.pin(CLIENT_CPU)
    loaded = procs.load_adapter(contender.adapter)
    if loaded is None:
        return
    adapter, hello = loaded
    procs.serve_commands(lambda command: adapter.client(command, contender.options), hello)


if __name__ == "__main__":
    worker(*sys.argv[1:])
