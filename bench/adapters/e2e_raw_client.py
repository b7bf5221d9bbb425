"""The client run against every server: blocking stdlib sockets, frames built once.

Each message is masked once, with a fixed key, before the timed part, and
replies are read into a preallocated buffer, so this client costs the same
whoever serves and the server's own cost shows. It offers no extension (no
compression). For the raw-stream baselines it skips the handshake and uses
a zero key. One connection uses a blocking socket; several, a selectors
loop. ``hold`` and ``release`` open and close the idle connections of the
memory test.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time
from typing import Any

from bench import wire
from bench.adapters import drive

KEY = b"\x9c\x2e\x55\x01"
TIMEOUT = 15.0
held: list[socket.socket] = []


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0]}


def open_socket(port: int, websocket: bool) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if websocket:
        sock.sendall(wire.upgrade_request(f"127.0.0.1:{port}", deflate=False))
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("the server closed during the handshake")
            answer += data
        head, _, rest = answer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101") or rest:
            raise ConnectionError(f"unexpected handshake answer {head[:120]!r}")
    return sock


def frames(size: int, websocket: bool) -> tuple[bytes, bytes]:
    """The frame to send and the reply expected."""
    payload = drive.message(size)
    key = KEY if websocket else wire.ZERO_KEY
    request = wire.header(wire.BINARY, size, key) + wire.mask(payload, key)
    return request, wire.header(wire.BINARY, size) + payload


def exchange(sock: socket.socket, request: bytes, view: memoryview) -> None:
    """One round trip; the reply lands in ``view``, which is exactly its size."""
    sock.sendall(request)
    got = 0
    while got < len(view):
        count = sock.recv_into(view[got:])
        if not count:
            raise ConnectionError("the server closed the connection")
        got += count


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    if command["test"] == "release":
        for sock in held:
            sock.close()
        held.clear()
        return {"ok": True}
    websocket = command["websocket"]
    request, reply = frames(command["size"], websocket)
    buffer = bytearray(len(reply))
    view = memoryview(buffer)
    if command["test"] == "hold":
        for _ in range(command["conns"]):
            sock = open_socket(command["port"], websocket)
            held.append(sock)
            exchange(sock, request, view)
        return {"ok": buffer == reply, "opened": len(held)}
    socks = [open_socket(command["port"], websocket) for _ in range(command["conns"])]
    try:
        for sock in socks:
            for _ in range(command["warmup"]):
                exchange(sock, request, view)
            if buffer != reply:
                raise AssertionError("the echo differs from the message (warm-up)")
        meter = drive.Meter(command)
        meter.start()
        if len(socks) == 1:
            result = one(socks[0], request, view, command["seconds"])
            if buffer != reply:
                raise AssertionError("the echo differs from the message")
        else:
            result = many(socks, request, reply, command["seconds"])
        return meter.stop(result)
    finally:
        for sock in socks:
            sock.close()


def one(sock: socket.socket, request: bytes, view: memoryview, seconds: float) -> dict[str, Any]:
    clock = time.perf_counter
    count = 0
    start = clock()
    deadline = start + seconds
    while True:
        exchange(sock, request, view)
        count += 1
        if clock() >= deadline:
            break
    return {"ok": True, "round_trips": count, "seconds": clock() - start}


def many(
    socks: list[socket.socket], request: bytes, reply: bytes, seconds: float
) -> dict[str, Any]:
    """Every connection sends its next message as soon as its echo is complete."""
    clock = time.perf_counter
    selector = selectors.DefaultSelector()
    state = {}
    for sock in socks:
        sock.setblocking(False)
        buffer = bytearray(len(reply))
        state[sock] = [buffer, memoryview(buffer), 0, 0]  # buffer, view, filled, round trips
        selector.register(sock, selectors.EVENT_READ)
    start = clock()
    deadline = start + seconds
    for sock in socks:
        sock.sendall(request)  # a few hundred bytes: the socket buffer takes them whole
    waiting = len(socks)
    end = start
    while waiting:
        ready = selector.select(TIMEOUT)
        if not ready:
            raise TimeoutError("no echo for 15 s")
        for key, _ in ready:
            sock = key.fileobj
            entry = state[sock]
            count = sock.recv_into(entry[1][entry[2] :])
            if not count:
                raise ConnectionError("the server closed a connection")
            entry[2] += count
            if entry[2] < len(reply):
                continue
            entry[2] = 0
            entry[3] += 1
            end = clock()
            if end < deadline:
                sock.sendall(request)
            else:
                selector.unregister(sock)
                waiting -= 1
    selector.close()
    if any(entry[0] != reply for entry in state.values()):
        raise AssertionError("the echo differs from the message")
    total = sum(entry[3] for entry in state.values())
    return {"ok": True, "round_trips": total, "seconds": end - start}
