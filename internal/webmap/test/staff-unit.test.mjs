// Unit tests of the staff map's pure modules: range and bearing, portion
// markings, clustering and label placement, and the replay index.

import test from 'node:test';
import assert from 'node:assert/strict';
import { range, bearing, describe as describeRange, levelsUpTo, caveatsHeld } from '../static/js/measure.js';
import { portionOf, portionOfBanner } from '../static/js/marking.js';
import { cluster, Clusterer, placeLabels, Grid, RectGrid, priority, overlaps } from '../static/js/declutter.js';
import { ReplayIndex, rowsOf } from '../static/js/timeline.js';

test('range and bearing', async (t) => {
  const cases = [
    // from, to, metres, bearing
    [[35, 135], [36, 135], 111195, 0],
    [[0, 0], [0, 1], 111195, 90],
    [[36, 135], [35, 135], 111195, 180],
    [[0, 1], [0, 0], 111195, 270],
  ];
  for (const [a, b, m, brg] of cases) {
    await t.test(`${a} → ${b}`, () => {
      assert.ok(Math.abs(range(a, b) - m) / m < 0.01, `range ${range(a, b)}`);
      assert.ok(Math.abs(bearing(a, b) - brg) < 1, `bearing ${bearing(a, b)}`);
    });
  }
  assert.equal(describeRange([35, 135], [36, 135]), '111.2 km (60.0 NM) · 000° T');
  assert.deepEqual(levelsUpTo('SECRET'), ['UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET']);
  assert.deepEqual(levelsUpTo('nonsense'), []);
});

test('the caveats offered are those held', () => {
  const names = (p) => caveatsHeld(p).map(([c]) => c);
  assert.deepEqual(names({ caveats: ['FOUO', 'noforn'] }), ['NOFORN', 'FOUO']);
  assert.deepEqual(names({ caveats: [] }), []);
  assert.deepEqual(names({}), [], 'a principal naming none holds none');
  assert.deepEqual(names({ caveats: 'NOFORN' }), [], 'not a list');
  assert.deepEqual(names({ caveats: ['EYES ONLY'] }), []);
});

test('portion markings', () => {
  assert.equal(portionOf({ classification: 'SECRET', releasableTo: ['JPN', 'USA'], originator: 'USA' }), '(S//REL JPN)');
  assert.equal(portionOf({ classification: 'SECRET', releasableTo: [], originator: 'USA' }), '(S//USA ONLY)');
  assert.equal(portionOf({ classification: 'TOP SECRET', releasableTo: ['KOR', 'JPN'], originator: 'USA', caveat: 'noforn' }), '(TS//NOFORN//REL JPN KOR)');
  assert.equal(portionOf({ classification: 'bogus', originator: 'JPN' }), '(UNMARKED//JPN ONLY)');
  assert.equal(portionOfBanner('SECRET // REL TO USA, JPN'), 'S//REL USA JPN');
  assert.equal(portionOfBanner('TOP SECRET // NOFORN // USA ONLY'), 'TS//NOFORN//USA ONLY');
});

const obj = (uid, sidc, label = { classification: 'SECRET', originator: 'USA', releasableTo: ['JPN'] }) => ({ uid, sidc, label });

test('priority: flash, hostile, own, friend, other', () => {
  assert.equal(priority({ uid: 'm', type: 'a-h-A-W-M-S-S', sidc: 'SHAP', missile: {} }, 'JPN'), 0); // the server marks missile tracks
  assert.equal(priority({ uid: 'b', type: 'b-d-l', sidc: 'SHGP', flash: true }, 'JPN'), 0); // and flash traffic
  assert.equal(priority(obj('h', 'SHGP'), 'JPN'), 1);
  assert.equal(priority({ ...obj('o', 'SFGP'), label: { originator: 'JPN' } }, 'JPN'), 2);
  assert.equal(priority(obj('f', 'SFGP'), 'JPN'), 3);
  assert.equal(priority(obj('n', 'SNGP'), 'JPN'), 4);
});

test('clusters hold every hidden object once, never a flash track or the selection', () => {
  const items = [];
  for (let i = 0; i < 200; i++) items.push({ o: obj(`u${i}`, i % 5 ? 'SFGP' : 'SHGP', { classification: i === 7 ? 'TOP SECRET' : 'SECRET', originator: 'USA', releasableTo: ['JPN'] }), x: (i * 37) % 300, y: (i * 53) % 200, pri: i === 3 ? 0 : i % 5 ? 3 : 1 });
  const { singles, clusters } = cluster(items, 20, 'u9');
  const all = [...singles.map((s) => s.o.uid), ...clusters.flatMap((c) => c.uids)];
  assert.equal(all.length, 200);
  assert.equal(new Set(all).size, 200);
  for (const c of clusters) assert.equal(c.count, c.uids.length);
  assert.ok(singles.some((s) => s.o.uid === 'u3'), 'flash clustered');
  assert.ok(singles.some((s) => s.o.uid === 'u9'), 'selection clustered');
  const withTS = clusters.find((c) => c.uids.includes('u7'));
  if (withTS) assert.equal(withTS.level, 'TOP SECRET');
});

test('Clusterer: updates re-bin only what moved, and keep every object exactly once', () => {
  const mk = (i, x, y) => ({ o: obj(`u${i}`, i % 5 ? 'SFGP' : 'SHGP', { classification: i === 7 ? 'TOP SECRET' : 'SECRET', originator: 'USA', releasableTo: ['JPN'] }), x, y, pri: i === 3 ? 0 : i % 5 ? 3 : 1 });
  let items = [];
  for (let i = 0; i < 300; i++) items.push(mk(i, (i * 37) % 400, (i * 53) % 300));
  const cl = new Clusterer(20, 'u9');
  cl.build(items);
  const check = (live) => {
    const { singles, clusters } = cl.result();
    const all = [...singles.map((s) => s.o.uid), ...clusters.flatMap((c) => c.uids)];
    assert.deepEqual(all.slice().sort(), live.map((it) => it.o.uid).sort(), 'every object exactly once');
    for (const c of clusters) {
      assert.equal(c.count, c.uids.length);
      assert.ok(c.count >= 2);
      for (const m of c.members) assert.ok((m.x - c.x) ** 2 + (m.y - c.y) ** 2 <= 400 + 1e-9, 'a member out of its cluster\'s reach');
      // The mark sits on one of the objects it hides, where it is now.
      assert.ok(c.members.some((m) => m.x === c.x && m.y === c.y), `cluster mark at ${c.x},${c.y} is on none of its members`);
      assert.equal(c.level, c.uids.includes('u7') ? 'TOP SECRET' : 'SECRET');
    }
    for (const u of ['u3', 'u9']) if (live.some((it) => it.o.uid === u)) assert.ok(singles.some((s) => s.o.uid === u), `${u} (flash or selection) clustered`);
    return clusters.length;
  };
  assert.ok(check(items) > 0);
  // Ten rounds: a third of the objects move far, a few leave, a few come.
  for (let round = 1; round <= 10; round++) {
    const next = [];
    for (const it of items) {
      const i = Number(it.o.uid.slice(1));
      if ((i + round) % 17 === 0) {
        cl.remove(it.o.uid);
        continue;
      }
      if ((i + round) % 3 === 0) {
        const m = mk(i, (it.x + 45 * round) % 400, (it.y + 31) % 300);
        cl.update(m);
        next.push(m);
      } else next.push(it);
    }
    for (let k = 0; k < 5; k++) {
      const m = mk(1000 + round * 10 + k, (round * 41 + k * 13) % 400, (k * 61) % 300);
      cl.update(m);
      next.push(m);
    }
    items = next;
    check(items);
  }
});

test('Clusterer: items changed in place (the map keeps one per object) move their clusters', () => {
  const items = [];
  for (let i = 0; i < 200; i++) items.push({ o: obj(`p${i}`, 'SFGP', { classification: 'SECRET', originator: 'USA', releasableTo: ['JPN'] }), x: (i % 20) * 7, y: Math.floor(i / 20) * 7, pri: 3 });
  const cl = new Clusterer(20, '');
  cl.build(items);
  for (let round = 1; round <= 20; round++) {
    // Every object drifts east and south, some faster, as tracks at 1 Hz.
    for (const it of items) {
      it.x += 3 + (Number(it.o.uid.slice(1)) % 4) * round;
      it.y += 2;
      cl.update(it);
    }
    const { singles, clusters } = cl.result();
    const seen = [...singles.map((s) => s.o.uid), ...clusters.flatMap((c) => c.uids)];
    assert.equal(seen.length, items.length);
    assert.equal(new Set(seen).size, items.length);
    for (const c of clusters) {
      assert.equal(c.count, c.members.length);
      assert.ok(c.members.some((m) => m.x === c.x && m.y === c.y), `round ${round}: mark off its members`);
      for (const m of c.members) {
        assert.equal(m.cseed?.x, c.x);
        assert.ok((m.x - c.x) ** 2 + (m.y - c.y) ** 2 <= 400, `round ${round}: member out of reach`);
      }
    }
  }
});

test('RectGrid: overlap tests as Grid, with indices', () => {
  const g = new RectGrid(32);
  g.clear(300, 200);
  const a = g.add(10, 10, 50, 13);
  g.add(-40, -40, 20, 20);
  assert.ok(g.hits(40, 15, 10, 10));
  assert.ok(!g.hits(40, 15, 10, 10, a));
  assert.ok(!g.hits(60, 10, 10, 13), 'touching edges overlap');
  assert.ok(g.hits(-30, -30, 2, 2), 'off-screen rectangles lost');
  g.clear(300, 200);
  assert.ok(!g.hits(40, 15, 10, 10));
});

test('labels never overlap, and the most important win', () => {
  const items = [];
  for (let i = 0; i < 300; i++) {
    const x = (i * 13) % 200;
    const y = (i * 7) % 120;
    items.push({ o: { uid: `u${i}` }, x, y, pri: 1 + (i % 4), sym: { x: x - 5, y: y - 5, w: 10, h: 10 }, text: `UNIT ${i}`, w: 40 });
  }
  const symbols = new Grid();
  for (const it of items) symbols.add(it.sym);
  const placed = placeLabels(items, symbols);
  for (let i = 0; i < placed.length; i++) for (let j = i + 1; j < placed.length; j++) assert.ok(!overlaps(placed[i], placed[j]), `${placed[i].uid} overlaps ${placed[j].uid}`);
  // A flash label is placed even over symbols; the first one always fits.
  const flash = { o: { uid: 'flash' }, x: 50, y: 50, pri: 0, sym: { x: 45, y: 45, w: 10, h: 10 }, text: 'FLASH', w: 30 };
  assert.equal(placeLabels([...items, flash], symbols)[0].uid, 'flash');
});

test('replay index: the picture at a time, stale objects gone, trails', () => {
  const rows = [
    { uid: 'a', t: 1000, stale: 5000, lat: 1, lon: 1 },
    { uid: 'a', t: 2000, stale: 6000, lat: 2, lon: 2 },
    { uid: 'b', t: 1500, stale: 1800, lat: 9, lon: 9 },
  ];
  const ix = new ReplayIndex(rows);
  assert.deepEqual(ix.at(500), []);
  assert.deepEqual(ix.at(1600).map((r) => [r.uid, r.lat]).sort(), [['a', 1], ['b', 9]]);
  assert.deepEqual(ix.at(2500).map((r) => [r.uid, r.lat]), [['a', 2]]);
  assert.deepEqual(ix.at(7000), []);
  assert.deepEqual(ix.trail('a', 2500), [[1, 1], [2, 2]]);
  assert.equal(ix.start, 1000);
  assert.equal(ix.end, 2000);
});

test('replay answer: compact rows expand to tracks and labels', () => {
  const body = {
    tracks: [['a', 'a-f-G', 'SFG-------', 'ALPHA'], ['b', 'a-h-G', 'SHG-------', '']],
    labels: [{ classification: 'SECRET', releasableTo: ['JPN'], originator: 'USA' }],
    rows: [[0, 1000, 5000, 1.5, 2.5, 0], [1, 1500, 1800, 9, 9, 0]],
  };
  const rows = rowsOf(body);
  assert.deepEqual(rows[0], { uid: 'a', type: 'a-f-G', sidc: 'SFG-------', callsign: 'ALPHA', t: 1000, stale: 5000, lat: 1.5, lon: 2.5, label: body.labels[0] });
  assert.equal(rows[1].uid, 'b');
  assert.deepEqual(new ReplayIndex(rows).at(1600).map((r) => r.uid).sort(), ['a', 'b']);
});
