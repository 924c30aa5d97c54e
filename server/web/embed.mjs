// /embed/{layer}: one layer over its ground, for an iframe on another site. `center`, `zoom`
// and `feature` in the URL choose the view; a feature's popup opens by itself.
import {
  anchorOf, config, createMap, fitToStyle, getJson, inspectOnClick, layersOf, showPopup,
} from '/assets/common.mjs';

const view = config.center ? { center: config.center, zoom: config.zoom ?? 14 } : {};
const map = createMap('map', config.style, view);

map.once('load', async () => {
  const layers = layersOf(map);
  inspectOnClick(map, layers);
  if (!config.center) fitToStyle(map);
  if (config.feature !== null && config.feature !== undefined) {
    const feature = await getJson(`/collections/${config.layer}/items/${config.feature}?f=json`).catch(() => null);
    if (feature) {
      const at = anchorOf(feature.geometry);
      map.jumpTo({ center: at, zoom: config.zoom ?? 15 });
      showPopup(map, at, layers[config.layer], feature.properties);
    }
  }
  // The view is set: tests wait for this before they look.
  document.body.dataset.ready = 'yes';
});
