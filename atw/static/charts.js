/* atw: the charts of /charts (the dashboard plus charts; Plotly from /vendor/plotly.min.js). Linked views: a range selected on the capture-date chart sets start/end,
   a click on a class adds it to the class filter; the page reloads, so grid and map follow. */
(function () {
  "use strict";
  var panel = document.getElementById("charts");
  if (!panel) return;
  var state = { period: "", show: [], withEstimated: false, by: "" };
  var bound = {};
  var period = document.getElementById("chart-period");
  var picker = document.getElementById("chart-picker");
  var byBox = document.getElementById("chart-by"); // classes over time: by category or top classes
  var estSwitch = document.getElementById("estimated-switch");
  var estBox = document.getElementById("chart-estimated");
  var estText = document.getElementById("estimated-text");
  // Fewer mode-bar buttons: it stays clear of the titles (on the left) when it shows on hover.
  var TRIM = ["lasso2d", "autoScale2d", "toggleSpikelines", "hoverClosestCartesian", "hoverCompareCartesian", "zoomIn2d", "zoomOut2d"];

  function count(n, one, many) { return Number(n).toLocaleString("en-US") + " " + (n === 1 ? one : many); }

  /* Photos whose date is only the file's date: left out of the time charts unless switched on. */
  function estimatedSwitch(data) {
    if (!estSwitch) return;
    estSwitch.hidden = !data.estimated;
    panel.dataset.estimated = String(data.estimated || 0);
    panel.dataset.withEstimated = data.with_estimated ? "1" : "0";
    if (!data.estimated) return;
    estBox.checked = !!data.with_estimated;
    var what = count(data.estimated, "photo with an estimated date", "photos with estimated dates");
    var text = data.with_estimated
      ? what + (data.estimated === 1 ? " is" : " are") + " charted in grey"
        + (data.estimated_outside ? " (" + count(data.estimated_outside, "falls", "fall") + " outside the other photos' dates, not shown)" : "")
        + (data.estimated === 1 ? " — uncheck to leave it out" : " — uncheck to leave them out")
      : what + (data.estimated === 1 ? " is not charted — show it" : " are not charted — show them");
    estText.textContent = text;
    estSwitch.title = "An estimated date is the file's date: the photo has no capture time of its own.";
  }

  function loadPlotly(done) {
    if (window.Plotly) { done(); return; }
    var s = document.createElement("script");
    s.src = panel.dataset.plotly;
    s.addEventListener("load", done);
    document.head.appendChild(s);
  }

  function navigate(change) {
    var q = new URLSearchParams(window.location.search);
    q.delete("page");
    Object.keys(change).forEach(function (k) { q.set(k, change[k]); });
    window.location.search = q.toString();
  }

  function addClass(label) {
    if (!label) return;
    var q = new URLSearchParams(window.location.search);
    var have = (q.get("classes") || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    if (have.indexOf(label) === -1) have.push(label);
    navigate({ classes: have.join(",") });
  }

  function themed(layout) {
    layout.font = Object.assign({}, layout.font || {}, { color: "#e8e6e3" });
    layout.modebar = { bgcolor: "rgba(17,20,24,.85)", color: "#9aa0a6", activecolor: "#e8e6e3" };
    ["xaxis", "yaxis"].forEach(function (ax) {
      layout[ax] = Object.assign({ gridcolor: "#2a2f36", zerolinecolor: "#2a2f36" }, layout[ax] || {});
    });
    return layout;
  }

  function on(name, el, event, fn) {
    if (bound[name + event]) return;
    bound[name + event] = true;
    el.on(event, fn);
  }

  function draw(data) {
    estimatedSwitch(data);
    period.value = state.period;
    period.dataset.auto = data.period;
    if (byBox) {
      byBox.value = data.by;
      panel.dataset.by = data.by;
      // the filter's own class words are what the chart shows: no breakdown to choose
      byBox.disabled = !!(data.focus && data.focus.length);
      byBox.title = byBox.disabled ? "the chart shows the filter's classes" : "";
    }
    picker.textContent = "";
    data.pickable.forEach(function (c) {
      var label = document.createElement("label");
      label.className = "inline";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.value = c.label;
      box.checked = data.shown.indexOf(c.label) !== -1;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + c.label + " (" + c.photos + ")"));
      picker.appendChild(label);
    });
    Object.keys(data.figures).forEach(function (name) {
      var el = document.getElementById("chart-" + name);
      if (!el) return;
      var fig = data.figures[name];
      var trim = name === "capture_time" ? TRIM : TRIM.concat(["select2d"]);
      Plotly.react(el, fig.data, themed(fig.layout), { displaylogo: false, responsive: true, modeBarButtonsToRemove: trim });
      if (name === "capture_time") {
        on(name, el, "plotly_selected", function (ev) {
          if (!ev || !ev.points || !ev.points.length) return;
          var days = ev.points.map(function (p) { return String(p.x).slice(0, 10); }).sort();
          navigate({ start: days[0], end: days[days.length - 1] });
        });
      } else if (name === "top_classes" || name === "heatmap") {
        on(name, el, "plotly_click", function (ev) { if (ev && ev.points.length) addClass(ev.points[0].y); });
      } else if (name === "photos_per_country" || name === "countries_over_time") {
        // a click on a country (its code is the point's customdata) filters by it
        on(name, el, "plotly_click", function (ev) { if (ev && ev.points.length && ev.points[0].customdata) navigate({ country: ev.points[0].customdata }); });
      } else if (name === "classes_over_time") {
        on(name, el, "plotly_click", function (ev) { if (ev && ev.points.length) addClass(ev.points[0].data.name); });
      }
    });
    panel.dataset.period = data.period;
    panel.dataset.ready = String(Number(panel.dataset.ready || 0) + 1);
  }

  function refresh() {
    var url = panel.dataset.url;
    var q = new URLSearchParams(url.indexOf("?") === -1 ? "" : url.slice(url.indexOf("?") + 1));
    if (state.period) q.set("period", state.period);
    if (state.show.length) q.set("show", state.show.join(","));
    if (state.withEstimated) q.set("with_estimated", "1");
    if (state.by) q.set("by", state.by);
    fetch(url.split("?")[0] + "?" + q.toString())
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(data); });
  }

  function open() { loadPlotly(refresh); }

  period.addEventListener("change", function () { state.period = period.value; refresh(); });
  // A breakdown chosen here replaces the classes picked below (picked classes are charted as such).
  if (byBox) byBox.addEventListener("change", function () {
    state.by = byBox.value;
    state.show = [];
    refresh();
  });
  if (estBox) estBox.addEventListener("change", function () { state.withEstimated = estBox.checked; refresh(); });
  picker.addEventListener("change", function () {
    state.show = Array.prototype.filter.call(picker.querySelectorAll("input"), function (b) { return b.checked; })
      .map(function (b) { return b.value; });
    if (state.show.length) refresh();
  });
  open();
})();
