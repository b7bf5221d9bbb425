"""Property tests: round trips, chunking independence, masking, UTF-8 splits."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from wsproto._mask import mask, py_mask
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Event, Message, Ping, Pong, TextMessage

from .frames import client_frame
from .helpers import ConnectionPair

# A message to send: its pieces (each sent as one frame), text or binary.
pieces_text = st.lists(st.text(max_size=300), min_size=1, max_size=4)
pieces_bytes = st.lists(st.binary(max_size=300), min_size=1, max_size=4)
messages = st.one_of(pieces_text, pieces_bytes, st.binary(max_size=100).map(Ping))


def outgoing(plan: list[list[str] | list[bytes] | Ping]) -> list[Event]:
    events: list[Event] = []
    for item in plan:
        if isinstance(item, Ping):
            events.append(item)
            continue
        for i, piece in enumerate(item):
            last = i == len(item) - 1
            if isinstance(piece, str):
                events.append(TextMessage(piece, message_finished=last))
            elif isinstance(piece, bytes):
                events.append(BytesMessage(piece, message_finished=last))
    return events


def reassemble(events: list[Event]) -> list[object]:
    """Whole messages and control payloads, in order."""
    out: list[object] = []
    parts: list[str | bytes] = []
    for event in events:
        if isinstance(event, Message):
            parts.append(event.data)
            if event.message_finished:
                joiner: str | bytes = "" if isinstance(event.data, str) else b""
                out.append(joiner.join(parts))  # type: ignore[arg-type]
                parts = []
        elif isinstance(event, Ping | Pong):
            out.append(("ping", event.payload))
    assert not parts
    return out


def expected(plan: list[list[str] | list[bytes] | Ping]) -> list[object]:
    out: list[object] = []
    for item in plan:
        if isinstance(item, Ping):
            out.append(("ping", item.payload))
        elif isinstance(item[0], str):
            out.append("".join(item))
        else:
            out.append(b"".join(item))
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(
    plan=st.lists(messages, max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=12),
    from_client=st.booleans(),
)
def test_round_trip_any_chunking(
    plan: list[list[str] | list[bytes] | Ping], cuts: list[int], from_client: bool
) -> None:
    """Any messages survive either direction whatever the read boundaries."""
    pair = ConnectionPair()
    sender = pair.client if from_client else pair.server
    receiver = pair.peer(sender)
    data = b"".join(sender.send(event) for event in outgoing(plan))
    received: list[Event] = []
    for chunk in chunked(data, cuts):
        receiver.receive_data(chunk)
        received.extend(receiver.events())
    assert reassemble(received) == expected(plan)


@given(data=st.binary(max_size=2000), key=st.binary(min_size=4, max_size=4))
def test_masking_is_an_involution(data: bytes, key: bytes) -> None:
    masked = mask(data, key)
    assert len(masked) == len(data)
    assert masked == bytes(b ^ key[i % 4] for i, b in enumerate(data))
    assert mask(masked, key) == data
    assert py_mask(data, key) == masked  # the pure-Python path agrees with the one in use


@given(text=st.text(min_size=1, max_size=40))
def test_utf8_split_at_every_offset(text: str) -> None:
    encoded = text.encode()
    data = client_frame(0x1, encoded)
    for cut in range(len(data) + 1):
        conn = Connection(ConnectionType.SERVER)
        out: list[Event] = []
        for part in (data[:cut], data[cut:]):
            conn.receive_data(part)
            out.extend(conn.events())
        assert all(isinstance(e, TextMessage) for e in out)
        assert "".join(e.data for e in out if isinstance(e, TextMessage)) == text


@given(text=st.text(min_size=1, max_size=40), frames=st.integers(min_value=1, max_value=6))
def test_utf8_split_across_frames(text: str, frames: int) -> None:
    """Fragment boundaries may fall inside a character (§5.6)."""
    encoded = text.encode()
    step = max(1, len(encoded) // frames)
    parts = [encoded[i : i + step] for i in range(0, len(encoded), step)]
    data = b"".join(
        client_frame(0x1 if i == 0 else 0x0, part, fin=i == len(parts) - 1)
        for i, part in enumerate(parts)
    )
    conn = Connection(ConnectionType.SERVER)
    conn.receive_data(data)
    out = list(conn.events())
    assert "".join(e.data for e in out if isinstance(e, TextMessage)) == text
    assert isinstance(out[-1], TextMessage)
    assert out[-1].message_finished
