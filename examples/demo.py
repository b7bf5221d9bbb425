"""Watch a wsproto client and server talk, each in its own process.

Usage::

    python examples/demo.py

Starts ``synchronous_server.py`` on a free port of 127.0.0.1, runs
``synchronous_client.py`` against it, and prints what each side says.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
TIMEOUT = 30

# Both programs' lines go to our stdout, whole, one at a time.
output_lock = threading.Lock()


def relay(stream: IO[str], seen: threading.Event, marker: str) -> None:
    """Print a program's lines as they come; set ``seen`` once ``marker`` appears."""
    for line in stream:
        with output_lock:
            sys.stdout.write(line)
            sys.stdout.flush()
        if marker in line:
            seen.set()


def start(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-u", str(HERE / script), *args], stdout=subprocess.PIPE, text=True
    )


def main() -> int:
    server = start("synchronous_server.py", "127.0.0.1", "0")
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
            served = threading.Event()
            server_relay = threading.Thread(
                target=relay, args=(server.stdout, served, "connection closed")
            )
            server_relay.start()

            client = start("synchronous_client.py", f"ws://{address}/demo", "Hello from the demo!")
            assert client.stdout is not None
            with client.stdout:
                relay(client.stdout, threading.Event(), "")
            status = client.wait(timeout=TIMEOUT)
            if not served.wait(timeout=TIMEOUT):
                print("demo: the server did not finish the connection", file=sys.stderr)
                status = 1
        finally:
            server.terminate()
            server.wait(timeout=TIMEOUT)
        # The server has exited, so its relay reaches the end of the pipe.
        server_relay.join()
    return status


if __name__ == "__main__":
    sys.exit(main())
