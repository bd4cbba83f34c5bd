/* atw: the class browser of the filter panel (atw/templates/_classes.html). The top level is the
   everyday categories (/api/classes?kind=category); a category or group opens to its groups and
   classes (/api/classes/<key>: its own classes, then children). Every count is within the page's filter without its
   class words, so a name's count is the total its link shows: the link is this page with the
   class filter set to that word. Lazy: nothing is asked until the browser is opened (it stays
   open across the pages of a tab). */
(function () {
  "use strict";
  var box = document.getElementById("class-browser");
  var tree = document.getElementById("class-tree");
  if (!box || !tree) return;
  var url = box.dataset.url;
  var here = new URLSearchParams(window.location.search);
  var chosen = (here.get("classes") || "").split(",").map(function (s) { return s.trim().toLowerCase(); }).filter(Boolean);
  var rest = new URLSearchParams(here); // the filter without its class words (what the API counts in)
  ["classes", "match", "page"].forEach(function (k) { rest.delete(k); });
  var apiArgs = new URLSearchParams(rest);
  apiArgs.delete("per_page");
  var KEEP = "atw.classBrowser";
  var KINDS = { category: "category", group: "group", "class": "" };

  function count(n, one, many) { return Number(n).toLocaleString("en-US") + " " + (n === 1 ? one : many); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // An own class (a COCO class on a group's node: "dog" the detections) links with its source.
  function linkFor(word, source) {
    var q = new URLSearchParams(rest);
    q.set("classes", word);
    if (source) q.set("source", source);
    return window.location.pathname + "?" + q.toString();
  }

  function ask(path, done, into) {
    var q = apiArgs.toString();
    fetch(url + path + (q ? (path.indexOf("?") === -1 ? "?" : "&") + q : ""))
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (res.ok) { done(res.body); return; }
        into.appendChild(el("li", "err", (res.body && res.body.message) || "could not list the classes"));
      })
      .catch(function () { into.appendChild(el("li", "err", "could not list the classes")); });
  }

  function item(r) {
    var li = el("li");
    li.dataset.key = r.key || "";
    li.dataset.kind = r.kind;
    var row = el("div", "row-entry");
    if (r.kind !== "class" && r.members > 1) {
      var open = el("button", "open", "▸");
      open.type = "button";
      open.setAttribute("aria-expanded", "false");
      open.title = "show what " + r.name + " holds";
      open.addEventListener("click", function () { toggle(li, open, r); });
      row.appendChild(open);
    } else {
      row.appendChild(el("span", "leaf"));
    }
    var a = el("a", "word", r.name + (r.source === "coco" ? " (detected)" : r.source ? " (" + r.source + ")" : ""));
    a.href = linkFor(r.label, r.source);
    a.title = (KINDS[r.kind] ? KINDS[r.kind] + " of " + count(r.members, "class", "classes") + " · " : "")
      + "filter by " + r.label + ": " + count(r.photos, "photo", "photos");
    if (chosen.indexOf(String(r.label).toLowerCase()) !== -1) a.setAttribute("aria-current", "true");
    row.appendChild(a);
    row.appendChild(el("span", "n", Number(r.photos).toLocaleString("en-US")));
    li.appendChild(row);
    return li;
  }

  function toggle(li, button, r) {
    var sub = li.querySelector(":scope > ul");
    if (sub) {
      sub.hidden = !sub.hidden;
      button.setAttribute("aria-expanded", String(!sub.hidden));
      button.textContent = sub.hidden ? "▸" : "▾";
      return;
    }
    sub = el("ul");
    li.appendChild(sub);
    button.setAttribute("aria-expanded", "true");
    button.textContent = "▾";
    ask("/" + encodeURIComponent(r.key), function (d) {
      var kids = (d.own || []).concat(d.children || []).filter(function (c) { return c.photos > 0; });
      kids.forEach(function (c) { sub.appendChild(item(c)); });
      if (!kids.length) sub.appendChild(el("li", "hint", "no photos of its groups here"));
      li.dataset.loaded = "1";
    }, sub);
  }

  function load() {
    if (tree.dataset.loaded) return;
    tree.dataset.loaded = "asked";
    ask("?kind=category", function (rows) {
      tree.textContent = "";
      rows = rows.filter(function (r) { return !(r.parents && r.parents.length); }); // the top level
      rows.forEach(function (r) { tree.appendChild(item(r)); });
      if (!rows.length) tree.appendChild(el("li", "hint", "no labelled photos in this filter"));
      tree.dataset.loaded = "1";
    }, tree);
  }

  box.addEventListener("toggle", function () {
    try { window.sessionStorage.setItem(KEEP, box.open ? "1" : ""); } catch (e) { /* storage off */ }
    if (box.open) load();
  });
  var keep = "";
  try { keep = window.sessionStorage.getItem(KEEP) || ""; } catch (e) { /* storage off */ }
  if (keep) box.open = true; // fires "toggle": loads
})();
