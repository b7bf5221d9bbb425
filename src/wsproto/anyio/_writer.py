"""Writing: a connection's frames go out whole and in the order they were made.

Everything a connection writes (messages, pings and pongs, close frames, the
handshake) is serialized by the engine and written under one lock,
``_send_lock``, taken per write, so the order of the bytes on the wire is the
order the engine made them in. A message being sent also holds
``_message_lock`` throughout, so pings can still go out between the frames of
a long fragmented one.

A write cancelled part way may have left part of a frame on the wire, after
which nothing else may be written: the connection is then torn down (1006),
on every transport alike. (Our asyncio transport takes all the bytes of a
write or none, so it could go on; it does not, so that a cancelled send does
the same everywhere.)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from contextlib import aclosing
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ByteStream

from wsproto.events import BytesMessage, CloseConnection, Event, TextMessage

from ._engine import Engine
from ._errors import ConnectionClosed
from ._fastpath import FastStream
from ._sync import Mutex

__all__ = ["ABORTED", "SPLIT_SIZE", "Writing"]

#: Messages this large go out as a frame header and the payload as it is,
#: written one after the other, instead of one buffer that copies both.
SPLIT_SIZE = 65536

#: What a transport raises once it is gone.
ABORTED = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)


class Writing:
    """The writing half of a connection (a part of :class:`WebSocketConnection`)."""

    __slots__ = ()

    _engine: Engine
    _stream: ByteStream
    _fast: FastStream | None
    _send_lock: Mutex
    _message_lock: Mutex

    if TYPE_CHECKING:  # in _closing.py

        async def _teardown(self, *, abort: bool = False) -> None: ...

        async def _fail_connection(self, code: int, reason: str) -> None: ...

    async def _send_message(self, event: TextMessage | BytesMessage) -> None:
        """Send one whole message (the caller checked that the connection is open)."""
        lock = self._message_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            await self._send(event, split=len(event.data) >= SPLIT_SIZE)
        finally:
            lock.release()

    async def _send(self, event: Event, *, split: bool = False) -> None:
        """Serialize ``event`` and write it; raise ConnectionClosed if it may not go out.

        ``split`` (a large message): where the transport can write pieces,
        the frame's payload goes out as it is, not copied behind its header.
        """
        lock = self._send_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            data = self._engine.serialize(event, split=split and self._fast is not None)
            await self._write_locked(data)
        finally:
            lock.release()

    async def _send_close(self, event: CloseConnection) -> None:
        """Write a close frame, unless one went out already."""
        lock = self._send_lock
        await lock.acquire()
        try:
            data = self._engine.close_frame(event)
            if data is not None:
                await self._write_locked(data)
        finally:
            lock.release()

    async def _write(self, data: bytes) -> None:
        lock = self._send_lock
        await lock.acquire()
        try:
            await self._write_locked(data)
        finally:
            lock.release()

    async def _write_locked(self, data: bytes | list[bytes]) -> None:
        try:
            if isinstance(data, list):
                assert self._fast is not None
                await self._fast.send_parts(data)
            else:
                await self._stream.send(data)
        except ABORTED:
            await self._teardown()
            raise ConnectionClosed(self._engine.close_reason) from None
        except BaseException:
            # Cancelled mid-write (see the module's docstring).
            with anyio.CancelScope(shield=True):
                await self._teardown(abort=True)
            raise

    def _write_now(self, out: list[bytes]) -> bool:
        """Write ``out`` without waiting, if nobody else is writing; whether it did.

        Only in a :class:`FastStream`'s data callback.
        """
        lock = self._send_lock
        if not lock.try_acquire():
            return False
        try:
            assert self._fast is not None
            self._fast.send_nowait(b"".join(out))
        finally:
            lock.release()
        out.clear()
        return True

    async def _send_fragments(
        self, pieces: Iterable[str | bytes] | AsyncIterable[str | bytes]
    ) -> None:
        """Send one message, a frame per piece (see WebSocketConnection.send_message)."""
        lock = self._message_lock
        await lock.acquire()
        started = False  # the engine has framed part of the message, not yet all of it
        try:
            kind: type | None = None
            pending: str | bytes | None = None
            async with aclosing(_aiter(pieces)) as iterator:
                async for piece in iterator:
                    if not isinstance(piece, str | bytes | bytearray | memoryview):
                        raise TypeError(
                            f"message pieces must be str or bytes, not {type(piece).__name__}"
                        )
                    piece = piece if isinstance(piece, str) else bytes(piece)
                    if kind is None:
                        kind = type(piece)
                    elif type(piece) is not kind:
                        raise TypeError("a message's pieces must be all str or all bytes")
                    if pending is not None:
                        started = True
                        await self._send(_message_event(pending, False))
                    pending = piece
            if pending is None:
                return  # nothing to send: no message
            await self._send(_message_event(pending, True))
            started = False
        except BaseException:
            if started:
                # The message is cut short: whatever we sent next would be
                # taken for its continuation. Fail the connection, as websockets does.
                await self._fail_connection(1011, "a fragmented message was left unfinished")
            raise
        finally:
            lock.release()


def _message_event(data: str | bytes, last: bool) -> TextMessage | BytesMessage:
    if isinstance(data, str):
        return TextMessage(data, message_finished=last)
    return BytesMessage(data, message_finished=last)


async def _aiter(
    pieces: Iterable[str | bytes] | AsyncIterable[str | bytes],
) -> AsyncGenerator[str | bytes, None]:
    if isinstance(pieces, AsyncIterable):
        async for piece in pieces:
            yield piece
    else:
        for piece in pieces:
            yield piece
