// One refresh of a panel at a time, and none lost.
//
// A panel refreshes on its poll, on each server event and after each action
// of the user. Two refreshes running at once can finish out of order, and
// the older one then paints stale rows over the newer; dropping a call made
// while one runs loses the change it was called for until the next poll.
// serialized runs fn once at a time, and a call made while it runs makes it
// run once more when it ends (however many such calls came).

export function serialized(fn) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await fn();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  return run;
}

// repaint replaces box's children with what make returns, but only when data
// differs from what the box was last painted from. A panel refreshes every
// few seconds and on every server event; repainting rows that did not change
// would throw away the operator's focus, an open drop-down, and a click that
// lands while its button is replaced (the press goes to the old button, the
// release to the new one, and no click happens).
export function repaint(box, data, make) {
  const key = JSON.stringify(data);
  if (painted.get(box) === key) return false;
  painted.set(box, key);
  box.replaceChildren(...[make()].flat());
  return true;
}

const painted = new WeakMap();

// A refresh's reads give up after this long. A request the node never
// answers (a half-open connection after a network cut, a node restarting)
// would otherwise hold the panel's one running refresh for minutes, and
// every refresh after it waits for that one; given up, it fails, and the
// next poll tries again.
export const READ_TIMEOUT_MS = 15000;

// readSignal is the abort signal of one refresh read.
export const readSignal = () => AbortSignal.timeout(READ_TIMEOUT_MS);
