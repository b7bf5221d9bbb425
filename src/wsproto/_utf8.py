"""Incremental UTF-8 validation for text messages split across frames and reads."""

from __future__ import annotations

import codecs

from ._errors import ProtocolFailure
from .frame_protocol import CloseReason

_Decoder = codecs.getincrementaldecoder("utf-8")


class TextDecoder:
    """Decodes one text message piece by piece; fails as soon as a bad byte arrives.

    CPython's incremental decoder already rejects every invalid byte on arrival
    except one case: ``ED A0..BF`` (the start of a UTF-16 surrogate) waits for
    a third byte. Checking the held-back bytes closes that gap, so a message
    fails at the byte that makes it invalid (Autobahn 6.4.x "fail fast").
    """

    __slots__ = ("_decode", "_getstate", "_reset")

    def __init__(self) -> None:
        decoder = _Decoder()
        self._decode = decoder.decode
        self._getstate = decoder.getstate
        self._reset = decoder.reset

    def decode(self, data: bytes, final: bool) -> str:
        """Decode the next piece; ``final`` on the message's last piece."""
        try:
            text: str = self._decode(data, final)
        except UnicodeDecodeError:
            self._reset()
            raise ProtocolFailure(
                CloseReason.INVALID_FRAME_PAYLOAD_DATA, "text message is not valid UTF-8"
            ) from None
        if not final:
            held = self._getstate()[0]
            if len(held) >= 2 and held[0] == 0xED and held[1] >= 0xA0:
                self._reset()
                raise ProtocolFailure(
                    CloseReason.INVALID_FRAME_PAYLOAD_DATA,
                    "text message is not valid UTF-8 (surrogate code point)",
                )
        return text

    def reset(self) -> None:
        """Forget any partial character (a new message starts)."""
        self._reset()
