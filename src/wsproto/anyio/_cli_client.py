"""``wsproto ws://host:port/path``: the command line's interactive client.

Every stdin line goes out as a text message; every message received is printed
as it arrives. Interactive (stdin is a terminal), the end of input (Ctrl-D)
closes the connection at once. Otherwise (a pipe, a file), the client first
waits for the replies: it closes once it has received at least one message per
line sent and then nothing more for ``--linger`` seconds, or when the peer
closes. Ctrl-C (SIGINT) or SIGTERM closes the connection at any time. A peer
that answers fewer messages than it was sent gets a longer
grace, ``OWED_REPLY_LINGER`` seconds of quiet at least, before the client
gives up on it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import anyio

from . import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)
from ._cli_io import error, format_close, format_message, is_normal, out, status, stdin_lines

# When fewer messages came back than lines were sent, the client waits at
# least this long without a message before closing: a slow echo is more
# likely than a missing one.
OWED_REPLY_LINGER = 10.0
# How long a --ping-interval ping waits for its pong before the client gives up
# on the peer (the layer's keepalive waits as long by default).
PONG_TIMEOUT = 20.0


@dataclass(frozen=True)
class ClientOptions:
    """What the command line asked the client for."""

    url: str
    headers: Sequence[tuple[str, str]] = ()
    subprotocols: Sequence[str] = ()
    compression: bool = True
    cafile: str | None = None
    insecure: bool = False
    ping_interval: float | None = None
    max_size: int | None = None
    linger: float = 1.0
    interactive: bool = False


@dataclass
class _Progress:
    """What the receiving side tells the sending side while lingering."""

    sent: int = 0
    received: int = 0
    activity: anyio.Event = field(default_factory=anyio.Event)
    peer_closed: bool = False

    def touch(self) -> None:
        """Something arrived: wake whoever waits for activity."""
        event, self.activity = self.activity, anyio.Event()
        event.set()


def ssl_context(options: ClientOptions) -> ssl.SSLContext | None:
    """The TLS settings for a ``wss://`` URL (``None``: the defaults, or plain ``ws://``)."""
    if not options.url.startswith("wss:") or not (options.cafile or options.insecure):
        return None
    context = ssl.create_default_context(cafile=options.cafile)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class _Session:
    """The connection, once open (what a signal closes)."""

    ws: WebSocketConnection | None = None


async def run_client(options: ClientOptions) -> int:
    """Connect, relay stdin and the received messages until done; return the exit status."""
    session = _Session()
    exit_status = 130  # unless the run ends otherwise: a signal stopped the connection attempt
    # The signal handlers go in before connecting: a Ctrl-C is never lost.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as group:
            group.start_soon(_on_signals, signals, session, group.cancel_scope)
            with _peer_pings_shown():
                exit_status = await _run_client(options, session)
            group.cancel_scope.cancel()
    return exit_status


async def _run_client(options: ClientOptions, session: _Session) -> int:
    headers = [(name.encode(), value.encode()) for name, value in options.headers]
    try:
        open_ = functools.partial(
            open_websocket_url,
            options.url,
            ssl_context(options),
            subprotocols=options.subprotocols,
            extra_headers=headers,
            compression="deflate" if options.compression else None,
        )
        if options.max_size is not None:
            open_ = functools.partial(open_, max_message_size=options.max_size)
        if options.ping_interval is not None:
            # --ping-interval pings are the client's own, shown as they go (0:
            # none at all); without it, the layer's keepalive runs quietly.
            open_ = functools.partial(open_, ping_interval=None)
        async with open_() as ws:
            connected = f"Connected to {options.url}"
            if ws.subprotocol:
                connected += f" (subprotocol {ws.subprotocol})"
            status(connected)
            session.ws = ws
            await _converse(ws, options)
        reason = ws.closed
    except ConnectionRejected as exc:
        body = (exc.body or b"").decode("utf-8", errors="replace")
        body = " ".join(body.split())  # one line
        error(f"server rejected the WebSocket connection: HTTP {exc.status_code} {body}".rstrip())
        return 1
    except HandshakeError as exc:
        error(f"WebSocket handshake failed: {exc!r}")
        return 1
    except OSError as exc:
        error(f"could not connect to {options.url}: {exc}")
        return 1
    except ConnectionClosed as exc:
        reason = exc.reason
    if is_normal(reason):
        status(f"Connection closed: {format_close(reason)}")
        return 0
    error(f"connection closed abnormally: {format_close(reason)}")
    return 1


class _PeerPings(logging.Handler):
    """Shows the server's pings: the layer answers each itself, and logs it at DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.__dict__.get("ws_event") == "ping_received":
            status("Ping from the server (answered)")


@contextlib.contextmanager
def _peer_pings_shown() -> Iterator[None]:
    """Show the peer's pings while the connection is open, through the layer's log records."""
    logger = logging.getLogger("wsproto.anyio.connection")
    handler = _PeerPings()
    level = logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _converse(ws: WebSocketConnection, options: ClientOptions) -> None:
    progress = _Progress()
    async with anyio.create_task_group() as group:

        async def receive() -> None:
            try:
                async for message in ws:
                    out(format_message(message))
                    progress.received += 1
                    progress.touch()
            except ConnectionClosed:
                pass  # an abnormal close: reported from ws.closed
            # The peer closed (or we did): nothing more to send or wait for.
            progress.peer_closed = True
            group.cancel_scope.cancel()

        group.start_soon(receive)
        if options.ping_interval:
            group.start_soon(_ping_forever, ws, options.ping_interval)
        try:
            async with stdin_lines() as lines:
                async for line in lines:
                    await ws.send_message(line)
                    progress.sent += 1
            if not options.interactive:
                await _linger(progress, options.linger)
            await ws.aclose()
        except* ConnectionClosed:
            # The receiving task reports it, and ends the conversation. A star:
            # a send that fails inside stdin_lines() comes out of its blocking
            # portal's task group wrapped in a group.
            pass


async def _on_signals(
    signals: AsyncIterator[int], session: _Session, scope: anyio.CancelScope
) -> None:
    """Ctrl-C (SIGINT) or SIGTERM: close with 1000 as the end of input does, or stop connecting."""
    async for signum in signals:
        name = signal.Signals(signum).name
        if session.ws is None:
            status(f"{name}: giving up")
            scope.cancel()
            return
        status(f"{name}: closing")
        with contextlib.suppress(ConnectionClosed):
            await session.ws.aclose()
        return


async def _linger(progress: _Progress, linger: float) -> None:
    """Wait for the replies: see the module's docstring."""
    while not progress.peer_closed:
        quiet = linger
        if progress.received < progress.sent:
            quiet = max(linger, OWED_REPLY_LINGER)
        activity = progress.activity
        with anyio.move_on_after(quiet):
            await activity.wait()
            continue
        return


async def _ping_forever(ws: WebSocketConnection, interval: float) -> None:
    """Ping every ``interval`` seconds, showing each ping and its pong."""
    while True:
        await anyio.sleep(interval)
        status("Ping")
        started = time.monotonic()
        with anyio.move_on_after(PONG_TIMEOUT):
            try:
                await ws.ping()
            except ConnectionClosed:
                return
            status(f"Pong after {(time.monotonic() - started) * 1000:.1f} ms")
            continue
        status(f"No pong within {PONG_TIMEOUT:g} s: closing")
        await ws.aclose(1011, "keepalive ping timeout")
        return
