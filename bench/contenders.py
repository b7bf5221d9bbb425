"""Who is measured, in which virtual environment, with which pinned versions.

Adding a contender: an environment here (if it needs new packages), one line
in CORE or E2E, and an adapter module in bench/adapters/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TRIO = "trio==0.35.0"
ANYIO = "anyio==4.16.0"

# One environment per group of packages that can share an interpreter. The
# real wsproto and ours both import as `wsproto`, so they never share one.
# "ours" gets the checkout installed on top of these (see venvs.py).
ENVIRONMENTS: dict[str, list[str]] = {
    "streams": [TRIO, ANYIO],
    "wsproto": ["wsproto==1.3.2", "trio-websocket==0.12.2", TRIO],
    "websockets": ["websockets==17.4", TRIO],
    "aiohttp": ["aiohttp==3.14.5"],
    "picows": ["picows==2.3.1"],
    "ours": [TRIO, ANYIO],
}
OURS = "ours"


@dataclass(frozen=True)
class Contender:
    name: str
    env: str
    adapter: str  # a module in bench/adapters/
    options: dict[str, Any] = field(default_factory=dict)
    websocket: bool = True  # False: a raw-stream baseline (no handshake, no framing work)


# I/O-free cores: receive and send benchmarks.
CORE = [
    Contender("ours", "ours", "core_wsproto_api"),
    Contender("wsproto", "wsproto", "core_wsproto_api"),
    Contender("websockets", "websockets", "core_websockets"),
]

# End-to-end echo servers, each with its own library's client.
E2E = [
    Contender("ours-asyncio", "ours", "e2e_ours", {"backend": "asyncio"}),
    Contender("ours-trio", "ours", "e2e_ours", {"backend": "trio"}),
    Contender("websockets-asyncio", "websockets", "e2e_websockets", {"backend": "asyncio"}),
    Contender("websockets-trio", "websockets", "e2e_websockets", {"backend": "trio"}),
    Contender("trio-websocket", "wsproto", "e2e_trio_websocket"),
    Contender("aiohttp", "aiohttp", "e2e_aiohttp"),
    Contender("picows", "picows", "e2e_picows"),
    # The ceilings: the same bytes over plain streams, no WebSocket work.
    Contender("asyncio-streams", "streams", "e2e_streams", {"api": "asyncio"}, websocket=False),
    Contender("trio-streams", "streams", "e2e_streams", {"api": "trio"}, websocket=False),
    Contender("anyio-asyncio-streams", "streams", "e2e_streams", {"api": "anyio-asyncio"}, False),
    Contender("anyio-trio-streams", "streams", "e2e_streams", {"api": "anyio-trio"}, False),
]

# The client used against every server: blocking stdlib sockets sending
# frames masked once in advance, so it costs the same whoever serves.
RAW_CLIENT = Contender("raw-client", "streams", "e2e_raw_client")

# Which raw-stream baseline runs on the same event loop as a server.
SAME_BACKEND_STREAMS = {
    "ours-asyncio": "asyncio-streams",
    "ours-trio": "trio-streams",
    "websockets-asyncio": "asyncio-streams",
    "websockets-trio": "trio-streams",
    "trio-websocket": "trio-streams",
    "aiohttp": "asyncio-streams",
    "picows": "asyncio-streams",
}


def by_name(name: str) -> Contender:
    for contender in [*CORE, *E2E, RAW_CLIENT]:
        if contender.name == name:
            return contender
    raise KeyError(name)
