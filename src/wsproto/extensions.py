"""WebSocket extensions (RFC 6455 §9) and permessage-deflate (RFC 7692)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from ._deflate import (
    DEFAULT_WINDOW_BITS,
    INFLATE_CHUNK_SIZE,
    INFLATE_INPUT_SIZE,
    MIN_WINDOW_BITS,
    Agreement,
    NegotiationError,
    Settings,
    agree_as_client,
    agree_as_server,
    build_offer,
    parse_params,
)
from ._errors import ProtocolFailure
from .frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits
from .utilities import RemoteProtocolError

__all__ = ["SUPPORTED_EXTENSIONS", "Extension", "PerMessageDeflate"]


class Extension:
    """Base class of WebSocket extensions.

    Negotiation: a client calls :meth:`offer` to build its
    ``Sec-WebSocket-Extensions`` request header and :meth:`finalize` with the
    parameters the server accepted; a server calls :meth:`accept` with each
    offer and answers with what it returns.

    Framing: once negotiated, the connection calls the ``frame_*`` hooks for
    every *data* frame (text, binary, continuation); control frames never pass
    through extensions.
    """

    #: The extension token, as in ``Sec-WebSocket-Extensions``.
    name: str

    def enabled(self) -> bool:
        """Whether negotiation enabled this extension."""
        return False

    def offer(self) -> bool | str:
        """Return the client's offer: ``True`` (bare name), a parameter string, or ``False``."""
        raise NotImplementedError

    def accept(self, offer: str) -> bool | str | None:
        """Answer a client's offer (server side).

        Args:
            offer: One offered element of the ``Sec-WebSocket-Extensions``
                header, name included (``"name; param=value"``).

        Returns:
            ``None`` or ``False`` to decline, ``True`` to accept without
            parameters, or the parameter string of the response.
        """
        return None

    def finalize(self, offer: str) -> None:
        """Apply the server's answer (client side): its header element, name included."""

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        """See a data frame's header; return the RSV bits this extension claims, or a close code."""
        return RsvBits(False, False, False)

    def frame_inbound_payload_data(self, proto: FrameProtocol, data: bytes) -> bytes | CloseReason:
        """Transform a piece of a data frame's payload, or fail with a close code."""
        return data

    def frame_inbound_complete(self, proto: FrameProtocol, fin: bool) -> bytes | CloseReason | None:
        """Called at the end of each data frame; may return data that completes it."""
        return None

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        """Transform an outgoing data frame's RSV bits and payload."""
        return (rsv, data)

    # The connection calls these two instead of the public payload hooks, so that
    # an extension can hand over its output in bounded pieces (an inflater must
    # not turn a small frame into one huge allocation). The defaults adapt the
    # public hooks; they raise ProtocolFailure instead of returning a close code.

    def _inbound_data(self, proto: FrameProtocol, data: bytes) -> Iterator[bytes]:
        result = self.frame_inbound_payload_data(proto, data)
        if isinstance(result, CloseReason):
            raise ProtocolFailure(result, f"extension {self.name} failed the frame")
        yield result

    def _inbound_complete(self, proto: FrameProtocol, fin: bool) -> Iterator[bytes]:
        result = self.frame_inbound_complete(proto, fin)
        if isinstance(result, CloseReason):
            raise ProtocolFailure(result, f"extension {self.name} failed the frame")
        if result:
            yield result


class PerMessageDeflate(Extension):
    """The permessage-deflate extension (RFC 7692).

    Give an instance to the handshake on either side; negotiation fills in the
    parameters both ends agreed to, and :meth:`enabled` becomes true. One
    instance serves one connection.

    Args:
        client_no_context_takeover: The client compresses each message on its
            own (RFC 7692 §7.1.1.2). A client sets it to save memory; a server
            sets it to demand it of clients.
        client_max_window_bits: The LZ77 window (as a power of two, 8-15) the
            client compresses with (§7.1.2.2): a client's own limit, or the
            limit a server imposes on clients that support it.
        server_no_context_takeover: The server compresses each message on its
            own (§7.1.1.1): a client asks for it, a server offers it.
        server_max_window_bits: The window the server compresses with
            (§7.1.2.1): a client asks for it, a server limits itself.

    zlib cannot produce raw deflate data with an 8-bit window, so this end
    never agrees to compress with one: a server declines an offer that asks
    it to (and takes the client's next offer, if any), a client fails on a
    response that would have it do so (as with any response it cannot
    accept). The peer's window may be 8: what it sends is inflated.

    Raises:
        ValueError: if a window size is outside 8-15.
    """

    name = "permessage-deflate"

    DEFAULT_CLIENT_MAX_WINDOW_BITS = DEFAULT_WINDOW_BITS
    DEFAULT_SERVER_MAX_WINDOW_BITS = DEFAULT_WINDOW_BITS

    def __init__(
        self,
        client_no_context_takeover: bool = False,
        client_max_window_bits: int | None = None,
        server_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
    ) -> None:
        self.client_no_context_takeover = client_no_context_takeover
        self.server_no_context_takeover = server_no_context_takeover
        self._client_max_window_bits: int | None = None
        self._server_max_window_bits: int | None = None
        if client_max_window_bits is not None:
            self.client_max_window_bits = client_max_window_bits
        if server_max_window_bits is not None:
            self.server_max_window_bits = server_max_window_bits
        # What the user asked for, kept when negotiation overwrites the public
        # attributes so that a later accept() starts from the same wishes.
        self._settings: Settings | None = None
        self._enabled = False
        # Set by negotiation: how this end compresses and inflates.
        self._compress = False  # False when our window is 8 bits: send uncompressed
        self._deflate_bits = DEFAULT_WINDOW_BITS
        self._inflate_bits = DEFAULT_WINDOW_BITS
        self._end_flush = zlib.Z_SYNC_FLUSH  # Z_FULL_FLUSH without our context takeover
        self._release_deflater = False
        self._reset_inflater = False
        # Per-connection state, created on first use and kept between messages.
        self._deflater: zlib._Compress | None = None
        self._inflater: zlib._Decompress | None = None
        self._deflating = False  # the outgoing message in progress is compressed
        self._inflating = False  # the incoming message in progress is compressed

    @property
    def client_max_window_bits(self) -> int:
        """The client's LZ77 window size as a power of two (15 unless set or negotiated)."""
        bits = self._client_max_window_bits
        return DEFAULT_WINDOW_BITS if bits is None else bits

    @client_max_window_bits.setter
    def client_max_window_bits(self, value: int) -> None:
        self._client_max_window_bits = _checked_window_bits(value)

    @property
    def server_max_window_bits(self) -> int:
        """The server's LZ77 window size as a power of two (15 unless set or negotiated)."""
        bits = self._server_max_window_bits
        return DEFAULT_WINDOW_BITS if bits is None else bits

    @server_max_window_bits.setter
    def server_max_window_bits(self, value: int) -> None:
        self._server_max_window_bits = _checked_window_bits(value)

    def enabled(self) -> bool:
        """Whether negotiation succeeded (after :meth:`accept` or :meth:`finalize`)."""
        return self._enabled

    def _wishes(self) -> Settings:
        if self._settings is not None:
            return self._settings
        return Settings(
            bool(self.client_no_context_takeover),
            self._client_max_window_bits,
            bool(self.server_no_context_takeover),
            self._server_max_window_bits,
        )

    def offer(self) -> str:
        """Return the client's offer: the parameters, without the extension name.

        ``client_max_window_bits`` is always included, telling the server it may
        limit our window (RFC 7692 §7.1.2.2).
        """
        return build_offer(self._wishes())

    def accept(self, offer: str) -> str | bool | None:
        """Answer one offer from a client (server side, RFC 7692 §7.1).

        Call it with each offered element in turn, e.g.
        ``"permessage-deflate; client_max_window_bits"`` (the name may be left
        out), until one is accepted.

        Returns:
            The response's parameter string, ``True`` when the response needs
            no parameters, or ``None`` to decline an offer that is malformed,
            repeats a parameter, has an unknown parameter or an invalid value.
        """
        wishes = self._wishes()
        try:
            agreement, response = agree_as_server(parse_params(offer), wishes)
        except NegotiationError:
            return None
        self._settings = wishes
        self._apply(agreement, client=False)
        return response or True

    def finalize(self, offer: str) -> None:
        """Apply the server's response to our offer (client side, RFC 7692 §7.1).

        Args:
            offer: The response's element for this extension, e.g.
                ``"permessage-deflate; server_no_context_takeover"``.

        Raises:
            RemoteProtocolError: if the response is malformed or is not a valid
                answer to what :meth:`offer` offered (an unknown or repeated
                parameter, a window larger than we allowed, a parameter we asked
                for left out). RFC 7692 §7.1 requires failing the connection;
                the handshake reports it like any invalid response.
        """
        wishes = self._wishes()
        try:
            agreement = agree_as_client(parse_params(offer), wishes)
        except NegotiationError as exc:
            raise RemoteProtocolError(f"invalid permessage-deflate response: {exc}") from None
        self._settings = wishes
        self._apply(agreement, client=True)

    def _apply(self, agreement: Agreement, client: bool) -> None:
        self.client_no_context_takeover = agreement.client_no_context_takeover
        self.server_no_context_takeover = agreement.server_no_context_takeover
        self._client_max_window_bits = agreement.client_max_window_bits
        self._server_max_window_bits = agreement.server_max_window_bits
        a = agreement
        if client:
            own_bits, own_nct = a.client_max_window_bits, a.client_no_context_takeover
            peer_bits, peer_nct = a.server_max_window_bits, a.server_no_context_takeover
        else:
            own_bits, own_nct = a.server_max_window_bits, a.server_no_context_takeover
            peer_bits, peer_nct = a.client_max_window_bits, a.client_no_context_takeover
        # Negotiation never leaves our own window at 8 bits (zlib cannot).
        self._compress = own_bits > MIN_WINDOW_BITS
        self._deflate_bits = own_bits
        # Inflate with the agreed window, which is all the history kept between
        # messages. Peers built on zlib that agreed to 8 bits deflate with a
        # 9-bit window, but zlib keeps their matches within 250 bytes (window
        # minus lookahead), so 256 bytes hold everything they refer to.
        self._inflate_bits = peer_bits
        # A full flush ends the message like a sync flush and also forgets the
        # history, which is what no context takeover asks of the sender, without
        # the cost of a new compressor per message (~50 µs, measured).
        self._end_flush = zlib.Z_FULL_FLUSH if own_nct else zlib.Z_SYNC_FLUSH
        # The compressor then goes back to a shared pool between messages.
        self._release_deflater = own_nct
        # A fresh decompressor per message costs ~0.1 µs and frees the window
        # between messages; a peer that breaks its promise and refers back to an
        # earlier message then fails with 1007.
        self._reset_inflater = peer_nct
        self._deflater = None
        self._inflater = None
        self._deflating = self._inflating = False
        self._enabled = True

    # -- inbound ----------------------------------------------------------

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        """Claim RSV1 on the first frame of a compressed message (RFC 7692 §6).

        Returns:
            The claimed bits, or ``PROTOCOL_ERROR`` for RSV1 on a continuation
            or control frame (§6.1).
        """
        if not self._enabled:
            return _NO_RSV
        if opcode:  # TEXT or BINARY: a new message
            if opcode & 0x08:
                return CloseReason.PROTOCOL_ERROR if rsv[0] else _NO_RSV
            if rsv[0]:
                self._inflating = True
                if self._inflater is None:
                    self._inflater = zlib.decompressobj(-self._inflate_bits)
                return _RSV1
            self._inflating = False
            return _NO_RSV
        if rsv[0]:
            return CloseReason.PROTOCOL_ERROR
        return _NO_RSV

    def _inbound_data(self, proto: FrameProtocol, data: bytes) -> Iterator[bytes]:
        if not self._inflating:
            yield data
            return
        inflater = self._inflater
        assert inflater is not None
        inflate = inflater.decompress
        chunks: Iterable[bytes | memoryview] = (
            (data,) if len(data) <= INFLATE_INPUT_SIZE else _slices(data)
        )
        try:
            for chunk in chunks:
                out = inflate(chunk, INFLATE_CHUNK_SIZE)
                # Output that stops short of the bound means zlib ran out of
                # input; a full piece may leave input or output pending.
                while len(out) == INFLATE_CHUNK_SIZE:
                    yield out
                    out = inflate(inflater.unconsumed_tail, INFLATE_CHUNK_SIZE)
                if out:
                    yield out
        except zlib.error as exc:
            raise _invalid_compressed_data(exc) from None
        if inflater.eof and len(inflater.unused_data) > 1:
            # After a final block zlib keeps whatever follows in unused_data,
            # which would grow without bound and count toward no size limit.
            # Only one 0x00 byte may follow it (§7.2.3.4): fail now.
            raise ProtocolFailure(
                CloseReason.INVALID_FRAME_PAYLOAD_DATA, "data after the final deflate block"
            )

    def _inbound_complete(self, proto: FrameProtocol, fin: bool) -> Iterator[bytes]:
        if not fin or not self._inflating:
            return
        self._inflating = False
        inflater = self._inflater
        assert inflater is not None
        try:
            # RFC 7692 §7.2.2: append the empty stored block's tail the sender
            # removed. _inbound_data left no output pending, and four bytes of
            # input decode to at most a few matches, so one bounded call does.
            out = inflater.decompress(_TAIL, INFLATE_CHUNK_SIZE)
        except zlib.error as exc:
            raise _invalid_compressed_data(exc) from None
        self._end_inflated_message(inflater)
        if out:
            yield out

    def _end_inflated_message(self, inflater: zlib._Decompress) -> None:
        # Called once a message's data and the appended tail are all inflated.
        if inflater.eof:
            # The sender ended the deflate stream with a final block (§7.2.3.4
            # allows it). Only the header byte of an empty stored block (§7.2.1)
            # may follow, then our appended tail; the next message starts a new
            # stream.
            if inflater.unused_data not in _AFTER_FINAL_BLOCK:
                raise ProtocolFailure(
                    CloseReason.INVALID_FRAME_PAYLOAD_DATA, "data after the final deflate block"
                )
            self._inflater = None
        elif self._reset_inflater:
            self._inflater = None

    # The receiver's fast path: a whole compressed message in one frame whose
    # payload is at most INFLATE_INPUT_SIZE bytes. Its data and the tail go to
    # zlib in one call (two calls, as the frame hooks make, cost ~0.5 µs more
    # for a 16-byte message, measured), with the same output bound per step.

    def _inflate_frame(self, data: bytes) -> tuple[bytes, bool]:
        """Inflate the first piece of a single-frame compressed message.

        Returns:
            Up to ``INFLATE_CHUNK_SIZE`` bytes, and whether more may follow;
            if so, :meth:`_inflate_rest` produces the rest.

        Raises:
            ProtocolFailure: 1007 for data that does not inflate.
        """
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-self._inflate_bits)
        try:
            out = inflater.decompress(data + _TAIL, INFLATE_CHUNK_SIZE)
        except zlib.error as exc:
            raise _invalid_compressed_data(exc) from None
        # Short of the bound, zlib ran out of input: the message is complete.
        if len(out) < INFLATE_CHUNK_SIZE:
            self._end_inflated_message(inflater)
            return out, False
        return out, True

    def _inflate_rest(self, first: bytes) -> Iterator[bytes]:
        """``first``, then the rest of a message :meth:`_inflate_frame` began, in bounded pieces."""
        yield first
        inflater = self._inflater
        assert inflater is not None
        out = first
        try:
            # The input left over is at most INFLATE_INPUT_SIZE bytes, so
            # zlib's copies of it into unconsumed_tail stay small.
            while len(out) == INFLATE_CHUNK_SIZE and not inflater.eof:
                out = inflater.decompress(inflater.unconsumed_tail, INFLATE_CHUNK_SIZE)
                if out:
                    yield out
        except zlib.error as exc:
            raise _invalid_compressed_data(exc) from None
        self._end_inflated_message(inflater)

    def frame_inbound_payload_data(self, proto: FrameProtocol, data: bytes) -> bytes | CloseReason:
        """Inflate a piece of a frame's payload in one piece, or fail with 1007.

        The connection itself inflates in bounded steps; this joins them, so
        its result is as large as the decompressed data.
        """
        try:
            return b"".join(self._inbound_data(proto, data))
        except ProtocolFailure as failure:
            return CloseReason(failure.code)

    def frame_inbound_complete(self, proto: FrameProtocol, fin: bool) -> bytes | CloseReason | None:
        """At the end of a compressed message, return the rest of its data (or fail with 1007)."""
        if not fin or not self._inflating:
            if fin:
                self._inflating = False
            return None
        try:
            return b"".join(self._inbound_complete(proto, fin))
        except ProtocolFailure as failure:
            return CloseReason(failure.code)

    # -- outbound ---------------------------------------------------------

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        """Compress an outgoing data frame (RFC 7692 §7.2.1).

        A message is one deflate stream: every frame is flushed so a receiver
        can inflate it as it arrives, and the final frame drops the
        ``00 00 ff ff`` tail. RSV1 marks the first frame only (§6).
        """
        if opcode:  # TEXT or BINARY: a new message
            # _compress is false until negotiation enables the extension.
            if opcode & 0x08 or not self._compress:
                return (rsv, data)
            self._deflating = True
            rsv = _RSV1 if not (rsv[1] or rsv[2]) else RsvBits(True, rsv[1], rsv[2])
        elif not self._deflating:
            return (rsv, data)
        if fin:
            self._deflating = False
            out = self._deflate_message(data)
            assert out is not None  # _deflating implies _compress
            return (rsv, out)
        deflater = self._deflater or self._take_deflater()
        if not data:
            return (rsv, b"")
        return (rsv, deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH))

    def _deflate_message(self, data: bytes) -> bytes | None:
        """Compress a whole message, or the last piece of one :meth:`frame_outbound` began.

        The connection calls it directly for a message sent as one frame.

        Returns:
            The frame's payload, to be sent with RSV1 set, or ``None`` when
            this end sends uncompressed (an 8-bit window, or not negotiated).
        """
        if not self._compress:
            return None
        deflater = self._deflater or self._take_deflater()
        out = deflater.compress(data) + deflater.flush(self._end_flush)
        if self._release_deflater:
            # Without our context takeover nothing outlives the message, so an
            # idle connection holds no compressor (~256 KiB at 15 bits).
            self._deflater = None
            pool = _IDLE_DEFLATERS.setdefault(self._deflate_bits, [])
            if len(pool) < IDLE_DEFLATERS_PER_WINDOW:
                pool.append(deflater)
        # A flush always ends with an empty stored block; an empty message
        # compresses to its lone header byte, 0x00 (§7.2.3.6).
        return out[:-4] if out.endswith(_TAIL) else out or b"\x00"

    def _take_deflater(self) -> zlib._Compress:
        deflater = None
        if self._release_deflater:
            try:  # one step, so threads sharing the pool never take the same one
                deflater = _IDLE_DEFLATERS[self._deflate_bits].pop()
            except (KeyError, IndexError):
                pass
        if deflater is None:
            deflater = zlib.compressobj(
                zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self._deflate_bits
            )
        self._deflater = deflater
        return deflater

    def __repr__(self) -> str:
        params = [
            f"client_max_window_bits={self.client_max_window_bits}",
            f"server_max_window_bits={self.server_max_window_bits}",
        ]
        if self.client_no_context_takeover:
            params.append("client_no_context_takeover")
        if self.server_no_context_takeover:
            params.append("server_no_context_takeover")
        state = "enabled" if self._enabled else "not negotiated"
        return f"<PerMessageDeflate {state}: {'; '.join(params)}>"


#: How many idle compressors are kept, per window size, for connections that
#: compress without context takeover. A full flush (Z_FULL_FLUSH) ends each of
#: their messages and clears the compressor's history, so any such connection
#: can use any of them; holding them here rather than on each connection saves
#: ~256 KiB per idle connection (at 15 bits). Making a new one instead costs
#: ~50 µs (its fresh pages fault in, measured), more than compressing a small
#: message. A few cover a thread or two compressing at once.
IDLE_DEFLATERS_PER_WINDOW = 4
_IDLE_DEFLATERS: dict[int, list[zlib._Compress]] = {}

_NO_RSV = RsvBits(False, False, False)
_RSV1 = RsvBits(True, False, False)
# The end of the empty stored block a sync flush emits (RFC 7692 §7.2.1).
_TAIL = b"\x00\x00\xff\xff"
# What may follow a final deflate block: the stored block header §7.2.3.4
# shows, or nothing from senders that skip it; either way, then our tail.
_AFTER_FINAL_BLOCK = (b"\x00" + _TAIL, _TAIL)


def _checked_window_bits(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"window bits must be an int, not {type(value).__name__}")
    if not MIN_WINDOW_BITS <= value <= DEFAULT_WINDOW_BITS:
        raise ValueError(f"window bits must be from 8 to 15 inclusive, not {value}")
    return value


def _slices(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(data), INFLATE_INPUT_SIZE):
        yield view[start : start + INFLATE_INPUT_SIZE]


#: Maps every supported extension name to its class.
SUPPORTED_EXTENSIONS: dict[str, type[Extension]] = {PerMessageDeflate.name: PerMessageDeflate}


def _invalid_compressed_data(exc: zlib.error) -> ProtocolFailure:
    """The failure (1007) for a payload zlib cannot inflate."""
    return ProtocolFailure(
        CloseReason.INVALID_FRAME_PAYLOAD_DATA, f"invalid compressed data: {exc}"
    )
