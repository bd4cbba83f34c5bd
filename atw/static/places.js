/* atw: places by name, offline. No inline scripts: the URLs are on this script's tag.
   - The filter panel's Country, Region and Place fields complete from the filtered photos
     (data-places-url: /api/places?kind=…&q=…, counted within the rest of the filter).
   - "Find a place" above the map (data-geocode-url: /api/geocode?q=…, the offline gazetteer):
     Enter centres the radius filter on the most populous place of that name (the Latitude and
     Longitude fields; the map's circle follows them, map.js) and lists every place of the name
     with its country, region and population, to pick another ("Paris": France, Texas, …). */
(function () {
  "use strict";
  var me = document.currentScript;
  var DEFAULT_RADIUS_KM = "20";

  function $(id) { return document.getElementById(id); }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  /* A list of suggestions under an input: keyboard (↑ ↓ Enter Escape) and pointer. */
  function suggestions(input, list, fetchRows, render, pick) {
    var asked = 0, timer = null, active = -1;
    function items() { return list.querySelectorAll("li"); }
    function highlight(i) {
      var lis = items();
      active = lis.length ? (i + lis.length) % lis.length : -1;
      Array.prototype.forEach.call(lis, function (li, j) { li.classList.toggle("active", j === active); });
    }
    function hide() { list.hidden = true; active = -1; }
    function show(rows) {
      list.textContent = "";
      rows.forEach(function (row) {
        var li = document.createElement("li");
        render(li, row);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(row); hide(); });
        list.appendChild(li);
      });
      active = -1;
      list.hidden = rows.length === 0;
    }
    function refresh() {
      var mine = ++asked;
      fetchRows().then(function (rows) { if (mine === asked) show(rows || []); });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 150);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
      else if (e.key === "Escape") { hide(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); items()[active].dispatchEvent(new Event("mousedown")); }
    });
    input.addEventListener("blur", function () { setTimeout(hide, 150); });
    return { show: show, hide: hide };
  }

  function getJSON(url) {
    return fetch(url).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
  }

  /* Country (comma-separated, completes its last name), Region, Place. */
  function initFields(placesUrl) {
    ["country", "region", "place"].forEach(function (kind) {
      var input = $(kind), list = $(kind + "-suggest");
      if (!input || !list || !placesUrl) return;
      function typed() {
        if (kind !== "country") return input.value.trim();
        var parts = input.value.split(",");
        return parts[parts.length - 1].trim();
      }
      suggestions(input, list, function () {
        var q = typed();
        if (!q) return Promise.resolve([]);
        var params = new URLSearchParams(window.location.search);
        [kind, "page", "per_page"].forEach(function (k) { params.delete(k); });
        params.set("kind", kind);
        params.set("q", q);
        return getJSON(placesUrl + "?" + params.toString());
      }, function (li, row) {
        var where = kind === "place" ? [row.region, row.country] : kind === "region" ? [row.country] : [];
        li.textContent = row.value + (where.filter(Boolean).length && row.value.indexOf(",") === -1 ? " — " + where.filter(Boolean).join(", ") : "") + " (" + fmt(row.photos) + ")";
        li.dataset.value = row.value;
      }, function (row) {
        if (kind === "country") {
          var parts = input.value.split(",").map(function (s) { return s.trim(); });
          parts[parts.length - 1] = row.value;
          input.value = parts.filter(Boolean).join(", ");
        } else {
          input.value = row.value;
        }
        input.focus();
      });
    });
  }

  /* The radius filter's centre: the Latitude/Longitude fields (and a radius if none is set);
     "change" events make map.js redraw the circle and fit the view to it. */
  function centreOn(place) {
    var lat = $("lat"), lon = $("lon"), radius = $("radius_km");
    if (!lat || !lon) return;
    lat.value = String(place.lat);
    lon.value = String(place.lon);
    if (radius && !radius.value.trim()) radius.value = DEFAULT_RADIUS_KM;
    [lat, lon, radius].forEach(function (el) { if (el) el.dispatchEvent(new Event("change")); });
  }

  function label(place) {
    return place.label + (place.population ? " · " + fmt(place.population) + " people" : "");
  }

  function initSearch(geocodeUrl) {
    var form = $("place-search-form"), input = $("place-search"), list = $("place-results"), note = $("place-search-note");
    if (!form || !input || !list || !geocodeUrl) return;
    form.hidden = false;
    function lookup(q) { return getJSON(geocodeUrl + "?" + new URLSearchParams({ q: q }).toString()); }
    function choose(place, many) {
      centreOn(place);
      form.dataset.centred = place.label;
      note.textContent = "Centre: " + label(place) + (many > 1 ? " — " + many + " places have this name: pick another below" : "") + ". Show photos to apply.";
    }
    var box = suggestions(input, list, function () {
      var q = input.value.trim();
      return q.length < 2 ? Promise.resolve([]) : lookup(q);
    }, function (li, place) {
      li.textContent = label(place);
      li.dataset.lat = place.lat;
      li.dataset.lon = place.lon;
    }, function (place) { choose(place, 0); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = input.value.trim();
      if (!q) return;
      lookup(q).then(function (found) {
        if (!found || !found.length) {
          box.hide();
          delete form.dataset.centred;
          note.textContent = "No place named “" + q + "” in the gazetteer.";
          return;
        }
        choose(found[0], found.length);
        box.show(found.length > 1 ? found : []);
        if (found.length > 1) list.dataset.count = String(found.length);
      });
    });
  }

  initFields(me && me.dataset.placesUrl);
  initSearch(me && me.dataset.geocodeUrl);
})();
