"""RFC 6455 §5.5.1 and §7: the closing handshake and connection states."""

from __future__ import annotations

import pytest

from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.frame_protocol import CloseReason, Opcode
from wsproto.utilities import LocalProtocolError

from .frames import client, client_frame, close_payload, server, server_frame
from .helpers import ConnectionPair, feed


class TestCloseHandshake:
    """§7.1.2-§7.1.4: each side sends one close frame and receives one."""

    def test_local_initiated(self) -> None:
        pair = ConnectionPair()
        events = pair.send(pair.client, [CloseConnection(1000, "done")])
        assert pair.client.state is ConnectionState.LOCAL_CLOSING
        assert events == [CloseConnection(CloseReason.NORMAL_CLOSURE, "done")]
        assert pair.server.state is ConnectionState.REMOTE_CLOSING
        close = events[0]
        assert isinstance(close, CloseConnection)
        reply = pair.send(pair.server, [close.response()])
        assert pair.server.state is ConnectionState.CLOSED
        assert reply == [CloseConnection(1000, "done")]
        assert pair.client.state is ConnectionState.CLOSED

    def test_received_code_is_the_enum_member_when_known(self) -> None:
        conn = server()
        (event,) = feed(conn, client_frame(Opcode.CLOSE, close_payload(1001)))
        assert isinstance(event, CloseConnection)
        assert event.code is CloseReason.GOING_AWAY

    def test_empty_close_means_1005_and_replies_empty(self) -> None:
        """§7.1.5: no status code is reported as 1005, and 1005 is never sent."""
        pair = ConnectionPair()
        (event,) = feed(pair.server, client_frame(Opcode.CLOSE))
        assert event == CloseConnection(CloseReason.NO_STATUS_RCVD, "")
        assert isinstance(event, CloseConnection)
        assert pair.server.send(event.response()) == server_frame(Opcode.CLOSE)

    @pytest.mark.parametrize(
        "code",
        [
            1000,
            1001,
            1002,
            1003,
            1007,
            1008,
            1009,
            1010,
            1011,
            1012,
            1013,
            1014,
            3000,
            3999,
            4000,
            4999,
        ],
    )
    def test_valid_codes_are_accepted(self, code: int) -> None:
        conn = server()
        assert feed(conn, client_frame(Opcode.CLOSE, close_payload(code, b"why"))) == [
            CloseConnection(code, "why")
        ]

    @pytest.mark.parametrize(
        "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    )
    def test_invalid_codes_fail(self, code: int) -> None:
        conn = server()
        (event,) = feed(conn, client_frame(Opcode.CLOSE, close_payload(code)))
        assert event == CloseConnection(
            CloseReason.PROTOCOL_ERROR, f"close frame with invalid code {code}"
        )

    def test_one_byte_payload_fails(self) -> None:
        conn = server()
        (event,) = feed(conn, client_frame(Opcode.CLOSE, b"\x03"))
        assert isinstance(event, CloseConnection)
        assert event.code == CloseReason.PROTOCOL_ERROR

    def test_invalid_utf8_reason_fails_1007(self) -> None:
        conn = server()
        (event,) = feed(conn, client_frame(Opcode.CLOSE, close_payload(1000, b"\xff")))
        assert isinstance(event, CloseConnection)
        assert event.code == CloseReason.INVALID_FRAME_PAYLOAD_DATA

    def test_nothing_after_close(self) -> None:
        """§5.5.1: no data after a close frame."""
        conn = server()
        data = client_frame(Opcode.CLOSE, close_payload(1000)) + client_frame(Opcode.TEXT, b"late")
        assert feed(conn, data) == [CloseConnection(1000, "")]
        assert feed(conn, client_frame(Opcode.TEXT, b"later")) == []

    def test_message_before_close_can_still_be_answered(self) -> None:
        """State changes when the close is pulled, so an echo of the earlier message works."""
        conn = server()
        conn.receive_data(
            client_frame(Opcode.TEXT, b"hi") + client_frame(Opcode.CLOSE, close_payload(1000))
        )
        events = conn.events()
        first = next(events)
        assert conn.state is ConnectionState.OPEN
        assert isinstance(first, TextMessage)
        conn.send(TextMessage(first.data))
        assert isinstance(next(events), CloseConnection)
        assert conn.state is ConnectionState.REMOTE_CLOSING

    def test_data_still_received_while_local_closing(self) -> None:
        pair = ConnectionPair()
        pair.client.send(CloseConnection(1000))
        events = pair.send(pair.server, [TextMessage("in flight"), CloseConnection(1000)])
        assert events == [TextMessage("in flight"), CloseConnection(1000, "")]
        assert pair.client.state is ConnectionState.CLOSED


class TestSendingInWrongState:
    """Local misuse raises LocalProtocolError with a helpful message."""

    @pytest.mark.parametrize("event", [TextMessage("x"), BytesMessage(b"x"), Ping(), Pong()])
    def test_no_data_after_sending_close(self, event: object) -> None:
        conn = client()
        conn.send(CloseConnection(1000))
        with pytest.raises(LocalProtocolError, match="LOCAL_CLOSING"):
            conn.send(event)  # type: ignore[arg-type]

    def test_close_twice(self) -> None:
        conn = client()
        conn.send(CloseConnection(1000))
        with pytest.raises(LocalProtocolError, match="a close is sent once"):
            conn.send(CloseConnection(1000))

    @pytest.mark.parametrize("code", [999, 1004, 1016, 2999, 5000])
    def test_unsendable_code(self, code: int) -> None:
        """§7.4: codes no endpoint may send (wsproto 1.x sent them; the peer then fails)."""
        conn = client()
        with pytest.raises(LocalProtocolError, match=f"close code {code}"):
            conn.send(CloseConnection(code))
        assert conn.state is ConnectionState.OPEN  # nothing was sent

    @pytest.mark.parametrize("code", [1005, 1006, 1015, CloseReason.ABNORMAL_CLOSURE])
    @pytest.mark.parametrize("reason", [None, "aborted"])
    def test_local_only_code_sends_1000(self, code: int, reason: str | None) -> None:
        """§7.4.1 keeps 1005, 1006 and 1015 off the wire; wsproto 1.x sends 1000 instead.

        trio-websocket closes with 1006 when it aborts a connection, so this
        must not raise.
        """
        pair = ConnectionPair()
        assert pair.send(pair.client, [CloseConnection(code, reason)]) == [
            CloseConnection(1000, reason or "")
        ]
        assert pair.client.state is ConnectionState.LOCAL_CLOSING

    def test_no_status_member_sends_no_code(self) -> None:
        """The member itself, as ``response()`` gives it, sends an empty close (1.x too)."""
        conn = server()
        assert conn.send(CloseConnection(CloseReason.NO_STATUS_RCVD)) == server_frame(Opcode.CLOSE)

    def test_long_reason_is_truncated_at_a_character(self) -> None:
        conn = server()
        data = conn.send(CloseConnection(1000, "é" * 100))
        assert len(data) == 2 + 125 - 1  # 61 two-byte characters fit in 123 bytes
        (event,) = feed(client(), data)
        assert event == CloseConnection(1000, "é" * 61)

    @pytest.mark.parametrize("code", [None, CloseReason.NO_STATUS_RCVD])
    def test_reason_without_code(self, code: int | None) -> None:
        """Also a TypeError, which wsproto 1.x raised."""
        conn = client()
        with pytest.raises(LocalProtocolError, match="needs a close code") as info:
            conn.send(CloseConnection(code, "why"))  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)
        assert conn.state is ConnectionState.OPEN

    def test_unknown_event(self) -> None:
        from wsproto.events import RejectData

        with pytest.raises(LocalProtocolError, match="cannot send RejectData"):
            client().send(RejectData(b""))


class TestProtocolErrorClose:
    """A peer's violation: a close event to answer with ``response()`` (§7.1.7).

    The state does not change until the application answers, as in wsproto
    1.x: the peer sent no close frame. Consumers branch on it (uvicorn,
    hypercorn and trio-websocket send ``response()`` only in REMOTE_CLOSING).
    """

    def test_response_puts_the_error_code_on_the_wire(self) -> None:
        conn = server()
        (event,) = feed(conn, client_frame(Opcode.CONTINUATION, b"x"))
        assert isinstance(event, CloseConnection)
        assert conn.state is ConnectionState.OPEN
        data = conn.send(event.response())
        assert conn.state is ConnectionState.LOCAL_CLOSING
        assert data[0] == 0x88
        assert data[2:4] == close_payload(1002)
        (echo,) = feed(client(), data)
        assert isinstance(echo, CloseConnection)
        assert echo.code == CloseReason.PROTOCOL_ERROR

    def test_nothing_is_read_after_a_failure(self) -> None:
        """§7.1.7: no further data from the peer is processed, not even its close."""
        conn = server()
        events = feed(conn, client_frame(Opcode.TEXT, b"\xff"))
        assert [type(e) for e in events] == [CloseConnection]
        conn.send(CloseConnection(1007))
        later = client_frame(Opcode.TEXT, b"late") + client_frame(Opcode.CLOSE, close_payload(1000))
        assert feed(conn, later) == []
        assert conn.state is ConnectionState.LOCAL_CLOSING
        conn.receive_data(None)
        assert list(conn.events()) == [CloseConnection(1006)]
        assert conn.state is ConnectionState.CLOSED

    def test_failure_while_local_closing_stays_local_closing(self) -> None:
        conn = client()
        conn.send(CloseConnection(1000))
        (event,) = feed(conn, client_frame(Opcode.TEXT, b"masked"))
        assert isinstance(event, CloseConnection)
        assert event.code == CloseReason.PROTOCOL_ERROR
        assert conn.state is ConnectionState.LOCAL_CLOSING
        with pytest.raises(LocalProtocolError, match="a close is sent once"):
            conn.send(event.response())


class TestTransportClosed:
    """§7.1.5: the TCP connection dropped: receive_data(None)."""

    def test_eof_gives_1006(self) -> None:
        conn = server()
        conn.receive_data(None)
        assert conn.state is ConnectionState.CLOSED
        assert list(conn.events()) == [CloseConnection(CloseReason.ABNORMAL_CLOSURE)]
        assert list(conn.events()) == []

    def test_eof_mid_frame_after_buffered_events(self) -> None:
        conn = server()
        conn.receive_data(
            client_frame(Opcode.TEXT, b"whole") + client_frame(Opcode.TEXT, b"partial")[:4]
        )
        conn.receive_data(None)
        assert list(conn.events()) == [TextMessage("whole"), CloseConnection(1006)]

    def test_every_eof_gives_1006(self) -> None:
        """As in wsproto 1.x: one 1006 per receive_data(None), even after a close frame."""
        conn = server()
        feed(conn, client_frame(Opcode.CLOSE, close_payload(1000)))
        conn.send(CloseConnection(1000))
        conn.receive_data(None)
        assert list(conn.events()) == [CloseConnection(1006)]
        conn.receive_data(None)
        conn.receive_data(None)
        assert list(conn.events()) == [CloseConnection(1006), CloseConnection(1006)]
        assert conn.state is ConnectionState.CLOSED

    def test_eof_after_a_close_frame_in_the_same_read(self) -> None:
        conn = server()
        conn.receive_data(client_frame(Opcode.CLOSE, close_payload(1001)))
        conn.receive_data(None)
        assert list(conn.events()) == [CloseConnection(1001, ""), CloseConnection(1006)]

    def test_eof_after_a_failure_in_the_same_read(self) -> None:
        conn = server()
        conn.receive_data(client_frame(5))
        conn.receive_data(None)
        events = list(conn.events())
        assert [e.code for e in events if isinstance(e, CloseConnection)] == [1002, 1006]

    @pytest.mark.parametrize("data", [b"", client_frame(Opcode.TEXT, b"x")])
    def test_receiving_once_closed_raises(self, data: bytes) -> None:
        """As in wsproto 1.x (uvicorn catches it to close the transport)."""
        pair = ConnectionPair()
        pair.send(pair.client, [CloseConnection(1000)])
        pair.send(pair.server, [CloseConnection(1000)])
        for conn in (pair.client, pair.server):
            assert conn.state is ConnectionState.CLOSED
            with pytest.raises(LocalProtocolError, match="already closed"):
                conn.receive_data(data)
        eof = server()
        eof.receive_data(None)
        with pytest.raises(LocalProtocolError, match="already closed"):
            eof.receive_data(data)

    def test_sending_after_eof_is_refused(self) -> None:
        conn = server()
        conn.receive_data(None)
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            conn.send(TextMessage("x"))


class TestDataBeforeAnsweringClose:
    """§5.5.1: an endpoint MAY finish sending before it answers a close."""

    def test_message_begun_before_peer_close_finished_then_reply(self) -> None:
        pair = ConnectionPair()
        pair.send(pair.server, [TextMessage("last ", message_finished=False)])
        pair.send(pair.client, [CloseConnection(1000)])
        assert pair.server.state is ConnectionState.REMOTE_CLOSING
        events = pair.send(pair.server, [TextMessage("words"), CloseConnection(1000)])
        assert events == [TextMessage("words"), CloseConnection(1000, "")]
        assert pair.server.state is ConnectionState.CLOSED

    @pytest.mark.parametrize("message", [TextMessage("new"), BytesMessage(b"new")])
    def test_no_new_message_after_peer_close(self, message: TextMessage | BytesMessage) -> None:
        """Only the current message may be finished (as in wsproto 1.x, which refuses any)."""
        pair = ConnectionPair()
        pair.send(pair.client, [CloseConnection(1000)])
        with pytest.raises(LocalProtocolError, match="REMOTE_CLOSING"):
            pair.server.send(message)
        assert pair.server.state is ConnectionState.REMOTE_CLOSING
        pair.send(pair.server, [CloseConnection(1000)])
        assert pair.server.state is ConnectionState.CLOSED

    def test_no_message_after_answering(self) -> None:
        pair = ConnectionPair()
        pair.send(pair.client, [CloseConnection(1000)])
        pair.server.send(CloseConnection(1000))
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            pair.server.send(TextMessage("too late"))

    def test_pings_stop_at_the_peer_close(self) -> None:
        pair = ConnectionPair()
        pair.send(pair.client, [CloseConnection(1000)])
        with pytest.raises(LocalProtocolError, match="REMOTE_CLOSING"):
            pair.server.send(Ping(b"x"))
