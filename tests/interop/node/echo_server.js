'use strict';
// A ws server for the interop tests: prints "LISTENING <port>", then serves
//   /echo         echoes every message (text stays text, binary stays binary)
//   /info         sends JSON: the negotiated extensions, the client's offer, our answer
//   /fragments    sends one text message in four frames, then echoes
//   /ping         pings, waits for the pong, sends "pong received", then echoes
//   /close/CODE   closes with CODE and reason "server bye"
//   /closed/ID    sends JSON [code, reason]: how the connection opened with the
//                 query ?id=ID was closed (waiting for that if need be)
//   /reject       refuses the upgrade: 403 with the body "no entry\n"
// Every path accepts the first of SUBPROTOCOLS the client offers.
// permessage-deflate is on for every message (threshold 0).
const { WebSocketServer } = require('ws');

const PIECES = ['frag', 'ment', 'ed ', 'message'];
const SUBPROTOCOLS = ['chat.v2', 'chat.v1']; // in order of preference
const closes = new Map(); // id -> [code, reason]
const closeWaiters = new Map(); // id -> functions waiting for that close
const answers = new WeakMap(); // request -> our Sec-WebSocket-Extensions answer

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: { threshold: 0 },
  maxPayload: 4 * 1024 * 1024,
  handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) || false,
  verifyClient: (info, callback) => {
    if (new URL(info.req.url, 'ws://127.0.0.1').pathname === '/reject') {
      callback(false, 403, 'no entry\n', { 'Content-Type': 'text/plain' });
    } else {
      callback(true);
    }
  },
});

server.on('headers', (headers, request) => {
  const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
  answers.set(request, line ? line.slice(line.indexOf(':') + 1).trim() : null);
});

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function whenClosed(id, callback) {
  if (closes.has(id)) callback(closes.get(id));
  else closeWaiters.set(id, [...(closeWaiters.get(id) || []), callback]);
}

server.on('connection', (ws, request) => {
  const url = new URL(request.url, 'ws://127.0.0.1');
  const path = url.pathname;
  if (path.startsWith('/closed/')) {
    whenClosed(path.slice('/closed/'.length), (close) => ws.send(JSON.stringify(close)));
    return;
  }
  const id = url.searchParams.get('id');
  ws.on('close', (code, reason) => {
    if (id === null) return;
    closes.set(id, [code, reason.toString()]);
    (closeWaiters.get(id) || []).forEach((callback) => callback(closes.get(id)));
    closeWaiters.delete(id);
  });
  if (path === '/info') {
    ws.send(JSON.stringify({
      extensions: ws.extensions,
      offer: request.headers['sec-websocket-extensions'] || null,
      answer: answers.get(request),
    }));
  } else if (path === '/fragments') {
    PIECES.forEach((piece, i) => ws.send(piece, { fin: i === PIECES.length - 1 }));
  } else if (path === '/ping') {
    ws.once('pong', () => ws.send('pong received'));
    ws.ping('from ws');
  } else if (path.startsWith('/close/')) {
    ws.close(Number(path.slice('/close/'.length)), 'server bye');
    return;
  }
  echo(ws);
});

server.on('listening', () => console.log(`LISTENING ${server.address().port}`));
