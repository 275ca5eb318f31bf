// The live stream: a WebSocket to /api/v1/stream on the page's own origin
// that reconnects by itself, with capped exponential backoff and jitter,
// after the server restarts or the network drops.

export class Stream {
  // handlers: onSnapshot(objects), onUpsert(object), onDelete(uid),
  // onState(state) with state one of connecting, live, reconnecting.
  constructor(handlers, { minDelay = 250, maxDelay = 5000 } = {}) {
    this.h = handlers;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.delay = minDelay;
    this.ws = null;
    this.timer = null;
    this.closed = false;
    this.connects = 0; // how many times a snapshot arrived
  }

  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}/api/v1/stream`;
  }

  start() {
    this.closed = false;
    this._connect();
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }

  _connect() {
    this.h.onState?.(this.connects === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this._retry();
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => this._message(ev.data);
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      if (!this.closed) this._retry();
    };
    // An error is always followed by close, which schedules the retry.
    ws.onerror = () => {};
  }

  _retry() {
    this.h.onState?.('reconnecting');
    clearTimeout(this.timer);
    const jitter = this.delay * (0.8 + 0.4 * Math.random());
    this.timer = setTimeout(() => this._connect(), jitter);
    this.delay = Math.min(this.maxDelay, this.delay * 2);
  }

  // _message handles one WebSocket frame. A frame holds one JSON message,
  // or several separated by newlines (a server may batch a burst of updates
  // into one frame, which is far cheaper for the browser than one frame
  // each).
  _message(data) {
    if (typeof data !== 'string') return;
    if (data.indexOf('\n') === -1) {
      this._one(data);
      return;
    }
    for (const line of data.split('\n')) if (line) this._one(line);
  }

  _one(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    switch (m.type) {
      case 'snapshot':
        this.delay = this.minDelay;
        this.connects++;
        this.h.onState?.('live');
        this.h.onSnapshot?.(m.objects || []);
        break;
      case 'upsert':
        if (m.object) this.h.onUpsert?.(m.object);
        break;
      case 'delete':
        if (m.uid) this.h.onDelete?.(m.uid);
        break;
      default:
        break;
    }
  }
}
