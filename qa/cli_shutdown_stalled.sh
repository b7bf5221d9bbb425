#!/bin/sh
# QA: `wsproto --serve` Ctrl-C while a client floods messages and never reads its echoes.
WS=/tmp/qa-venv/bin/wsproto; PY=/tmp/qa-venv/bin/python
for be in asyncio trio; do
  $WS --serve 18095 --backend $be >/dev/null 2>/tmp/qa-css-$be.err & SP=$!
  sleep 2
  $PY - <<'PY' &
import base64, os, socket, struct, time
s = socket.create_connection(("127.0.0.1", 18095))
s.sendall(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
s.recv(4096)
frame = struct.pack("!BBH", 0x82, 0x80 | 126, 60000) + b"\0\0\0\0" + b"q" * 60000
s.settimeout(3)
try:
    while True:
        s.sendall(frame)   # never read the echoes
except OSError:
    pass
time.sleep(80)
PY
  CP=$!
  sleep 4
  T0=$(date +%s); kill -INT $SP; wait $SP; RC=$?; T1=$(date +%s)
  echo "[$be] server exit $RC, $((T1-T0)) s after SIGINT"; tail -2 /tmp/qa-css-$be.err
  kill $CP
done
