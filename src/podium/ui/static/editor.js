// The job editor (/build): draws the task graph from the visual pane's JSON
// (<script id="graph-data">) on load and after each htmx swap of #visual. Dragging from
// one node to another makes the second depend on the first; a click on an edge offers to
// remove it. Everything else (YAML <-> form) is done by the server; see
// podium/ui/editor.py (the checkboxes of each task's form do the same by keyboard).
(function () {
  "use strict";

  // Ask the server for the visual pane with ``action`` applied (the form goes along).
  function send(action, up, down) {
    window.htmx.ajax("POST", "/build/form", { source: "#visual", target: "#visual",
      swap: "innerHTML", values: { action, up, down } });
  }

  function nodeAt(cy, p) {
    return cy.nodes().filter((n) => {
      if (n.hasClass("ghost")) return false;
      const b = n.boundingBox();
      return p.x >= b.x1 && p.x <= b.x2 && p.y >= b.y1 && p.y <= b.y2;
    }).first();
  }

  function connectByDragging(cy) {
    cy.style().selector(".ghost").style({ width: 1, height: 1, opacity: 0 })
      .selector("edge.ghost").style({ opacity: 1, "line-style": "dashed" }).update();
    let source = null, ghost = null;
    const done = () => {
      source = null;
      if (ghost) { cy.remove(ghost); ghost = null; }
      cy.userPanningEnabled(true);
    };
    cy.on("tapstart", "node", (event) => {
      source = event.target;
      cy.userPanningEnabled(false);  // a drag from a node draws an edge, not a pan
    });
    cy.on("tapdrag", (event) => {
      if (!source) return;
      if (!ghost) {
        ghost = cy.add([
          { group: "nodes", data: { id: "__ghost" }, position: event.position, classes: "ghost" },
          { group: "edges", data: { id: "__ghost_edge", source: source.id(), target: "__ghost" },
            classes: "ghost" },
        ]);
      } else {
        ghost.nodes().position(event.position);
      }
    });
    cy.on("tapend", (event) => {
      if (!source) return;
      const from = source.id(), dragged = ghost !== null;
      done();
      const target = nodeAt(cy, event.position);
      if (dragged && target.nonempty() && target.id() !== from) send("connect", from, target.id());
    });
    const remove = document.getElementById("edge-remove");
    cy.on("tap", "edge", (event) => {
      if (!remove) return;
      const edge = event.target;
      remove.dataset.up = edge.data("source");
      remove.dataset.down = edge.data("target");
      remove.textContent = `Remove the dependency ${edge.data("source")} → ${edge.data("target")}`;
      remove.hidden = false;
      remove.focus();
    });
  }

  function draw() {
    const data = document.getElementById("graph-data");
    const box = document.getElementById("build-graph");
    if (!data || !box || typeof window.podiumGraph !== "function") return;
    const elements = JSON.parse(data.textContent || "[]");
    const cy = window.podiumGraph(box, elements);
    const remove = document.getElementById("edge-remove");
    if (remove) remove.hidden = true;
    if (cy) {  // a click on a node opens that task's form
      connectByDragging(cy);
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
    const remove = document.getElementById("edge-remove");
    if (remove) {
      remove.addEventListener("click", () => send("disconnect", remove.dataset.up,
                                                  remove.dataset.down));
    }
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
