"""Default limits and timeouts, each with its reason."""

from __future__ import annotations

#: Seconds to connect and handshake, and to close: trio-websocket's default.
CONN_TIMEOUT = 60.0
#: Messages buffered between the reader and the consumer: trio-websocket's
#: default. Raise it for throughput; memory is bounded by it times the largest
#: message (or fragment) size.
MESSAGE_QUEUE_SIZE = 1
#: Largest message accepted (1 MiB, as trio-websocket and websockets);
#: bigger messages close the connection with 1009.
MAX_MESSAGE_SIZE = 2**20
#: Frames per message. Without a bound a peer could split a message into
#: millions of tiny frames; 64 Ki frames covers legitimate streaming (a 1 MiB
#: message in 16-byte frames) with room to spare.
MAX_FRAGMENTS = 65536
#: Keepalive: a ping after this many idle seconds... (websockets' defaults).
PING_INTERVAL = 20.0
#: ...which must be answered within this many seconds, or the connection
#: closes with 1011.
PING_TIMEOUT = 20.0
#: Seconds a server gives a client to send its complete upgrade request, so a
#: client dribbling its request a byte at a time cannot hold a slot for long.
HANDSHAKE_TIMEOUT = 10.0
#: Open connections a server keeps at once; past it new clients get 503.
#: Sized for a few thousand file descriptors, well below common ulimits.
MAX_CONNECTIONS = 4096
