// The staff officer's tools on the map, wired in one place: the timeline
// (replay), measure and draw, export of the view, and keyboard use.

import { Timeline } from './timeline.js';
import { Tools } from './measure.js';
import { Exporter } from './exportview.js';
import { installKeyboard } from './keyboard.js';

// startStaffTools: ctx {map, store, filter, layer, list, select,
// requestDraw, whoami: () => whoami JSON}. Returns the tools, for scripts
// and the browser tests.
export function startStaffTools(ctx) {
  const { map, store, filter, layer, list } = ctx;
  const timeline = new Timeline({
    map, live: store, layer, list, requestDraw: ctx.requestDraw,
    onStore(s) {
      layer.store = s;
      list.store = s;
      ctx.onStore?.(s);
    },
  });
  const current = () => layer.store;
  const tools = new Tools({ map, layer, store: current, whoami: ctx.whoami });
  const exporter = new Exporter({ map, store: current, filter, replaying: () => timeline.active }, tools.box);
  installKeyboard({ list, select: ctx.select });
  // A click on a cluster zooms in on it.
  map.on('click', (ev) => {
    if (tools.mode) return;
    const c = layer.hitCluster(ev.containerPoint);
    if (c) map.setView(map.containerPointToLatLng([c.x, c.y]), Math.min(map.getMaxZoom(), map.getZoom() + 2), { animate: false });
  });
  return { timeline, tools, exporter };
}
