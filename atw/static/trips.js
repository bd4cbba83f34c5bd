/* atw: the Trips page. Each trip's map (.trip-map) is made when it scrolls into view: the
   offline world outline and the tiles of map.js (window.atwMapKit), then the trip's path from
   its data-path URL (GET /api/trips/<id>): its located photos joined in time order (UTC), one
   colour per day of the trip, a dot per photo, across the antimeridian without a jump. */
(function () {
  "use strict";

  var kit = window.atwMapKit;
  if (!kit || typeof L === "undefined") return;

  /* Day i's colour: hues a golden angle apart, so neighbouring days differ. */
  function colour(i) { return "hsl(" + Math.round((i * 137.508 + 25) % 360) + ", 85%, 60%)"; }

  /* Longitudes made continuous (each point within 180° of the one before), so a path that
     crosses the antimeridian goes the short way instead of across the whole map. */
  function unwrap(points) {
    var out = [], prev = null;
    points.forEach(function (p) {
      var lon = p[1];
      if (prev !== null) { while (lon - prev > 180) lon -= 360; while (lon - prev < -180) lon += 360; }
      out.push(L.latLng(p[0], lon));
      prev = lon;
    });
    return out;
  }

  function legend(li, path) {
    var box = li.querySelector(".trip-days");
    if (!box) return;
    var used = {};
    path.points.forEach(function (p) { used[p[2]] = true; });
    path.days.forEach(function (d, i) {
      if (!used[i]) return;
      var span = document.createElement("span");
      span.className = "day";
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colour(i);
      span.appendChild(sw);
      span.appendChild(document.createTextNode(d.slice(8, 10).replace(/^0/, "") + "/" + d.slice(5, 7).replace(/^0/, "")));
      box.appendChild(span);
    });
    box.hidden = false;
  }

  function draw(map, li, data) {
    var path = data.path, el = map.getContainer();
    var lls = unwrap(path.points);
    var renderer = L.canvas({ padding: 0.5 });
    var layer = L.featureGroup().addTo(map);
    for (var i = 1; i < lls.length; i++) {
      // The leg into a photo takes that photo's day colour.
      L.polyline([lls[i - 1], lls[i]], { color: colour(path.points[i][2]), weight: 3, opacity: 1, renderer: renderer }).addTo(layer);
    }
    lls.forEach(function (ll, j) {
      var p = path.points[j];
      L.circleMarker(ll, { radius: 3, weight: 1, color: "#111", fillColor: colour(p[2]), fillOpacity: 1, renderer: renderer })
        .bindTooltip(p[3]).addTo(layer);
    });
    el.dataset.points = String(path.points.length);
    el.dataset.legs = String(Math.max(0, lls.length - 1));
    el.dataset.days = String(path.days.length);
    if (lls.length) {
      var b = layer.getBounds();
      map.fitBounds(b.pad(0.2), { maxZoom: 6, animate: false }); // offline, the outline shows little closer
      el.dataset.span = (b.getEast() - b.getWest()).toFixed(2); // degrees of longitude drawn
      el.dataset.zoom = String(map.getZoom());
    }
    legend(li, path);
    el.dataset.drawn = "1";
  }

  function initTrip(li) {
    var el = li.querySelector(".trip-map");
    if (!el || el.dataset.ready) return;
    el.dataset.ready = "1";
    var map = L.map(el, { worldCopyJump: false, minZoom: 1, scrollWheelZoom: false }).setView([20, 0], 1);
    map.attributionControl.addAttribution("Outlines: Natural Earth");
    kit.outlines(map, el.dataset.land);
    kit.tiles(map);
    fetch(li.dataset.path).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (data) draw(map, li, data);
    });
  }

  var trips = Array.prototype.slice.call(document.querySelectorAll("li.trip"));
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { seen.unobserve(e.target); initTrip(e.target); } });
    }, { rootMargin: "300px" });
    trips.forEach(function (li) { seen.observe(li); });
  } else {
    trips.forEach(initTrip);
  }
})();
