"""Extension negotiation (RFC 6455 §9.1): offers, answers, and applying them.

Used by :class:`~wsproto.handshake.H11Handshake`, and public through
``wsproto.handshake`` (:func:`server_extensions_handshake`,
:func:`client_extensions_handshake`) for callers that run the HTTP part of
the handshake themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from .extensions import Extension
from .utilities import LocalProtocolError, RemoteProtocolError

__all__ = [
    "client_extensions_handshake",
    "client_offers",
    "negotiate_extensions",
    "server_extensions_handshake",
]


def _element(name: str, params: bool | str) -> str:
    """One ``Sec-WebSocket-Extensions`` element from an extension's offer or answer."""
    if not isinstance(params, str) or not params:
        return name
    # Extensions return only the parameters, but tolerate a whole element.
    if params.partition(";")[0].strip() == name:
        return params
    return f"{name}; {params}"


def client_offers(
    extensions: Sequence[Extension] | Sequence[str],
) -> tuple[bytes, list[Extension]]:
    """The request's ``Sec-WebSocket-Extensions`` value, and the extensions it offers."""
    elements: list[str] = []
    offered: list[Extension] = []
    for extension in extensions:
        if not isinstance(extension, Extension):
            raise LocalProtocolError(
                "Request.extensions must hold Extension objects when sending, "
                f"not {type(extension).__name__}"
            )
        offer = extension.offer()
        if offer is True or isinstance(offer, str):
            elements.append(_element(extension.name, offer))
            offered.append(extension)
    return ", ".join(elements).encode("ascii"), offered


def _elements(values: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(name, element)`` for each element of some ``Sec-WebSocket-Extensions`` values."""
    for value in values:
        for element in value.split(","):
            element = element.strip()
            if element:
                yield element.partition(";")[0].strip(), element


def server_extensions_handshake(
    requested: Iterable[str], supported: Sequence[Extension]
) -> bytes | None:
    """Negotiate extensions on the server: answer the client's offers.

    Each supported extension accepts at most one offer: the first of its name
    whose :meth:`~wsproto.extensions.Extension.accept` (given the whole offer
    element, name included) returns ``True`` or parameters. Pass the same
    extension objects to :class:`~wsproto.connection.Connection`; those that
    accepted nothing stay disabled and cost nothing.

    Args:
        requested: The client's ``Sec-WebSocket-Extensions`` values (whole
            header values or single offers).
        supported: The extensions this server supports, one object each.

    Returns:
        The ``Sec-WebSocket-Extensions`` response value to send, or ``None``
        if no extension was accepted (send no such header).
    """
    return negotiate_extensions(requested, supported)[0]


def negotiate_extensions(
    requested: Iterable[str], supported: Sequence[Extension]
) -> tuple[bytes | None, list[Extension]]:
    """Like :func:`server_extensions_handshake`; also return the accepted extensions.

    The accepted extensions come in the client's order.
    """
    accepted: list[Extension] = []
    answers: list[str] = []
    for name, offer in _elements(requested):
        if any(extension.name == name for extension in accepted):
            continue  # The client's later offers of a name are fallbacks.
        for extension in supported:
            if extension.name != name:
                continue
            answer = extension.accept(offer)
            if answer is True or isinstance(answer, str):
                accepted.append(extension)
                answers.append(_element(name, answer))
                break
    header = ", ".join(answers).encode("ascii") if answers else None
    return header, accepted


def client_extensions_handshake(
    accepted: Iterable[str], supported: Sequence[Extension]
) -> list[Extension]:
    """Apply the server's extension answer on the client.

    Calls :meth:`~wsproto.extensions.Extension.finalize` on the offered
    extension of each accepted name (with the whole response element).

    Args:
        accepted: The server's ``Sec-WebSocket-Extensions`` values.
        supported: The extensions the client offered.

    Returns:
        The negotiated extensions, in the server's order: pass them to
        :class:`~wsproto.connection.Connection`.

    Raises:
        RemoteProtocolError: if the server accepted an extension the client
            did not offer, or the same one twice (RFC 6455 §9.1). Fail the
            connection.
    """
    chosen: list[Extension] = []
    for name, element in _elements(accepted):
        if any(extension.name == name for extension in chosen):
            raise RemoteProtocolError(f"the server accepted extension {name!r} twice")
        for extension in supported:
            if extension.name == name:
                extension.finalize(element)
                chosen.append(extension)
                break
        else:
            raise RemoteProtocolError(
                f"the server accepted extension {name!r}, which was not offered (RFC 6455 §9.1)"
            )
    return chosen
