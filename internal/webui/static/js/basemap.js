// The offline base map: land, sea and national borders from Natural Earth
// (world-atlas TopoJSON, embedded), drawn as vector layers. There is no tile
// server: the sea is the map's background colour. The 1:50m data serves the
// regional view; the 1:10m data, loaded on first need, serves city zooms.

const L = globalThis.L;
const topojson = globalThis.topojson;

const DETAIL_ZOOM = 7; // from this zoom on, the 1:10m data is drawn

const landStyle = { stroke: true, color: '#7d8a94', weight: 0.8, fillColor: '#efeadf', fillOpacity: 1, interactive: false };
const borderStyle = { color: '#8a5a44', weight: 1.1, dashArray: '5 3', opacity: 0.9, interactive: false, fill: false };

async function loadLayers(url, renderer) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`base map ${url}: HTTP ${res.status}`);
  const topo = await res.json();
  const land = topojson.feature(topo, topo.objects.land);
  const borders = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
  return L.layerGroup([
    L.geoJSON(land, { style: landStyle, renderer, smoothFactor: 1.2 }),
    L.geoJSON(borders, { style: borderStyle, renderer, smoothFactor: 1.2 }),
  ]);
}

// addBaseMap draws the base map into map and keeps the right level of detail
// for the zoom. It resolves when the first layer is drawn.
export async function addBaseMap(map) {
  const renderer = L.canvas({ padding: 0.3 });
  const coarse = await loadLayers('vendor/world-atlas/countries-50m.json', renderer);
  let detail = null;
  let loading = null;
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
    if (detail) {
      show(detail);
      return;
    }
    show(coarse);
    if (!loading) {
      loading = loadLayers('vendor/world-atlas/countries-10m.json', renderer)
        .then((l) => {
          detail = l;
          if (map.getZoom() >= DETAIL_ZOOM) show(detail);
        })
        .catch((err) => {
          loading = null;
          console.warn('detailed base map unavailable:', err);
        });
    }
  };
  map.on('zoomend', update);
  update();
}
