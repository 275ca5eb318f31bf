// The live stream, off the main thread: this worker holds the WebSocket
// (with the reconnect logic of stream.js), parses every message and hands
// the page batches, so thousands of updates a second cost the page one
// message per batch instead of one task per update, and clicks stay quick.

import { Stream } from './stream.js';

const FLUSH_MS = 25;
let ops = [];
let timer = null;

function flush() {
  timer = null;
  if (!ops.length) return;
  postMessage({ kind: 'batch', ops });
  ops = [];
}

function queue(op) {
  ops.push(op);
  if (!timer) timer = setTimeout(flush, FLUSH_MS);
}

const stream = new Stream({
  onState(state) {
    flush();
    postMessage({ kind: 'state', state });
  },
  onSnapshot(objects) {
    // Everything queued before the snapshot is superseded by it.
    ops = [];
    postMessage({ kind: 'snapshot', objects, arrived: Date.now() });
  },
  onUpsert(object) {
    object.arrived = Date.now();
    queue(['u', object]);
  },
  onDelete(uid) {
    queue(['d', uid]);
  },
});

onmessage = (ev) => {
  if (ev.data?.kind === 'start') {
    stream.url = () => ev.data.url;
    stream.start();
  }
};
