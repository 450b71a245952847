// The task graph: cytoscape + cytoscape-dagre, laid out left to right.
// Elements come from podium.ui.graph.graph_elements (node data: id, label, type, state,
// title; edge data: id, source, target, label). Needs, in this order:
//   <script src="/static/vendor/cytoscape.min.js" defer></script>
//   <script src="/static/vendor/cytoscape-dagre.js" defer></script>
//   <script src="/static/graph.js" defer></script>
// State is carried by colour AND by border (dashed: skipped/canceled/excluded; double:
// failed; thick: running/pending; dotted: queued/blocked/waiting) AND by a glyph in the label (✓ ✗ … ⊘ ○).
(function () {
  "use strict";

  const GROUPS = {
    ok: ["SUCCESS"],
    warn: ["SUCCESS_WITH_FAILURES", "QUEUED", "BLOCKED", "WAITING_FOR_RETRY"],
    bad: ["FAILED", "TIMEDOUT", "INTERNAL_ERROR", "UPSTREAM_FAILED",
          "MAXIMUM_CONCURRENT_RUNS_REACHED"],
    run: ["RUNNING", "PENDING", "TERMINATING"],
    idle: ["CANCELED", "SKIPPED", "EXCLUDED", "UPSTREAM_CANCELED", "DISABLED"],
  };
  const GLYPHS = {
    SUCCESS: "✓", SUCCESS_WITH_FAILURES: "✓", FAILED: "✗", TIMEDOUT: "✗",
    INTERNAL_ERROR: "✗", UPSTREAM_FAILED: "✗", RUNNING: "…", PENDING: "…",
    TERMINATING: "…", CANCELED: "⊘", UPSTREAM_CANCELED: "⊘", SKIPPED: "⊘",
    EXCLUDED: "⊘", DISABLED: "⊘", QUEUED: "○", BLOCKED: "○", WAITING_FOR_RETRY: "○",
  };

  function group(state) {
    for (const name in GROUPS) if (GROUPS[name].includes(state)) return name;
    return state ? "other" : "none";
  }

  function label(data) {
    const glyph = GLYPHS[data.state];
    return (glyph ? glyph + " " : "") + data.label + "\n" + (data.type || "task");
  }

  // The derived data the stylesheet maps from: the label text, its size, the state group.
  function derived(data) {
    const text = label(data);
    // Room for a glyph whether or not there is one yet, so a live update never overlaps.
    const longest = Math.max(String(data.label).length + 2, (data.type || "task").length);
    return { display: text, w: Math.max(60, longest * 7.5 + 24), sgroup: group(data.state) };
  }

  function prepare(elements) {
    return (elements || []).map((el) => el.group === "edges" || el.data.source !== undefined
      ? el : { ...el, data: { ...el.data, ...derived(el.data) } });
  }

  function colour(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function style() {
    const fg = colour("--fg", "#1b1f24"), bg = colour("--card", "#f6f8fa");
    const line = colour("--line", "#d8dde3"), muted = colour("--muted", "#5b6470");
    const by = {
      ok: colour("--ok", "#1a7f37"), bad: colour("--bad", "#c62828"),
      warn: colour("--warn", "#9a6700"), run: colour("--run", "#0969da"),
      idle: colour("--idle", "#8c959f"), other: muted, none: muted,
    };
    const sheet = [
      { selector: "node", style: {
        shape: "round-rectangle", width: "data(w)", height: 42,
        label: "data(display)", "text-wrap": "wrap", "text-valign": "center",
        "text-halign": "center", "font-size": 12, "font-family": "system-ui, sans-serif",
        color: fg, "background-color": bg, "border-width": 2, "border-color": muted,
      } },
      { selector: "edge", style: {
        width: 1.5, "line-color": line, "target-arrow-color": line,
        "target-arrow-shape": "triangle", "curve-style": "bezier", label: "data(label)",
        "font-size": 11, color: muted, "text-background-color": bg,
        "text-background-opacity": 1, "text-background-padding": "2px",
      } },
      { selector: "node:selected", style: { "overlay-opacity": 0.15 } },
    ];
    for (const name in by) {
      sheet.push({ selector: `node[sgroup = "${name}"]`, style: { "border-color": by[name] } });
    }
    sheet.push(
      { selector: 'node[sgroup = "ok"], node[sgroup = "bad"]',
        style: { "background-color": (ele) => by[ele.data("sgroup")], color: "#fff" } },
      { selector: 'node[sgroup = "bad"]', style: { "border-style": "double",
        "border-width": 5, "border-color": fg } },
      { selector: 'node[sgroup = "run"]', style: { "border-width": 5 } },
      { selector: 'node[sgroup = "idle"]', style: { "border-style": "dashed", color: muted } },
      { selector: 'node[sgroup = "warn"]', style: { "border-style": "dotted", "border-width": 3 } },
      // The critical path: a halo around its tasks and bold arrows between them.
      { selector: "node[?critical]", style: { "underlay-color": by.run, "underlay-opacity": 0.25,
        "underlay-padding": 7, "underlay-shape": "round-rectangle" } },
      { selector: "edge[?critical]", style: { width: 3.5, "line-color": by.run,
        "target-arrow-color": by.run } },
    );
    return sheet;
  }

  function describe(container, cy) {
    container.setAttribute("role", "img");
    if (!container.getAttribute("aria-label")) {
      const n = cy.nodes().length, e = cy.edges().length;
      container.setAttribute("aria-label",
        `Task graph: ${n} task${n === 1 ? "" : "s"}, ${e} dependenc${e === 1 ? "y" : "ies"}`);
    }
  }

  function podiumGraph(container, elements) {
    if (typeof container === "string") container = document.getElementById(container);
    if (!container) return null;
    if (typeof window.cytoscape !== "function") {
      container.textContent = "The graph needs cytoscape.min.js and cytoscape-dagre.js.";
      return null;
    }
    if (container._podiumCy) container._podiumCy.destroy();
    const cy = window.cytoscape({
      container, elements: prepare(elements), style: style(),
      boxSelectionEnabled: false, autoungrabify: true, minZoom: 0.2, maxZoom: 2.5,
    });
    cy.nodes().forEach((node) => {  // a hover tooltip from the summary
      node.on("mouseover", () => { container.title = node.data("title") || ""; });
      node.on("mouseout", () => { container.title = ""; });
    });
    cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 25, rankSep: 60, padding: 15,
      fit: true }).run();
    if (cy.zoom() > 1.2) { cy.zoom(1.2); cy.center(); }
    container._podiumCy = cy;
    describe(container, cy);
    return cy;
  }

  // Recolour in place (no relayout): only node data (state, title, type) and edge labels
  // change; elements not already in the graph are ignored.
  podiumGraph.update = function (container, elements) {
    if (typeof container === "string") container = document.getElementById(container);
    const cy = container && container._podiumCy;
    if (!cy) return podiumGraph(container, elements);
    cy.batch(() => {
      for (const el of elements || []) {
        const ele = cy.getElementById(el.data.id);
        if (ele.empty()) continue;
        ele.data(ele.isNode() ? { ...el.data, ...derived(el.data) } : el.data);
      }
    });
    return cy;
  };

  // Render the JSON array in <script type="application/json" id=dataId> into containerId.
  function podiumGraphFrom(containerId, dataId) {
    const source = document.getElementById(dataId);
    if (!source) return null;
    const elements = JSON.parse(source.textContent || "[]");
    const container = document.getElementById(containerId);
    return container && container._podiumCy
      ? podiumGraph.update(container, elements) : podiumGraph(container, elements);
  }

  window.podiumGraph = podiumGraph;
  window.podiumGraphFrom = podiumGraphFrom;
})();
