"""examples/nginx/wsproto.conf in front of our server: TLS ends at nginx, wss:// to ws://.

nginx (Debian's package; ``scripts/install-test-peers.sh`` installs it, as
``.ci/run`` does) runs as the current user with a prefix, pid file and temp
directories under the test's tmp_path, and the example site config with only
its ports, certificate paths (trustme's) and timeouts changed. Our server runs
in the test on the test's backend; our client connects through nginx.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import anyio
import pytest
import trustme

from wsproto.anyio import ConnectionClosed, open_websocket_url

from .conftest import PEER_TIMEOUT
from .ours import LIMITS, MESSAGES, our_server
from .processes import EXAMPLES, PeerProcess

pytestmark = pytest.mark.anyio

# Starts nginx in front of our server's port; gives the port nginx listens on.
NginxFactory = Callable[[str], AbstractAsyncContextManager[int]]

SITE = EXAMPLES / "nginx" / "wsproto.conf"
# The test's proxy_read_timeout and proxy_send_timeout (the example has 60 s):
# how long nginx lets a connection idle before closing it.
IDLE_TIMEOUT = 3

# nginx.conf around the example site: the foreground, logs on stderr, and
# every path nginx writes to under the test's directory.
MAIN = """\
daemon off;
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log stderr notice;
events {{
    worker_connections 64;
}}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if path is None:
        pytest.skip("nginx is missing: scripts/install-test-peers.sh installs it, as .ci/run does")
    return path


def site_config(port: int, upstream: str, cert: Path, key: Path) -> str:
    """The example site with this test's ports, upstream, certificate and timeouts."""
    text = SITE.read_text()
    changes = {
        "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
        "    server 127.0.0.1:8000;": f"    server {upstream};",
        "/etc/ssl/certs/example.com.pem": str(cert),
        "/etc/ssl/private/example.com.key": str(key),
        "proxy_read_timeout 60s;": f"proxy_read_timeout {IDLE_TIMEOUT}s;",
        "proxy_send_timeout 60s;": f"proxy_send_timeout {IDLE_TIMEOUT}s;",
    }
    for old, new in changes.items():
        assert text.count(old) == 1, f"{SITE} no longer has {old!r} once"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def nginx(tmp_path: Path, ca: trustme.CA) -> NginxFactory:
    binary = nginx_binary()

    @asynccontextmanager
    async def start(upstream: str) -> AsyncIterator[int]:
        """Run nginx in front of ``upstream`` (HOST:PORT or unix:PATH); yield its port."""
        cert, key = tmp_path / "server.pem", tmp_path / "server.key"
        issued = ca.issue_cert("127.0.0.1", "localhost")
        cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        # The test binds the listening socket and hands it to nginx (nginx's
        # NGINX environment variable, as for its binary upgrades): the port is
        # known and accepting before nginx starts, with no race for it.
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            site = tmp_path / "wsproto.conf"
            site.write_text(site_config(port, upstream, cert, key))
            # As root, nginx would run its workers as nobody: keep them ours.
            user = f"user {pwd.getpwuid(0).pw_name};" if os.geteuid() == 0 else ""
            main = tmp_path / "nginx.conf"
            main.write_text(MAIN.format(user=user, prefix=tmp_path, site=site))
            process = PeerProcess(
                [binary, "-p", str(tmp_path), "-c", str(main), "-e", "stderr"],
                env={"NGINX": f"{listener.fileno()};"},
                pass_fds=[listener.fileno()],
            )
        try:
            await process.await_line("using inherited sockets")
            await process.await_line("start worker process ")
            yield port
        finally:
            await anyio.to_thread.run_sync(process.stop)

    return start


async def test_echo_and_close_codes_through_nginx(
    nginx: NginxFactory, client_context: ssl.SSLContext
) -> None:
    async with our_server() as ours:
        upstream = ours.url.removeprefix("ws://")
        async with nginx(upstream) as port:
            url = f"wss://127.0.0.1:{port}"
            async with open_websocket_url(url + "/headers", client_context, **LIMITS) as ws:
                headers = json.loads(await ws.get_message())
                for message in MESSAGES:
                    await ws.send_message(message)
                    assert await ws.get_message() == message
                await ws.ping(b"through nginx")
                await ws.aclose(4001, "client bye")
            async with open_websocket_url(url + "/close/4002", client_context, **LIMITS) as ws:
                with pytest.raises(ConnectionClosed) as raised:
                    await ws.get_message()
            closes = await ours.closes(2)
    # nginx passed the upgrade on, and told the server who asked and how.
    assert headers["upgrade"] == "websocket"
    assert headers["connection"] == "upgrade"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert raised.value.reason is not None
    assert (raised.value.reason.code, raised.value.reason.reason) == (4002, "server bye")
    assert closes == [(4001, "client bye"), (4002, "server bye")]


async def test_keepalive_pings_keep_an_idle_connection_open(
    nginx: NginxFactory, client_context: ssl.SSLContext
) -> None:
    """nginx closes a connection idle for proxy_read_timeout, unless pings cross it.

    No clock in the test: a connection without pings, opened after the one
    with pings, is the timer. Once nginx has closed it, the first one has
    been idle (but for its pings) for longer than the timeout.
    """
    keepalive = {**LIMITS, "ping_interval": IDLE_TIMEOUT / 12, "ping_timeout": PEER_TIMEOUT}
    async with our_server() as ours:
        upstream = ours.url.removeprefix("ws://")
        async with nginx(upstream) as port:
            url = f"wss://127.0.0.1:{port}/echo"
            async with open_websocket_url(url, client_context, **keepalive) as pinging:
                async with open_websocket_url(url, client_context, **LIMITS) as idle:
                    with anyio.fail_after(PEER_TIMEOUT), pytest.raises(ConnectionClosed) as raised:
                        await idle.get_message()
                # nginx dropped the idle one without a close frame.
                assert raised.value.reason is not None
                assert raised.value.reason.code == 1006
                await pinging.send_message("still here")
                assert await pinging.get_message() == "still here"
                assert pinging.latency is not None
            closes = await ours.closes(2)
    assert closes == [(1006, None), (1000, None)]


async def test_unix_socket_upstream(
    nginx: NginxFactory, client_context: ssl.SSLContext, tmp_path: Path
) -> None:
    """The config's other upstream: our server on a Unix socket."""
    path = tmp_path / "upstream.sock"
    async with our_server(unix_socket=path) as ours, nginx(f"unix:{path}") as port:
        url = f"wss://127.0.0.1:{port}/echo"
        async with open_websocket_url(url, client_context, **LIMITS) as ws:
            await ws.send_message("over a Unix socket")
            assert await ws.get_message() == "over a Unix socket"
            await ws.aclose(4001, "client bye")
        closes = await ours.closes(1)
    assert closes == [(4001, "client bye")]
