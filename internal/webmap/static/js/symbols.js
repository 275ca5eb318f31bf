// MIL-STD-2525 symbols drawn by milsymbol from the SIDC the server puts in
// every object, cached per SIDC. An object without a SIDC (a chat, a drawing)
// gets a plain dot.

const ms = globalThis.ms;

export const SYMBOL_SIZE = 22;

const canvasCache = new Map(); // sidc -> {canvas, anchor:{x,y}, w, h}
const urlCache = new Map(); // sidc -> data URL for list rows and the detail panel

function plainDot() {
  const size = 12;
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size;
  const g = c.getContext('2d');
  g.fillStyle = '#f4f4f4';
  g.strokeStyle = '#222';
  g.lineWidth = 2;
  g.beginPath();
  g.arc(size / 2, size / 2, size / 2 - 1.5, 0, Math.PI * 2);
  g.fill();
  g.stroke();
  return { code: '', canvas: c, anchor: { x: size / 2, y: size / 2 }, w: size, h: size };
}

// validSymbol returns the milsymbol symbol for sidc or, when its function is
// one milsymbol does not know (CoT types name functions beyond 2525), for
// its nearest parent function: 2525 functions are hierarchical, so
// SFAPMFW becomes SFAPMF (military fixed wing).
function validSymbol(sidc) {
  let code = sidc;
  for (;;) {
    const sym = new ms.Symbol(code, { size: SYMBOL_SIZE });
    if (sym.isValid()) return sym;
    let i = 9; // function positions 5-10 (index 4-9)
    while (i >= 4 && code[i] === '-') i--;
    if (i < 4) return null;
    code = `${code.slice(0, i)}-${code.slice(i + 1)}`;
  }
}

// symbolFor returns a canvas with the symbol for sidc and the point of it
// that sits on the object's position.
export function symbolFor(sidc) {
  const key = sidc || '';
  let s = canvasCache.get(key);
  if (s) return s;
  if (key && ms) {
    const sym = validSymbol(key);
    if (sym) {
      const dpr = globalThis.devicePixelRatio || 1;
      const canvas = sym.asCanvas(dpr);
      const a = sym.getAnchor();
      // The canvas has whole pixels: draw it at exactly that size.
      s = { code: sym.options.sidc, canvas, anchor: { x: Math.round(a.x), y: Math.round(a.y) }, w: canvas.width / dpr, h: canvas.height / dpr };
    }
  }
  if (!s) s = plainDot();
  canvasCache.set(key, s);
  // An ImageBitmap is the browser's fastest source for drawImage; until it
  // is ready the canvas serves.
  s.image = s.canvas;
  if (typeof createImageBitmap === 'function') {
    createImageBitmap(s.canvas).then((bm) => { s.image = bm; }, () => {});
  }
  return s;
}

// symbolURL returns an image URL (a data: URL, nothing fetched) for sidc.
export function symbolURL(sidc) {
  const key = sidc || '';
  let u = urlCache.get(key);
  if (!u) {
    u = symbolFor(key).canvas.toDataURL();
    urlCache.set(key, u);
  }
  return u;
}
