"""Every public name that the manual documents or that consumers import exists, documented."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

import wsproto
import wsproto.connection
import wsproto.events
import wsproto.extensions
import wsproto.frame_protocol
import wsproto.handshake
import wsproto.typing
import wsproto.utilities

# The manual's names per module, and (marked) the ones consumers import
# although the manual does not list them.
DOCUMENTED = {
    "wsproto": ["WSConnection", "ConnectionType", "__version__"],
    "wsproto.connection": [
        "Connection",
        "ConnectionState",
        "ConnectionType",
        "CLIENT",  # consumers
        "SERVER",  # consumers
    ],
    "wsproto.events": [
        "Event",
        "Request",
        "AcceptConnection",
        "RejectConnection",
        "RejectData",
        "CloseConnection",
        "Message",
        "TextMessage",
        "BytesMessage",
        "Ping",
        "Pong",
    ],
    "wsproto.frame_protocol": ["Opcode", "CloseReason"],
    "wsproto.extensions": ["Extension", "PerMessageDeflate", "SUPPORTED_EXTENSIONS"],
    "wsproto.handshake": [
        "H11Handshake",
        "server_extensions_handshake",
        "client_extensions_handshake",
        "WEBSOCKET_VERSION",  # consumers
    ],
    "wsproto.utilities": [
        "LocalProtocolError",
        "RemoteProtocolError",
        "generate_nonce",  # consumers
        "generate_accept_token",  # consumers
        "split_comma_header",  # consumers
    ],
    "wsproto.typing": ["Headers"],  # consumers
}

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOCS_API = DOCS / "api.rst"
DOCS_API_LAYER = DOCS / "api-anyio.rst"


def module(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_documented_names_exist(name: str) -> None:
    missing = [attr for attr in DOCUMENTED[name] if not hasattr(module(name), attr)]
    assert not missing


@pytest.mark.parametrize("name", DOCUMENTED)
def test_all_lists_what_exists(name: str) -> None:
    exported = getattr(module(name), "__all__", None)
    if exported is None:
        return  # wsproto.typing has no __all__; its names are checked above
    assert sorted(set(exported)) == sorted(exported)
    assert [attr for attr in exported if not hasattr(module(name), attr)] == []
    assert set(DOCUMENTED[name]) <= set(exported)


def public_objects() -> list[tuple[str, object]]:
    """Every public class and function of the documented modules (their ``__all__``)."""
    found: list[tuple[str, object]] = []
    for name in DOCUMENTED:
        mod = module(name)
        for attr in getattr(mod, "__all__", DOCUMENTED[name]):
            obj = getattr(mod, attr)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith(
                "wsproto"
            ):
                found.append((f"{name}.{attr}", obj))
    return found


@pytest.mark.parametrize(("qualname", "obj"), public_objects(), ids=lambda v: str(v))
def test_public_objects_have_docstrings(qualname: str, obj: object) -> None:
    assert inspect.getdoc(obj), f"{qualname} has no docstring"
    if not inspect.isclass(obj) or issubclass(obj, enum.Enum):
        return
    undocumented = [
        attr
        for attr, value in vars(obj).items()
        if not attr.startswith("_")
        and (inspect.isfunction(value) or isinstance(value, property))
        and not inspect.getdoc(getattr(obj, attr))
    ]
    assert not undocumented, f"{qualname}: {undocumented} have no docstring"


def test_docs_cover_every_documented_module() -> None:
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", DOCS_API.read_text(), re.M))
    assert documented >= set(DOCUMENTED)


def test_version_is_plain_dotted_numbers() -> None:
    # Consumers compare versions with tuple(int(part) for part in ...split(".")).
    parts = [int(part) for part in wsproto.__version__.split(".")]
    assert len(parts) == 3
    assert parts[0] >= 2


def test_connection_type() -> None:
    assert wsproto.ConnectionType is wsproto.connection.ConnectionType
    assert wsproto.connection.ConnectionType.CLIENT == 1
    assert wsproto.connection.ConnectionType.SERVER == 2
    assert wsproto.connection.CLIENT is wsproto.connection.ConnectionType.CLIENT
    assert wsproto.connection.SERVER is wsproto.connection.ConnectionType.SERVER


def test_connection_state_values() -> None:
    values = {member.name: member.value for member in wsproto.connection.ConnectionState}
    assert values == {
        "CONNECTING": 0,
        "OPEN": 1,
        "REMOTE_CLOSING": 2,
        "LOCAL_CLOSING": 3,
        "CLOSED": 4,
        "REJECTING": 5,
    }


def test_opcode_values() -> None:
    values = {member.name: member.value for member in wsproto.frame_protocol.Opcode}
    assert values == {
        "CONTINUATION": 0,
        "TEXT": 1,
        "BINARY": 2,
        "CLOSE": 8,
        "PING": 9,
        "PONG": 10,
    }


def test_close_reason_values() -> None:
    values = {member.name: member.value for member in wsproto.frame_protocol.CloseReason}
    assert values == {
        "NORMAL_CLOSURE": 1000,
        "GOING_AWAY": 1001,
        "PROTOCOL_ERROR": 1002,
        "UNSUPPORTED_DATA": 1003,
        "NO_STATUS_RCVD": 1005,
        "ABNORMAL_CLOSURE": 1006,
        "INVALID_FRAME_PAYLOAD_DATA": 1007,
        "POLICY_VIOLATION": 1008,
        "MESSAGE_TOO_BIG": 1009,
        "MANDATORY_EXT": 1010,
        "INTERNAL_ERROR": 1011,
        "SERVICE_RESTART": 1012,
        "TRY_AGAIN_LATER": 1013,
        "TLS_HANDSHAKE_FAILED": 1015,
    }


MISSING = dataclasses.MISSING


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        (wsproto.events.Request, {"host": MISSING, "target": MISSING, "extensions": list,
                                  "extra_headers": list, "subprotocols": list}),
        (wsproto.events.AcceptConnection, {"subprotocol": None, "extensions": list,
                                           "extra_headers": list}),
        (wsproto.events.RejectConnection, {"status_code": 400, "headers": list,
                                           "has_body": False}),
        (wsproto.events.RejectData, {"data": MISSING, "body_finished": True}),
        (wsproto.events.CloseConnection, {"code": MISSING, "reason": None}),
        (wsproto.events.Message, {"data": MISSING, "frame_finished": True,
                                  "message_finished": True}),
        (wsproto.events.TextMessage, {"data": MISSING, "frame_finished": True,
                                      "message_finished": True}),
        (wsproto.events.BytesMessage, {"data": MISSING, "frame_finished": True,
                                       "message_finished": True}),
        (wsproto.events.Ping, {"payload": b""}),
        (wsproto.events.Pong, {"payload": b""}),
    ],
)  # fmt: skip
def test_event_fields(event: type[wsproto.events.Event], fields: dict[str, object]) -> None:
    """The manual's constructor signatures: field names, order, and defaults."""
    actual: dict[str, object] = {}
    for field in dataclasses.fields(event):
        if field.default_factory is not MISSING:
            actual[field.name] = type(field.default_factory())
        else:
            actual[field.name] = field.default
    assert actual == fields
    assert issubclass(event, wsproto.events.Event)


def test_message_subclasses() -> None:
    assert issubclass(wsproto.events.TextMessage, wsproto.events.Message)
    assert issubclass(wsproto.events.BytesMessage, wsproto.events.Message)


def test_responses() -> None:
    close = wsproto.events.CloseConnection(code=1000, reason="done")
    assert close.response() == wsproto.events.CloseConnection(code=1000, reason="done")
    assert wsproto.events.Ping(payload=b"x").response() == wsproto.events.Pong(payload=b"x")


def test_documented_methods() -> None:
    for cls, names in [
        (wsproto.WSConnection, ["events", "receive_data", "send", "state"]),
        (
            wsproto.handshake.H11Handshake,
            ["connection", "events", "initiate_upgrade_connection", "receive_data", "send"],
        ),
        (wsproto.connection.Connection, ["events", "receive_data", "send", "state"]),
        (
            wsproto.extensions.Extension,
            [
                "enabled",
                "offer",
                "accept",
                "finalize",
                "frame_inbound_header",
                "frame_inbound_payload_data",
                "frame_inbound_complete",
                "frame_outbound",
            ],
        ),
    ]:
        assert [name for name in names if not hasattr(cls, name)] == [], cls
    # Each extension class sets its token; the base class declares it.
    assert "name" in wsproto.extensions.Extension.__annotations__


def test_supported_extensions() -> None:
    supported = wsproto.extensions.SUPPORTED_EXTENSIONS
    assert supported == {"permessage-deflate": wsproto.extensions.PerMessageDeflate}
    assert wsproto.extensions.PerMessageDeflate.name == "permessage-deflate"
    assert issubclass(wsproto.extensions.PerMessageDeflate, wsproto.extensions.Extension)


def test_handshake_constants() -> None:
    assert wsproto.handshake.WEBSOCKET_VERSION == b"13"


def test_remote_protocol_error_carries_a_hint() -> None:
    hint = wsproto.events.RejectConnection(status_code=400)
    error = wsproto.utilities.RemoteProtocolError("bad", event_hint=hint)
    assert error.event_hint is hint
    assert wsproto.utilities.RemoteProtocolError("bad").event_hint is None
    assert str(error) == "bad"


def test_utilities() -> None:
    # RFC 6455 §1.3's worked example.
    key = b"dGhlIHNhbXBsZSBub25jZQ=="
    assert wsproto.utilities.generate_accept_token(key) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    nonce = wsproto.utilities.generate_nonce()
    assert isinstance(nonce, bytes)
    assert len(nonce) == 24
    assert nonce != wsproto.utilities.generate_nonce()
    assert wsproto.utilities.split_comma_header(b"a, b ,c") == ["a", "b", "c"]


def test_headers_alias() -> None:
    assert wsproto.typing.Headers == list[tuple[bytes, bytes]]


# wsproto.anyio: the layer's public names (trio-websocket's, plus a few)

TRIO_WEBSOCKET_NAMES = [
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketRequest",
    "WebSocketServer",
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]
LAYER_MODULES = ["wsproto.anyio", "wsproto.anyio.testing", "wsproto.sync"]


def layer_objects() -> list[tuple[str, object]]:
    return [
        (f"{name}.{attr}", getattr(module(name), attr))
        for name in LAYER_MODULES
        for attr in module(name).__all__
    ]


def test_layer_exports_trio_websockets_names() -> None:
    import wsproto.anyio

    assert set(TRIO_WEBSOCKET_NAMES) <= set(wsproto.anyio.__all__)


@pytest.mark.parametrize("name", LAYER_MODULES)
def test_layer_all_lists_what_exists(name: str) -> None:
    exported = module(name).__all__
    assert sorted(set(exported)) == sorted(exported)
    assert [attr for attr in exported if not hasattr(module(name), attr)] == []


@pytest.mark.parametrize(("qualname", "obj"), layer_objects(), ids=lambda v: str(v))
def test_layer_objects_have_docstrings(qualname: str, obj: object) -> None:
    assert inspect.getdoc(obj), f"{qualname} has no docstring"
    if not inspect.isclass(obj):
        return
    undocumented = [
        attr
        for attr, value in vars(obj).items()
        if not attr.startswith("_")
        and (inspect.isfunction(value) or isinstance(value, property))
        and not inspect.getdoc(getattr(obj, attr))
    ]
    assert not undocumented, f"{qualname}: {undocumented} have no docstring"


# A directive, in reStructuredText (".. autoclass:: name") or in MyST Markdown
# ("```{autoclass} name" or ":::{autoclass} name").
DIRECTIVE = re.compile(r"^(?:\.\. |[`:]{3,}\{)([\w:-]+)(?:::|\}) (\S+)$")


def documented_in_docs() -> set[str]:
    """The dotted names the documentation describes, each with a directive of its own.

    ``autoclass`` (and ``autofunction``, ``autoexception``, ``autodata``)
    name the object in full; ``py:data`` and the like may give a bare name,
    which belongs to the module of the ``automodule``, ``py:module`` or
    ``currentmodule`` directive above it.
    """
    found: set[str] = set()
    for page in sorted([*DOCS.glob("*.rst"), *DOCS.glob("*.md")]):
        current = ""
        for line in page.read_text(encoding="utf-8").splitlines():
            match = DIRECTIVE.match(line)
            if match is None:
                continue
            directive, name = match.groups()
            name = name.split("(", 1)[0]  # "Class()" hides a signature
            if directive in ("automodule", "py:module", "currentmodule"):
                current = name
            elif directive in ("autoclass", "autofunction", "autoexception", "autodata"):
                found.add(name)
            elif directive in ("py:class", "py:function", "py:exception", "py:data"):
                found.add(name if name.startswith("wsproto.") else f"{current}.{name}")
    return found


def public_names() -> list[str]:
    """Every public name of every public module, core and layer (their ``__all__``)."""
    names = []
    for name in [*DOCUMENTED, *LAYER_MODULES]:
        exported: list[str] = getattr(module(name), "__all__", None) or DOCUMENTED[name]
        names += [f"{name}.{attr}" for attr in exported]
    return names


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_is_in_the_reference(name: str) -> None:
    assert name in documented_in_docs(), f"{name} has no entry in docs/api*.rst"


def test_the_reference_documents_nothing_private() -> None:
    assert not {name for name in documented_in_docs() if "._" in name.replace(".__", ".")}


def test_every_layer_name_is_in_the_api_reference() -> None:
    import wsproto.anyio

    api = DOCS_API_LAYER.read_text()
    documented = set(
        re.findall(r"^\.\. auto(?:function|class|exception):: wsproto\.anyio\.(\w+)$", api, re.M)
    )
    assert documented == set(wsproto.anyio.__all__)
    testing = set(
        re.findall(r"^\.\. auto(?:function|class):: wsproto\.anyio\.testing\.(\w+)$", api, re.M)
    )
    assert testing == set(module("wsproto.anyio.testing").__all__)


def test_every_blocking_client_name_is_in_its_page() -> None:
    import wsproto.sync

    page = (DOCS_API.parent / "sync.rst").read_text()
    documented = set(
        re.findall(r"^\.\. auto(?:function|class):: wsproto\.sync\.(\w+)(?:\(\))?$", page, re.M)
    )
    assert documented == set(wsproto.sync.__all__)
