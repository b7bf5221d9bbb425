"""The TLS, Unix-socket and ASGI examples run for real, each on both backends.

Servers run in subprocesses; the tests wait for the lines they print, then run
the matching client example (or our client) against them. Each pair mixes the
backends (an asyncio server with a trio client and the other way round), and
asyncio is picked by leaving ``--backend`` out, as a user would.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from wsproto.anyio import ConnectionRejected, open_websocket_url

from .interop.processes import EXAMPLES, PeerProcess

TIMEOUT = 30
PAIRS = [
    pytest.param("asyncio", "trio", id="asyncio-server-trio-client"),
    pytest.param("trio", "asyncio", id="trio-server-asyncio-client"),
]


def backend_args(backend: str) -> list[str]:
    """How an example is told its backend: asyncio is the default."""
    return [] if backend == "asyncio" else ["--backend", backend]


def run_client(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a client example to completion."""
    result = subprocess.run(
        [sys.executable, "-u", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=EXAMPLES,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_server(script: str, *args: str) -> PeerProcess:
    return PeerProcess([sys.executable, "-u", str(EXAMPLES / script), *args], cwd=EXAMPLES)


def stop_gracefully(server: PeerProcess) -> None:
    """SIGTERM: the example says it shuts down and exits with 0."""
    server.popen.send_signal(signal.SIGTERM)
    server.wait_for("^server: shutting down$")
    assert server.popen.wait(TIMEOUT) == 0, server.lines


# TLS


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server.pem, server.key and client.pem (the CA), made as tls_server.py says."""
    folder = tmp_path_factory.mktemp("certificates")
    subprocess.run(
        [sys.executable, "-m", "trustme", "--dir", str(folder), "--quiet"],
        check=True,
        timeout=TIMEOUT,
    )
    return folder


@pytest.mark.parametrize(("server_backend", "client_backend"), PAIRS)
def test_tls_client_and_server(
    certificates: Path, server_backend: str, client_backend: str
) -> None:
    args = [str(certificates / "server.pem"), str(certificates / "server.key"), "127.0.0.1", "0"]
    server = start_server("tls_server.py", *args, *backend_args(server_backend))
    try:
        pattern = rf"^server: listening on wss://127\.0\.0\.1:(\d+) \({server_backend}\)$"
        port = int(server.wait_for(pattern)[1])
        url = f"wss://localhost:{port}/secure"
        cafile = str(certificates / "client.pem")
        output = run_client("tls_client.py", url, "--cafile", cafile, *backend_args(client_backend))
        assert output.stdout.splitlines() == [
            f"client: connected to {url} ({client_backend}), TLS: True",
            "client: received 'Hello over TLS!'",
            "client: closed with 1000 (NORMAL_CLOSURE)",
        ]
        server.wait_for("^server: /secure closed with 1000$")
        stop_gracefully(server)
        assert server.lines[1:3] == [
            "server: /secure opened over TLS",
            "server: /secure closed with 1000",
        ]
    finally:
        server.stop()


@pytest.mark.parametrize("client_backend", ["asyncio", "trio"])
def test_tls_client_refuses_an_untrusted_certificate(
    certificates: Path, client_backend: str
) -> None:
    args = [str(certificates / "server.pem"), str(certificates / "server.key"), "127.0.0.1", "0"]
    server = start_server("tls_server.py", *args)
    try:
        port = int(server.wait_for(r"listening on wss://127\.0\.0\.1:(\d+)")[1])
        # The system's CAs do not know trustme's.
        result = run_client(
            "tls_client.py", f"wss://localhost:{port}/", *backend_args(client_backend), check=False
        )
        assert result.returncode != 0
        assert "SSLCertVerificationError" in result.stderr, result.stderr
        assert "client: connected" not in result.stdout
    finally:
        server.stop()


# Unix sockets


@pytest.mark.parametrize(("server_backend", "client_backend"), PAIRS)
def test_unix_client_and_server(tmp_path: Path, server_backend: str, client_backend: str) -> None:
    path = tmp_path / "ws.sock"
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))  # what a killed server leaves: the server replaces it
    server = start_server("unix_server.py", str(path), *backend_args(server_backend))
    try:
        server.wait_for(rf"^server: listening on unix:{path} \({server_backend}\)$")
        output = run_client("unix_client.py", str(path), "/chat", *backend_args(client_backend))
        assert output.stdout.splitlines() == [
            f"client: connected to unix:{path} /chat ({client_backend})",
            "client: received 'Hello over a Unix socket!'",
            "client: closed with 1000 (NORMAL_CLOSURE)",
        ]
        server.wait_for("^server: /chat closed with 1000$")
        stop_gracefully(server)
        assert not path.exists()  # the server removed its socket file
    finally:
        server.stop()


# The ASGI app under uvicorn, on our core


@pytest.fixture(scope="module")
def uvicorn() -> Iterator[str]:
    """``uvicorn --ws wsproto asgi_app:app`` as asgi_app.py says, on a free port."""
    server = PeerProcess.python_module(
        "uvicorn",
        "--ws",
        "wsproto",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "asgi_app:app",
        cwd=EXAMPLES,
    )
    try:
        server.check_our_core()
        port = int(server.wait_for(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")[1])
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_asgi_app_under_uvicorn(uvicorn: str, backend: str) -> None:
    async def talk() -> None:
        async with open_websocket_url(uvicorn + "/echo") as ws:
            await ws.send_message("Hello, ASGI!")
            assert await ws.get_message() == "Hello, ASGI!"
            await ws.send_message(b"\x00\xff")
            assert await ws.get_message() == b"\x00\xff"
        with pytest.raises(ConnectionRejected) as raised:
            async with open_websocket_url(uvicorn + "/reject"):
                pytest.fail("the app accepted")
        assert (raised.value.status_code, raised.value.body) == (
            403,
            b"no WebSocket for you here\n",
        )

    anyio.run(talk, backend=backend)
