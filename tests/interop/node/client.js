'use strict';
// A ws client for the interop tests, run against our server:
//   node client.js ws://127.0.0.1:PORT
// It runs one scripted session per path (see the server handler in
// test_node_ws.py) and prints one JSON line per observation; the Python test
// checks them. Large messages are reported by length and SHA-256.
const crypto = require('crypto');
const WebSocket = require('ws');

const base = process.argv[2];
const LARGE = 1024 * 1024;
const PIECES = ['frag', 'ment', 'ed ', 'message'];

function report(step, fields) {
  console.log(JSON.stringify({ step, ...fields }));
}

function digest(data) {
  const bytes = Buffer.from(data);
  return { length: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
}

// One connection, with promises for the next message, the next pong and the close.
class Peer {
  constructor(path, protocols = []) {
    this.ws = new WebSocket(base + path, protocols, {
      perMessageDeflate: { threshold: 0 }, maxPayload: 4 * LARGE,
    });
    this.queue = [];
    this.waiting = [];
    this.ws.on('message', (data, isBinary) => {
      const message = { data, isBinary };
      const waiter = this.waiting.shift();
      if (waiter) waiter(message);
      else this.queue.push(message);
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('upgrade', (response) => {
        this.answer = response.headers['sec-websocket-extensions'] || null;
      });
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve([code, reason.toString()]));
    });
  }

  next() {
    const message = this.queue.shift();
    if (message) return Promise.resolve(message);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  pong(payload) {
    return new Promise((resolve) => {
      this.ws.once('pong', (data) => resolve(data.toString()));
      this.ws.ping(payload);
    });
  }
}

async function main() {
  const messages = [
    'hello',
    'žluťoučký kůň 🐎',
    Buffer.from([0, 1, 254, 255]),
    'compressible text '.repeat(Math.floor(LARGE / 18)),
    crypto.randomBytes(LARGE),
  ];

  let peer = new Peer('/echo');
  await peer.opened;
  report('negotiated', { extensions: peer.ws.extensions, answer: peer.answer });
  for (const sent of messages) {
    peer.ws.send(sent);
    const { data, isBinary } = await peer.next();
    report('echo', {
      sentBinary: Buffer.isBuffer(sent), binary: isBinary, sent: digest(sent), received: digest(data),
    });
  }
  PIECES.forEach((piece, i) => peer.ws.send(piece, { fin: i === PIECES.length - 1 }));
  const fragmented = await peer.next();
  report('fragmented echo', { binary: fragmented.isBinary, text: fragmented.data.toString() });
  report('pong', { payload: await peer.pong('from ws') });
  peer.ws.close(4001, 'ws bye');
  report('client close', { close: await peer.closed });

  peer = new Peer('/fragments');
  await peer.opened;
  report('fragments', { text: (await peer.next()).data.toString() });
  peer.ws.close(1000);
  await peer.closed;

  peer = new Peer('/ping');
  await peer.opened;
  report('server ping', { text: (await peer.next()).data.toString() });
  peer.ws.close(1000);
  await peer.closed;

  peer = new Peer('/close/4002');
  await peer.opened;
  report('server close', { close: await peer.closed });

  peer = new Peer('/echo', ['chat.v1', 'chat.v2']);
  await peer.opened;
  report('subprotocol', { protocol: peer.ws.protocol });
  peer.ws.close(1000);
  await peer.closed;

  report('rejected', await rejected('/reject'));
}

// The status and body of the response to a refused upgrade.
function rejected(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path);
    ws.on('open', () => reject(new Error(`${path} was accepted`)));
    ws.on('error', () => {}); // 'unexpected-response' below has the details
    ws.on('unexpected-response', (request, response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => {
        resolve({
          status: response.statusCode,
          contentType: response.headers['content-type'],
          body: Buffer.concat(chunks).toString(),
        });
        request.destroy();
      });
    });
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
