"""A blocking WebSocket client (wsproto.sync): no async code, for scripts and tests.

Usage::

    python sync_client.py URL [--backend {asyncio,trio}]

Connects to an echo server at URL, sends a text and a binary message and
waits for each echo (with a timeout), measures a ping's round trip, then
receives from a second thread while this one sends, and closes. The
connection runs on an event loop in a background thread, which is gone once
the connection is closed.
"""

from __future__ import annotations

import argparse
import threading

from wsproto.sync import connect


def main(url: str, backend: str) -> None:
    with connect(url, backend=backend) as ws:
        print(f"client: connected to {url} ({backend})")

        ws.send("Hello, WebSocket!")
        print(f"client: received {ws.recv(timeout=10)!r}")
        ws.send(b"\x00\x01\x02\x03")
        print(f"client: received {ws.recv(timeout=10)!r}")

        rtt = ws.ping(timeout=10)
        print(f"client: ping answered ({'under' if rtt < 10 else 'over'} 10 s)")

        # One thread receives while another sends: each method may be called
        # from any thread.
        received: list[str | bytes] = []

        def receive(count: int) -> None:
            received.extend(ws.recv(timeout=10) for _ in range(count))

        receiver = threading.Thread(target=receive, args=(3,))
        receiver.start()
        for n in range(3):
            ws.send(f"message {n}")
        receiver.join()
        print(f"client: the receiving thread got {received}")

    # Leaving the block closed the connection (1000) and stopped its thread.
    print(f"client: closed with {ws.close_code}")
    print(f"client: threads left: {threading.active_count()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    main(args.url, args.backend)
