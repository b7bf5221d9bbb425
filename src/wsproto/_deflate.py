"""permessage-deflate negotiation (RFC 7692 §7.1): parameter parsing and agreement.

Pure functions over strings: :func:`parse_params` turns one element of a
``Sec-WebSocket-Extensions`` header into a parameter map, :func:`build_offer`,
:func:`agree_as_server` and :func:`agree_as_client` implement the client's
offer, the server's answer and the client's check of that answer. The
compression engine itself lives in :class:`wsproto.extensions.PerMessageDeflate`,
whose per-frame hooks the connection calls directly, and whose whole-message
methods it calls for a message sent or received as one frame.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "DEFAULT_WINDOW_BITS",
    "INFLATE_CHUNK_SIZE",
    "INFLATE_INPUT_SIZE",
    "MIN_WINDOW_BITS",
    "Agreement",
    "NegotiationError",
    "Settings",
    "agree_as_client",
    "agree_as_server",
    "build_offer",
    "parse_params",
]

EXTENSION_NAME = "permessage-deflate"

#: RFC 7692 §7.1.2: without a window parameter, a peer may use a 32 KiB window.
DEFAULT_WINDOW_BITS = 15
#: RFC 7692 §7.1.2.1: window sizes are 2**8 to 2**15 bytes.
MIN_WINDOW_BITS = 8
# zlib cannot deflate with a 256-byte window: asked for 8 bits it quietly
# uses 9, and a peer that inflates with the 8 it agreed to then fails
# ("invalid distance too far back"). So this end never agrees to compress
# with 8 (the offer is declined, the response fails); inflating with 8 is
# fine. wsproto 1.x refuses 8 as well.
_UNDEFLATABLE_BITS = 8

#: The most decompressed data one step of inflation produces. Deflate expands
#: up to ~1032:1, so a 64 KiB frame can carry 64 MiB; inflating it in one call
#: would allocate all of it at once. Each piece becomes a partial message event
#: (and is counted against ``max_message_size``) before the next is made, so
#: memory stays bounded whatever the ratio. 64 KiB keeps the per-call overhead
#: (about a microsecond) negligible next to the work of producing the output,
#: and matches a typical socket read.
INFLATE_CHUNK_SIZE = 64 * 1024
#: The most compressed input handed to zlib per call. When the output bound
#: stops zlib early, the rest of the input is copied into ``unconsumed_tail``;
#: feeding large frames in slices keeps those copies small, so a bomb packed
#: into one big frame costs linear time rather than quadratic.
INFLATE_INPUT_SIZE = 16 * 1024

_SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
_CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
_SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
_CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"

# RFC 7692 §7.1.2.1: "a decimal integer value without leading zeroes between
# 8 to 15, inclusive". A lookup table rejects "08", "+9", " 9" and non-ASCII
# digits, all of which int() would accept.
_WINDOW_VALUES = {str(bits): bits for bits in range(MIN_WINDOW_BITS, DEFAULT_WINDOW_BITS + 1)}

# RFC 6455 §9.1: extension-param = token [ "=" (token | quoted-string) ], and
# a quoted value must be a token once unescaped. RFC 7230 §3.2.3 allows
# optional whitespace around the separators.
_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN_RE = re.compile(f"{_TCHAR}+")
_PARAM_RE = re.compile(
    rf"""[ \t]*
    (?P<name>{_TCHAR}+)
    (?:[ \t]*=[ \t]*
        (?:(?P<token>{_TCHAR}+)
        |"(?P<quoted>(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"
        )
    )?
    [ \t]*""",
    re.VERBOSE,
)
_QUOTED_PAIR_RE = re.compile(r"\\(.)")


class NegotiationError(ValueError):
    """An offer or response that cannot be agreed to; the message says why."""


class Settings(NamedTuple):
    """What one endpoint wants; ``None`` window bits mean "no preference"."""

    client_no_context_takeover: bool
    client_max_window_bits: int | None
    server_no_context_takeover: bool
    server_max_window_bits: int | None


class Agreement(NamedTuple):
    """The parameters in force on a connection once negotiation succeeded."""

    client_no_context_takeover: bool
    client_max_window_bits: int
    server_no_context_takeover: bool
    server_max_window_bits: int


def parse_params(element: str) -> dict[str, str | None]:
    """Parse one extension element (with or without its leading name).

    Args:
        element: For example ``"permessage-deflate; client_max_window_bits"``,
            or just the parameters, ``"client_max_window_bits"``.

    Returns:
        Lower-cased parameter names mapped to their unquoted values (``None``
        for a parameter without a value).

    Raises:
        NegotiationError: on a syntax error or a repeated parameter
            (RFC 7692 §7: such an offer must be declined, such a response
            fails the connection).
    """
    parts = element.split(";")
    if parts[0].strip(" \t").lower() == EXTENSION_NAME:
        del parts[0]
    elif len(parts) == 1 and not parts[0].strip(" \t"):
        return {}
    params: dict[str, str | None] = {}
    for part in parts:
        # A ";" inside a quoted value splits it here, which then fails to
        # parse: correct, since ";" cannot appear in the unquoted token.
        match = _PARAM_RE.fullmatch(part)
        if match is None:
            raise NegotiationError(f"malformed extension parameter {part.strip()!r}")
        name = match["name"].lower()
        if name in params:
            raise NegotiationError(f"parameter {name} appears more than once")
        value = match["token"]
        if value is None and match["quoted"] is not None:
            value = _QUOTED_PAIR_RE.sub(r"\1", match["quoted"])
            if not _TOKEN_RE.fullmatch(value):
                raise NegotiationError(f"quoted value of {name} is not a token")
        params[name] = value
    return params


def _flag(params: dict[str, str | None], name: str) -> bool:
    if name not in params:
        return False
    if params[name] is not None:
        raise NegotiationError(f"{name} takes no value")
    return True


def _window(value: str | None, name: str) -> int:
    bits = _WINDOW_VALUES.get(value) if value is not None else None
    if bits is None:
        raise NegotiationError(f"{name} must be an integer from 8 to 15, not {value!r}")
    return bits


def _check_known(params: dict[str, str | None]) -> None:
    for name in params:
        if name not in (
            _SERVER_NO_CONTEXT_TAKEOVER,
            _CLIENT_NO_CONTEXT_TAKEOVER,
            _SERVER_MAX_WINDOW_BITS,
            _CLIENT_MAX_WINDOW_BITS,
        ):
            raise NegotiationError(f"unknown parameter {name}")


def build_offer(settings: Settings) -> str:
    """The client's offer (RFC 7692 §7.1), parameters only, as wsproto 1.x words it.

    Both window sizes are always present, 15 unless configured:
    ``client_max_window_bits`` tells the server that we honour a window limit
    in its response (§7.1.2.2); ``server_max_window_bits=15`` limits nothing,
    so a response may leave it out (see :func:`agree_as_client`).
    """
    client_bits = settings.client_max_window_bits or DEFAULT_WINDOW_BITS
    server_bits = settings.server_max_window_bits or DEFAULT_WINDOW_BITS
    parts = [
        f"{_CLIENT_MAX_WINDOW_BITS}={client_bits}",
        f"{_SERVER_MAX_WINDOW_BITS}={server_bits}",
    ]
    if settings.client_no_context_takeover:
        parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
    if settings.server_no_context_takeover:
        parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
    return "; ".join(parts)


def agree_as_server(offer: dict[str, str | None], settings: Settings) -> tuple[Agreement, str]:
    """Answer a client's offer (RFC 7692 §7.1).

    Args:
        offer: The offer's parameters, from :func:`parse_params`.
        settings: The server's own wishes.

    Returns:
        The agreement and the response's parameter string (may be empty).

    Raises:
        NegotiationError: if the offer must be declined (an unknown parameter,
            a value where none belongs, a missing or invalid window size), or
            would have the server compress with an 8-bit window.
    """
    _check_known(offer)
    client_nct = _flag(offer, _CLIENT_NO_CONTEXT_TAKEOVER)
    server_nct = _flag(offer, _SERVER_NO_CONTEXT_TAKEOVER)
    response = []

    # §7.1.1.1: the server may drop context takeover even when not asked to;
    # when asked, accepting the offer means including the parameter.
    server_nct = server_nct or settings.server_no_context_takeover
    if server_nct:
        response.append(_SERVER_NO_CONTEXT_TAKEOVER)
    # §7.1.1.2: offered by the client, it is only a hint; echoing it makes it
    # binding, so our decompressor may forget each message's context.
    client_nct = client_nct or settings.client_no_context_takeover
    if client_nct:
        response.append(_CLIENT_NO_CONTEXT_TAKEOVER)

    # §7.1.2.1: an offered server window is a limit we must respect and echo.
    server_bits = settings.server_max_window_bits
    if _SERVER_MAX_WINDOW_BITS in offer:
        limit = _window(offer[_SERVER_MAX_WINDOW_BITS], _SERVER_MAX_WINDOW_BITS)
        server_bits = limit if server_bits is None else min(server_bits, limit)
    if server_bits == _UNDEFLATABLE_BITS:
        raise NegotiationError("zlib cannot compress with an 8-bit window")
    if server_bits is not None:
        response.append(f"{_SERVER_MAX_WINDOW_BITS}={server_bits}")
    else:
        server_bits = DEFAULT_WINDOW_BITS

    # §7.1.2.2: we may limit the client's window only if it said it supports
    # the parameter; a value in the offer is the client's own limit, so the
    # smaller of the two lets our decompressor allocate no more than needed.
    client_bits = DEFAULT_WINDOW_BITS
    if _CLIENT_MAX_WINDOW_BITS in offer:
        value = offer[_CLIENT_MAX_WINDOW_BITS]
        wanted = settings.client_max_window_bits
        if value is not None:
            hint = _window(value, _CLIENT_MAX_WINDOW_BITS)
            wanted = hint if wanted is None else min(wanted, hint)
        # Answered even when it limits nothing (15), as wsproto 1.x answers.
        client_bits = DEFAULT_WINDOW_BITS if wanted is None else wanted
        response.append(f"{_CLIENT_MAX_WINDOW_BITS}={client_bits}")
    # Otherwise a client limit we wanted cannot be imposed; accepting with the
    # full window beats declining and losing compression with clients (such as
    # Firefox) that never offer the parameter.

    agreement = Agreement(client_nct, client_bits, server_nct, server_bits)
    return agreement, "; ".join(response)


def agree_as_client(response: dict[str, str | None], settings: Settings) -> Agreement:
    """Check the server's response against the offer ``settings`` produced.

    Args:
        response: The response's parameters, from :func:`parse_params`.
        settings: The client's wishes, as :func:`build_offer` offered them.

    Returns:
        The agreement.

    Raises:
        NegotiationError: if the response is not a valid answer to our offer
            (RFC 7692 §7.1 says the client must then fail the connection), or
            would have the client compress with an 8-bit window.
    """
    _check_known(response)
    server_nct = _flag(response, _SERVER_NO_CONTEXT_TAKEOVER)
    client_nct = _flag(response, _CLIENT_NO_CONTEXT_TAKEOVER)

    if settings.server_no_context_takeover and not server_nct:
        # §7.1.1.1: a server accepts this offer only by echoing the parameter.
        raise NegotiationError(f"response lacks the {_SERVER_NO_CONTEXT_TAKEOVER} we offered")

    if _SERVER_MAX_WINDOW_BITS in response:
        server_bits = _window(response[_SERVER_MAX_WINDOW_BITS], _SERVER_MAX_WINDOW_BITS)
        offered = settings.server_max_window_bits
        if offered is not None and server_bits > offered:
            raise NegotiationError(
                f"{_SERVER_MAX_WINDOW_BITS}={server_bits} exceeds the {offered} we offered"
            )
    elif settings.server_max_window_bits not in (None, DEFAULT_WINDOW_BITS):
        # §7.1.2.1: the server accepts a window limit only by echoing it (15,
        # which every offer carries, limits nothing: leaving it out is fine).
        raise NegotiationError(f"response lacks the {_SERVER_MAX_WINDOW_BITS} we offered")
    else:
        server_bits = DEFAULT_WINDOW_BITS

    # We always offer client_max_window_bits, so the server may lower it; in a
    # response it must carry a value (§7.1.2.2). Our own limit still applies.
    client_bits = settings.client_max_window_bits or DEFAULT_WINDOW_BITS
    if _CLIENT_MAX_WINDOW_BITS in response:
        client_bits = min(
            client_bits, _window(response[_CLIENT_MAX_WINDOW_BITS], _CLIENT_MAX_WINDOW_BITS)
        )
    if client_bits == _UNDEFLATABLE_BITS:
        raise NegotiationError("client_max_window_bits=8: zlib cannot compress with 8 bits")

    return Agreement(
        client_nct or settings.client_no_context_takeover, client_bits, server_nct, server_bits
    )
