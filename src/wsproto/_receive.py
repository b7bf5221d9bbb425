"""The receive path: bytes from the peer in, events out (RFC 6455 §5, §6.2).

One generator parses frames straight out of the receive buffer. A complete
single-frame message with no extension in play, or with only our own
permessage-deflate (the overwhelmingly common cases), is handled inline, a
compressed one inflated in one bounded step; everything else (fragmented
messages, frames that arrive in pieces, other extensions) goes through
:meth:`_data_events`.

Data frames are never waited for in full: whatever part of a frame's payload
has arrived is handed on as a partial message event, so the buffer holds at
most one frame header or one control frame (≤ 139 bytes) between reads, and
memory does not grow with message size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ._close import parse_close_payload
from ._deflate import INFLATE_INPUT_SIZE
from ._errors import ProtocolFailure
from ._mask import mask
from ._utf8 import TextDecoder
from .events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from .extensions import Extension, PerMessageDeflate
from .frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits

_PROTOCOL_ERROR = CloseReason.PROTOCOL_ERROR
_TOO_BIG = CloseReason.MESSAGE_TOO_BIG

# Looked up rather than built per frame: Opcode(n) and RsvBits(...) cost
# about 0.5 µs together, on every frame that passes through an extension.
_RSV_BITS = [RsvBits(bool(n & 4), bool(n & 2), bool(n & 1)) for n in range(8)]
_DATA_OPCODES = {op.value: op for op in (Opcode.CONTINUATION, Opcode.TEXT, Opcode.BINARY)}

# Message kinds, by the opcode that started the message.
_NO_MESSAGE = 0
_TEXT = 1
_BINARY = 2


class Receiver:
    """Parses one direction of a connection's frames into events."""

    __slots__ = (
        "_buf",
        "_client",
        "_done",
        "_eofs",
        "_exts",
        "_fin",
        "_key",
        "_max_frame",
        "_max_message",
        "_msg",
        "_msg_size",
        "_on_close",
        "_pmd",
        "_pos",
        "_proto",
        "_remaining",
        "_text",
    )

    def __init__(
        self,
        client: bool,
        extensions: list[Extension],
        max_frame_size: int | None,
        max_message_size: int | None,
        on_close: Callable[[], None],
    ) -> None:
        self._client = client
        self._exts = extensions
        # Our own permessage-deflate, alone, gets a fast path for whole
        # single-frame messages; a subclass or any other extension keeps the
        # frame hooks.
        pmd = extensions[0] if len(extensions) == 1 else None
        self._pmd = pmd if type(pmd) is PerMessageDeflate and pmd.enabled() else None
        self._proto = FrameProtocol(client, list(extensions))
        self._max_frame = max_frame_size
        self._max_message = max_message_size
        self._on_close = on_close
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._done = False  # a close frame arrived or the peer failed: no more frames
        self._eofs = 0  # transport closures reported and not yet turned into events
        # The data frame whose payload is still arriving.
        self._remaining = 0
        self._key = b""  # its masking key, rotated to line up with the next byte
        self._fin = False
        # The message in progress.
        self._msg = _NO_MESSAGE
        self._msg_size = 0
        self._text = TextDecoder()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if self._done or not data:
            return
        buf = self._buf
        if self._pos >= len(buf):
            self._buf = data if type(data) is bytes else bytes(data)
        else:
            # Unparsed bytes remain (a partial header, a partial control frame,
            # or events not yet pulled): accumulate without quadratic copying.
            if type(buf) is not bytearray:
                buf = bytearray(memoryview(buf)[self._pos :])
            elif self._pos:
                del buf[: self._pos]
            buf += data
            self._buf = buf
        self._pos = 0

    def feed_eof(self) -> None:
        """Note that the transport closed; ``events()`` ends with a 1006 close.

        Each call adds one, as in wsproto 1.x, even after a close frame.
        """
        self._eofs += 1

    def _eof_events(self) -> Iterator[Event]:
        # §7.1.5: the transport closed without a close frame (or after one).
        while self._eofs:
            self._eofs -= 1
            yield CloseConnection(CloseReason.ABNORMAL_CLOSURE, None)

    def events(self) -> Iterator[Event]:
        """Yield the events of every complete unit in the buffer."""
        if self._done:
            if self._eofs:
                yield from self._eof_events()
            return
        buf = self._buf
        if type(buf) is not bytes:
            buf = self._buf = bytes(buf)
        pos = self._pos
        end = len(buf)
        exts = self._exts
        pmd = self._pmd
        client = self._client
        try:
            while True:
                remaining = self._remaining
                if remaining:
                    # The rest of a data frame whose header we already read.
                    take = end - pos
                    if not take:
                        break
                    if take > remaining:
                        take = remaining
                    piece = buf[pos : pos + take]
                    key = self._key
                    if key:
                        piece = mask(piece, key)
                        shift = take & 3
                        if shift:
                            self._key = key[shift:] + key[:shift]
                    self._remaining = remaining = remaining - take
                    self._pos = pos = pos + take
                    for event in self._data_events(piece, not remaining):
                        yield event
                        if self._buf is not buf:
                            buf, pos, end = self._reload()
                    continue

                if end - pos < 2:
                    break
                b0 = buf[pos]
                b1 = buf[pos + 1]
                opcode = b0 & 0x0F
                length = b1 & 0x7F
                if length < 126:
                    start = pos + 2
                elif length == 126:
                    start = pos + 4
                    if start > end:
                        _check_first_bytes(b0, b1)
                        break
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                else:
                    start = pos + 10
                    if start > end:
                        _check_first_bytes(b0, b1)
                        break
                    length = int.from_bytes(buf[pos + 2 : start], "big")
                    if length >> 63:
                        raise ProtocolFailure(_PROTOCOL_ERROR, "frame length has its top bit set")
                if b1 & 0x80:
                    if client:
                        raise ProtocolFailure(_PROTOCOL_ERROR, "server frames must not be masked")
                    start += 4
                    if start > end:
                        _check_first_bytes(b0, b1)
                        break
                    key = buf[start - 4 : start]
                else:
                    if not client:
                        raise ProtocolFailure(_PROTOCOL_ERROR, "client frames must be masked")
                    key = b""
                stop = start + length

                if opcode & 0x08:
                    # Control frame (§5.5): whole, short, never fragmented.
                    if opcode > 0x0A:
                        raise ProtocolFailure(_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
                    if not b0 & 0x80:
                        raise ProtocolFailure(_PROTOCOL_ERROR, "fragmented control frame")
                    if length > 125:
                        raise ProtocolFailure(
                            _PROTOCOL_ERROR, "control frame payload over 125 bytes"
                        )
                    if b0 & 0x70:
                        raise ProtocolFailure(_PROTOCOL_ERROR, "RSV bits set on a control frame")
                    if stop > end:
                        break
                    payload = buf[start:stop]
                    if key:
                        payload = mask(payload, key)
                    self._pos = pos = stop
                    if opcode == 0x09:
                        yield Ping(payload)
                    elif opcode == 0x0A:
                        yield Pong(payload)
                    else:
                        code, reason = parse_close_payload(payload)
                        self._close()
                        self._on_close()
                        yield CloseConnection(code, reason)
                        if self._eofs:
                            yield from self._eof_events()
                        return
                    if self._buf is not buf:
                        buf, pos, end = self._reload()
                    continue

                # Data frame (§5.6, fragmentation §5.4).
                if opcode == 0:
                    if not self._msg:
                        raise ProtocolFailure(
                            _PROTOCOL_ERROR, "continuation frame without a message"
                        )
                elif opcode <= 2:
                    if self._msg:
                        raise ProtocolFailure(
                            _PROTOCOL_ERROR, "new data frame before the previous message finished"
                        )
                    rsv = b0 & 0x70
                    if (
                        b0 & 0x80
                        and stop <= end
                        and (
                            (not rsv and (not exts or pmd is not None))
                            or (rsv == 0x40 and pmd is not None and length <= INFLATE_INPUT_SIZE)
                        )
                    ):
                        # Fast path: a whole single-frame message, uncompressed
                        # or compressed by our permessage-deflate (RFC 7692 §6:
                        # RSV1 marks it), nothing else in the way.
                        if self._max_frame is not None and length > self._max_frame:
                            raise _frame_too_big(length, self._max_frame)
                        payload = buf[start:stop]
                        if key:
                            payload = mask(payload, key)
                        self._pos = pos = stop
                        if rsv:
                            assert pmd is not None
                            payload, more = pmd._inflate_frame(payload)
                            if more:
                                # It inflates to more than one bounded piece.
                                self._msg = opcode
                                self._msg_size = 0
                                self._fin = True
                                pieces = pmd._inflate_rest(payload)
                                for event in self._message_events(pieces, True, True):
                                    yield event
                                    if self._buf is not buf:
                                        buf, pos, end = self._reload()
                                continue
                        limit = self._max_message
                        if limit is not None and len(payload) > limit:
                            raise ProtocolFailure(
                                _TOO_BIG, f"message exceeds the limit of {limit} bytes"
                            )
                        if opcode == 1:
                            try:
                                text = payload.decode("utf-8")
                            except UnicodeDecodeError:
                                raise ProtocolFailure(
                                    CloseReason.INVALID_FRAME_PAYLOAD_DATA,
                                    "text message is not valid UTF-8",
                                ) from None
                            yield TextMessage(text)
                        else:
                            yield BytesMessage(payload)
                        if self._buf is not buf:
                            buf, pos, end = self._reload()
                        continue
                    self._msg = opcode
                    self._msg_size = 0
                else:
                    raise ProtocolFailure(_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")

                rsv = b0 & 0x70
                if exts:
                    rsv &= ~self._claimed_rsv(opcode, rsv, length)
                if rsv:
                    raise ProtocolFailure(
                        _PROTOCOL_ERROR, "RSV bits set without a negotiated extension"
                    )
                if self._max_frame is not None or self._max_message is not None:
                    self._check_sizes(length)
                self._fin = bool(b0 & 0x80)
                if stop <= end:
                    payload = buf[start:stop]
                    if key:
                        payload = mask(payload, key)
                    self._pos = pos = stop
                    frame_done = True
                else:
                    payload = buf[start:end]
                    if key:
                        payload = mask(payload, key)
                        shift = (end - start) & 3
                        key = key[shift:] + key[:shift]
                    self._key = key
                    self._remaining = stop - end
                    self._pos = pos = end
                    frame_done = False
                for event in self._data_events(payload, frame_done):
                    yield event
                    if self._buf is not buf:
                        buf, pos, end = self._reload()
        except ProtocolFailure as failure:
            # The state does not change (as in wsproto 1.x): the peer sent no
            # close frame, and the application answers this one.
            self._close()
            yield CloseConnection(failure.code, failure.reason)
            if self._eofs:
                yield from self._eof_events()
            return
        if self._eofs:
            self._done = True
            yield from self._eof_events()

    def _reload(self) -> tuple[bytes, int, int]:
        # receive_data() was called while events were being pulled.
        buf = self._buf
        if type(buf) is not bytes:
            buf = self._buf = bytes(buf)
        return buf, self._pos, len(buf)

    def _close(self) -> None:
        self._done = True
        self._buf = b""
        self._pos = 0

    def _check_sizes(self, length: int) -> None:
        if self._max_frame is not None and length > self._max_frame:
            raise _frame_too_big(length, self._max_frame)
        # Without an extension, payload bytes are message bytes: fail at the
        # header rather than after the application has buffered its share.
        limit = self._max_message
        if not self._exts and limit is not None and self._msg_size + length > limit:
            raise ProtocolFailure(_TOO_BIG, f"message exceeds the limit of {limit} bytes")

    def _claimed_rsv(self, opcode: int, rsv: int, length: int) -> int:
        bits = _RSV_BITS[rsv >> 4]
        claimed = 0
        for ext in self._exts:
            result = ext.frame_inbound_header(self._proto, _DATA_OPCODES[opcode], bits, length)
            if isinstance(result, int):  # a CloseReason
                raise ProtocolFailure(result, f"extension {ext.name} rejected the frame")
            claimed |= (result.rsv1 << 6) | (result.rsv2 << 5) | (result.rsv3 << 4)
        return claimed

    def _data_events(self, payload: bytes, frame_done: bool) -> Iterator[Event]:
        """Events for one piece of a data frame's payload (the general path)."""
        pieces: Iterator[bytes] = iter((payload,))
        if not self._exts:
            # Payload bytes are message bytes, checked against the limit at
            # the frame header.
            self._msg_size += len(payload)
            return self._message_events(pieces, frame_done, False)
        for ext in self._exts:
            pieces = _through(ext, self._proto, pieces, frame_done, self._fin)
        return self._message_events(pieces, frame_done, True)

    def _message_events(
        self, pieces: Iterator[bytes], frame_done: bool, count: bool
    ) -> Iterator[Event]:
        """Events for a data frame's message data, counted against the limit if ``count``."""
        message_done = frame_done and self._fin
        text = self._msg == _TEXT
        decoder = self._text
        limit = self._max_message if count else None
        previous: str | bytes | None = None
        for piece in pieces:
            if limit is not None:
                self._msg_size += len(piece)
                if self._msg_size > limit:
                    raise ProtocolFailure(_TOO_BIG, f"message exceeds the limit of {limit} bytes")
            data: str | bytes = decoder.decode(piece, False) if text else piece
            if not data:
                continue
            if previous is not None:
                yield _message(previous, False, False)
            previous = data
        if message_done:
            if text:
                decoder.decode(b"", True)  # fails on a truncated final character
            self._msg = _NO_MESSAGE
            self._msg_size = 0
        if frame_done:
            if previous is None:
                previous = "" if text else b""
            yield _message(previous, True, message_done)
        elif previous is not None:
            yield _message(previous, False, False)


def _frame_too_big(length: int, limit: int) -> ProtocolFailure:
    return ProtocolFailure(_TOO_BIG, f"frame of {length} bytes exceeds the limit of {limit}")


def _message(data: str | bytes, frame_finished: bool, message_finished: bool) -> Event:
    if isinstance(data, str):
        return TextMessage(data, frame_finished, message_finished)
    return BytesMessage(data, frame_finished, message_finished)


def _through(
    ext: Extension, proto: FrameProtocol, pieces: Iterator[bytes], frame_done: bool, fin: bool
) -> Iterator[bytes]:
    for piece in pieces:
        yield from ext._inbound_data(proto, piece)
    if frame_done:
        yield from ext._inbound_complete(proto, fin)


def _check_first_bytes(b0: int, b1: int) -> None:
    """Fail on what a frame's first two bytes already break, before the rest arrives.

    Called only while the header is incomplete (off the hot path): a reserved
    opcode, a fragmented or over-long control frame (RFC 6455 §5.2, §5.5) fail
    the connection at once, as in wsproto 1.x, instead of after the length and
    the masking key. The complete-header path checks the same rules.
    """
    opcode = b0 & 0x0F
    if 0x03 <= opcode <= 0x07 or opcode > 0x0A:
        raise ProtocolFailure(_PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
    if opcode & 0x08:
        if not b0 & 0x80:
            raise ProtocolFailure(_PROTOCOL_ERROR, "fragmented control frame")
        if b1 & 0x7F > 125:
            raise ProtocolFailure(_PROTOCOL_ERROR, "control frame payload over 125 bytes")
