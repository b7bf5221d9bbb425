"""The command line's terminal side: reading stdin lines, printing messages and status.

Messages go to stdout, one per line, so that a pipeline sees only what the
peer sent; everything else (connection status, pings, closes, errors) goes to
stderr, prefixed with ``* ``.

Reading stdin cannot be cancelled on every backend and every kind of file
(asyncio's ``add_reader`` refuses regular files, and a blocking read in one of
anyio's worker threads would keep the interpreter from exiting), so one daemon
thread reads the raw file descriptor and hands each line to the event loop
through a blocking portal. When the program is done, the thread is left
blocked in ``read``; being a daemon, it does not hold up the exit, and since
it never touches ``sys.stdin``'s buffered object, it holds no lock that the
interpreter's shutdown would wait for.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.from_thread import BlockingPortal
from anyio.streams.memory import MemoryObjectSendStream

from . import CloseReason

# Bytes shown of a binary message; its length is always shown in full.
HEX_PREVIEW = 64
# Lines read ahead of the sender: beyond this, the reading thread waits.
STDIN_BUFFER_LINES = 16
READ_SIZE = 65536


def format_message(message: str | bytes) -> str:
    """How a received message is printed: text after ``< ``, binary as hex with its length.

    Every line of a text message starts with ``< `` (continuation lines of a
    multi-line message with ``  ``); a binary message's line starts with
    ``<bin``, so the two cannot be confused.
    """
    if isinstance(message, str):
        return "< " + message.replace("\n", "\n  ")
    shown = message[:HEX_PREVIEW].hex()
    more = "..." if len(message) > HEX_PREVIEW else ""
    return f"<bin {len(message)} bytes> {shown}{more}"


def format_close(reason: CloseReason | None) -> str:
    """A close code with its name and the reason text, e.g. ``1000 (NORMAL_CLOSURE)``."""
    if reason is None:
        return "no close code"
    text = f"{reason.code} ({reason.name})"
    if reason.reason:
        text += f" {reason.reason!r}"
    return text


def is_normal(reason: CloseReason | None) -> bool:
    """Whether a close is a normal one: 1000 (normal closure) or 1001 (going away)."""
    return reason is not None and reason.code in (1000, 1001)


def out(line: str) -> None:
    """Print a message line to stdout at once (a pipe would otherwise buffer it).

    If nobody reads stdout any more (``wsproto ... | head -1``), further
    output is dropped, and the connection carries on until it ends as usual.
    """
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null: the interpreter's own flush at exit
        # would fail on the broken pipe too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def status(line: str) -> None:
    """Print a status line to stderr."""
    print(f"* {line}", file=sys.stderr, flush=True)


def error(line: str) -> None:
    """Print an error line to stderr."""
    print(f"wsproto: error: {line}", file=sys.stderr, flush=True)


@asynccontextmanager
async def stdin_lines(fd: int | None = None) -> AsyncIterator[AsyncIterator[str]]:
    """Lines of stdin (or of ``fd``) as an async iterator, read by a daemon thread.

    ``async with stdin_lines() as lines: async for line in lines: ...``. Each
    line comes without its line ending, decoded as UTF-8 (invalid bytes
    replaced); a last line without a newline counts too. Leaving the block
    stops delivering lines even if the thread is still waiting for input.
    """
    fd = sys.stdin.fileno() if fd is None else fd
    send, receive = anyio.create_memory_object_stream[str](STDIN_BUFFER_LINES)
    with receive:
        async with BlockingPortal() as portal:
            reader = threading.Thread(
                target=_read_lines,
                args=(fd, portal, send),
                name="wsproto stdin reader",
                daemon=True,
            )
            reader.start()
            try:
                yield receive
            finally:
                # The thread may be waiting for room in the stream: cancel its call.
                await portal.stop(cancel_remaining=True)


def _read_lines(fd: int, portal: BlockingPortal, send: MemoryObjectSendStream[str]) -> None:
    """The thread: read the descriptor, split lines, hand each to the event loop."""
    pending = b""
    try:
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                portal.call(send.send, _decode(line))
        if pending:
            portal.call(send.send, _decode(pending))
        portal.call(send.aclose)
    except Exception:
        # The portal stopped (the program is done with stdin), or the reading
        # side went away: nothing more to deliver.
        return


def _decode(line: bytes) -> str:
    return line.removesuffix(b"\r").decode("utf-8", errors="replace")
