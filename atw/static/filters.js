/* atw: the filter panel (confidence slider, empty fields left out of the URL, class autocomplete).
   No inline scripts: the classes URL is on this script's tag (data-classes-url). */
(function () {
  "use strict";
  var me = document.currentScript;

  function $(id) { return document.getElementById(id); }

  function initFilters(classesUrl) {
    var slider = $("min_score"), out = $("min-score-out");
    if (slider && out) {
      var show = function () { out.textContent = Number(slider.value) > 0 ? slider.value : "any"; };
      slider.addEventListener("input", show);
      show();
      // A slider at 0 means "any score": do not put min_score=0 into shareable URLs.
      $("filters").addEventListener("submit", function () {
        if (Number(slider.value) === 0) slider.disabled = true;
        Array.prototype.forEach.call(this.elements, function (el) {
          if (el.name && el.value === "" && el.tagName !== "BUTTON") el.disabled = true;
        });
      });
    }
    var input = $("classes"), list = $("class-suggest");
    if (!input || !list) return;
    var classes = [];
    var params = new URLSearchParams(window.location.search);
    params.delete("classes"); params.delete("page");
    fetch(classesUrl + "?" + params.toString()).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) { classes = rows; });
    function lastToken() { var parts = input.value.split(","); return parts[parts.length - 1].trim().toLowerCase(); }
    function render() {
      var q = lastToken();
      list.innerHTML = "";
      if (!q) { list.hidden = true; return; }
      var shown = 0;
      for (var i = 0; i < classes.length && shown < 12; i++) {
        var c = classes[i];
        if (c.label.toLowerCase().indexOf(q) === -1) continue;
        var li = document.createElement("li");
        li.textContent = c.label + " (" + c.photos + (c.source === "coco" ? ", object" : "") + ")";
        li.dataset.label = c.label;
        list.appendChild(li);
        shown++;
      }
      list.hidden = shown === 0;
    }
    input.addEventListener("input", render);
    input.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });
    list.addEventListener("mousedown", function (e) {
      var li = e.target.closest("li");
      if (!li) return;
      e.preventDefault();
      var parts = input.value.split(",").map(function (s) { return s.trim(); });
      parts[parts.length - 1] = li.dataset.label;
      input.value = parts.filter(Boolean).join(", ") + ", ";
      list.hidden = true;
      input.focus();
    });
  }

  initFilters(me.dataset.classesUrl);
})();
