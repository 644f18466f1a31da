// Accord console: the map of a search (Leaflet). The node aggregates
// every matching case into grid cells of the view: the page's data-src
// (/cases/map.json or /federation/map.json with the search's filters)
// is asked with the map's zoom and box each time the view changes. A cell
// of one case is a marker that links to the case; a cell of more is a
// circle sized by its count, which zooms into the cell when clicked. The
// background is AccordMap.base's (basemap.js).
"use strict";
(function () {
  var el = document.getElementById("cases-map");
  if (!el || typeof L === "undefined") { return; }
  var map = L.map(el, { maxZoom: 14, minZoom: 2, attributionControl: true });
  map.setView([49.0, 31.5], 5);
  AccordMap.base(map, el);
  var text = AccordMap.text;
  var src = el.getAttribute("data-src");
  var cellText = el.getAttribute("data-cell") || "%d";
  var layer = L.layerGroup().addTo(map);
  var asked = 0;

  function draw(data) {
    layer.clearLayers();
    var top = 1;
    data.cells.forEach(function (c) { top = Math.max(top, c.cases); });
    data.cells.forEach(function (c) {
      if (c.cases === 1 && c.href) {
        var m = L.marker([c.lat, c.lon], { title: c["case"], keyboard: true });
        m.bindTooltip(text(c["case"]));
        m.on("click", function () { window.location.href = c.href; });
        layer.addLayer(m);
        return;
      }
      var r = 8 + 16 * Math.sqrt(c.cases / top);
      var circle = L.circleMarker([c.lat, c.lon], { radius: r, color: "#0b4f9e", weight: 2, fillOpacity: 0.4 });
      circle.bindTooltip(text(cellText.replace("%d", String(c.cases))));
      circle.on("click", function () { map.fitBounds([[c.south, c.west], [c.north, c.east]]); });
      layer.addLayer(circle);
    });
  }

  // load asks for the cells of the view (the whole world at first, to
  // fit the view to the cases).
  function load(first) {
    var u = src + (src.indexOf("?") < 0 ? "?" : "&") + "zoom=" + map.getZoom();
    if (!first) {
      var b = map.getBounds();
      u += "&south=" + b.getSouth() + "&west=" + b.getWest() + "&north=" + b.getNorth() + "&east=" + b.getEast();
    }
    var mine = ++asked;
    fetch(u, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("map: HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        if (mine !== asked) { return; }
        draw(data);
        if (first) {
          var bounds = data.cells.map(function (c) { return [c.lat, c.lon]; });
          if (bounds.length) {
            // Not closer than a region: its borders show where the
            // incidents are.
            map.fitBounds(bounds, { padding: [40, 40], maxZoom: 7, animate: false });
          }
          map.on("moveend", function () { load(false); });
          load(false);
        }
      })
      .catch(function () {
        var note = document.getElementById("map-note");
        if (note) { note.textContent = "–"; }
      });
  }
  load(true);
})();
