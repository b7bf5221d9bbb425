"""The programs in examples/ run for real: a server process, a client against it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 30


def run_example(*args: str) -> str:
    """Run an example to completion; return its output, failing on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-u", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=EXAMPLES,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int

    def read_until(self, text: str) -> list[str]:
        """Read the server's output lines up to the first one containing ``text``."""
        assert self.process.stdout is not None
        lines = []
        for line in self.process.stdout:
            lines.append(line.rstrip("\n"))
            if text in line:
                return lines
        pytest.fail(f"server output ended before {text!r}: {lines}")


@pytest.fixture
def server() -> Iterator[Server]:
    """The synchronous example server, listening on a free port of 127.0.0.1."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(EXAMPLES / "synchronous_server.py"), "127.0.0.1", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        try:
            first = process.stdout.readline()
            assert "server: listening on 127.0.0.1:" in first, first
            yield Server(process, int(first.rsplit(":", 1)[1]))
        finally:
            process.terminate()
            process.wait(timeout=TIMEOUT)


def handshake(port: int) -> socket.socket:
    """Open a WebSocket connection to the server by hand; return its socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host="127.0.0.1", target="/raw")))
    events: list[object] = []
    while not any(isinstance(event, AcceptConnection) for event in events):
        data = sock.recv(4096)
        assert data, "the server closed the connection during the handshake"
        ws.receive_data(data)
        events.extend(ws.events())
    return sock


def test_demo_shows_a_whole_conversation() -> None:
    output = run_example("demo.py").splitlines()
    for line in [
        "client: connection established",
        "server: upgrade request for /demo",
        "client: sending text 'Hello from the demo!'",
        "server: received text 'Hello from the demo!', echoing",
        "client: received echo 'Hello from the demo!'",
        "server: received ping b'are you there?', answering",
        "client: received pong b'are you there?'",
        "server: received close 1000 'done'",
        "client: received close 1000 'done'",
        "client: connection CLOSED",
        "server: connection closed",
    ]:
        assert line in output


def test_client_and_server_exchange_a_large_text_message(server: Server) -> None:
    # Large enough to arrive in several pieces, with multi-byte characters that
    # the pieces may split: the server echoes piece by piece, the client joins.
    message = "héllo wörld ✓ " * 5000
    output = run_example("synchronous_client.py", f"ws://127.0.0.1:{server.port}/big", message)
    # The client exits with 1 if the echo differs from what it sent.
    assert "client: received echo 'héllo wörld ✓ héllo wörld ✓" in output
    assert f"({len(message)} in all)" in output
    assert "client: received close 1000 'done'" in output
    assert output.splitlines()[-1] == "client: connection CLOSED"
    server.read_until("server: connection closed")


def test_server_serves_one_client_after_another(server: Server) -> None:
    for n in range(2):
        output = run_example("synchronous_client.py", f"ws://127.0.0.1:{server.port}/", str(n))
        assert f"client: received echo '{n}'" in output
        server.read_until("server: connection closed")


def test_server_rejects_a_plain_http_request(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        response = b""
        while chunk := sock.recv(4096):
            response += chunk
    assert response.startswith(b"HTTP/1.1 400 ")
    lines = server.read_until("server: connection closed")
    assert any(line.startswith("server: bad request:") for line in lines)


@pytest.mark.parametrize("during_handshake", [True, False])
def test_server_survives_a_client_that_disappears(server: Server, during_handshake: bool) -> None:
    if during_handshake:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
    else:
        handshake(server.port).close()
    server.read_until("server: connection closed")
    # Still serving.
    output = run_example("synchronous_client.py", f"ws://127.0.0.1:{server.port}/", "again")
    assert "client: received echo 'again'" in output


def test_client_reports_a_rejection() -> None:
    # A plain HTTP server that refuses every request.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = subprocess.Popen(
            [
                sys.executable,
                "-u",
                str(EXAMPLES / "synchronous_client.py"),
                f"ws://127.0.0.1:{port}/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None
        with client.stdout:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                assert client.wait(timeout=TIMEOUT) == 1
            assert "client: rejected with status 403" in client.stdout.read()


def test_http2_example() -> None:
    output = run_example("http2.py").splitlines()
    assert output[0] == "server: extended CONNECT for /chat"
    assert output[1].startswith("server: accepting with extensions permessage-deflate")
    assert "client: WebSocket open, extensions: permessage-deflate" in output
    # 152 characters of repetitive text travel compressed.
    sent = next(line for line in output if line.startswith("client: sending TextMessage in "))
    assert int(sent.split()[-2]) < 152
    for line in [
        "server: received 152 characters, echoing",
        "client: received 152 characters: 'Hello over HTTP/2!'...",
        "server: received ping b'ping'",
        "client: received pong b'ping'",
        "server: received close 1000",
        "client: received close 1000",
        "client: stream ended",
    ]:
        assert line in output
    assert output[-1] == "client: WebSocket CLOSED"


def test_readme_example_runs() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert result.stdout.startswith("[TextMessage(data='Hello!', ")
