/* atw: the maps (dashboard map of the filtered photos, the viewer's mini map), with Leaflet.
   No inline scripts: the page's elements (#map, #minimap) carry their data attributes.

   Offline first: the base layer is the vendored world outline (data-land: Natural Earth land as
   GeoJSON cut at the antimeridian, scripts/world_geojson.py), drawn by Leaflet in its own
   projection so a click lands where it is meant. OpenStreetMap tiles go on top only when one
   probe tile loads; after a failed probe (remembered for the browser session) or repeated tile
   errors the map makes no more tile requests. */
(function () {
  "use strict";

  var TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  var PROBE = "https://tile.openstreetmap.org/0/0/0.png";
  var OFFLINE_KEY = "atw.tiles.offline";
  var OFFLINE_FOR_MS = 10 * 60 * 1000; // after a failure, do not probe again for this long
  var TILE_ERRORS = 2; // tile errors after which the tile layer is removed
  var CIRCLE = { color: "#4fa3ff", weight: 2, fillOpacity: 0.12 };
  var POINT = { radius: 4, weight: 1, color: "#ffb347", fillOpacity: 0.8 };
  var landData = null; // one fetch per page, shared by both maps

  function $(id) { return document.getElementById(id); }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function plural(n, one, many) { return fmt(n) + " " + (n === 1 ? one : many); }

  function recentlyOffline() {
    try {
      var t = Number(window.sessionStorage.getItem(OFFLINE_KEY));
      return t > 0 && Date.now() - t < OFFLINE_FOR_MS;
    } catch (e) { return false; }
  }

  function rememberOffline() {
    try { window.sessionStorage.setItem(OFFLINE_KEY, String(Date.now())); } catch (e) { /* private mode */ }
  }

  /* The world outline in a pane under the tiles (tilePane is z-index 200): the whole map while
     offline, and what shows at low zoom until the tiles arrive. Drawn three times (−360°, 0,
     +360°) so the world repeats beside itself as the tiles do. */
  function outlines(map, url) {
    map.createPane("land").style.zIndex = 150;
    var renderer = L.svg({ pane: "land", padding: 0.5 });
    var group = L.layerGroup().addTo(map);
    function draw(data) {
      [-360, 0, 360].forEach(function (shift) {
        L.geoJSON(data, {
          pane: "land",
          renderer: renderer,
          interactive: false,
          coordsToLatLng: function (c) { return L.latLng(c[1], c[0] + shift); },
          style: function (f) {
            return f.id === "coast"
              ? { className: "coast", stroke: true, color: "#6b7f95", weight: 1, fill: false }
              : { className: "land", stroke: false, fill: true, fillColor: "#2a333d", fillOpacity: 1 };
          },
        }).addTo(group);
      });
      map.getContainer().dataset.outlines = "1";
    }
    if (!url) return group;
    if (!landData) {
      landData = fetch(url).then(function (r) { return r.ok ? r.json() : null; });
    }
    landData.then(function (data) { if (data) draw(data); });
    return group;
  }

  /* Tiles only when reachable: probe one tile; on success add the layer, and drop it again
     after TILE_ERRORS failures. onOffline(reason) is called once when the map stays offline. */
  function tiles(map, onOffline) {
    var el = map.getContainer();
    function offline() {
      el.classList.add("offline");
      el.dataset.tiles = "offline";
      rememberOffline();
      if (onOffline) onOffline();
    }
    if (recentlyOffline()) { offline(); return; }
    el.dataset.tiles = "probing";
    var probe = new Image();
    probe.addEventListener("error", offline);
    probe.addEventListener("load", function () {
      var failed = 0;
      var layer = L.tileLayer(TILES, {
        maxZoom: 18,
        attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
      });
      layer.on("tileerror", function () {
        failed++;
        if (failed === TILE_ERRORS) { map.removeLayer(layer); offline(); }
      });
      layer.addTo(map);
      el.dataset.tiles = "online";
    });
    probe.src = PROBE;
  }

  function validCentre(lat, lon) {
    return lat !== "" && lon !== "" && isFinite(lat) && isFinite(lon) &&
      Math.abs(Number(lat)) <= 90 && Math.abs(Number(lon)) <= 180;
  }

  function initMap(el) {
    if (!el || typeof L === "undefined") return;
    var map = L.map(el, { worldCopyJump: true, minZoom: 1 }).setView([20, 0], 2);
    window.atwMap = map;
    map.attributionControl.addAttribution("Outlines: Natural Earth");
    outlines(map, el.dataset.land);
    var note = $("map-note");
    tiles(map, function () { if (note) note.hidden = false; });

    var latIn = $("lat"), lonIn = $("lon"), radiusIn = $("radius_km");
    var centreLayer = L.layerGroup().addTo(map);
    var circle = null;

    /* The search centre: a marker (visible at any zoom, where a 20 km circle is a dot) and
       the radius circle. fit: show the whole circle. */
    function drawCentre(lat, lon, radiusKm, fit) {
      centreLayer.clearLayers();
      circle = null;
      if (!validCentre(lat, lon)) { delete el.dataset.centre; delete el.dataset.circle; return; }
      var ll = L.latLng(Number(lat), Number(lon));
      L.marker(ll, { title: "search centre", keyboard: false }).addTo(centreLayer);
      el.dataset.centre = Number(lat).toFixed(5) + "," + Number(lon).toFixed(5);
      var r = Number(radiusKm);
      if (radiusKm !== "" && isFinite(r) && r > 0) {
        circle = L.circle(ll, Object.assign({ radius: r * 1000 }, CIRCLE)).addTo(centreLayer);
        el.dataset.circle = String(r);
        if (fit) map.fitBounds(circle.getBounds().pad(0.15), { maxZoom: 14, animate: false });
      } else {
        delete el.dataset.circle;
      }
    }

    function fromFields(fit) {
      if (!latIn || !lonIn) return;
      drawCentre(latIn.value.trim(), lonIn.value.trim(), radiusIn ? radiusIn.value.trim() : "", fit);
    }

    if (el.dataset.lat) {
      drawCentre(el.dataset.lat, el.dataset.lon, el.dataset.radius || "", true);
    }
    [latIn, lonIn, radiusIn].forEach(function (input) {
      if (!input) return;
      input.addEventListener("input", function () { fromFields(input === radiusIn); });
      input.addEventListener("change", function () { fromFields(true); });
    });

    map.on("click", function (e) {
      if (!latIn || !lonIn) return;
      var ll = e.latlng.wrap();
      latIn.value = ll.lat.toFixed(5);
      lonIn.value = ll.lng.toFixed(5);
      if (radiusIn && !radiusIn.value) radiusIn.value = "20";
      fromFields(false);
    });

    fetch(el.dataset.points).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) return;
      // The points on a canvas (thousands stay fast), repeated with the world's copies.
      var renderer = L.canvas({ padding: 0.5 });
      var layer = L.featureGroup(), copies = L.layerGroup();
      data.points.forEach(function (p) {
        var tip = String(p[3] || "undated");
        L.circleMarker([p[1], p[2]], Object.assign({ renderer: renderer }, POINT)).bindTooltip(tip).addTo(layer);
        [-360, 360].forEach(function (shift) {
          L.circleMarker([p[1], p[2] + shift], Object.assign({ renderer: renderer }, POINT)).bindTooltip(tip).addTo(copies);
        });
      });
      layer.addTo(map);
      copies.addTo(map);
      el.dataset.loaded = String(data.points.length);
      caption(el, data);
      if (circle) return; // the search circle already set the view
      if (data.points.length) map.fitBounds(layer.getBounds().pad(0.1), { maxZoom: 12, animate: false });
    });
  }

  /* "1,234 photos on the map; 56 without a position", or, when none has one, a sentence in
     place of an empty map (kept when a search centre is set: the circle is worth seeing). */
  function caption(el, data) {
    var out = $("map-caption");
    var total = Number(el.dataset.total || 0);
    var located = data.located !== undefined ? data.located : data.points.length;
    var without = Math.max(0, total - located);
    if (!out) return;
    if (total > 0 && located === 0) {
      out.textContent = total === 1 ? "This photo has no position (no GPS in its file): nothing to show on a map."
        : "None of these " + fmt(total) + " photos has a position (no GPS in their files): nothing to show on a map.";
      out.classList.add("map-none");
      if (!el.dataset.lat) { el.hidden = true; var note = $("map-note"); if (note) note.remove(); }
      return;
    }
    var text = plural(located, "photo", "photos") + " on the map";
    if (data.truncated) text += " (the first " + fmt(data.points.length) + " drawn)";
    if (without > 0) text += "; " + fmt(without) + " without a position";
    out.textContent = text + ".";
  }

  /* The viewer's mini map: the photo's place; offline, the outline around it (zoom 3: the
     1:110m outline has nothing to show closer in). */
  function initMiniMap(mini) {
    if (!mini || typeof L === "undefined") return;
    var ll = [Number(mini.dataset.lat), Number(mini.dataset.lon)];
    var map = L.map(mini, { zoomControl: true, attributionControl: true, minZoom: 1 }).setView(ll, 11);
    window.atwMiniMap = map;
    map.attributionControl.addAttribution("Outlines: Natural Earth");
    outlines(map, mini.dataset.land);
    L.marker(ll, { keyboard: false }).addTo(map);
    tiles(map, function () { map.setView(ll, 3, { animate: false }); });
  }

  // The Trips page's maps (atw/static/trips.js) use the same outline and tiles.
  window.atwMapKit = { outlines: outlines, tiles: tiles };
  initMap($("map"));
  initMiniMap($("minimap"));
})();
