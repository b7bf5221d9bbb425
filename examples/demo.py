"""Watch a wsproto.anyio client and server talk, on asyncio and then on trio.

Usage::

    python examples/demo.py

For each backend, starts ``echo_server.py`` on a free port of 127.0.0.1 in
one process, runs ``echo_client.py`` against it in another, and prints what
each side says. The trio round needs trio installed (``pip install trio``);
without it, the demo says so and runs the asyncio round only.
"""

from __future__ import annotations

import importlib.util
import signal
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


def run_round(backend: str) -> int:
    """Run the echo server and the echo client on one backend; return the exit status."""
    print(f"--- the anyio layer on {backend} ---", flush=True)
    server = start("echo_server.py", "127.0.0.1", "0", "--backend", backend)
    assert server.stdout is not None
    with server.stdout:
        try:
            # The server's first line says where it listens:
            # "server: listening on HOST:PORT (BACKEND)".
            first = server.stdout.readline()
            print(first, end="", flush=True)
            if "listening on" not in first:
                print("demo: the server did not start", file=sys.stderr)
                return 1
            address = first.split("listening on ", 1)[1].split()[0]
            served = threading.Event()
            server_relay = threading.Thread(
                target=relay, args=(server.stdout, served, "closed with")
            )
            server_relay.start()

            client = start("echo_client.py", f"ws://{address}/demo", "--backend", backend)
            assert client.stdout is not None
            with client.stdout:
                relay(client.stdout, threading.Event(), "")
            status = client.wait(timeout=TIMEOUT)
            if not served.wait(timeout=TIMEOUT):
                print("demo: the server did not finish the connection", file=sys.stderr)
                status = 1
        finally:
            # SIGTERM: the server closes its connections (1001) and exits.
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=TIMEOUT)
        # The server has exited, so its relay reaches the end of the pipe.
        server_relay.join()
    return status


def main() -> int:
    status = run_round("asyncio")
    if importlib.util.find_spec("trio") is None:
        print("demo: trio is not installed (pip install trio), so no trio round")
        return status
    return status or run_round("trio")


if __name__ == "__main__":
    sys.exit(main())
