"""The programs in examples/ run for real: a server process, clients against it.

The wsproto.anyio examples run on both backends (``--backend asyncio|trio``).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import ConnectionClosed, WebSocketConnection, open_websocket_url
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


# The wsproto.anyio examples, on both backends

BACKENDS = ["asyncio", "trio"]


@dataclass
class LayerServer(Server):
    backend: str

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"


def start_layer_server(script: str, backend: str) -> Iterator[LayerServer]:
    """Run a wsproto.anyio example server on a free port; stop it with SIGTERM afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(EXAMPLES / script), "127.0.0.1", "0", "--backend", backend],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        try:
            first = process.stdout.readline()
            assert "listening on 127.0.0.1:" in first, first
            assert first.rstrip().endswith(f"({backend})"), first
            port = int(first.split("127.0.0.1:", 1)[1].split()[0])
            yield LayerServer(process, port, backend)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=TIMEOUT)


@pytest.fixture(params=BACKENDS)
def echo_server(request: pytest.FixtureRequest) -> Iterator[LayerServer]:
    yield from start_layer_server("echo_server.py", request.param)


@pytest.fixture(params=BACKENDS)
def chat_server(request: pytest.FixtureRequest) -> Iterator[LayerServer]:
    yield from start_layer_server("chat_server.py", request.param)


def test_demo_runs_client_and_server_on_both_backends() -> None:
    output = run_example("demo.py").splitlines()
    rounds = [line for line in output if line.startswith("--- the anyio layer on ")]
    assert rounds == ["--- the anyio layer on asyncio ---", "--- the anyio layer on trio ---"]
    for backend in BACKENDS:
        start = output.index(f"--- the anyio layer on {backend} ---")
        end = len(output) if backend == "trio" else output.index("--- the anyio layer on trio ---")
        lines = output[start:end]
        assert lines[1].startswith("server: listening on 127.0.0.1:")
        assert any(line.startswith("client: connected to ws://127.0.0.1:") for line in lines)
        for line in [
            "server: echoing 'Hello, WebSocket!'",
            "client: received 'Hello, WebSocket!'",
            "client: received 500000 characters",
            "client: received 524288 bytes back",
            "client: ping answered",
            "client: closed with 1000 (NORMAL_CLOSURE)",
            "server: shutting down",
        ]:
            assert line in lines, (backend, line)


@pytest.mark.parametrize("client_backend", BACKENDS)
def test_echo_client_against_echo_server(echo_server: LayerServer, client_backend: str) -> None:
    output = run_example(
        "echo_client.py", echo_server.url("/echo?x=1"), "--backend", client_backend
    ).splitlines()
    assert output == [
        f"client: connected to {echo_server.url('/echo?x=1')} ({client_backend})",
        "client: sending 'Hello, WebSocket!'",
        "client: received 'Hello, WebSocket!'",
        "client: sending b'\\x00\\x01\\x02\\x03'",
        "client: received b'\\x00\\x01\\x02\\x03'",
        "client: sending 500000 characters",
        "client: received 500000 characters",
        "client: sending 524288 bytes in 8 pieces",
        "client: received 524288 bytes back",
        "client: ping answered",
        "client: closed with 1000 (NORMAL_CLOSURE)",
    ]
    lines = echo_server.read_until("closed with")
    assert lines[0].endswith("asks for /echo?x=1")
    assert lines[1:5] == [
        "server: echoing 'Hello, WebSocket!'",
        "server: echoing 4 bytes",
        "server: echoing 500000 characters",
        "server: echoing 524288 bytes",
    ]
    assert lines[-1].endswith("closed with 1000")


def test_echo_server_closes_connections_with_1001_on_sigterm(echo_server: LayerServer) -> None:
    codes: list[int | None] = []

    async def client() -> None:
        async with open_websocket_url(echo_server.url()) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            echo_server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            codes.append(info.value.reason.code if info.value.reason else None)

    anyio.run(client, backend=echo_server.backend)
    assert codes == [1001]
    echo_server.read_until("server: shutting down")
    assert echo_server.process.wait(timeout=TIMEOUT) == 0


def test_echo_client_reports_a_refused_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens on it
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "echo_client.py"), f"ws://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert "OSError" in result.stderr or "ConnectionRefusedError" in result.stderr


async def read_until(ws: WebSocketConnection, text: str, seen: list[str]) -> None:
    """Receive chat lines into ``seen`` until one equals ``text``."""
    while text not in seen:
        message = await ws.get_message()
        assert isinstance(message, str)
        seen.append(message)


def test_chat_broadcasts_to_everyone(chat_server: LayerServer) -> None:
    seen: dict[str, list[str]] = {"alice": [], "bob": [], "carol": []}

    async def conversation() -> None:
        async with (
            open_websocket_url(chat_server.url("/?name=alice")) as alice,
            open_websocket_url(chat_server.url("/?name=bob")) as bob,
        ):
            await read_until(alice, "* bob joined", seen["alice"])
            async with open_websocket_url(chat_server.url("/?name=carol")) as carol:
                for name, ws in [("alice", alice), ("bob", bob), ("carol", carol)]:
                    await read_until(ws, "* carol joined", seen[name])
                # One at a time: two clients' messages reach the server in any order.
                await alice.send_message("hi all")
                for name, ws in [("alice", alice), ("bob", bob), ("carol", carol)]:
                    await read_until(ws, "alice: hi all", seen[name])
                await carol.send_message(b"binary hello")
                for name, ws in [("alice", alice), ("bob", bob), ("carol", carol)]:
                    await read_until(ws, "carol: binary hello", seen[name])
            for name, ws in [("alice", alice), ("bob", bob)]:
                await read_until(ws, "* carol left", seen[name])

    anyio.run(conversation, backend=chat_server.backend)
    assert seen["alice"] == [
        "* alice joined",
        "* bob joined",
        "* carol joined",
        "alice: hi all",
        "carol: binary hello",
        "* carol left",
    ]
    assert seen["bob"] == seen["alice"][1:]
    assert seen["carol"] == ["* carol joined", "alice: hi all", "carol: binary hello"]
    lines = chat_server.read_until("chat: carol left")
    assert lines[:3] == ["chat: alice joined", "chat: bob joined", "chat: carol joined"]


def test_chat_drops_a_client_that_does_not_read(chat_server: LayerServer) -> None:
    # A client that completes the handshake and then never reads, with a
    # small receive buffer: the server's outbox for it fills up.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", chat_server.port))
    ws = WSConnection(ConnectionType.CLIENT)
    slow.sendall(ws.send(Request(host="127.0.0.1", target="/?name=slow")))
    response = b""
    while b"\r\n\r\n" not in response:
        response += slow.recv(1)  # the response head only, byte by byte
    received: list[str] = []

    async def talk() -> None:
        # The fast client keeps up: it reads each of its messages back before
        # sending the next. Random text, so compression cannot shrink it.
        async with open_websocket_url(chat_server.url("/?name=fast")) as fast:
            for n in range(300):
                text = f"{n} " + base64.b64encode(os.urandom(48_000)).decode()
                await fast.send_message(text)
                await read_until(fast, f"fast: {text}", received)
            await read_until(fast, "* slow left (too slow)", received)

    with slow:
        anyio.run(talk, backend=chat_server.backend)
    assert received[0] == "* fast joined"
    assert sum(line.startswith("fast: ") for line in received) == 300
    chat_server.read_until("chat: slow was too slow")


def test_readme_layer_example_runs(echo_server: LayerServer) -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n")[2].split("```", 1)[0]
    assert "ws://127.0.0.1:8000/" in code
    code = code.replace("ws://127.0.0.1:8000/", echo_server.url())
    if echo_server.backend == "trio":
        code = code.replace("anyio.run(main)", 'anyio.run(main, backend="trio")')
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert result.stdout == "Hello!\n"


# The testing how-to: handler tests under anyio's plugin, pytest-trio and pytest-asyncio


def test_testing_examples_pass_under_each_plugin() -> None:
    # Run in a pytest of their own, with their own pytest.ini (as a user's
    # project would), so that their settings are the ones the guide shows.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
        cwd=EXAMPLES / "testing",
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # -rA's summary: one "PASSED path::test[params]" line per test.
    passed = [line.split()[1] for line in output.splitlines() if line.startswith("PASSED ")]
    # anyio's plugin runs its tests on both backends; each plugin ran its own.
    assert "test_with_anyio.py::test_shout_answers_in_capitals[asyncio]" in passed
    assert "test_with_anyio.py::test_shout_answers_in_capitals[trio]" in passed
    assert "test_with_trio.py::test_shout_over_loopback" in passed
    assert "test_with_asyncio.py::test_several_clients_at_once" in passed
    assert len(passed) == 11, output
    assert "skipped" not in output.splitlines()[-1]


# Several worker processes on one port (the workers how-to)


@pytest.mark.parametrize("reuse_port", [False, True], ids=["shared-socket", "reuse-port"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_serve_one_port(backend: str, reuse_port: bool) -> None:
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this platform")
    command = [sys.executable, "-u", str(EXAMPLES / "workers.py"), "127.0.0.1", "0"]
    command += ["--workers", "3", "--backend", backend]
    command += ["--reuse-port"] if reuse_port else []
    # Workers' errors too, in the one pipe: a worker that fails shows why.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    with process.stdout:
        try:
            # The parent's line and each worker's, in whatever order they come.
            port, pids = 0, set[str]()
            while not port or len(pids) < 3:
                line = process.stdout.readline()
                print(line, end="")  # shown if the test fails
                assert line, "the example ended before its workers were ready"
                # (Each line is one write, but test the text, not where lines end.)
                if match := re.search(
                    r"listening on 127\.0\.0\.1:(\d+) \(3 workers, (\w+)\)", line
                ):
                    assert match.group(2) == backend
                    port = int(match.group(1))
                pids.update(re.findall(r"worker (\d+): ready", line))
            closes: list[int | None] = []

            async def clients() -> None:
                url = f"ws://127.0.0.1:{port}/"
                async with open_websocket_url(url) as held:
                    for n in range(6):
                        async with open_websocket_url(url) as ws:
                            await ws.send_message(f"hello {n}")
                            worker, _, text = str(await ws.get_message()).partition(": ")
                            assert worker.split()[1] in pids
                            assert text == f"hello {n}"
                    # Stopping the parent stops the workers, which close with 1001.
                    process.send_signal(signal.SIGTERM)
                    with pytest.raises(ConnectionClosed) as info:
                        await held.get_message()
                    closes.append(info.value.reason.code if info.value.reason else None)

            anyio.run(clients, backend=backend)
            assert closes == [1001]
            assert process.wait(timeout=TIMEOUT) == 0
            assert "workers: shutting down" in process.stdout.read()
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the parent stops its workers
                process.wait(timeout=TIMEOUT)


# The command line and the blocking client


def normalize_ports(transcript: str) -> str:
    """The session's transcript with every port number made the same."""
    return re.sub(r"(127\.0\.0\.1:|--serve )\d+", r"\1PORT", transcript)


def test_cli_session_matches_the_docs() -> None:
    # docs/cli.md shows docs/cli-session.txt: what this example prints, with
    # the ports it happened to get.
    output = run_example("cli_session.py")
    documented = (EXAMPLES.parent / "docs" / "cli-session.txt").read_text(encoding="utf-8")
    assert normalize_ports(output) == normalize_ports(documented)


def test_sync_client_against_echo_server(echo_server: LayerServer) -> None:
    output = run_example(
        "sync_client.py", echo_server.url("/sync"), "--backend", echo_server.backend
    ).splitlines()
    assert output == [
        f"client: connected to {echo_server.url('/sync')} ({echo_server.backend})",
        "client: received 'Hello, WebSocket!'",
        "client: received b'\\x00\\x01\\x02\\x03'",
        "client: ping answered (under 10 s)",
        "client: the receiving thread got ['message 0', 'message 1', 'message 2']",
        "client: closed with 1000",
        "client: threads left: 1",
    ]


@pytest.fixture(params=BACKENDS)
def sync_server(request: pytest.FixtureRequest) -> Iterator[LayerServer]:
    yield from start_layer_server("sync_server.py", request.param)


def test_sync_client_against_sync_server(sync_server: LayerServer) -> None:
    output = run_example(
        "sync_client.py", sync_server.url("/blocking"), "--backend", sync_server.backend
    ).splitlines()
    assert output[-2:] == ["client: closed with 1000", "client: threads left: 1"]
    assert "client: the receiving thread got ['message 0', 'message 1', 'message 2']" in output
    lines = sync_server.read_until("server: closed with")
    assert lines[-2].endswith("asks for /blocking")
    assert lines[-1] == "server: closed with 1000"
    # SIGTERM (as Ctrl-C): the server shuts down and exits 0.
    sync_server.process.send_signal(signal.SIGTERM)
    assert sync_server.read_until("server: stopped")[-2:] == [
        "server: shutting down",
        "server: stopped",
    ]
    assert sync_server.process.wait(timeout=TIMEOUT) == 0
