"""The ``wsproto`` command: client and server, through pipes and in a pty, on both backends.

Peers: the command's own server (``wsproto --serve``), websockets' echo server
(tests/websockets_peer.py) and, for the error paths, our layer's server with
a handler that rejects or closes. Every wait is for an output line, never for
time; ``--linger 0`` makes a piped client close as soon as every line sent has
had its reply.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

from tests.blocking_peers import BACKENDS, websockets_server, wsproto_server
from wsproto import ConnectionType, WSConnection
from wsproto.anyio import ConnectionClosed, WebSocketRequest
from wsproto.events import AcceptConnection, Request
from wsproto.sync import connect

TIMEOUT = 30
WSPROTO = [sys.executable, "-u", "-m", "wsproto"]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run the client with ``stdin`` as its (piped) input, to completion."""
    return subprocess.run(
        [*WSPROTO, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def read_line_with(stream: object, text: str, seen: list[str] | None = None) -> str:
    """Read lines from a text stream until one contains ``text``; return it."""
    lines = seen if seen is not None else []
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line.rstrip("\n"))
        if text in line:
            return str(line)
    raise AssertionError(f"output ended before {text!r}: {lines}")


# The command's own server


@dataclass
class CliServer:
    process: subprocess.Popen[str]
    port: int
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_until(self, text: str) -> str:
        """Read the server's log (stderr) until a line contains ``text``."""
        assert self.process.stderr is not None
        return read_line_with(self.process.stderr, text, self.log)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT, then the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=TIMEOUT)


@contextmanager
def cli_server(backend: str = "asyncio", *options: str) -> Iterator[CliServer]:
    process = subprocess.Popen(
        [*WSPROTO, "--serve", "127.0.0.1:0", "--backend", backend, *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        first = process.stderr.readline()
        assert first.startswith("* Listening on ws://127.0.0.1:"), first
        assert f"({backend})" in first
        port = int(first.split("127.0.0.1:", 1)[1].split()[0])
        yield CliServer(process, port, [first.rstrip()])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def echo_peer(peer: str) -> Iterator[str]:
    """An echo server's URL: the command's own (on a backend) or websockets'."""
    if peer == "websockets":
        with websockets_server() as server:
            yield f"ws://127.0.0.1:{server.port}"
    else:
        with cli_server(peer.removeprefix("wsproto-")) as server:
            yield server.url
            assert server.interrupt() == 0


PEERS = ["wsproto-asyncio", "wsproto-trio", "websockets"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The client's backend."""
    value: str = request.param
    return value


# Through pipes


@pytest.mark.parametrize("peer", PEERS)
def test_piped_lines_are_echoed_then_closed_with_1000(peer: str, backend: str) -> None:
    with echo_peer(peer) as url:
        result = run_cli(f"{url}/chat", "--backend", backend, "--linger", "0", stdin="a\nb\n")
    assert result.stdout == "< a\n< b\n"
    assert result.stderr.splitlines() == [
        f"* Connected to {url}/chat",
        "* Connection closed: 1000 (NORMAL_CLOSURE)",
    ]
    assert result.returncode == 0


@pytest.mark.parametrize("server_backend", BACKENDS)
def test_default_linger_prints_the_echo_and_exits_0(server_backend: str) -> None:
    # The headline example: printf 'hello\n' | wsproto ws://127.0.0.1:PORT/
    with cli_server(server_backend) as server:
        result = run_cli(f"{server.url}/", stdin="hello\n")
        assert result.stdout == "< hello\n"
        assert result.returncode == 0
        server.log_until("closed: 1000 (NORMAL_CLOSURE)")
        assert server.log[1].startswith("* 127.0.0.1:")
        assert server.log[1].endswith(" connected: /")
        assert server.interrupt() == 0


def test_last_line_without_newline_and_unicode(backend: str) -> None:
    with cli_server() as server:
        result = run_cli(server.url, "--backend", backend, "--linger", "0", stdin="héllo\r\nwörld")
        server.interrupt()
    assert result.stdout == "< héllo\n< wörld\n"


async def show_binary(request: WebSocketRequest) -> None:
    """Answer each text message with it encoded as UTF-8, as a binary message."""
    ws = await request.accept()
    async for message in ws:
        assert isinstance(message, str)
        await ws.send_message(message.encode())
        if message == "multi":
            await ws.send_message("line 1\nline 2")


def test_binary_messages_show_as_hex_with_their_length(backend: str) -> None:
    with wsproto_server(show_binary, backend) as port:
        result = run_cli(
            f"ws://127.0.0.1:{port}/", "--backend", backend, "--linger", "0", stdin="hi\nmulti\n"
        )
    assert result.stdout.splitlines() == [
        "<bin 2 bytes> 6869",
        "<bin 5 bytes> 6d756c7469",
        "< line 1",
        "  line 2",
    ]
    assert result.returncode == 0


def test_long_binary_messages_are_cut_short(backend: str) -> None:
    with wsproto_server(show_binary, backend) as port:
        result = run_cli(f"ws://127.0.0.1:{port}/", "--linger", "0", stdin="x" * 100 + "\n")
    assert result.stdout == f"<bin 100 bytes> {'78' * 64}...\n"


def test_headers_subprotocol_and_no_compression_reach_websockets(backend: str) -> None:
    with websockets_server("chat") as server:
        url = f"ws://127.0.0.1:{server.port}/p"
        for options, deflate in [([], True), (["--no-compression"], False)]:
            result = run_cli(
                url,
                "--backend",
                backend,
                "-H",
                "X-Token: secret",
                "--subprotocol",
                "other",
                "--subprotocol",
                "chat",
                "--linger",
                "0",
                *options,
                stdin="x\n",
            )
            assert result.returncode == 0, result.stderr
            assert f"* Connected to {url} (subprotocol chat)" in result.stderr
            assert server.read_until("open")[-1] == (
                f"open /p x-token=secret subprotocol=chat deflate={deflate}"
            )


def test_server_accepts_a_subprotocol_it_was_given() -> None:
    with cli_server("asyncio", "--subprotocol", "chat") as server:
        with connect(server.url, subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
        with connect(server.url, subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
        assert server.log_until("connected").endswith("connected: / (subprotocol chat)\n")
        server.interrupt()


# Interactive, in a pseudo-terminal


class Terminal:
    """The command running in a pty: type lines, read until some output appears."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [*WSPROTO, *args], stdin=slave, stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        self.output = ""

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def read_until(self, text: str) -> str:
        while text not in self.output:
            ready, _, _ = select.select([self.master], [], [], TIMEOUT)
            assert ready, f"no {text!r} in {self.output!r}"
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the program ended and closed the terminal
                chunk = b""
            assert chunk, f"output ended before {text!r}: {self.output!r}"
            self.output += chunk.decode().replace("\r\n", "\n")
        return self.output

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        os.close(self.master)


@contextmanager
def terminal(*args: str) -> Iterator[Terminal]:
    term = Terminal(*args)
    try:
        yield term
    finally:
        term.close()


@pytest.mark.parametrize("peer", PEERS)
def test_interactive_session_in_a_pty(peer: str, backend: str) -> None:
    with echo_peer(peer) as url, terminal(url, "--backend", backend) as term:
        term.read_until(f"* Connected to {url}\n")
        term.type("hello\n")
        term.read_until("< hello\n")
        term.type("second line\n")
        term.read_until("< second line\n")
        term.type("\x04")  # Ctrl-D: end of input, close with 1000 at once
        term.read_until("* Connection closed: 1000 (NORMAL_CLOSURE)\n")
        assert term.process.wait(timeout=TIMEOUT) == 0
        # The terminal echoed what was typed; the rest is the program's.
        assert term.output.splitlines() == [
            f"* Connected to {url}",
            "hello",
            "< hello",
            "second line",
            "< second line",
            "* Connection closed: 1000 (NORMAL_CLOSURE)",
        ]


def test_interactive_pings_show_their_pongs(backend: str) -> None:
    with (
        cli_server() as server,
        terminal(server.url, "--backend", backend, "--ping-interval", "0.05") as term,
    ):
        term.read_until("* Pong after ")
        term.type("\x04")
        term.read_until("* Connection closed: 1000")
        assert term.process.wait(timeout=TIMEOUT) == 0
        assert "* Ping\n" in term.output
        server.interrupt()


async def ping_then_echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    await ws.ping(b"are you there")
    async for message in ws:
        await ws.send_message(message)


def test_the_servers_pings_are_shown(backend: str) -> None:
    with wsproto_server(ping_then_echo, backend) as port:
        result = run_cli(f"ws://127.0.0.1:{port}/", "--backend", backend, stdin="x\n")
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert "* Ping from the server (answered)" in lines
    assert result.stdout == "< x\n"
    # Only the ping is shown: the layer's other records stay out of the output.
    assert not [line for line in lines if line.startswith("conn ")]


# Errors: one line on stderr, a non-zero exit


async def reject(request: WebSocketRequest) -> None:
    await request.reject(403, body=b"go away:\nno token")


async def close_1011(request: WebSocketRequest) -> None:
    ws = await request.accept()
    await ws.get_message()
    await ws.aclose(1011, "oops")


def test_rejection_prints_status_and_body(backend: str) -> None:
    with wsproto_server(reject, backend) as port:
        result = run_cli(f"ws://127.0.0.1:{port}/", "--backend", backend, stdin="x\n")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "wsproto: error: server rejected the WebSocket connection: HTTP 403 go away: no token"
    ]


def test_refused_connection(backend: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens on it
    result = run_cli(f"ws://127.0.0.1:{port}/", "--backend", backend, stdin="x\n")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"wsproto: error: could not connect to ws://127.0.0.1:{port}/: ")


def test_abnormal_close_code(backend: str) -> None:
    with wsproto_server(close_1011, backend) as port:
        result = run_cli(f"ws://127.0.0.1:{port}/", "--backend", backend, stdin="x\ny\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "wsproto: error: connection closed abnormally: 1011 (INTERNAL_ERROR) 'oops'"
    )


@contextmanager
def dropping_server() -> Iterator[int]:
    """A server that completes the handshake, then drops the TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                ws = WSConnection(ConnectionType.SERVER)
                while True:
                    ws.receive_data(conn.recv(4096))
                    if any(isinstance(event, Request) for event in ws.events()):
                        break
                conn.sendall(ws.send(AcceptConnection()))

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            thread.join(TIMEOUT)


def test_dropped_connection_is_1006(backend: str) -> None:
    with dropping_server() as port:
        result = run_cli(f"ws://127.0.0.1:{port}/", "--backend", backend, stdin="x\n")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "wsproto: error: connection closed abnormally: 1006 (ABNORMAL_CLOSURE)"
    )


def test_max_size_fails_the_connection_with_1009(backend: str) -> None:
    with cli_server() as server:
        result = run_cli(server.url, "--backend", backend, "--max-size", "10", stdin="x" * 20)
        server.interrupt()
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "wsproto: error: connection closed abnormally: 1009 (MESSAGE_TOO_BIG)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "one of the arguments url --serve is required"),
        (["http://127.0.0.1/"], "the URL must start with ws:// or wss://"),
        (["--serve", "host:port"], "expected [HOST:]PORT"),
        (["--serve", "70000"], "expected [HOST:]PORT"),
        (["ws://x/", "-H", "no colon"], "expected 'Name: value'"),
        (["ws://x/", "--linger", "-1"], "expected a number of seconds"),
        (["ws://x/", "--max-size", "0"], "expected a positive number of bytes"),
    ],
)
def test_bad_command_lines_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_version() -> None:
    result = run_cli("--version")
    assert result.stdout.startswith("wsproto 2.")


# TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_wss_with_cafile_and_insecure(ca: trustme.CA, tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    with wsproto_server(ssl_context=context) as port:
        url = f"wss://localhost:{port}/"
        trusted = run_cli(url, "--cafile", str(cafile), "--linger", "0", stdin="secure\n")
        assert (trusted.returncode, trusted.stdout) == (0, "< secure\n"), trusted.stderr
        insecure = run_cli(url, "--insecure", "--linger", "0", stdin="anyway\n")
        assert (insecure.returncode, insecure.stdout) == (0, "< anyway\n"), insecure.stderr
        untrusted = run_cli(url, "--linger", "0", stdin="no\n")
    assert untrusted.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr


# The server: --stdio relay, Ctrl-C


@pytest.mark.parametrize("server_backend", BACKENDS)
def test_stdio_relay_and_ctrl_c_closes_clients_with_1001(server_backend: str) -> None:
    with cli_server(server_backend, "--stdio") as server:
        assert server.process.stdin is not None
        assert server.process.stdout is not None
        with connect(server.url + "/a") as alice, connect(server.url + "/b") as bob:
            server.log_until("connected: /a")
            server.log_until("connected: /b")
            alice.send("from alice")
            assert server.process.stdout.readline() == "< from alice\n"
            bob.send(b"\x01\x02")
            assert server.process.stdout.readline() == "<bin 2 bytes> 0102\n"
            server.process.stdin.write("to everyone\n")
            server.process.stdin.flush()
            assert alice.recv(timeout=TIMEOUT) == "to everyone"
            assert bob.recv(timeout=TIMEOUT) == "to everyone"
            # Ctrl-C: both clients see 1001 (going away); the server exits 0.
            assert server.interrupt() == 0
            for ws in (alice, bob):
                with pytest.raises(ConnectionClosed) as info:
                    ws.recv(timeout=TIMEOUT)
                assert info.value.reason is not None
                assert info.value.reason.code == 1001
        server.log_until("SIGINT: shutting down, closing 2 connections with 1001 (GOING_AWAY)")
        server.log_until("Stopped")


def test_ctrl_c_on_the_server_ends_a_cli_client_with_1001(backend: str) -> None:
    with cli_server(backend) as server:
        client = subprocess.Popen(
            [*WSPROTO, server.url, "--backend", backend],
            stdin=subprocess.PIPE,  # left open: the client waits for input
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert client.stderr is not None
        assert client.stdin is not None
        with client.stdin, client.stderr:
            read_line_with(client.stderr, "* Connected to")
            server.log_until("connected: /")
            assert server.interrupt() == 0
            assert "Connection closed: 1001 (GOING_AWAY)" in client.stderr.read()
            assert client.wait(timeout=TIMEOUT) == 0


@contextmanager
def client_process(*args: str) -> Iterator[subprocess.Popen[str]]:
    """The client with stdin a pipe left open (it waits for input), stderr a pipe."""
    client = subprocess.Popen(
        [*WSPROTO, *args],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert client.stdin is not None
    assert client.stderr is not None
    with client.stdin, client.stderr:
        try:
            yield client
        finally:
            if client.poll() is None:
                client.kill()
            client.wait(timeout=TIMEOUT)


def test_ctrl_c_on_the_client_closes_with_1000(backend: str) -> None:
    with cli_server() as server, client_process(server.url, "--backend", backend) as client:
        assert client.stderr is not None
        read_line_with(client.stderr, "* Connected to")
        client.send_signal(signal.SIGINT)
        assert client.stderr.read().splitlines() == [
            "* SIGINT: closing",
            "* Connection closed: 1000 (NORMAL_CLOSURE)",
        ]
        assert client.wait(timeout=TIMEOUT) == 0
        server.log_until("closed: 1000 (NORMAL_CLOSURE)")
        assert server.interrupt() == 0


def test_ctrl_c_while_connecting_gives_up(backend: str) -> None:
    # A server that takes the request and never answers it.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"ws://127.0.0.1:{listener.getsockname()[1]}/"
        with client_process(url, "--backend", backend) as client:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                client.send_signal(signal.SIGINT)
                assert client.stderr is not None
                assert client.stderr.read() == "* SIGINT: giving up\n"
                assert client.wait(timeout=TIMEOUT) == 130


def test_stdout_closed_early_is_not_an_error(backend: str) -> None:
    # As in `printf 'a\nb\n' | wsproto ws://... | head -1`: the reader goes away.
    with cli_server() as server:
        read_end, write_end = os.pipe()
        os.close(read_end)
        with os.fdopen(write_end, "w") as stdout:
            result = subprocess.run(
                [*WSPROTO, server.url, "--backend", backend, "--linger", "0"],
                input="a\nb\n",
                stdout=stdout,
                stderr=subprocess.PIPE,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        assert result.stderr.splitlines()[-1] == "* Connection closed: 1000 (NORMAL_CLOSURE)"
        assert result.returncode == 0
        assert server.interrupt() == 0
