/* atw upload page: choosing (or dropping) photos starts their upload at once, one request per
   photo (with upload progress); the status endpoint is polled until each photo is labelled;
   results show labels and boxes and link to the viewer. A photo already in the archive is
   answered at once with where it is. The Upload button is for browsers without this script. */
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("files");
  const list = document.getElementById("uploads");
  const tmpl = document.getElementById("upload-item");
  const message = document.getElementById("upload-message");
  const drop = document.getElementById("drop-target");
  const maxFiles = Number(form.dataset.maxFiles);
  const maxBytes = Number(form.dataset.maxBytes);
  const statusUrl = form.dataset.statusUrl;
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const CONCURRENT = 2;
  const POLL_MS = 1000;
  const STRONG = 0.5; // objects are counted at this confidence; weaker boxes are dashed, as in the viewer
  const FINAL = ["done", "failed", "rejected", "unknown"];
  const TEXT = {
    waiting: "waiting", uploading: "uploading", queued: "queued for labelling",
    indexing: "labelling…", done: "done", failed: "failed", rejected: "rejected",
    unknown: "unknown",
  };
  const byId = new Map(); // upload id → list items showing it
  let polling = false;

  function mb(n) { return (n / 1e6).toFixed(1) + " MB"; }

  function addItem(name) {
    const li = tmpl.content.firstElementChild.cloneNode(true);
    li.querySelector(".upload-name").textContent = name;
    list.prepend(li);
    setState(li, "waiting");
    return li;
  }

  function setState(li, state, note) {
    li.dataset.state = state;
    li.querySelector(".upload-state").textContent = TEXT[state] || state;
    li.querySelector(".upload-note").textContent = note || "";
    const bar = li.querySelector(".upload-progress");
    if (state === "queued" || state === "indexing") bar.removeAttribute("value"); // indeterminate
    else if (state === "done") bar.value = 100;
    bar.hidden = FINAL.includes(state);
  }

  function start(files) {
    files = Array.from(files || []);
    if (!files.length) { message.textContent = "Choose at least one photo."; return; }
    if (files.length > maxFiles) {
      message.textContent = `You chose ${files.length} photos: at most ${maxFiles} at a time.`;
      return;
    }
    message.textContent = "";
    const queue = files.map((file) => ({ file, li: addItem(file.name) }));
    let running = 0;
    const next = () => {
      while (running < CONCURRENT && queue.length) {
        running += 1;
        send(queue.shift()).then(() => { running -= 1; next(); });
      }
    };
    next();
    form.reset();
  }

  function send(job) {
    return new Promise((resolve) => {
      const { file, li } = job;
      if (file.size > maxBytes) {
        setState(li, "rejected", `too large: ${mb(file.size)} (at most ${mb(maxBytes)})`);
        resolve();
        return;
      }
      const data = new FormData();
      data.append("csrf_token", csrf);
      data.append("files", file, file.name);
      if (file.lastModified) data.append("last_modified", String(file.lastModified));
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) li.querySelector(".upload-progress").value = (100 * e.loaded) / e.total;
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        const r = body && body.files && body.files[0];
        if (r && r.status !== "rejected" && !r.id && r.photo_id) {
          known(li, r); // already in the archive: nothing was stored
        } else if (r && r.status !== "rejected") {
          li.dataset.id = r.id;
          if (!byId.has(r.id)) byId.set(r.id, []);
          byId.get(r.id).push(li);
          li.dataset.note = r.message || ""; // e.g. "already uploaded": kept while polling
          setState(li, r.status, r.message);
          poll();
        } else {
          const why = (r && r.message) || (body && body.message) || `HTTP ${xhr.status}`;
          setState(li, "rejected", why);
        }
        resolve();
      };
      xhr.onerror = () => { setState(li, "failed", "network error: the upload did not reach the server"); resolve(); };
      setState(li, "uploading");
      xhr.send(data);
    });
  }

  function waiting() {
    return [...byId.entries()]
      .filter(([, lis]) => lis.some((li) => !FINAL.includes(li.dataset.state)))
      .map(([id]) => id);
  }

  function poll() {
    if (polling) return;
    polling = true;
    setTimeout(async () => {
      const ids = waiting();
      try {
        if (ids.length) {
          const r = await fetch(`${statusUrl}?ids=${ids.join(",")}`, { headers: { Accept: "application/json" } });
          if (r.ok) (await r.json()).uploads.forEach(update);
        }
      } catch (err) { /* a failed poll is retried */ }
      polling = false;
      if (waiting().length) poll();
    }, POLL_MS);
  }

  function update(u) {
    for (const li of byId.get(u.id) || []) {
      setState(li, u.status, u.message || li.dataset.note);
      if (u.status === "done" && u.photo) show(li, u);
    }
  }

  function known(li, r) {
    setState(li, "done");
    const note = li.querySelector(".upload-note");
    note.textContent = "already in your archive as ";
    const a = el("a", { href: r.photo_url, class: "upload-known", title: r.archived_path || "" });
    a.appendChild(el("code", {}, r.archived_as));
    note.appendChild(a);
    li.dataset.known = r.archived_as;
    show(li, r);
  }

  function el(tag, attrs, text) {
    const e = document.createElementNS(tag === "rect" ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  }

  function show(li, u) {
    const box = li.querySelector(".upload-result");
    if (!box.hidden) return;
    const p = u.photo;
    li.querySelector(".upload-thumb").src = u.thumbnail_url;
    li.querySelector(".upload-thumb").alt = u.name;
    li.querySelector(".upload-figure-link").href = u.photo_url;
    li.querySelector(".upload-view").href = u.photo_url;
    const svg = li.querySelector("svg.boxes");
    for (const d of p.detections) {
      const [x0, y0, x1, y1] = d.box;
      const r = el("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, "vector-effect": "non-scaling-stroke" });
      if (d.score < STRONG) r.setAttribute("class", "weak");
      svg.appendChild(r);
    }
    const labels = li.querySelector(".upload-labels");
    for (const l of p.labels) labels.appendChild(el("li", {}, `${l.label} ${l.score.toFixed(2)}`));
    if (!p.labels.length) labels.appendChild(el("li", { class: "hint" }, "none"));
    // One line per class, counting the same boxes that are drawn: solid ones (≥ STRONG), then
    // the weaker, dashed ones, so the counts add up to the boxes on the photo.
    const counts = new Map();
    for (const d of p.detections) {
      const c = counts.get(d.label) || { strong: 0, weak: 0, best: 0 };
      if (d.score >= STRONG) c.strong += 1; else c.weak += 1;
      c.best = Math.max(c.best, d.score);
      counts.set(d.label, c);
    }
    const objects = li.querySelector(".upload-objects");
    const order = [...counts].sort((a, b) => b[1].strong - a[1].strong || b[1].best - a[1].best);
    for (const [label, c] of order) {
      const parts = [];
      if (c.strong) parts.push(`${label} × ${c.strong}`);
      if (c.weak) parts.push(c.strong ? `+ ${c.weak} weaker` : `${label} × ${c.weak} (weaker, dashed)`);
      const item = el("li", { class: c.strong ? "" : "weak", "data-label": label, "data-strong": c.strong, "data-weak": c.weak }, parts.join(" "));
      objects.appendChild(item);
    }
    if (!counts.size) objects.appendChild(el("li", { class: "hint" }, "none"));
    const strong = p.detections.filter((d) => d.score >= STRONG).length;
    li.querySelector(".upload-threshold").textContent = p.detections.length
      ? `${p.detections.length} boxes: ${strong} at confidence ≥ ${STRONG} (solid), ${p.detections.length - strong} weaker (dashed).`
      : "";
    box.hidden = false;
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); start(input.files); });
  input.addEventListener("change", () => { if (input.files.length) start(input.files); });
  form.classList.add("scripted"); // the Upload button is hidden: choosing is the one action
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (e) => { e.preventDefault(); start(e.dataTransfer.files); });
})();
