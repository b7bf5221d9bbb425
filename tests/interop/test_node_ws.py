"""Interop with Node's ``ws`` package over loopback TCP, permessage-deflate on.

The test set-up installs the ``ws`` version pinned in ``node/package.json``
with ``npm install`` (once per session, into ``node/node_modules``), then:
our client against ``node/echo_server.js`` (one server for the session), and
``node/client.js`` against our server, on both of our backends. Without
``node`` and ``npm`` on the PATH these tests are skipped
(``scripts/install-test-peers.sh`` installs them, as ``.ci/run`` does).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from wsproto.anyio import ConnectionClosed, ConnectionRejected, open_websocket_url

from .ours import LIMITS, MESSAGES, PIECES, REJECTION, our_server

pytestmark = pytest.mark.anyio

NODE_DIR = Path(__file__).parent / "node"
# npm may fetch from the registry on a cold cache.
INSTALL_TIMEOUT = 120


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name!r} is not on the PATH: the Node.js ws interop tests need node and npm"
            " (scripts/install-test-peers.sh installs them, as .ci/run does)"
        )
    return path


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, once ``ws`` is installed in ``node/node_modules``."""
    node, npm = _tool("node"), _tool("npm")
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["ws"]
    installed = NODE_DIR / "node_modules" / "ws" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=INSTALL_TIMEOUT,
        )
    return node


@pytest.fixture(scope="session")
def ws_server(node: str) -> Iterator[str]:
    """The URL of ``node/echo_server.js``, running for the whole session."""
    process = subprocess.Popen(
        [node, "echo_server.js"], cwd=NODE_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING "), f"echo_server.js printed {line!r}"
        yield f"ws://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]


# Our client against the ws server.


async def test_client_negotiates_deflate(ws_server: str) -> None:
    async with open_websocket_url(ws_server + "/info", **LIMITS) as ws:
        info = json.loads(await ws.get_message())
    assert info["extensions"] == "permessage-deflate"
    assert info["offer"].startswith("permessage-deflate")
    assert info["answer"].startswith("permessage-deflate")


async def test_client_echo(ws_server: str) -> None:
    async with open_websocket_url(ws_server + "/echo", **LIMITS) as ws:
        for message in MESSAGES:
            await ws.send_message(message)
            assert await ws.get_message() == message
        await ws.send_message(iter(PIECES))
        assert await ws.get_message() == "".join(PIECES)


async def test_client_fragments_and_pings(ws_server: str) -> None:
    async with open_websocket_url(ws_server + "/fragments", **LIMITS) as ws:
        assert await ws.get_message() == "".join(PIECES)
        await ws.ping(b"from wsproto")
    async with open_websocket_url(ws_server + "/ping", **LIMITS) as ws:
        # ws pings first and waits for our automatic pong.
        assert await ws.get_message() == "pong received"


async def test_client_close_codes(ws_server: str, anyio_backend_name: str) -> None:
    async with open_websocket_url(f"{ws_server}/echo?id={anyio_backend_name}", **LIMITS) as ws:
        await ws.aclose(4001, "client bye")
    async with open_websocket_url(f"{ws_server}/closed/{anyio_backend_name}", **LIMITS) as ws:
        assert json.loads(await ws.get_message()) == [4001, "client bye"]
    async with open_websocket_url(ws_server + "/close/4002", **LIMITS) as ws:
        with pytest.raises(ConnectionClosed) as raised:
            await ws.get_message()
    assert raised.value.reason is not None
    assert (raised.value.reason.code, raised.value.reason.reason) == (4002, "server bye")


async def test_client_negotiates_a_subprotocol(ws_server: str) -> None:
    async with open_websocket_url(
        ws_server + "/echo", subprotocols=["chat.v1", "chat.v2"], **LIMITS
    ) as ws:
        assert ws.subprotocol == "chat.v2"  # the server's preference
    async with open_websocket_url(ws_server + "/echo", **LIMITS) as ws:
        assert ws.subprotocol is None


async def test_client_rejected(ws_server: str) -> None:
    with pytest.raises(ConnectionRejected) as raised:
        async with open_websocket_url(ws_server + "/reject", **LIMITS):
            pytest.fail("the server accepted")
    assert raised.value.status_code == 403
    assert raised.value.body == REJECTION
    assert (b"content-type", b"text/plain") in [
        (name.lower(), value) for name, value in raised.value.headers
    ]


# The ws client against our server.


def digest(data: str | bytes) -> dict[str, Any]:
    raw = data.encode() if isinstance(data, str) else data
    return {"length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


async def test_server(node: str) -> None:
    async with our_server() as ours:
        result = await anyio.run_process([node, "client.js", ours.url], cwd=NODE_DIR, check=False)
        assert result.returncode == 0, result.stderr.decode()
        closes = await ours.closes(5)
    steps: dict[str, list[dict[str, Any]]] = {}
    for line in result.stdout.decode().splitlines():
        report = json.loads(line)
        steps.setdefault(report.pop("step"), []).append(report)

    [negotiated] = steps["negotiated"]
    assert negotiated["extensions"] == "permessage-deflate"
    assert negotiated["answer"].startswith("permessage-deflate")
    echoes = steps["echo"]
    assert len(echoes) == len(MESSAGES)
    for echo, message in zip(echoes, MESSAGES, strict=True):
        assert echo["received"] == echo["sent"]
        assert echo["binary"] is echo["sentBinary"] is isinstance(message, bytes)
    # client.js sends the same messages, but for the last one (random bytes).
    assert [echo["sent"] for echo in echoes[:-1]] == [digest(m) for m in MESSAGES[:-1]]
    assert steps["fragmented echo"] == [{"binary": False, "text": "".join(PIECES)}]
    assert steps["pong"] == [{"payload": "from ws"}]
    assert steps["client close"] == [{"close": [4001, "ws bye"]}]
    assert steps["fragments"] == [{"text": "".join(PIECES)}]
    assert steps["server ping"] == [{"text": "pong received"}]
    assert steps["server close"] == [{"close": [4002, "server bye"]}]
    assert steps["subprotocol"] == [{"protocol": "chat.v2"}]  # our server's preference
    assert steps["rejected"] == [
        {"status": 403, "contentType": "text/plain", "body": REJECTION.decode()}
    ]
    # How our server saw each connection end: /echo, /fragments, /ping, /close/4002, /echo.
    assert closes == [
        (4001, "ws bye"),
        (1000, None),
        (1000, None),
        (4002, "server bye"),
        (1000, None),
    ]
