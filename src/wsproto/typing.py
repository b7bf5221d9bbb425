"""Type aliases shared by the public API."""

Headers = list[tuple[bytes, bytes]]
