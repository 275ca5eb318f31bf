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
