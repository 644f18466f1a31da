// Accord console: the incident map of a match page (Leaflet). The points
// come from the page's data-points attribute; the background is
// AccordMap.base's (basemap.js).
"use strict";
(function () {
  var el = document.getElementById("map");
  if (!el || typeof L === "undefined") { return; }
  var points = [];
  try { points = JSON.parse(el.getAttribute("data-points") || "[]") || []; } catch (e) { points = []; }
  var map = L.map(el, { maxZoom: 12, minZoom: 2, attributionControl: true });
  AccordMap.base(map, el);
  var colours = ["#0b4f9e", "#8a4b00"];
  var bounds = [];
  points.forEach(function (p) {
    var m = L.circleMarker([p.lat, p.lon], { radius: 8, color: colours[p.side % 2], weight: 3, fillOpacity: 0.35 });
    m.bindTooltip(AccordMap.text(p["case"] + ": " + p.place));
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
