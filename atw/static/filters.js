/* atw: the filter panel (confidence slider, empty fields left out of the URL, class autocomplete).
   No inline scripts: the classes URL is on this script's tag (data-classes-url). */
(function () {
  "use strict";
  var me = document.currentScript;

  function $(id) { return document.getElementById(id); }
  function count(n, one, many) { return Number(n).toLocaleString("en-US") + " " + (n === 1 ? one : many); }

  // "dog, , cat ," → "dog, cat": what the field and the URL carry.
  function tidyClasses(value) {
    return value.split(",").map(function (s) { return s.trim(); }).filter(Boolean).join(", ");
  }

  function initFilters(classesUrl) {
    var form = $("filters");
    if (!form) return;
    var slider = $("min_score"), out = $("min-score-out"), input = $("classes");
    if (slider && out) {
      var show = function () { out.textContent = Number(slider.value) > 0 ? slider.value : "any"; };
      slider.addEventListener("input", show);
      show();
    }
    form.addEventListener("submit", function () {
      if (input) input.value = tidyClasses(input.value);
      // A slider at 0 means "any score": do not put min_score=0 into shareable URLs.
      if (slider && Number(slider.value) === 0) slider.disabled = true;
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.value === "" && el.tagName !== "BUTTON") el.disabled = true;
      });
    });
    initAutocomplete(input, $("class-suggest"), classesUrl);
  }

  // Suggestions come from the server (/api/classes?q=…, within the rest of the filter: classes,
  // WordNet groups and categories, atw.query.catalog.complete): names that are the typed word or
  // start with it first, then those with a word that does; most photos first among them.
  function initAutocomplete(input, list, classesUrl) {
    if (!input || !list) return;
    var params = new URLSearchParams(window.location.search);
    ["classes", "page", "per_page"].forEach(function (k) { params.delete(k); });
    var asked = 0, timer = null, active = -1;

    function lastToken() { var parts = input.value.split(","); return parts[parts.length - 1].trim(); }
    function items() { return list.querySelectorAll("li"); }
    function highlight(i) {
      var lis = items();
      active = lis.length ? (i + lis.length) % lis.length : -1;
      Array.prototype.forEach.call(lis, function (li, j) { li.classList.toggle("active", j === active); });
    }
    function hide() { list.hidden = true; active = -1; }

    function fetchSuggestions() {
      var q = lastToken();
      if (!q) { list.innerHTML = ""; hide(); return; }
      var mine = ++asked;
      params.set("q", q);
      fetch(classesUrl + "?" + params.toString()).then(function (r) { return r.ok ? r.json() : []; })
        .then(function (rows) {
          if (mine !== asked) return; // a later keystroke's answer wins
          var taken = input.value.split(",").map(function (s) { return s.trim().toLowerCase(); });
          list.innerHTML = "";
          rows.forEach(function (c) {
            if (taken.slice(0, -1).indexOf(c.label.toLowerCase()) !== -1) return; // already chosen
            list.appendChild(suggestion(c));
          });
          active = -1;
          list.hidden = items().length === 0;
        });
    }

    // "dog — 42 photos · 119 classes  group": the word it puts in the field, its photos in the
    // filter, and for a group or category how many classes it holds.
    function suggestion(c) {
      var li = document.createElement("li");
      li.dataset.label = c.label;
      li.dataset.kind = c.kind;
      var w = document.createElement("span");
      w.className = "w";
      w.textContent = c.label;
      li.appendChild(w);
      var more = " — " + count(c.photos, "photo", "photos");
      if (c.kind !== "class" && c.members > 1) more += " · " + count(c.members, "class", "classes");
      if (c.sources && c.sources.length === 1 && c.sources[0] === "coco") more += " (detected objects)";
      li.appendChild(document.createTextNode(more));
      if (c.kind !== "class") {
        var k = document.createElement("span");
        k.className = "kind";
        k.textContent = " " + c.kind;
        li.appendChild(k);
      }
      if (c.name && c.name.toLowerCase() !== String(c.label).toLowerCase()) li.title = c.name;
      return li;
    }

    function pick(li) {
      var parts = input.value.split(",").map(function (s) { return s.trim(); });
      parts[parts.length - 1] = li.dataset.label;
      input.value = tidyClasses(parts.join(","));
      hide();
      input.focus();
    }

    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(fetchSuggestions, 80); });
    input.addEventListener("blur", function () { setTimeout(hide, 150); });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        highlight(active + (e.key === "ArrowDown" ? 1 : -1));
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault();
        pick(items()[active]);
      } else if (e.key === "Escape") {
        hide();
      }
    });
    list.addEventListener("mousedown", function (e) {
      var li = e.target.closest("li");
      if (!li) return;
      e.preventDefault();
      pick(li);
    });
  }

  initFilters(me.dataset.classesUrl);
})();
