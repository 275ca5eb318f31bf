// The offline base map: land, sea and national borders from Natural Earth
// (world-atlas TopoJSON, embedded), drawn as vector layers. There is no tile
// server: the sea is the map's background colour. The 1:50m data serves the
// regional view; the 1:10m data, loaded on first need, serves city zooms.
// The 1:10m data is half a million points, so only the parts near the view
// are on the map at any time: a zoom then re-projects a few thousand points,
// not the world.

const L = globalThis.L;
const topojson = globalThis.topojson;

const DETAIL_ZOOM = 7; // from this zoom on, the 1:10m data is drawn

const landStyle = { stroke: true, color: '#7d8a94', weight: 0.8, fillColor: '#efeadf', fillOpacity: 1, interactive: false };
const borderStyle = { color: '#8a5a44', weight: 1.1, dashArray: '5 3', opacity: 0.9, interactive: false, fill: false };

// parts splits geometries into one feature per polygon or line, each with
// its bounding box, so that whatever is far from the view can be left out.
function parts(geo) {
  const out = [];
  const add = (g) => {
    if (!g) return;
    if (g.type === 'Feature') add(g.geometry);
    else if (g.type === 'FeatureCollection') g.features.forEach(add);
    else if (g.type === 'GeometryCollection') g.geometries.forEach(add);
    else if (g.type === 'MultiPolygon') for (const c of g.coordinates) add({ type: 'Polygon', coordinates: c });
    else if (g.type === 'MultiLineString') for (const c of g.coordinates) add({ type: 'LineString', coordinates: c });
    else out.push({ type: 'Feature', properties: {}, geometry: g, bbox: bbox(g) });
  };
  add(geo);
  return out;
}

function bbox(g) {
  let w = 180;
  let s = 90;
  let e = -180;
  let n = -90;
  const ring = g.type === 'Polygon' ? g.coordinates[0] : g.coordinates;
  for (const [x, y] of ring) {
    if (x < w) w = x;
    if (x > e) e = x;
    if (y < s) s = y;
    if (y > n) n = y;
  }
  return L.latLngBounds([s, w], [n, e]);
}

async function load(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`base map ${url}: HTTP ${res.status}`);
  const topo = await res.json();
  return {
    land: parts(topojson.feature(topo, topo.objects.land)),
    borders: parts(topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b)),
  };
}

// status reports which levels of detail are loaded, for operators and tests.
export const status = { coarse: false, detail: false, detailParts: 0 };

// addBaseMap draws the base map into map and keeps the right level of detail
// for the view. It resolves when the regional layer is drawn.
export async function addBaseMap(map) {
  const renderer = L.canvas({ padding: 0.3 });
  const coarseData = await load('vendor/world-atlas/countries-50m.json');
  const coarse = L.layerGroup([
    L.geoJSON({ type: 'FeatureCollection', features: coarseData.land }, { style: landStyle, renderer }),
    L.geoJSON({ type: 'FeatureCollection', features: coarseData.borders }, { style: borderStyle, renderer }),
  ]);
  status.coarse = true;

  // Detail: each part becomes a layer when first near the view.
  const detail = L.layerGroup();
  let detailParts = null; // [{bbox, style, layer}]
  let loading = null;
  const shown = new Set();

  const cull = () => {
    const view = map.getBounds().pad(0.5);
    for (const p of detailParts) {
      const near = view.intersects(p.bbox);
      if (near && !shown.has(p)) {
        p.layer ??= L.geoJSON(p.feature, { style: p.style, renderer });
        detail.addLayer(p.layer);
        shown.add(p);
      } else if (!near && shown.has(p)) {
        detail.removeLayer(p.layer);
        shown.delete(p);
      }
    }
    status.detailParts = shown.size;
  };

  let current = null;
  const show = (layer) => {
    if (current === layer) return;
    if (current) map.removeLayer(current);
    current = layer;
    map.addLayer(layer);
  };

  const update = () => {
    if (map.getZoom() < DETAIL_ZOOM) {
      show(coarse);
      return;
    }
    if (detailParts) {
      cull();
      show(detail);
      return;
    }
    show(coarse);
    if (!loading) {
      loading = load('vendor/world-atlas/countries-10m.json')
        .then((d) => {
          detailParts = [
            ...d.land.map((f) => ({ feature: f, bbox: f.bbox, style: landStyle })),
            ...d.borders.map((f) => ({ feature: f, bbox: f.bbox, style: borderStyle })),
          ];
          status.detail = true;
          update();
        })
        .catch((err) => {
          loading = null;
          console.warn('detailed base map unavailable:', err);
        });
    }
  };
  map.on('zoomend moveend', update);
  update();
}
