#!/bin/sh
# QA: CLI edge cases: --max-size (1009, exit 1), a rejection (403), binary display, --stdio.
WS=${WS:-/tmp/qa-venv/bin/wsproto}
PY=${PY:-/tmp/qa-venv/bin/python}
for be in asyncio trio; do
  $WS --serve 18070 --backend $be --max-size 10 2>/tmp/qa-e-s.err >/dev/null & SP=$!
  sleep 2
  printf 'short\nthis line is longer than ten bytes\n' | timeout 20 $WS ws://127.0.0.1:18070/ --backend $be; echo "[$be] too-big rc=$? (expect 1, 1009)"
  kill -INT $SP; wait $SP; grep -v Listening /tmp/qa-e-s.err | sed 's/^/   server: /'
  # stdio relay: stdin line goes to the client; client message goes to stdout
  (sleep 3; echo from-server) | $WS --serve 18071 --backend $be --stdio >/tmp/qa-e-relay.out 2>/dev/null & SP=$!
  sleep 1.5
  (echo from-client; sleep 3) | timeout 20 $WS ws://127.0.0.1:18071/ --backend $be --linger 0.5 2>/dev/null; echo "[$be] stdio client rc=$?"
  kill -INT $SP 2>/dev/null; wait $SP; echo "   relay stdout: $(cat /tmp/qa-e-relay.out)"
done
# a rejecting server (raw HTTP 403) and a binary-echo via python
$PY - <<'PY' &
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18072)); s.listen()
s.settimeout(12)
try:
    for _ in range(2):
        c, _ = s.accept(); c.recv(4096); c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nno entry\n"); c.close()
except OSError: pass
PY
sleep 1
for be in asyncio trio; do timeout 10 $WS ws://127.0.0.1:18072/ --backend $be </dev/null; echo "[$be] rejected rc=$?"; done
wait
