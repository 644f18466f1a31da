// Accord console: the map of a case search (Leaflet with
// Leaflet.markercluster). The results come from the page's data-src
// (/cases/map.json with the search's filters): single incidents are
// markers, clustered; when the search matches too many incidents the
// server sends grid cells with counts instead, drawn as circles sized by
// count. The background is AccordMap.base's (basemap.js).
"use strict";
(function () {
  var el = document.getElementById("cases-map");
  if (!el || typeof L === "undefined") { return; }
  var note = document.getElementById("map-note");
  var map = L.map(el, { maxZoom: 14, minZoom: 2, attributionControl: true });
  map.setView([49.0, 31.5], 5);
  AccordMap.base(map, el);
  var text = AccordMap.text;
  function say(s) {
    if (!note || !s) { return; }
    if (note.textContent) { note.textContent += " "; }
    note.textContent += s;
  }
  var cellText = el.getAttribute("data-cell") || "%d";
  fetch(el.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) {
      if (!r.ok) { throw new Error("map: HTTP " + r.status); }
      return r.json();
    })
    .then(function (data) {
      var bounds = [];
      var layer = null;
      if (data.cells && data.cells.length) {
        var top = 1;
        data.cells.forEach(function (c) { top = Math.max(top, c.cases); });
        layer = L.layerGroup();
        data.cells.forEach(function (c) {
          var r = 6 + 18 * Math.sqrt(c.cases / top);
          var m = L.circleMarker([c.lat, c.lon], { radius: r, color: "#0b4f9e", weight: 2, fillOpacity: 0.4 });
          m.bindTooltip(text(cellText.replace("%d", String(c.cases))));
          layer.addLayer(m);
          bounds.push([c.lat, c.lon]);
        });
        say(note && note.getAttribute("data-cells"));
      } else if (data.points && data.points.length) {
        var cluster = layer = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
        data.points.forEach(function (p) {
          var m = L.marker([p.lat, p.lon], { title: p["case"], keyboard: true });
          m.bindTooltip(text(p["case"] + ": " + p.place));
          cluster.addLayer(m);
          bounds.push([p.lat, p.lon]);
        });
      }
      if (data.stopped) { say(note && note.getAttribute("data-stopped")); }
      // The view first, without animation, then the layer: no cluster
      // animation runs while the view changes.
      if (bounds.length) {
        map.fitBounds(bounds, { padding: [40, 40], maxZoom: 10, animate: false });
      }
      if (layer) { layer.addTo(map); }
    })
    .catch(function () { say("–"); });
})();
