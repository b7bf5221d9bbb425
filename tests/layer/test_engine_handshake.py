"""The engine's opening handshake, in both roles, with no I/O (see ``engine_peer.py``).

What a server's engine reports of the request and answers for its handler;
what a client's engine records of the answer or the rejection; what either
answers a peer that breaks HTTP.
"""

from __future__ import annotations

import pytest

from wsproto.anyio._engine import REJECTED
from wsproto.anyio._errors import CloseReason, HandshakeError
from wsproto.anyio._handshake import MAX_REJECT_BODY
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .engine_peer import new_client, new_server, pieces, receive, steps

# The server


def test_a_server_reports_the_request_and_records_its_target_and_headers() -> None:
    engine, peer = new_server()
    request = Request(host="example.com", target="/chat?room=1", extra_headers=[(b"x-hello", b"1")])
    engine.feed(peer.send(request))
    step = engine.next([])
    assert isinstance(step, Request)
    assert engine.path == "/chat?room=1"
    assert (b"x-hello", b"1") in engine.handshake_headers
    assert engine.handshake is not None
    assert engine.handshake.request is step
    assert engine.next([]) is None
    assert engine.connecting


def test_a_server_accepts_with_a_subprotocol_the_client_core_takes() -> None:
    engine, peer = new_server()
    engine.feed(peer.send(Request(host="example.com", target="/", subprotocols=["chat", "v2"])))
    assert isinstance(engine.next([]), Request)
    with pytest.raises(LocalProtocolError):
        engine.accept("never offered", None, [])
    assert engine.subprotocol is None
    (answer,) = receive(peer, engine.accept("v2", [(b"x-server", b"yes")], []))
    assert isinstance(answer, AcceptConnection)
    assert answer.subprotocol == "v2"
    assert (b"x-server", b"yes") in answer.extra_headers
    assert engine.subprotocol == "v2"
    assert engine.open


def test_dropping_the_handshake_hands_it_over_once() -> None:
    engine, _ = new_server()
    handshake = engine.handshake
    assert handshake is not None
    assert engine.drop_handshake() is handshake
    assert engine.handshake is None
    assert engine.drop_handshake() is None


def test_a_server_rejects_with_a_body_the_client_core_reads() -> None:
    engine, peer = new_server()
    engine.feed(peer.send(Request(host="example.com", target="/")))
    assert isinstance(engine.next([]), Request)
    rejection, *body = receive(peer, engine.reject(403, [(b"x-why", b"closed")], b"go away"))
    assert isinstance(rejection, RejectConnection)
    assert rejection.status_code == 403
    assert rejection.has_body
    assert (b"x-why", b"closed") in rejection.headers
    data = [piece for piece in body if isinstance(piece, RejectData)]
    assert data == body
    assert b"".join(piece.data for piece in data) == b"go away"
    assert data[-1].body_finished
    assert engine.close_reason == CloseReason(1006, "rejected")


def test_a_server_answers_a_broken_request_with_400() -> None:
    engine, peer = new_server()
    peer.send(Request(host="example.com", target="/"))  # so that the peer reads an answer
    with pytest.raises(RemoteProtocolError) as caught:
        engine.feed(b"garbage\r\n\r\n")
    answer, *_ = receive(peer, engine.handshake_failed(caught.value))
    assert isinstance(answer, RejectConnection)
    assert answer.status_code == 400
    assert engine.handshake is not None
    assert isinstance(engine.handshake.error, HandshakeError)
    assert engine.handshake.error.__cause__ is caught.value


# The client


def test_a_client_reports_the_answer_and_records_its_subprotocol_and_headers() -> None:
    engine, peer = new_client()
    answer = AcceptConnection(subprotocol="chat", extra_headers=[(b"x-server", b"yes")])
    engine.feed(peer.send(answer))
    assert isinstance(engine.next([]), AcceptConnection)
    assert engine.subprotocol == "chat"
    assert (b"x-server", b"yes") in engine.handshake_headers
    assert engine.open


def test_a_client_reports_a_rejection_without_a_body_at_once() -> None:
    engine, peer = new_client()
    engine.feed(peer.send(RejectConnection(401, [(b"www-authenticate", b"Basic")])))
    assert steps(engine) == [REJECTED]
    handshake = engine.handshake
    assert handshake is not None
    assert handshake.reject_status == 401
    assert (b"www-authenticate", b"Basic") in handshake.reject_headers
    assert handshake.reject_body == b""


def test_a_client_reports_a_rejection_only_once_its_body_is_complete() -> None:
    engine, peer = new_client()
    body = bytes(i % 251 for i in range(MAX_REJECT_BODY + 1000))
    length = (b"content-length", str(len(body)).encode())
    wire = peer.send(RejectConnection(403, [length], has_body=True)) + peer.send(RejectData(body))
    *most, last = pieces(wire, 20000)
    for piece in most:
        engine.feed(piece)
        assert steps(engine) == []
    engine.feed(last)
    assert steps(engine) == [REJECTED]
    handshake = engine.handshake
    assert handshake is not None
    assert handshake.reject_status == 403
    assert length in handshake.reject_headers
    assert handshake.reject_body == body[:MAX_REJECT_BODY]  # cut there


def test_a_client_answers_a_broken_response_with_nothing() -> None:
    engine, _ = new_client()
    with pytest.raises(RemoteProtocolError) as caught:
        engine.feed(b"garbage\r\n\r\n")
    assert engine.handshake_failed(caught.value) is None
    assert engine.handshake is not None
    assert isinstance(engine.handshake.error, HandshakeError)
