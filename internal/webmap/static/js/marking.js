// Security markings: the portion marking of one object and the banner
// marking of everything the page holds. Pure functions, no DOM.

export const LEVELS = ['UNCLASSIFIED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'];

const ALIASES = {
  U: 'UNCLASSIFIED', UNCLAS: 'UNCLASSIFIED', C: 'CONFIDENTIAL', S: 'SECRET',
  TS: 'TOP SECRET', TOP_SECRET: 'TOP SECRET', TOPSECRET: 'TOP SECRET', 'TOP-SECRET': 'TOP SECRET',
};

// normalizeLevel returns one of LEVELS, or '' for anything else.
export function normalizeLevel(s) {
  const t = String(s ?? '').trim().toUpperCase();
  if (LEVELS.includes(t)) return t;
  return ALIASES[t] ?? '';
}

// rank orders classifications; an unknown one ranks above TOP SECRET so that
// a marking the page does not understand is never under-stated.
export function rank(level) {
  const n = normalizeLevel(level);
  return n ? LEVELS.indexOf(n) : LEVELS.length;
}

// relOrder sorts a releasability list the usual way: USA first, then the
// others alphabetically.
export function relOrder(nations) {
  const set = [...new Set(nations.filter(Boolean).map((n) => String(n).toUpperCase()))];
  set.sort((a, b) => (a === 'USA' ? -1 : b === 'USA' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return set;
}

// effectiveRel is who a label releases to: the listed nations plus the
// originator, who may always see its own data.
export function effectiveRel(label) {
  const rel = [...(label?.releasableTo ?? [])];
  if (label?.originator) rel.push(label.originator);
  return relOrder(rel);
}

function render(level, caveats, rel) {
  const parts = [level || 'UNMARKED'];
  for (const c of caveats) parts.push(c);
  if (rel.length === 1) parts.push(`${rel[0]} ONLY`);
  else if (rel.length > 1) parts.push(`REL TO ${rel.join(', ')}`);
  return parts.join(' // ');
}

// markingOf renders one object's label, e.g. "SECRET // REL TO USA, JPN".
export function markingOf(label) {
  const level = normalizeLevel(label?.classification);
  const caveats = label?.caveat ? [String(label.caveat).toUpperCase()] : [];
  return render(level, caveats, effectiveRel(label));
}

// combine returns the banner for a set of labels: the highest classification,
// every caveat, and only the nations every label releases to. With no labels
// the page shows nothing classified.
export function combine(labels) {
  let top = -1;
  let rel = null;
  const caveats = new Set();
  for (const l of labels) {
    const r = rank(l?.classification);
    if (r > top) top = r;
    if (l?.caveat) caveats.add(String(l.caveat).toUpperCase());
    const eff = effectiveRel(l);
    rel = rel === null ? eff : rel.filter((n) => eff.includes(n));
  }
  if (top < 0) return { level: 'UNCLASSIFIED', text: 'UNCLASSIFIED' };
  const level = top < LEVELS.length ? LEVELS[top] : 'UNMARKED';
  const cv = [...caveats].sort();
  if (rel.length === 0) {
    return { level, text: [level, ...cv, 'NOT RELEASABLE'].join(' // ') };
  }
  return { level, text: render(level, cv, rel) };
}

const ABBREV = { UNCLASSIFIED: 'U', CONFIDENTIAL: 'C', SECRET: 'S', 'TOP SECRET': 'TS' };

// portionOf renders one label's portion marking, short enough for a list
// row: "(S//REL JPN)" for SECRET from USA released to JPN, "(S//USA ONLY)"
// when it stays with its originator. The full marking stays in markingOf.
export function portionOf(label) {
  const level = normalizeLevel(label?.classification);
  const parts = [level ? ABBREV[level] : 'UNMARKED'];
  if (label?.caveat) parts.push(String(label.caveat).toUpperCase());
  const orig = label?.originator ? String(label.originator).toUpperCase() : '';
  const rel = relOrder(label?.releasableTo ?? []).filter((n) => n !== orig);
  if (rel.length) parts.push(`REL ${rel.join(' ')}`);
  else parts.push(`${orig || '?'} ONLY`);
  return `(${parts.join('//')})`;
}

// portionOfBanner shortens a banner marking (from combine) the same way:
// "SECRET // REL TO USA, JPN" becomes "S//REL USA JPN".
export function portionOfBanner(text) {
  let t = String(text ?? '');
  for (const [name, ab] of Object.entries(ABBREV).sort((a, b) => b[0].length - a[0].length)) {
    if (t.startsWith(name)) {
      t = ab + t.slice(name.length);
      break;
    }
  }
  return t.replace(/ \/\/ /g, '//').replace('REL TO ', 'REL ').replace(/, /g, ' ');
}
