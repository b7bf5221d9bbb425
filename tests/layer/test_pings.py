"""Ping bookkeeping (``_pings.Pings``): synchronous, clock-free, the same for every driver."""

from __future__ import annotations

import pytest

from wsproto.anyio._pings import Pings


class Answered:
    """A Waiter that records being set."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True

    async def wait(self) -> None:  # pragma: no cover (never awaited here)
        raise AssertionError


def test_a_pong_answers_its_ping_and_every_earlier_one() -> None:
    pings = Pings()
    first, second, third = Answered(), Answered(), Answered()
    pings.start(b"1", first, now=10.0)
    pings.start(b"2", second, now=11.0)
    pings.start(b"3", third, now=12.0)
    assert pings.answer(b"2", now=11.5) == 0.5  # the latency, for the logs
    assert (first.is_set, second.is_set, third.is_set) == (True, True, False)
    assert pings.latency == 0.5
    assert not pings.in_flight(b"1")
    assert pings.in_flight(b"3")


def test_an_unsolicited_pong_changes_nothing() -> None:
    pings = Pings()
    waiting = Answered()
    pings.start(b"p", waiting, now=1.0)
    assert pings.answer(b"other", now=2.0) is None
    assert not waiting.is_set
    assert pings.latency is None
    assert pings.in_flight(b"p")


def test_a_payload_in_flight_cannot_be_reused() -> None:
    pings = Pings()
    pings.start(b"p", Answered(), now=0.0)
    with pytest.raises(ValueError, match="already in flight"):
        pings.start(b"p", Answered(), now=1.0)
    pings.forget(b"p")
    pings.start(b"p", Answered(), now=2.0)
    assert pings.new_payload() != b"p"
    assert len(pings.new_payload()) == 4


def test_the_end_wakes_every_sender_and_leaves_the_pings_unanswered() -> None:
    pings = Pings()
    senders = [Answered(), Answered()]
    for i, sender in enumerate(senders):
        pings.start(bytes([i]), sender, now=0.0)
    pings.wake_all()
    assert all(sender.is_set for sender in senders)
    assert pings.in_flight(b"\x00")
    assert pings.in_flight(b"\x01")
