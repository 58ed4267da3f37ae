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
    stateEl.textContent = e.data;
    stateEl.className = "state s-" + e.data;
    info.textContent = "The build has ended (" + e.data + "). Reload the page for its artifacts.";
  });
})();
