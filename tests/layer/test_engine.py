"""The engine of an open connection, in both roles, with no I/O (see ``engine_peer.py``).

What it delivers of the peer's messages (whole, gathered, in pieces) and how
it enforces ``max_fragments``; what it answers to pings and how pongs are
timed; how closing stands and which close code it reports; how it serializes
a large message; when a keepalive ping is due. The opening handshake is in
``test_engine_handshake.py``.
"""

from __future__ import annotations

import pytest

from wsproto.anyio import _engine
from wsproto.anyio._engine import Failure
from wsproto.anyio._errors import CloseReason, ConnectionClosed
from wsproto.anyio._inbox import Fragment
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from .engine_peer import (
    Answered,
    Clock,
    both_roles,
    close_first,
    fragmented,
    new_client,
    open_pair,
    peer_frame,
    pieces,
    receive,
    steps,
)

# Messages


@both_roles
def test_a_whole_message_is_one_step(client: bool) -> None:
    engine, peer = open_pair(client)
    engine.feed(peer.send(TextMessage("héllo")) + peer.send(BytesMessage(b"\x00\xff")))
    assert steps(engine) == ["héllo", b"\x00\xff"]


@both_roles
def test_a_message_in_several_frames_comes_out_whole(client: bool) -> None:
    engine, peer = open_pair(client)
    engine.feed(fragmented(peer, "ab", "cd", "ef"))
    assert steps(engine) == ["abcdef"]


@both_roles
def test_a_message_over_several_reads_is_gathered(client: bool) -> None:
    engine, peer = open_pair(client)
    payload = bytes(range(256)) * 40
    *most, last = pieces(peer.send(BytesMessage(payload)), 3000)
    for piece in most:
        engine.feed(piece)
        assert steps(engine) == []
        assert engine.unfinished(wanted=False) is None
    engine.feed(last)
    assert steps(engine) == [payload]


@both_roles
def test_pieces_go_over_as_fragments_while_they_are_wanted(client: bool) -> None:
    engine, peer = open_pair(client)
    payload = "ab" * 5000
    *most, last = pieces(peer.send(TextMessage(payload)), 3000)
    received: list[str | bytes] = []
    for piece in most:
        engine.feed(piece)
        assert steps(engine) == []
        fragment = engine.unfinished(wanted=True)
        assert isinstance(fragment, Fragment)
        assert not fragment.last
        received.append(fragment.data)
        assert engine.unfinished(wanted=True) is None  # nothing is handed over twice
    engine.feed(last)
    (end,) = steps(engine)
    assert isinstance(end, Fragment)
    assert end.last
    received.append(end.data)
    assert all(isinstance(data, str) for data in received)
    assert "".join(str(data) for data in received) == payload
    # The next message is a message of its own again.
    engine.feed(peer.send(TextMessage("next")))
    assert steps(engine) == ["next"]


@both_roles
def test_a_large_gathered_part_goes_over_unasked(
    client: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_engine, "HANDOVER_SIZE", 1000)
    engine, peer = open_pair(client)
    payload = bytes(range(256)) * 20
    wire = peer.send(BytesMessage(payload))
    engine.feed(wire[:500])
    assert steps(engine) == []
    assert engine.unfinished(wanted=False) is None  # under HANDOVER_SIZE
    engine.feed(wire[500:1500])
    assert steps(engine) == []
    fragment = engine.unfinished(wanted=False)
    assert isinstance(fragment, Fragment)
    assert not fragment.last
    assert len(fragment.data) >= 1000
    engine.feed(wire[1500:])
    (end,) = steps(engine)
    assert isinstance(end, Fragment)
    assert end.last
    assert isinstance(fragment.data, bytes)
    assert isinstance(end.data, bytes)
    assert fragment.data + end.data == payload


@both_roles
def test_a_message_beyond_max_fragments_fails_with_1009_and_drops_the_rest(client: bool) -> None:
    engine, peer = open_pair(client, max_fragments=2)
    later = peer.send(TextMessage("later"))  # before the peer reads our close
    out: list[bytes] = []
    engine.feed(fragmented(peer, "ab", "cd") + fragmented(peer, "ef", "gh", "ij") + later)
    assert engine.next(out) == "abcd"
    failure = engine.next(out)
    assert isinstance(failure, Failure)
    assert engine.close_reason is not None
    assert engine.close_reason.code == 1009
    assert engine.next(out) is None  # "later" is dropped
    (close,) = receive(peer, failure.frame)
    assert isinstance(close, CloseConnection)
    assert close.code == 1009
    engine.feed(later)  # and so is a message in a later read
    assert steps(engine, out) == []
    assert out == []


# Pings


@both_roles
def test_a_ping_is_answered_with_a_pong(client: bool) -> None:
    engine, peer = open_pair(client)
    engine.feed(peer.send(Ping(b"are you there")))
    out: list[bytes] = []
    assert steps(engine, out) == []
    assert receive(peer, b"".join(out)) == [Pong(b"are you there")]


@both_roles
def test_a_ping_after_our_close_is_not_answered(client: bool) -> None:
    engine, peer = open_pair(client)
    ping = peer.send(Ping(b"late"))
    close = engine.start_close(1000, None)
    assert close is not None
    frame = engine.close_frame(close)
    assert frame is not None
    engine.feed(ping)
    out: list[bytes] = []
    assert steps(engine, out) == []
    assert out == []


@both_roles
def test_a_pong_answers_the_pings_and_sets_the_latency(client: bool) -> None:
    clock = Clock()
    engine, peer = open_pair(client, clock=clock)
    first, second = Answered(), Answered()
    engine.pings.start(b"one", first, clock())
    clock.now += 0.5
    engine.pings.start(b"two", second, clock())
    clock.now += 0.25
    engine.feed(peer.send(Pong(b"two")))
    assert steps(engine) == []
    assert first.is_set
    assert second.is_set
    assert engine.pings.latency == 0.25


# Closing


@both_roles
def test_start_close_gives_the_close_frame_once(client: bool) -> None:
    engine, peer = open_pair(client)
    close = engine.start_close(1001, "going")
    assert close == CloseConnection(1001, "going")
    assert engine.close_reason == CloseReason(1001, "going")
    assert engine.start_close(1000, None) is None
    assert engine.close_reason == CloseReason(1001, "going")
    (parsed,) = receive(peer, engine.close_frame(close))
    assert parsed == CloseConnection(1001, "going")
    assert engine.close_frame(close) is None  # it went out already
    assert engine.closing_locally


@both_roles
def test_the_peers_close_counts_at_once(client: bool) -> None:
    engine, peer = open_pair(client)
    engine.feed(peer.send(CloseConnection(4000, "peer's reason")))
    close = engine.next([])
    assert isinstance(close, CloseConnection)
    assert close.code == 4000
    assert engine.close_reason == CloseReason(4000, "peer's reason")
    with pytest.raises(ConnectionClosed) as caught:
        engine.serialize(TextMessage("too late"))
    assert caught.value.reason == CloseReason(4000, "peer's reason")
    assert engine.start_close(1000, None) is None
    assert not engine.wants_grace(close)
    reply = engine.answer_close(close)
    assert reply is not None
    assert receive(peer, engine.close_frame(reply)) == [CloseConnection(4000, "peer's reason")]
    assert engine.close_reason == CloseReason(4000, "peer's reason")


@both_roles
@pytest.mark.parametrize(
    ("opcode", "payload", "code"),
    [(0x3, b"", 1002), (0x1, b"\xff\xfe", 1007)],
    ids=["reserved-opcode", "invalid-utf8"],
)
def test_a_violation_the_core_reports_wants_grace(
    client: bool, opcode: int, payload: bytes, code: int
) -> None:
    engine, peer = open_pair(client)
    engine.feed(peer_frame(engine, opcode, payload))
    close = engine.next([])
    assert isinstance(close, CloseConnection)
    assert close.code == code
    assert engine.open  # the core leaves the state alone until it is answered
    assert engine.close_reason is None  # decided after the grace
    assert engine.wants_grace(close)
    reply = engine.answer_close(close)
    assert reply is not None
    assert reply.code == code
    assert engine.close_reason is not None
    assert engine.close_reason.code == code
    (parsed,) = receive(peer, engine.close_frame(reply))
    assert isinstance(parsed, CloseConnection)
    assert parsed.code == code


@both_roles
def test_an_orderly_close_wants_no_grace(client: bool) -> None:
    engine, peer = open_pair(client)
    engine.feed(peer.send(CloseConnection(1000)))
    close = engine.next([])
    assert isinstance(close, CloseConnection)
    assert not engine.wants_grace(close)


@both_roles
def test_the_peers_answer_replaces_our_code_when_it_differs(client: bool) -> None:
    engine, peer = close_first(client, 1000, "done")
    engine.feed(peer.send(CloseConnection(1001, "going away")))
    close = engine.next([])
    assert isinstance(close, CloseConnection)
    assert engine.close_reason == CloseReason(1001, "going away")
    assert engine.answer_close(close) is None  # both close frames went
    assert engine.ended() == CloseReason(1001, "going away")


@both_roles
def test_the_peers_answer_with_our_code_keeps_our_reason(client: bool) -> None:
    engine, peer = close_first(client, 1000, "done")
    engine.feed(peer.send(CloseConnection(1000, "fine")))
    assert isinstance(engine.next([]), CloseConnection)
    assert engine.close_reason == CloseReason(1000, "done")


@both_roles
def test_the_transports_end_never_replaces_a_known_reason(client: bool) -> None:
    engine, _ = close_first(client, 1000, "done")
    engine.feed(None)
    close = engine.next([])
    assert isinstance(close, CloseConnection)
    assert close.code == 1006
    assert engine.close_reason == CloseReason(1000, "done")
    assert engine.ended() == CloseReason(1000, "done")


@both_roles
def test_the_transports_end_with_nothing_known_is_1006(client: bool) -> None:
    engine, _ = open_pair(client)
    engine.feed(None)
    assert isinstance(engine.next([]), CloseConnection)
    assert engine.close_reason == CloseReason(1006, None)


def test_ended_gives_1006_unless_the_reason_is_known() -> None:
    engine, _ = new_client()
    assert engine.ended() == CloseReason(1006, None)
    engine, _ = open_pair(client=False)
    engine.start_close(4001, "known")
    assert engine.ended() == CloseReason(4001, "known")
    assert engine.close_reason == CloseReason(4001, "known")


# Sending


def test_a_large_message_serializes_split_as_the_same_bytes() -> None:
    engine, peer = open_pair(client=False)
    twin, _ = open_pair(client=False)
    payload = bytes(range(256)) * 300
    parts = engine.serialize(BytesMessage(payload), split=True)
    assert isinstance(parts, list)
    assert len(parts) == 2
    header, body = parts
    assert body == payload
    assert len(header) < 16
    assert header + body == twin.serialize(BytesMessage(payload))
    received = receive(peer, header + body)
    assert b"".join(event.data for event in received if isinstance(event, BytesMessage)) == payload
    assert engine.serialize(BytesMessage(b"small"), split=True) == twin.serialize(
        BytesMessage(b"small")
    )


# Keepalive


def test_keepalive_is_never_due_while_connecting() -> None:
    engine, _ = new_client()
    assert not engine.keepalive_due(1000.0, 5.0)
    assert engine.keepalive_next is None


@both_roles
def test_keepalive_is_due_an_interval_after_the_connection_is_first_seen_open(client: bool) -> None:
    engine, _ = open_pair(client)
    assert not engine.keepalive_due(100.0, 5.0)
    assert engine.keepalive_next == 105.0
    assert not engine.keepalive_due(104.9, 5.0)
    assert engine.keepalive_due(105.0, 5.0)
    assert engine.keepalive_due(106.0, 5.0)  # until a keepalive ping moves the schedule
    engine.keepalive_busy = True
    assert not engine.keepalive_due(200.0, 5.0)
