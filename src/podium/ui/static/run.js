// The run page and the task page: the graph kept in step with the live poll, and the
// log search (it filters the lines already shown and those that arrive later).
(function () {
  "use strict";

  function drawGraph() {
    if (document.getElementById("run-graph") && typeof window.podiumGraphFrom === "function") {
      window.podiumGraphFrom("run-graph", "run-graph-data");
    }
  }

  function filterLog() {
    const box = document.getElementById("log-search");
    const log = document.getElementById("log");
    if (!box || !log) return;
    const needle = box.value.trim().toLowerCase();
    let shown = 0, total = 0;
    for (const line of log.querySelectorAll(".line")) {
      total += 1;
      const hit = !needle || line.textContent.toLowerCase().includes(needle);
      line.hidden = !hit;
      if (hit) shown += 1;
    }
    const count = document.getElementById("log-count");
    if (count) count.textContent = needle ? `${shown} of ${total} lines match` : "";
  }

  document.addEventListener("DOMContentLoaded", () => {
    drawGraph();
    const box = document.getElementById("log-search");
    if (box) box.addEventListener("input", filterLog);
  });
  document.addEventListener("htmx:afterSettle", () => { drawGraph(); filterLog(); });
  document.addEventListener("htmx:oobAfterSwap", filterLog);
})();
