// Accord console: the incident map of a match page (Leaflet). The points
// come from the page's data-points attribute; without an office tile
// server the bundled base map (country borders) is drawn.
"use strict";
(function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") { return; }
  var points = [];
  try { points = JSON.parse(el.getAttribute("data-points") || "[]") || []; } catch (e) { points = []; }
  var map = L.map(el, { maxZoom: 12, minZoom: 2, attributionControl: true });
  var tiles = el.getAttribute("data-tiles");
  if (tiles) {
    L.tileLayer(tiles, { maxZoom: 18 }).addTo(map);
  } else {
    fetch(el.getAttribute("data-basemap"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (geo) {
        L.geoJSON(geo, { interactive: false, style: function () {
          return { color: "#6b7480", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 };
        } }).addTo(map).bringToBack();
      })
      .catch(function () { /* the markers are still drawn */ });
    map.attributionControl.addAttribution("Borders: DCW-GMT");
  }
  var colours = ["#0b4f9e", "#8a4b00"];
  var bounds = [];
  points.forEach(function (p) {
    var m = L.circleMarker([p.lat, p.lon], { radius: 8, color: colours[p.side % 2], weight: 3, fillOpacity: 0.35 });
    // Text only: a place name is data as an office wrote it.
    var label = document.createElement("span");
    label.textContent = p["case"] + ": " + p.place;
    m.bindTooltip(label);
    m.addTo(map);
    bounds.push([p.lat, p.lon]);
  });
  if (bounds.length) {
    // Close enough to tell the points apart, far enough to see where.
    map.fitBounds(bounds, { padding: [60, 60], maxZoom: 8 });
  } else {
    map.setView([49.0, 31.5], 5);
  }
})();
