// The job editor (/build): draws the task graph from the visual pane's JSON
// (<script id="graph-data">) on load and after each htmx swap of #visual. Everything
// else (YAML <-> form) is done by the server; see podium/ui/editor.py.
(function () {
  "use strict";

  function draw() {
    const data = document.getElementById("graph-data");
    const box = document.getElementById("build-graph");
    if (!data || !box || typeof window.podiumGraph !== "function") return;
    const elements = JSON.parse(data.textContent || "[]");
    const cy = window.podiumGraph(box, elements);
    if (cy) {  // a click on a node opens that task's form
      cy.on("tap", "node", (event) => {
        const item = document.querySelector(
          `li.build-task[data-task="${CSS.escape(event.target.id())}"]`);
        if (!item) return;
        item.scrollIntoView({ block: "nearest" });
        const key = item.querySelector("input[name$='.key']");
        if (key) key.focus({ preventScroll: true });
      });
    }
    box.dataset.nodes = String(elements.filter((e) => e.group === "nodes").length);
  }

  // The server re-renders the visual pane after each change: keep the keyboard focus on
  // the field that had it (matched by name, or id for buttons), so Tab keeps working.
  let focused = null;
  const isVisual = (event) => event.detail && event.detail.target &&
    event.detail.target.id === "visual";

  document.addEventListener("DOMContentLoaded", () => {
    draw();
    // Save what the server last made of the visual pane: wait for a change in flight.
    const form = document.getElementById("editor");
    if (!form) return;
    form.addEventListener("submit", (event) => {
      if (!form.querySelector(".htmx-request")) return;
      event.preventDefault();
      document.addEventListener("htmx:afterSettle", () => form.requestSubmit(),
        { once: true });
    });
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    const el = document.activeElement;
    focused = isVisual(event) && el && el.closest("#visual")
      ? (el.name ? `[name="${CSS.escape(el.name)}"]` : el.id ? `#${CSS.escape(el.id)}` : null)
      : null;
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!isVisual(event)) return;
    draw();
    const again = focused && document.querySelector(`#visual ${focused}`);
    if (again) again.focus({ preventScroll: true });
  });
})();
