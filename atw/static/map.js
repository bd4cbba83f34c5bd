/* atw: the maps (dashboard map of the filtered photos, the viewer's mini map), with Leaflet.
   No inline scripts: the page's elements (#map, #minimap) carry their data attributes. */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function tileLayer(map, note) {
    var failed = 0;
    var tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 18,
      attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    });
    tiles.on("tileerror", function () {
      failed++;
      if (failed === 1 && note) note.hidden = false;
    });
    tiles.addTo(map);
  }

  function initMap(el) {
    if (!el || typeof L === "undefined") return;
    var map = L.map(el, { worldCopyJump: true }).setView([20, 0], 2);
    window.atwMap = map;
    tileLayer(map, $("map-note"));
    var centre = null, circle = null;
    if (el.dataset.lat) {
      centre = L.latLng(Number(el.dataset.lat), Number(el.dataset.lon));
      L.marker(centre).addTo(map);
      if (el.dataset.radius) {
        circle = L.circle(centre, { radius: Number(el.dataset.radius) * 1000, color: "#4fa3ff" }).addTo(map);
      }
    }
    fetch(el.dataset.points).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) return;
      var layer = L.featureGroup();
      data.points.forEach(function (p) {
        L.circleMarker([p[1], p[2]], { radius: 4, weight: 1, color: "#ffb347", fillOpacity: 0.8 })
          .bindTooltip(String(p[3] || "")).addTo(layer);
      });
      layer.addTo(map);
      el.dataset.loaded = String(data.points.length);
      var bounds = circle ? circle.getBounds() : (data.points.length ? layer.getBounds() : null);
      if (bounds && bounds.isValid()) map.fitBounds(bounds.pad(0.1), { maxZoom: 12 });
    });
    map.on("click", function (e) {
      var lat = $("lat"), lon = $("lon"), radius = $("radius_km");
      if (!lat || !lon) return;
      var ll = e.latlng.wrap();
      lat.value = ll.lat.toFixed(5);
      lon.value = ll.lng.toFixed(5);
      if (radius && !radius.value) radius.value = "20";
      if (centre) map.eachLayer(function (l) { if (l instanceof L.Marker || l instanceof L.Circle) map.removeLayer(l); });
      centre = ll;
      L.marker(ll).addTo(map);
      circle = L.circle(ll, { radius: Number(radius ? radius.value : 20) * 1000, color: "#4fa3ff" }).addTo(map);
      el.dataset.centre = lat.value + "," + lon.value;
    });
  }

  function initMiniMap() {
    var mini = $("minimap");
    if (mini && typeof L !== "undefined") {
      var ll = [Number(mini.dataset.lat), Number(mini.dataset.lon)];
      var map = L.map(mini, { zoomControl: false, attributionControl: true }).setView(ll, 11);
      tileLayer(map, null);
      L.marker(ll).addTo(map);
    }
  }

  initMap($("map"));
  initMiniMap();
})();
