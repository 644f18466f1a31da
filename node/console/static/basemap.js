// Accord console: what every map of the console shares. AccordMap.base
// draws a map's background: the office's tile server (the element's
// data-tiles) or, without one, the bundled base map of country borders
// (data-basemap). AccordMap.text makes a tooltip of plain text: places
// are data as offices wrote them, never markup.
"use strict";
window.AccordMap = {
  base: function (map, el) {
    var tiles = el.getAttribute("data-tiles");
    if (tiles) {
      L.tileLayer(tiles, { maxZoom: 18 }).addTo(map);
      return;
    }
    fetch(el.getAttribute("data-basemap"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (geo) {
        L.geoJSON(geo, { interactive: false, style: function () {
          return { color: "#6b7480", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 };
        } }).addTo(map).bringToBack();
      })
      .catch(function () { /* the map's own layers are still drawn */ });
    map.attributionControl.addAttribution("Borders: DCW-GMT");
  },
  text: function (s) {
    var span = document.createElement("span");
    span.textContent = s;
    return span;
  }
};
