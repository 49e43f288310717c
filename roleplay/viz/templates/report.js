// The transcript browser of a roleplay report: list a page of dialogues at a time, filter and search them,
// and open one (its transcript and its path drawn on its policy graph) only when it is clicked.
// The dialogues are embedded as gzipped JSON in base64 (see roleplay/viz/report_page.py `packed`).
(function () {
  "use strict";
  var PAGE_SIZE = 50;
  var data = null;
  var dialogs = [];
  var shown = [];
  var page = 0;
  var selected = null;

  function byId(id) { return document.getElementById(id); }

  function fillSelect(id, values) {
    var select = byId(id);
    Array.from(new Set(values)).sort().forEach(function (value) {
      var option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      select.appendChild(option);
    });
  }

  function filters() {
    return {
      text: byId("rp-search").value.trim().toLowerCase(), stop: byId("rp-f-stop").value,
      variant: byId("rp-f-variant").value, task: byId("rp-f-task").value, violation: byId("rp-f-violation").value
    };
  }

  function matches(d, f) {
    if (f.stop && d.stop !== f.stop) return false;
    if (f.variant && d.variant !== f.variant) return false;
    if (f.task && d.tasks.indexOf(f.task) < 0) return false;
    if (f.violation === "yes" && !(d.violations > 0)) return false;
    if (f.violation === "no" && d.violations !== 0) return false;
    return !f.text || d.id.toLowerCase() === f.text || d.text.indexOf(f.text) >= 0;
  }

  function cell(row, text, bad) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (bad) td.className = "rp-bad";
    row.appendChild(td);
  }

  function renderList() {
    var body = document.querySelector("#rp-list tbody");
    body.replaceChildren();
    var first = page * PAGE_SIZE;
    shown.slice(first, first + PAGE_SIZE).forEach(function (d) {
      var row = document.createElement("tr");
      row.dataset.index = d.i;
      if (d === selected) row.className = "rp-selected";
      cell(row, d.id); cell(row, d.variant); cell(row, d.tasks.join(", ")); cell(row, d.turns);
      cell(row, d.stop); cell(row, d.legal === null ? "" : d.legal.toFixed(2));
      cell(row, d.violations, d.violations > 0); cell(row, d.completed === null ? "" : (d.completed ? "yes" : "no"));
      row.addEventListener("click", function () { openDialog(d); });
      body.appendChild(row);
    });
    var last = Math.min(first + PAGE_SIZE, shown.length);
    byId("rp-page").textContent = shown.length ? (first + 1) + "–" + last + " of " + shown.length +
      (shown.length < dialogs.length ? " (filtered from " + dialogs.length + ")" : "") : "no dialogue matches";
    byId("rp-prev").disabled = page === 0;
    byId("rp-next").disabled = last >= shown.length;
  }

  function applyFilters() {
    var f = filters();
    shown = dialogs.filter(function (d) { return matches(d, f); });
    page = 0;
    renderList();
  }

  function openDialog(d) {
    selected = d;
    byId("rp-detail-title").textContent = "Dialogue " + d.id + " (" + d.variant + ")";
    byId("rp-transcript").innerHTML = d.html;
    var paths = byId("rp-paths");
    paths.replaceChildren();
    d.paths.forEach(function (path) {
      var figure = document.createElement("div");
      figure.className = "rp-figure";
      figure.innerHTML = data.graphs[path[0]];
      figure.querySelector(".rp-overlay").innerHTML = path[1];
      paths.appendChild(figure);
    });
    byId("rp-detail").hidden = false;
    renderList();
    byId("rp-detail").scrollIntoView({block: "start"});
  }

  function unpack() {
    var text = atob(document.getElementById("rp-data").textContent.trim());
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  }

  function start(unpacked) {
    data = unpacked;
    dialogs = shown = data.dialogs;
    var typing = null;
    byId("rp-search").addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(applyFilters, 150);
    });
    ["rp-f-stop", "rp-f-variant", "rp-f-task", "rp-f-violation"].forEach(function (id) {
      byId(id).addEventListener("change", applyFilters);
    });
    byId("rp-prev").addEventListener("click", function () { page -= 1; renderList(); });
    byId("rp-next").addEventListener("click", function () { page += 1; renderList(); });
    byId("rp-close").addEventListener("click", function () {
      byId("rp-detail").hidden = true;
      selected = null;
      renderList();
    });
    fillSelect("rp-f-stop", dialogs.map(function (d) { return d.stop; }));
    fillSelect("rp-f-variant", dialogs.map(function (d) { return d.variant; }));
    fillSelect("rp-f-task", [].concat.apply([], dialogs.map(function (d) { return d.tasks; })));
    byId("rp-status").hidden = true;
    renderList();
  }

  if (typeof DecompressionStream === "undefined") {
    byId("rp-status").textContent = "This browser cannot unpack the transcripts (it lacks DecompressionStream); " +
      "open the report in Chrome 80+, Firefox 113+ or Safari 16.4+.";
  } else {
    unpack().then(start, function (error) { byId("rp-status").textContent = "Could not unpack the transcripts: " + error; });
  }
})();
