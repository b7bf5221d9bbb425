"""Run the ``wsproto`` command-line session shown in the docs, and print its transcript.

Usage::

    python cli_session.py [--backend {asyncio,trio}]

Starts ``wsproto --serve`` on a free port of 127.0.0.1 (terminal 1), runs a
few clients against it (terminal 2): lines piped in, a custom header and a
``--max-size`` too small for a reply; then presses Ctrl-C on the server
(SIGINT). It prints what each terminal would show. docs/cli.md shows this
transcript; a test checks that it matches.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys

WSPROTO = [sys.executable, "-u", "-m", "wsproto"]


def run_client(*args: str, stdin: str) -> list[str]:
    """Run a client with ``stdin`` piped in; return its transcript (stderr merged, as a tty)."""
    result = subprocess.run(
        [*WSPROTO, *args],
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    printf = "printf " + shlex.quote(stdin.replace("\n", "\\n"))
    return [
        f"$ {printf} | wsproto {shlex.join(args)}",
        *result.stdout.splitlines(),
        *(["$ echo $?", str(result.returncode)] if result.returncode else []),
    ]


def main(backend: str) -> None:
    server = subprocess.Popen(
        [*WSPROTO, "--serve", "0", "--backend", backend],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    with server.stderr:
        first = server.stderr.readline()
        port = first.split("127.0.0.1:", 1)[1].split()[0]
        url = f"ws://127.0.0.1:{port}"

        terminal2 = [
            *run_client(f"{url}/", stdin="hello\nworld\n"),
            *run_client(f"{url}/chat", "-H", "Authorization: Bearer 1234", stdin="hi\n"),
            *run_client(f"{url}/", "--max-size", "8", stdin="a long line\n"),
        ]
        server.send_signal(signal.SIGINT)  # Ctrl-C
        server.wait(timeout=60)
        log = server.stderr.read().splitlines()

    print("# Terminal 1: the server")
    print(f"$ wsproto --serve {port}")
    print(first.rstrip())
    for line in log:
        if line.startswith("* SIGINT"):
            print("^C")
        print(line)
    print()
    print("# Terminal 2: clients")
    for line in terminal2:
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    main(parser.parse_args().backend)
