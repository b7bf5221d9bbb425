"""The HTTP/1.1 opening handshake (RFC 6455 §4), and extension negotiation (§9.1).

:class:`H11Handshake` parses and builds the upgrade request and response with
h11; once the handshake succeeds it hands over to a
:class:`~wsproto.connection.Connection`. :func:`server_extensions_handshake`
and :func:`client_extensions_handshake` negotiate extensions for callers that
run the handshake themselves (an HTTP server, or HTTP/2).
"""

from __future__ import annotations

from collections.abc import Iterator

import h11

from ._handshake_headers import (
    MAX_HANDSHAKE_SIZE,
    WEBSOCKET_VERSION,
    ClientRequest,
    InvalidUpgradeRequest,
    RefusedByH11,
    is_token,
    read_request,
    read_response,
    reason_phrase,
    values,
)
from ._negotiation import (
    client_extensions_handshake,
    client_offers,
    negotiate_extensions,
    server_extensions_handshake,
)
from .connection import Connection, ConnectionState, ConnectionType
from .events import AcceptConnection, Event, RejectConnection, RejectData, Request
from .extensions import Extension
from .typing import Headers
from .utilities import (
    LocalProtocolError,
    RemoteProtocolError,
    _LocalRuntimeError,
    _LocalUnicodeError,
    generate_accept_token,
    generate_nonce,
)

__all__ = [
    "MAX_HANDSHAKE_SIZE",
    "WEBSOCKET_VERSION",
    "H11Handshake",
    "client_extensions_handshake",
    "server_extensions_handshake",
]

_CONNECTING = ConnectionState.CONNECTING
# h11 states in which it keeps received bytes without reading them (PAUSED).
# (MIGHT_SWITCH_PROTOCOL is in h11's namespace but not in its __all__.)
_HOLDS_DATA = (
    h11.DONE,
    h11.MIGHT_SWITCH_PROTOCOL,  # type: ignore[attr-defined]
    h11.SWITCHED_PROTOCOL,
)


class H11Handshake:
    """The opening handshake of a WebSocket over HTTP/1.1, client or server.

    Client: ``send(Request(...))``, write the bytes, then feed the response to
    :meth:`receive_data` until :meth:`events` yields an
    :class:`~wsproto.events.AcceptConnection` (the connection is open) or a
    :class:`~wsproto.events.RejectConnection` followed by
    :class:`~wsproto.events.RejectData` events.

    Server: feed the request to :meth:`receive_data` (or pass an already parsed
    one to :meth:`initiate_upgrade_connection`) until :meth:`events` yields a
    :class:`~wsproto.events.Request`; answer it by sending
    :class:`~wsproto.events.AcceptConnection` or
    :class:`~wsproto.events.RejectConnection` (plus
    :class:`~wsproto.events.RejectData` when it has a body).

    Once :attr:`state` is ``OPEN``, use :attr:`connection` for the WebSocket.

    Args:
        connection_type: Whether this end is the client or the server.
        max_frame_size: Passed on to the :class:`~wsproto.connection.Connection`.
        max_message_size: Passed on to the :class:`~wsproto.connection.Connection`.
    """

    def __init__(
        self,
        connection_type: ConnectionType,
        *,
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self.client = connection_type is ConnectionType.CLIENT
        self._max_frame_size = max_frame_size
        self._max_message_size = max_message_size
        self._state = _CONNECTING
        # Dropped once open, when nothing uses it any more: an idle server
        # connection would otherwise keep about a kilobyte of h11 state.
        self._h11_connection: h11.Connection | None = h11.Connection(
            h11.CLIENT if self.client else h11.SERVER,
            max_incomplete_event_size=MAX_HANDSHAKE_SIZE,
        )
        # A list, not a deque: it holds an event or two, once, and an empty
        # deque costs 600 bytes for the whole life of a connection.
        self._events: list[Event] = []
        self._connection: Connection | None = None
        # Client: what we offered, to check the answer against.
        self._key: bytes | None = None
        self._offered_extensions: list[Extension] = []
        self._offered_subprotocols: list[str] = []
        # Server: the request being answered; whether the peer already failed
        # the handshake or closed its side.
        self._request: ClientRequest | None = None
        self._failure: RemoteProtocolError | None = None
        self._repeat_failure = False  # h11 failed: every later receive_data raises it again
        self._eof = False

    @property
    def _failed(self) -> bool:
        return self._failure is not None

    @property
    def _h11(self) -> h11.Connection:
        connection = self._h11_connection
        assert connection is not None, "h11 is dropped only once OPEN, when nothing reads it"
        return connection

    @property
    def state(self) -> ConnectionState:
        """The handshake's state, CONNECTING, then OPEN, or REJECTING and CLOSED.

        A :class:`~wsproto.connection.ConnectionState`.
        """
        return self._state

    @property
    def connection(self) -> Connection:
        """The WebSocket :class:`~wsproto.connection.Connection`, once the handshake succeeded.

        Raises:
            LocalProtocolError: if the handshake has not completed, or failed.
        """
        if self._connection is None:
            if self._failed:
                raise LocalProtocolError(
                    "the opening handshake failed; there is no WebSocket connection"
                )
            if self._state is _CONNECTING:
                raise LocalProtocolError(
                    "the opening handshake is still in progress; the connection exists "
                    "once the state is OPEN (after AcceptConnection)"
                )
            raise LocalProtocolError(
                f"the opening handshake ended in state {self._state.name}; "
                "there is no WebSocket connection"
            )
        return self._connection

    @property
    def connection_or_none(self) -> Connection | None:
        """The :class:`~wsproto.connection.Connection` once open, else ``None``."""
        return self._connection

    def initiate_upgrade_connection(self, headers: Headers, path: bytes | str) -> None:
        """Start the server side from a request your HTTP server already parsed.

        Then iterate :meth:`events` for the :class:`~wsproto.events.Request`
        and answer it as usual.

        Args:
            headers: The request's headers, as ``(name, value)`` byte pairs.
            path: The request target.

        Raises:
            LocalProtocolError: on a client, or once the handshake has begun.
            RemoteProtocolError: if the request is not a valid WebSocket
                upgrade, or has headers h11 cannot handle (then it is also an
                ``h11.LocalProtocolError``, as in wsproto 1.x); ``event_hint``
                is the rejection to send.
        """
        if self.client:
            raise LocalProtocolError(
                "initiate_upgrade_connection is for servers; a client sends a Request"
            )
        begun = self._request is not None or self._failed or self._h11.trailing_data[0]
        if begun or self._state is not _CONNECTING:
            raise LocalProtocolError("the handshake has already begun on this connection")
        # Re-serialize the request so that one parser (h11, in our server role)
        # sees every request and its state allows the response we will send.
        try:
            data = h11.Connection(h11.CLIENT).send(
                h11.Request(method=b"GET", target=path, headers=headers)
            )
        except (h11.LocalProtocolError, UnicodeError) as exc:
            error = InvalidUpgradeRequest(
                f"invalid upgrade request: {exc}", event_hint=RejectConnection(status_code=400)
            )
            raise self._fail(error) from None
        self.receive_data(data)

    def send(self, event: Event) -> bytes:
        """Return the bytes that send a handshake event; write them to the transport.

        A client sends a :class:`~wsproto.events.Request`. A server answers the
        received request with :class:`~wsproto.events.AcceptConnection`, or with
        :class:`~wsproto.events.RejectConnection` and, if ``has_body``,
        :class:`~wsproto.events.RejectData` events until ``body_finished``.

        Raises:
            LocalProtocolError: if the event is not valid for this side or state.
                When h11 refuses it (an invalid header, say) the error is also
                an ``h11.LocalProtocolError``, which wsproto 1.x raised.
        """
        try:
            if isinstance(event, Request):
                return self._send_request(event)
            if isinstance(event, AcceptConnection):
                return self._accept(event)
            if isinstance(event, RejectConnection):
                return self._reject(event)
            if isinstance(event, RejectData):
                return self._send_reject_data(event)
        except h11.LocalProtocolError as exc:
            if isinstance(exc, LocalProtocolError):
                raise  # ours, already saying what to do
            raise RefusedByH11(f"cannot send {type(event).__name__}: {exc}") from None
        if self._state is not _CONNECTING:
            advice = f"the handshake ended in state {self._state.name}"
        elif self._failed:
            advice = "the handshake failed; close the transport"
        elif self.client:
            advice = "wait for the server's AcceptConnection first"
        else:
            advice = "send AcceptConnection first"
        raise LocalProtocolError(
            f"cannot send {type(event).__name__} during the opening handshake; {advice}"
        )

    def receive_data(self, data: bytes | None) -> None:
        """Feed bytes received from the peer; ``None`` when the transport closed.

        Then iterate :meth:`events`. Bytes that follow the handshake in the
        same read are kept for the connection, which reports them once open.
        As in wsproto 1.x (and h11), ``b""`` also means the transport closed:
        a rejection whose body runs to the end of the connection then ends
        with a ``RejectData(b"", body_finished=True)``.

        On the server, a peer that closes before sending anything leaves the
        state ``CONNECTING``, with no event, as in wsproto 1.x; one that closes
        after its complete request still gets an answer (the connection then
        reports the closure).

        Raises:
            RemoteProtocolError: if the peer broke the handshake, or (client)
                closed before answering it. The state stays ``CONNECTING``;
                close the transport. As in wsproto 1.x, malformed HTTP (or an
                end in its middle) raises again on every later call, while
                after an invalid but well-formed request or response later
                data is ignored. On a server, ``event_hint`` is a
                :class:`~wsproto.events.RejectConnection` to send first; a
                client has nothing to send (RFC 6455 §4.1: it fails the
                connection), so its ``event_hint`` is ``None``.
            LocalProtocolError: if the handshake is complete (feed
                :attr:`connection` instead), or if ``data`` follows a
                ``receive_data(None)``; the latter is also the
                ``RuntimeError`` wsproto 1.x raised there.
        """
        if self._state is ConnectionState.OPEN:
            raise LocalProtocolError(
                "the handshake is complete; pass received data to .connection.receive_data()"
            )
        if data and self._eof:
            raise _LocalRuntimeError(
                "receive_data() got data after receive_data(None) said the transport "
                "had closed; close the connection"
            )
        ended = self._eof
        if not data:  # None, or b"" as wsproto 1.x and h11 take it
            self._eof = True
        failure = self._failure
        if failure is not None and self._repeat_failure:
            # As wsproto 1.x, whose h11 stays in its ERROR state: the same error again.
            raise type(failure)(str(failure), event_hint=failure.event_hint)
        over = self._state is ConnectionState.CLOSED or failure is not None or ended
        if over or (not self.client and self._state is ConnectionState.REJECTING):
            self._read_after_the_end(data)
            return
        if not data:
            self._h11.receive_data(b"")  # h11's spelling of end of file
        else:
            self._h11.receive_data(data)
        try:
            self._read()
        except h11.RemoteProtocolError as exc:
            if self._eof and self.client:
                message = "the server closed the connection before completing the handshake"
            elif self._eof:
                message = "the client closed the connection in the middle of its request"
            else:
                message = f"malformed HTTP {'response' if self.client else 'request'}: {exc}"
            self._repeat_failure = True
            raise self._fail(self._error(message, exc.error_status_hint)) from None
        except RemoteProtocolError as exc:
            raise self._fail(exc) from None
        # RFC 6455 §4.1 has the client wait for our answer; some send frames
        # anyway. Keep them for the connection, but only a bounded amount.
        waiting = self._request is not None and self._state is _CONNECTING
        if waiting and len(self._h11.trailing_data[0]) > MAX_HANDSHAKE_SIZE:
            raise self._fail(
                self._error(
                    f"the client sent more than {MAX_HANDSHAKE_SIZE} bytes before the "
                    "handshake was answered"
                )
            )

    def _read_after_the_end(self, data: bytes | None) -> None:
        """Read nothing more once the handshake is over (answered, failed, or ended).

        wsproto 1.x's h11 goes on parsing, though, and fails on what breaks
        HTTP (a second message after the request, bytes after the end of a
        close-delimited response ...): so does this, with the same sticky error.
        Bytes h11 would only hold (after a complete message) are dropped, so
        nothing grows without bound.
        """
        connection = self._h11
        if data and connection.their_state in _HOLDS_DATA:
            return
        connection.receive_data(data or b"")
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                if isinstance(event, h11.ConnectionClosed):
                    return
        except (KeyError, AttributeError):
            # A request after a server answered before any request came (as
            # wsproto 1.x allows): h11 fails inside itself (wsproto 1.x lets
            # that escape). The answer is given: there is nothing to read.
            return
        except h11.RemoteProtocolError as exc:
            self._repeat_failure = True
            message = f"malformed HTTP after the handshake ended: {exc}"
            raise self._fail(self._error(message, exc.error_status_hint)) from None

    @property
    def _has_events(self) -> bool:
        """Whether :meth:`events` has anything to yield (for WSConnection.events)."""
        return bool(self._events)

    def events(self) -> Iterator[Event]:
        """Yield the handshake events received so far (see :meth:`receive_data`)."""
        while self._events:
            yield self._events.pop(0)

    def _error(self, message: str, status: int = 400) -> RemoteProtocolError:
        # A client fails the connection (RFC 6455 §4.1) and has nothing to answer;
        # a server is told which rejection to send.
        if self.client:
            return RemoteProtocolError(message)
        return RemoteProtocolError(message, event_hint=RejectConnection(status_code=status))

    def _fail(self, error: RemoteProtocolError) -> RemoteProtocolError:
        """Record that the peer broke the handshake; return ``error`` to raise.

        The state stays CONNECTING, as in wsproto 1.x: a server can still send
        the event_hint, and programs that look at the state see what they did.
        """
        self._failure = error
        return error

    def _read(self) -> None:
        while self._state is _CONNECTING or self._state is ConnectionState.REJECTING:
            event = self._h11.next_event()
            if not isinstance(event, h11.Event):
                return  # NEED_DATA, or PAUSED at the protocol switch
            if isinstance(event, h11.ConnectionClosed):
                # The peer closed with nothing left to read: a client's
                # close-delimited rejection body already ended (CLOSED); a
                # server that got no request stays CONNECTING, as in 1.x.
                return
            elif self.client:
                self._client_event(event)
            elif isinstance(event, h11.Request):
                self._request = read_request(event)
                self._events.append(self._request.event)
            # A server ignores EndOfMessage: read_request refused any body.

    def _client_event(self, event: h11.Event) -> None:
        if isinstance(event, h11.InformationalResponse):
            if event.status_code == 101:
                self._open_client(event)
            else:
                # Any other 1xx answer (100, 103 ...) rejects the upgrade: the
                # manual documents a RejectConnection without a body here.
                self._state = ConnectionState.CLOSED
                self._events.append(
                    RejectConnection(
                        status_code=event.status_code, headers=list(event.headers), has_body=False
                    )
                )
        elif isinstance(event, h11.Response):
            self._state = ConnectionState.REJECTING
            self._events.append(
                RejectConnection(
                    status_code=event.status_code, headers=list(event.headers), has_body=True
                )
            )
        elif isinstance(event, h11.Data):
            self._events.append(RejectData(data=bytes(event.data), body_finished=False))
        else:  # EndOfMessage, the one event left (_read handles ConnectionClosed)
            self._events.append(RejectData(data=b"", body_finished=True))
            self._state = ConnectionState.CLOSED

    def _open_client(self, event: h11.InformationalResponse) -> None:
        assert self._key is not None  # h11 parses no response before our request
        answer = read_response(event, self._key, self._offered_subprotocols)
        extensions = client_extensions_handshake(answer.extensions, self._offered_extensions)
        self._connection = Connection(
            ConnectionType.CLIENT,
            extensions,
            trailing_data=bytes(self._h11.trailing_data[0]),
            max_frame_size=self._max_frame_size,
            max_message_size=self._max_message_size,
        )
        self._state = ConnectionState.OPEN
        self._h11_connection = None
        self._events.append(
            AcceptConnection(
                subprotocol=answer.subprotocol,
                extensions=extensions,
                extra_headers=answer.extra_headers,
            )
        )

    # Sending

    def _send_request(self, event: Request) -> bytes:
        if not self.client:
            raise RefusedByH11(
                "a server does not send a Request; it answers the one it receives "
                "with AcceptConnection or RejectConnection"
            )
        try:
            host = event.host.encode("ascii")
        except UnicodeEncodeError:
            try:
                host = event.host.encode("idna")
            except UnicodeError:
                raise _LocalUnicodeError(f"invalid host name {event.host!r}", event.host) from None
        try:
            target = event.target.encode("ascii")
        except UnicodeEncodeError:
            raise _LocalUnicodeError(
                f"the request target {event.target!r} must be ASCII; percent-encode it",
                event.target,
            ) from None
        for subprotocol in event.subprotocols:
            if not is_token(subprotocol):
                # 1.x failed to encode a non-ASCII one: a UnicodeError there.
                message = f"subprotocol {subprotocol!r} is not an HTTP token"
                if subprotocol.isascii():
                    raise LocalProtocolError(message)
                raise _LocalUnicodeError(message, subprotocol)
        # After the names, as wsproto 1.x, which failed to encode them first.
        if self._key is not None:
            raise RefusedByH11("the Request was already sent; wait for the answer")
        if self._state is not _CONNECTING:
            # A response came without a request (h11 would fail inside itself).
            raise RefusedByH11(
                f"cannot send a Request in state {self._state.name}; the handshake is over"
            )
        key = generate_nonce()
        headers: Headers = [
            (b"Host", host),
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", key),
            (b"Sec-WebSocket-Version", WEBSOCKET_VERSION),
        ]
        if event.subprotocols:
            headers.append((b"Sec-WebSocket-Protocol", ", ".join(event.subprotocols).encode()))
        offers, offered = client_offers(event.extensions)
        if offers:
            headers.append((b"Sec-WebSocket-Extensions", offers))
        headers.extend(event.extra_headers)
        request = h11.Request(method=b"GET", target=target, headers=headers)
        data = self._h11.send(request) or b""
        data += self._h11.send(h11.EndOfMessage()) or b""
        self._key = key
        self._offered_extensions = offered
        self._offered_subprotocols = list(event.subprotocols)
        return data

    def _check_answer(self, what: str) -> None:
        if self.client:
            raise RefusedByH11(f"a client does not send {what}; it receives the server's answer")
        if self._state is not _CONNECTING:
            raise LocalProtocolError(
                f"cannot send {what} in state {self._state.name}; the request was already answered"
            )

    def _accept(self, event: AcceptConnection) -> bytes:
        self._check_answer("AcceptConnection")
        if self._request is None and not self._failed:
            raise LocalProtocolError(
                "cannot send AcceptConnection before a Request was received; "
                "feed data to receive_data()"
            )
        request = self._request
        if self._failed or request is None:
            raise LocalProtocolError(
                "the request was invalid; send the RemoteProtocolError's event_hint instead"
            )
        proposed = request.event.subprotocols
        if event.subprotocol is not None and event.subprotocol not in proposed:
            raise LocalProtocolError(
                f"subprotocol {event.subprotocol!r} was not proposed by the client "
                f"(proposed: {proposed}); pick one of those or None"
            )
        headers: Headers = [
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Accept", generate_accept_token(request.key)),
        ]
        if event.subprotocol is not None:
            headers.append((b"Sec-WebSocket-Protocol", event.subprotocol.encode()))
        offered = [offer for offer in request.event.extensions if isinstance(offer, str)]
        accepted, extensions = negotiate_extensions(offered, event.extensions)
        if accepted is not None:
            headers.append((b"Sec-WebSocket-Extensions", accepted))
        headers.extend(event.extra_headers)
        response = h11.InformationalResponse(
            status_code=101, headers=headers, reason=b"Switching Protocols"
        )
        data = self._h11.send(response) or b""
        connection = Connection(
            ConnectionType.SERVER,
            extensions,
            trailing_data=bytes(self._h11.trailing_data[0]),
            max_frame_size=self._max_frame_size,
            max_message_size=self._max_message_size,
        )
        if self._eof:
            connection.receive_data(None)
        self._connection = connection
        self._state = ConnectionState.OPEN
        self._h11_connection = None
        return data

    def _reject(self, event: RejectConnection) -> bytes:
        # No request is needed: as in wsproto 1.x, a server may turn a client
        # away before reading its request (when overloaded, say).
        self._check_answer("RejectConnection")
        if event.status_code < 200:
            raise RefusedByH11(
                f"a rejection needs a final status (200-599), not {event.status_code}; "
                "to accept, send AcceptConnection"
            )
        headers = list(event.headers)
        framed = values(headers, b"content-length") or values(headers, b"transfer-encoding")
        if not event.has_body and not framed and event.status_code not in (204, 304):
            headers.append((b"Content-Length", b"0"))
        response = h11.Response(
            status_code=event.status_code, headers=headers, reason=reason_phrase(event.status_code)
        )
        data = self._h11.send(response) or b""
        if not event.has_body:
            # h11 refuses this when the headers announce a body: the state then
            # stays as it was, as in wsproto 1.x (a send that raises changes nothing).
            data += self._h11.send(h11.EndOfMessage()) or b""
        self._state = ConnectionState.REJECTING if event.has_body else ConnectionState.CLOSED
        return data

    def _send_reject_data(self, event: RejectData) -> bytes:
        if self.client or self._state is not ConnectionState.REJECTING:
            raise LocalProtocolError(
                f"cannot send RejectData in state {self._state.name}; send "
                "RejectConnection(has_body=True) first"
            )
        data = b""
        if event.data:
            data = self._h11.send(h11.Data(data=event.data)) or b""
        if event.body_finished:
            data += self._h11.send(h11.EndOfMessage()) or b""
            self._state = ConnectionState.CLOSED
        return data

    def __repr__(self) -> str:
        role = "client" if self.client else "server"
        return f"<H11Handshake {role} {self._state.name}>"
