// Music Genre Detector upload page: drop or pick a file, POST it to /api/predict,
// draw one bar chart per model. Plain DOM, no libraries.
(function () {
  "use strict";

  var RESERVED = { success: true, track: true, error: true };
  var form = document.getElementById("upload-form");
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("file-input");
  var pick = document.getElementById("pick-button");
  var statusBox = document.getElementById("status");
  var statusText = document.getElementById("status-text");
  var bar = document.getElementById("progress-bar");
  var errorBox = document.getElementById("error");
  var results = document.getElementById("results");
  var charts = document.getElementById("charts");
  var trackInfo = document.getElementById("track-info");
  var resultsFile = document.getElementById("results-file");
  var busy = false;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function pct(p) { return (100 * p).toFixed(1) + "%"; }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function setStatus(text, fraction) {
    statusBox.hidden = false;
    statusText.textContent = text;
    if (fraction === null) {
      bar.classList.add("indeterminate");
      bar.style.width = "";
    } else {
      bar.classList.remove("indeterminate");
      bar.style.width = Math.round(100 * fraction) + "%";
    }
  }

  function done() {
    busy = false;
    zone.classList.remove("busy");
    statusBox.hidden = true;
    input.value = "";
  }

  function renderModel(name, entry) {
    var card = el("article", "chart");
    card.setAttribute("data-model", name);
    card.appendChild(el("h3", null, name));
    var m = entry.metrics || {};
    var facts = [];
    if (typeof m.accuracy === "number") facts.push("accuracy " + pct(m.accuracy));
    if (typeof m.loss === "number") facts.push("loss " + m.loss.toFixed(3));
    if (entry.dataset) facts.push("trained on " + entry.dataset);
    if (facts.length) card.appendChild(el("p", "metric", facts.join(" \u00b7 ")));
    if (entry.protocol) card.appendChild(el("p", "protocol", "Measured: " + entry.protocol + "."));
    if (entry.synthetic) {
      card.appendChild(el("p", "caveat", "Trained on the synthetic demo corpus: this answer shows the " +
        "pipeline works, not what genre your track has."));
    }

    var genres = Object.keys(entry.data).sort(function (a, b) { return entry.data[b] - entry.data[a]; });
    var top = genres[0];
    var winner = el("p", "winner");
    winner.appendChild(document.createTextNode("Most likely genre: "));
    winner.appendChild(el("strong", "winner-genre", top));
    winner.appendChild(document.createTextNode(" (" + pct(entry.data[top]) + ")"));
    card.appendChild(winner);

    var list = el("ul", "bars");
    list.setAttribute("aria-label", name + " probabilities");
    genres.forEach(function (g) {
      var p = entry.data[g];
      var row = el("li", g === top ? "bar top" : "bar");
      row.setAttribute("data-genre", g);
      row.appendChild(el("span", "bar-label", g));
      var track = el("span", "bar-track");
      var fill = el("span", "bar-fill");
      fill.style.display = "block";
      fill.style.width = Math.max(0.5, 100 * p).toFixed(1) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", "bar-value", pct(p)));
      list.appendChild(row);
    });
    card.appendChild(list);
    return card;
  }

  function render(json, fileName) {
    charts.textContent = "";
    Object.keys(json).forEach(function (key) {
      if (RESERVED[key]) return;
      charts.appendChild(renderModel(key, json[key]));
    });
    var t = json.track || {};
    var info = "Analysed " + (t.duration || 0).toFixed(1) + " s of audio in " + t.windows_used + " window" +
      (t.windows_used === 1 ? "" : "s");
    if (t.truncated) {
      info += " (evenly spaced, out of " + t.windows_total + ": the track is long)";
    }
    trackInfo.textContent = info + ".";
    resultsFile.textContent = fileName ? "for " + fileName : "";
    results.hidden = false;
    results.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function upload(file) {
    if (!file || busy) return;
    busy = true;
    zone.classList.add("busy");
    errorBox.hidden = true;
    results.hidden = true;
    setStatus("Uploading " + file.name + "\u2026", 0);
    var data = new FormData();
    data.append("file", file, file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    xhr.responseType = "text";
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) setStatus("Uploading " + file.name + "\u2026", ev.loaded / ev.total);
    };
    xhr.upload.onload = function () { setStatus("Listening to " + file.name + "\u2026", null); };
    xhr.onload = function () {
      var json = null;
      try { json = JSON.parse(xhr.responseText); } catch (e) { json = null; }
      done();
      if (xhr.status === 200 && json && json.success) {
        render(json, file.name);
      } else if (json && json.error) {
        showError(json.error);
      } else {
        showError("The server answered with status " + xhr.status + ".");
      }
    };
    xhr.onerror = function () {
      done();
      showError("The upload failed: the server could not be reached or closed the connection " +
        "(is the file larger than the limit?).");
    };
    xhr.send(data);
  }

  input.addEventListener("change", function () {
    if (input.files && input.files.length) upload(input.files[0]);
  });
  // The button is the keyboard path (Tab, then Enter or Space); a click anywhere in the zone works too.
  pick.addEventListener("click", function (ev) {
    ev.stopPropagation();
    if (!busy) input.click();
  });
  zone.addEventListener("click", function () {
    if (!busy) input.click();
  });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (ev) {
      ev.preventDefault();
      zone.classList.add("dragover");
    });
  });
  ["dragleave", "dragend"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("dragover"); });
  });
  zone.addEventListener("drop", function (ev) {
    ev.preventDefault();
    zone.classList.remove("dragover");
    var files = ev.dataTransfer && ev.dataTransfer.files;
    if (files && files.length) upload(files[0]);
  });
  // A file dropped beside the zone must not make the browser navigate away from the page.
  window.addEventListener("dragover", function (ev) { ev.preventDefault(); });
  window.addEventListener("drop", function (ev) { ev.preventDefault(); });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); });
})();
