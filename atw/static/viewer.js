/* atw: the photo viewer (image fallback, box labels, boxes toggle, arrow keys; the mini map is in map.js). */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function initViewer() {
    var img = $("photo");
    if (img) {
      img.addEventListener("error", function once() {
        img.removeEventListener("error", once);
        img.src = img.dataset.fallback;
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll(".box-label"), function (s) {
      s.style.left = (100 * Number(s.dataset.x)) + "%";
      s.style.top = (100 * Number(s.dataset.y)) + "%";
    });
    var toggle = $("toggle-boxes"), stage = $("stage");
    if (toggle && stage) {
      toggle.addEventListener("change", function () { stage.classList.toggle("hide-boxes", !toggle.checked); });
    }
    document.addEventListener("keydown", function (e) {
      if (e.target.tagName === "INPUT") return;
      var a = e.key === "ArrowLeft" ? $("prev") : e.key === "ArrowRight" ? $("next") : null;
      if (a) window.location = a.href;
    });
  }

  initViewer();
})();
