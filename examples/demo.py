"""Watch a wsproto client and server talk: the server runs in its own process.

Usage::

    python examples/demo.py

Starts ``synchronous_server.py`` on a free port of 127.0.0.1, runs
``synchronous_client.py`` against it, and prints what each side does.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import synchronous_client

HERE = Path(__file__).resolve().parent


def relay(stream: IO[str], finished: threading.Event) -> None:
    """Print the server's lines as they come; note when it is done with the client."""
    for line in stream:
        print(line, end="", flush=True)
        if "connection closed" in line:
            finished.set()


def main() -> int:
    server = subprocess.Popen(
        [sys.executable, "-u", str(HERE / "synchronous_server.py"), "127.0.0.1", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    with server.stdout:
        try:
            # The server's first line says where it listens: "... listening on HOST:PORT".
            first = server.stdout.readline()
            print(first, end="", flush=True)
            if "listening on" not in first:
                print("demo: the server did not start", file=sys.stderr)
                return 1
            address = first.rsplit(" ", 1)[1].strip()

            finished = threading.Event()
            relay_thread = threading.Thread(target=relay, args=(server.stdout, finished))
            relay_thread.start()

            status = synchronous_client.run(f"ws://{address}/demo", "Hello from the demo!")
            if not finished.wait(timeout=10):
                print("demo: the server did not finish the connection", file=sys.stderr)
                status = 1
        finally:
            server.terminate()
            server.wait(timeout=10)
        # The server's end of the pipe is closed now: the relay sees EOF.
        relay_thread.join()
    return status


if __name__ == "__main__":
    sys.exit(main())
