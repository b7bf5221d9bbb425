"""One module per contender, imported inside that contender's environment.

Core adapters expose ``versions()``, ``receiver(kind, deflate)`` returning
``feed(chunk, out)`` (appends each complete message to ``out``: ``str`` for
text, bytes-like for binary) and ``sender(kind, deflate)`` returning
``send(payload)`` (the bytes to write, or a list of them), both after an
untimed handshake. End-to-end adapters expose ``versions()``,
``serve(host, port, options)`` (runs until killed) and
``client(command, options)`` (see :mod:`bench.adapters.drive`).
"""
