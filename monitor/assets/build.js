// build.js follows a build's log live: it appends the lines the SSE stream
// sends, keeps at most data-max lines in the page so a huge log never
// freezes it, renders ANSI colours like ansi.go and sets text only through
// textContent, so nothing in a log line is ever parsed as HTML.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || log.dataset.live !== "true") {
    return;
  }
  var max = parseInt(log.dataset.max, 10) || 2000;
  var stateEl = document.getElementById("state");
  var info = document.getElementById("live-status");
  var re = /\x1b\[([0-9;]*)m|\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[\s\S]?/g;
  var pending = [];
  var timer = null;
  var stick = true;

  window.addEventListener("scroll", function () {
    stick = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 40;
  });

  function line(n, text) {
    var div = document.createElement("div");
    div.className = "l";
    div.setAttribute("data-n", n);
    var fg = -1, bold = false, last = 0, m;
    function emit(s) {
      if (!s) {
        return;
      }
      if (fg < 0 && !bold) {
        div.appendChild(document.createTextNode(s));
        return;
      }
      var span = document.createElement("span");
      var c = [];
      if (bold) { c.push("ab"); }
      if (fg >= 0) { c.push("a" + fg); }
      span.className = c.join(" ");
      span.textContent = s;
      div.appendChild(span);
    }
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null) {
      emit(text.slice(last, m.index));
      last = re.lastIndex;
      if (m[1] === undefined) {
        continue;
      }
      m[1].split(";").forEach(function (p) {
        var k = p === "" ? 0 : parseInt(p, 10);
        if (k === 0) { fg = -1; bold = false; }
        else if (k === 1) { bold = true; }
        else if (k === 22) { bold = false; }
        else if (k >= 30 && k <= 37) { fg = k - 30; }
        else if (k >= 90 && k <= 97) { fg = k - 82; }
        else if (k === 39) { fg = -1; }
      });
    }
    emit(text.slice(last));
    return div;
  }

  function flush() {
    timer = null;
    var frag = document.createDocumentFragment();
    for (var i = 0; i < pending.length; i++) {
      frag.appendChild(line(pending[i][0], pending[i][1]));
    }
    pending = [];
    log.appendChild(frag);
    while (log.childElementCount > max) {
      log.removeChild(log.firstElementChild);
    }
    var t = document.getElementById("truncated");
    if (t && log.firstElementChild && log.firstElementChild.getAttribute("data-n") !== "1") {
      t.hidden = false;
    }
    if (stick) {
      window.scrollTo(0, document.documentElement.scrollHeight);
    }
  }

  // The Now section: the current stage with a bar and an estimate, kept
  // current from the stage and progress lines fbs writes to the log (see
  // tasks.Progress.Line and progress.go, whose wording this follows).
  var pg = document.getElementById("progress");
  var cur = null;
  if (pg) {
    var offset = Date.parse(pg.dataset.now) - Date.now();
    cur = {
      stage: pg.dataset.stage,
      since: Date.parse(pg.dataset.since),
      bytes: pg.dataset.bytes === "true" ? "server" : null,
      est: JSON.parse(pg.dataset.estimates || "{}"),
      now: function () { return Date.now() + offset; }
    };
  }
  var stageRe = /^(\S+) fbs \| stage ([a-z][a-z ]{0,31}): (started|done in .*|failed after .*)$/;
  var progressRe = /^(\S+) fbs \| progress ([a-z][a-z ]{0,31}): ([0-9]{1,19})\/([0-9]{1,19}|\?) bytes \(([^()]*)\) (.*)$/;
  var rateRe = /(?:^|, )([0-9]{1,12}(?:\.[0-9]{1,3})?) MB\/s(?:,|$)/;

  function human(n) {
    if (n < 1024) { return n + " B"; }
    var u = "KMGTPE", i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(1) + " " + u[i] + "iB";
  }
  function dur(sec) {
    sec = Math.max(0, Math.round(sec));
    var h = Math.floor(sec / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (h > 0) { return h + "h" + m + "m" + s + "s"; }
    if (m > 0) { return m + "m" + s + "s"; }
    return s + "s";
  }
  function renderProgress() {
    if (!cur || cur.bytes === "server") {
      return;
    }
    var f = -1, text;
    var b = cur.bytes;
    if (b) {
      text = human(b.done);
      if (b.total > 0) {
        f = Math.min(b.done / b.total, 1);
        text = Math.floor(f * 100) + "% – " + human(b.done) + " of " + human(b.total);
      }
      text += " at " + (b.rate / 1e6).toFixed(1) + " MB/s";
      if (b.total > 0 && b.rate > 0) {
        text += ", about " + dur((b.total - b.done) / b.rate) + " left";
      }
      if (b.item) { text += " (" + b.item + ")"; }
    } else {
      var el = (cur.now() - cur.since) / 1000;
      var e = cur.est[cur.stage];
      if (!e || !(e.count > 0) || !(e.mean > 0)) {
        text = "running for " + dur(el) + " (no earlier build of this type to estimate from)";
      } else {
        text = "running for " + dur(el) + "; it took " + dur(e.mean) + " on average in " + e.count + " earlier build(s) of this type";
        text += e.mean - el > 0 ? ", about " + dur(e.mean - el) + " left" : ", longer than usual";
        f = Math.min(el / e.mean, 0.99);
      }
    }
    document.getElementById("progress-stage").textContent = cur.stage;
    document.getElementById("progress-text").textContent = text;
    var bar = document.getElementById("progress-bar");
    if (f < 0) { bar.removeAttribute("value"); } else { bar.value = Math.round(f * 1000); }
  }
  // progressLine follows one log line as it arrives.
  function progressLine(text) {
    if (!cur) {
      return;
    }
    var m = progressRe.exec(text);
    if (m) {
      var r = rateRe.exec(m[5]);
      cur.stage = m[2];
      cur.bytes = {done: parseInt(m[3], 10), total: m[4] === "?" ? 0 : parseInt(m[4], 10),
        rate: r ? parseFloat(r[1]) * 1e6 : 0, item: m[6]};
      renderProgress();
      return;
    }
    m = stageRe.exec(text);
    if (m) {
      cur.stage = m[2];
      cur.bytes = null;
      if (m[3] === "started") {
        var t = Date.parse(m[1]);
        cur.since = isNaN(t) ? cur.now() : t;
      }
      renderProgress();
    }
  }
  if (cur) {
    setInterval(renderProgress, 1000);
  }

  // The stream URL may carry the key of a mailed link already.
  var src = new URL(log.dataset.stream, document.baseURI);
  src.searchParams.set("after", log.dataset.after);
  var es = new EventSource(src.toString());
  es.onopen = function () { info.textContent = "Following the log live."; };
  es.onerror = function () { info.textContent = "Connection lost; reconnecting…"; };
  // An event is a run of lines: its data holds them joined by newlines and
  // its ID is the number of the last.
  es.onmessage = function (e) {
    var lines = e.data.split("\n");
    var first = parseInt(e.lastEventId, 10) - lines.length + 1;
    for (var i = 0; i < lines.length; i++) {
      pending.push([first + i, lines[i]]);
      progressLine(lines[i]);
    }
    if (pending.length > max) {
      pending.splice(0, pending.length - max);
    }
    if (timer === null) {
      timer = setTimeout(flush, 50);
    }
  };
  es.addEventListener("end", function (e) {
    es.close();
    if (timer !== null) {
      clearTimeout(timer);
    }
    flush();
    if (pg) {
      pg.hidden = true;
      cur = null;
    }
    stateEl.textContent = e.data;
    stateEl.className = "state s-" + e.data;
    info.textContent = "The build has ended (" + e.data + "). Reload the page for its artifacts.";
  });
})();
