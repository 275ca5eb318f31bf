// Unit tests of the page's pure modules: markings, banner combination, the
// object store's trails, fading and filters.

import test from 'node:test';
import assert from 'node:assert/strict';
import { markingOf, combine, rank, normalizeLevel, relOrder } from '../static/js/marking.js';
import { Store, Filter, opacity, dimension, affiliation, isMissile, TRAIL_MAX } from '../static/js/store.js';
import { serialized } from '../static/js/refresh.js';

test('portion marking of one label', async (t) => {
  const cases = [
    [{ classification: 'SECRET', releasableTo: ['JPN', 'USA'], originator: 'USA' }, 'SECRET // REL TO USA, JPN'],
    [{ classification: 'SECRET', releasableTo: ['JPN'], originator: 'USA' }, 'SECRET // REL TO USA, JPN'],
    [{ classification: 'CONFIDENTIAL', releasableTo: ['KOR', 'JPN'], originator: 'JPN' }, 'CONFIDENTIAL // REL TO JPN, KOR'],
    [{ classification: 'SECRET', releasableTo: ['USA'], originator: 'USA' }, 'SECRET // USA ONLY'],
    [{ classification: 'SECRET', releasableTo: [], originator: 'JPN' }, 'SECRET // JPN ONLY'],
    [{ classification: 'TOP SECRET', releasableTo: ['GBR'], originator: 'USA', caveat: 'sci' }, 'TOP SECRET // SCI // REL TO USA, GBR'],
    [{ classification: 'U', releasableTo: ['KOR', 'JPN'], originator: 'USA' }, 'UNCLASSIFIED // REL TO USA, JPN, KOR'],
    [{ classification: 'bogus', originator: 'USA' }, 'UNMARKED // USA ONLY'],
  ];
  for (const [label, want] of cases) {
    await t.test(want, () => assert.equal(markingOf(label), want));
  }
});

test('classification order and names', () => {
  assert.ok(rank('U') < rank('C') && rank('C') < rank('S') && rank('S') < rank('TS'));
  assert.ok(rank('nonsense') > rank('TOP SECRET'), 'an unknown marking must never rank low');
  assert.equal(normalizeLevel('ts'), 'TOP SECRET');
  assert.equal(normalizeLevel('Secret'), 'SECRET');
  assert.deepEqual(relOrder(['KOR', 'usa', 'JPN', 'KOR']), ['USA', 'JPN', 'KOR']);
});

test('banner combines to the highest marking', async (t) => {
  const S = { classification: 'SECRET', releasableTo: ['JPN'], originator: 'USA' };
  const C = { classification: 'CONFIDENTIAL', releasableTo: ['JPN', 'KOR', 'USA'], originator: 'JPN' };
  const U = { classification: 'UNCLASSIFIED', releasableTo: ['KOR', 'USA'], originator: 'JPN' };
  const TS = { classification: 'TOP SECRET', releasableTo: ['JPN'], originator: 'USA', caveat: 'X' };
  const cases = [
    ['empty page', [], 'UNCLASSIFIED', 'UNCLASSIFIED'],
    ['one object', [S], 'SECRET', 'SECRET // REL TO USA, JPN'],
    ['secret wins', [U, C, S], 'SECRET', 'SECRET // REL TO USA, JPN'],
    ['confidential', [U, C], 'CONFIDENTIAL', 'CONFIDENTIAL // REL TO USA, JPN, KOR'],
    ['top secret with caveat', [S, TS, C], 'TOP SECRET', 'TOP SECRET // X // REL TO USA, JPN'],
    ['releasability narrows to the common nations', [S, { classification: 'SECRET', releasableTo: [], originator: 'JPN' }], 'SECRET', 'SECRET // JPN ONLY'],
    ['nothing in common', [{ classification: 'SECRET', originator: 'USA' }, { classification: 'SECRET', originator: 'JPN' }], 'SECRET', 'SECRET // NOT RELEASABLE'],
  ];
  for (const [name, labels, level, text] of cases) {
    await t.test(name, () => assert.deepEqual(combine(labels), { level, text }));
  }
});

function obj(uid, extra = {}) {
  const now = Date.now();
  return {
    uid, type: 'a-f-G-U-C-I', sidc: 'SFGPUCI--------', lat: 35, lon: 139, callsign: uid,
    time: new Date(now).toISOString(), stale: new Date(now + 60000).toISOString(),
    label: { classification: 'SECRET', releasableTo: ['JPN'], originator: 'USA' }, ...extra,
  };
}

test('store keeps a bounded trail per track', () => {
  const s = new Store();
  for (let i = 0; i < TRAIL_MAX + 10; i++) s.upsert(obj('a', { lat: 35 + i * 0.01 }));
  s.upsert(obj('a', { lat: 35 + (TRAIL_MAX + 9) * 0.01 })); // same position: no new point
  const a = s.objects.get('a');
  assert.equal(a.trail.length, TRAIL_MAX);
  assert.equal(a.trail.at(-1)[0], 35 + (TRAIL_MAX + 9) * 0.01);
});

test('snapshot replaces the picture', () => {
  const s = new Store();
  s.upsert(obj('gone'));
  s.replace([obj('kept'), obj('new')]);
  assert.deepEqual([...s.objects.keys()].sort(), ['kept', 'new']);
});

test('stale objects fade, then leave', () => {
  const s = new Store();
  const now = Date.now();
  s.upsert(obj('old', { stale: new Date(now - 1000).toISOString() }));
  s.upsert(obj('fresh'));
  const fade = 5000;
  assert.equal(opacity(s.objects.get('fresh'), now, fade), 1);
  const a = opacity(s.objects.get('old'), now, fade);
  assert.ok(a < 1 && a > 0, `stale opacity ${a}`);
  assert.ok(opacity(s.objects.get('old'), now + 3000, fade) < a, 'keeps fading');
  assert.equal(s.expire(now, fade), 0);
  assert.equal(s.expire(now + fade, fade), 1);
  assert.deepEqual([...s.objects.keys()], ['fresh']);
});

test('a deletion of a stale object lets it fade; any other deletion is immediate', () => {
  const s = new Store();
  const now = Date.now();
  s.upsert(obj('expired', { stale: new Date(now - 10).toISOString() }));
  s.upsert(obj('deleted'));
  s.delete('expired', now);
  s.delete('deleted', now);
  assert.deepEqual([...s.objects.keys()], ['expired']);
  s.expire(now + 1000, 500);
  assert.equal(s.objects.size, 0);
});

test('filters by nation, affiliation, type and text', async (t) => {
  const hostileAir = obj('bandit', { type: 'a-h-A-M-F', sidc: 'SHAPMF---------', callsign: 'BANDIT 1', label: { classification: 'SECRET', originator: 'JPN' } });
  const friendGround = obj('inf', { callsign: 'RAKKASAN' });
  const marker = obj('spot', { type: 'b-m-p-s-m', sidc: 'GFGPGPRI-------' });
  const missile = obj('msl', { type: 'a-h-A-W-M-S-S', sidc: 'SHAPWMSS-------', missile: {} });
  const cases = [
    [{ nation: 'JPN' }, ['bandit']],
    [{ affil: 'H' }, ['bandit', 'msl']],
    [{ dim: 'A' }, ['bandit']],
    [{ dim: 'M' }, ['msl']],
    [{ dim: '-' }, ['spot']],
    [{ text: 'rakk' }, ['inf']],
    [{ text: 'a-h-a' }, ['bandit', 'msl']],
    [{}, ['bandit', 'inf', 'msl', 'spot']],
  ];
  for (const [f, want] of cases) {
    await t.test(JSON.stringify(f), () => {
      const filter = Object.assign(new Filter(), f);
      const got = [hostileAir, friendGround, marker, missile].filter((o) => filter.matches(o)).map((o) => o.uid).sort();
      assert.deepEqual(got, want);
    });
  }
  assert.equal(dimension(marker), '-');
  assert.equal(affiliation(hostileAir), 'H');
  assert.ok(isMissile(obj('m2', { type: 'a-f-G', missile: { launch: { lat: 1, lon: 2 } } })));
  assert.ok(!isMissile(hostileAir));
});

test('stream frames: one message, newline-batched messages, garbage', async () => {
  const { Stream } = await import('../static/js/stream.js');
  const got = [];
  const s = new Stream({
    onSnapshot: (objs) => got.push(['snapshot', objs.length]),
    onUpsert: (o) => got.push(['upsert', o.uid]),
    onDelete: (uid) => got.push(['delete', uid]),
    onState: (st) => got.push(['state', st]),
  });
  s.delay = 4000;
  s._message(JSON.stringify({ type: 'snapshot', objects: [obj('a'), obj('b')] }));
  assert.equal(s.delay, s.minDelay, 'a snapshot resets the reconnect backoff');
  s._message([{ type: 'upsert', object: obj('c') }, { type: 'delete', uid: 'a' }, { type: 'upsert', object: obj('line\nbreak') }].map((m) => JSON.stringify(m)).join('\n') + '\n');
  s._message('not json');
  s._message(JSON.stringify({ type: 'unknown' }));
  s._message(JSON.stringify({ type: 'upsert' }));
  assert.deepEqual(got, [['state', 'live'], ['snapshot', 2], ['upsert', 'c'], ['delete', 'a'], ['upsert', 'line\nbreak']]);
});

test('store keeps the set of missile tracks', () => {
  const s = new Store();
  const now = Date.now();
  s.upsert(obj('m1', { type: 'a-h-A-W-M-S-S', missile: {} }));
  s.upsert(obj('m2', { type: 'a-f-G', missile: { launch: { lat: 1, lon: 2 } } }));
  s.upsert(obj('plane', { type: 'a-h-A-M-F' }));
  assert.deepEqual([...s.missiles].sort(), ['m1', 'm2']);
  s.upsert(obj('m2', { type: 'a-f-G' })); // no longer carries missile data
  s.delete('m1', now);
  assert.deepEqual([...s.missiles], []);
  s.upsert(obj('m3', { type: 'a-u-A-W-M', missile: {}, stale: new Date(now - 1).toISOString() }));
  s.expire(now + 10, 1);
  s.replace([obj('m4', { type: 'a-h-A-W-M-S', missile: {} })]);
  assert.deepEqual([...s.missiles], ['m4']);
});

test('membership changes only when what the list shows changes', () => {
  const s = new Store();
  s.upsert(obj('a'));
  const m0 = s.membership;
  s.upsert(obj('a', { lat: 36, lon: 140 })); // moved
  assert.equal(s.membership, m0);
  s.upsert(obj('a', { callsign: 'NEW NAME' }));
  assert.equal(s.membership, m0 + 1);
  s.upsert(obj('a', { callsign: 'NEW NAME', label: { classification: 'CONFIDENTIAL', releasableTo: ['JPN'], originator: 'USA' } }));
  assert.equal(s.membership, m0 + 2);
  s.upsert(obj('b'));
  s.delete('b');
  assert.equal(s.membership, m0 + 4);
});

test('a panel refresh runs once at a time and loses no call', async (t) => {
  // Each refresh reads the server's state when it starts; a call made while
  // one runs must see the state of its own time, not be dropped.
  const cases = [
    { name: 'one call', during: 0, runs: 1 },
    { name: 'one call while running', during: 1, runs: 2 },
    { name: 'three calls while running coalesce', during: 3, runs: 2 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      let state = 0;
      let running = 0;
      let most = 0;
      const seen = [];
      const refresh = serialized(async () => {
        running++;
        most = Math.max(most, running);
        const read = state;
        await new Promise((r) => setTimeout(r, 5));
        seen.push(read);
        running--;
      });
      const first = refresh();
      for (let i = 0; i < c.during; i++) {
        state++; // a change arrives while the first refresh is in flight
        refresh();
      }
      await first;
      await refresh(); // settles: nothing is running, so this is one more run
      assert.equal(most, 1, 'two refreshes ran at once');
      assert.equal(seen.length, c.runs + 1);
      assert.equal(seen.at(-2), state, 'the last change was never shown');
    });
  }
});
