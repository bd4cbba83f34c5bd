/* atw: the photo viewer. The photo is fitted to the space left of the facts and below the
   navigation (small photos scaled up, large ones down, aspect kept); the boxes' SVG and labels
   share the photo's frame, so they stay aligned at any size. Box labels are placed inside the
   photo without overlapping each other (the strongest first; one that finds no free place is
   left out: the objects list names it). Also: image fallback, boxes toggle, arrow keys, objects
   list → box highlight. The mini map is in map.js. */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  var img = $("photo"), frame = $("frame"), stage = $("stage");

  function natural() {
    var w = Number(img.getAttribute("width")) || img.naturalWidth;
    var h = Number(img.getAttribute("height")) || img.naturalHeight;
    return w && h ? { w: w, h: h } : null;
  }

  // The frame's size: the photo scaled (up or down) to the stage's width and to the window's
  // height below the stage's top, whichever is tighter.
  function fit() {
    var n = natural();
    if (!n || !frame || !stage) return;
    var availW = stage.clientWidth;
    var top = stage.getBoundingClientRect().top + window.scrollY;
    var availH = Math.max(240, window.innerHeight - Math.min(top, window.innerHeight / 3) - 16);
    var scale = Math.min(availW / n.w, availH / n.h);
    frame.style.width = Math.floor(n.w * scale) + "px";
    frame.style.height = Math.floor(n.h * scale) + "px";
    layoutLabels();
  }

  function overlaps(a, b) {
    return a.x < b.x + b.w + 2 && b.x < a.x + a.w + 2 && a.y < b.y + b.h + 1 && b.y < a.y + a.h + 1;
  }

  function layoutLabels() {
    var W = frame.clientWidth, H = frame.clientHeight;
    var spans = Array.prototype.slice.call(document.querySelectorAll(".box-label"));
    spans.sort(function (a, b) { return Number(b.dataset.score) - Number(a.dataset.score); });
    var placed = [];
    spans.forEach(function (s) {
      s.hidden = false;
      s.classList.remove("crowded");
      var box = s.dataset.box.split(",").map(Number);
      var x0 = box[0] * W, y0 = box[1] * H, x1 = box[2] * W, y1 = box[3] * H;
      var w = s.offsetWidth, h = s.offsetHeight;
      // Above the box, inside its top, inside its bottom, below it, then down its left side.
      var tries = [[x0, y0 - h], [x0, y0], [x0, y1 - h], [x0, y1], [x1 - w, y0], [x1 - w, y1 - h]];
      for (var y = y0 + h; y < y1 - h; y += h) tries.push([x0, y]);
      var spot = null;
      for (var i = 0; i < tries.length && !spot; i++) {
        var r = {
          x: Math.max(0, Math.min(W - w, tries[i][0])),
          y: Math.max(0, Math.min(H - h, tries[i][1])),
          w: w, h: h,
        };
        if (!placed.some(function (p) { return overlaps(r, p); })) spot = r;
      }
      if (!spot || w > W) {
        s.hidden = true; // no free place: the objects list still names it
        s.classList.add("crowded");
        return;
      }
      placed.push(spot);
      s.style.left = spot.x + "px";
      s.style.top = spot.y + "px";
    });
    if (frame) frame.dataset.labelled = String(placed.length);
  }

  function initViewer() {
    if (img) {
      img.addEventListener("error", function once() {
        img.removeEventListener("error", once);
        img.src = img.dataset.fallback;
      });
      img.addEventListener("load", fit);
      fit();
      var pending = null;
      window.addEventListener("resize", function () {
        cancelAnimationFrame(pending);
        pending = requestAnimationFrame(fit);
      });
      if (document.fonts && document.fonts.ready) document.fonts.ready.then(layoutLabels);
    }
    var toggle = $("toggle-boxes");
    if (toggle && stage) {
      toggle.addEventListener("change", function () { stage.classList.toggle("hide-boxes", !toggle.checked); });
    }
    // Pointing at an object (or one of its scores) in the list lights its boxes up.
    var boxes = document.querySelectorAll("#boxes .box");
    var objects = $("objects");
    function light(indices) {
      Array.prototype.forEach.call(boxes, function (b, i) { b.classList.toggle("lit", indices.indexOf(i) !== -1); });
    }
    if (objects) {
      objects.addEventListener("mouseover", function (e) {
        var one = e.target.closest("[data-box-index]");
        if (one) { light([Number(one.dataset.boxIndex)]); return; }
        var group = e.target.closest(".object-group");
        if (!group) return;
        var label = group.dataset.label, hit = [];
        Array.prototype.forEach.call(boxes, function (b, i) { if (b.dataset.label === label) hit.push(i); });
        light(hit);
      });
      objects.addEventListener("mouseleave", function () { light([]); });
    }
    document.addEventListener("keydown", function (e) {
      if (e.target.tagName === "INPUT") return;
      var a = e.key === "ArrowLeft" ? $("prev") : e.key === "ArrowRight" ? $("next") : null;
      if (a) window.location = a.href;
    });
  }

  initViewer();
})();
