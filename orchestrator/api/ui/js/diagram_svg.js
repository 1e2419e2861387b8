// The diagram's scene (diagram_layout.js) as one SVG string: built once and inserted with a
// single innerHTML, which is what keeps a 1,000-task execution fast (no per-node DOM calls,
// no layout thrash). Styles travel inside the SVG, so any page can show a diagram.

import { statusGroup } from "./common.js";
import { LOOP, NODE_H, TILE, gridTiles } from "./diagram_layout.js";

const PILL_TYPES = new Set(["FORK_JOIN", "FORK", "JOIN", "FORK_JOIN_DYNAMIC", "EXCLUSIVE_JOIN"]);
const HEX_TYPES = new Set(["SWITCH", "DECISION"]);
const SUB_TYPES = new Set(["SUB_WORKFLOW", "START_WORKFLOW"]);

export function esc(text) {
  return String(text ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

function clip(text, max) {
  const s = String(text ?? "");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function statusClass(task) {
  return task ? `st-${statusGroup(task.status)}` : "unreached";
}

/**
 * The whole <svg>: edges under nodes; `selected` is a task id or a definition ref. Without an
 * execution (`executed` false) nodes and edges are drawn plain, not as "not reached".
 */
export function sceneSvg(scene, width, height, selected, executed = true) {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="dg${executed ? "" : " dg-def"}" width="${width}" height="${height}"`,
    ` viewBox="0 0 ${width} ${height}" role="img" aria-label="Workflow diagram">`,
    STYLE,
    '<defs><marker id="dg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"',
    ' orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="dg-arrowhead"/></marker>',
    '<marker id="dg-arrow-on" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"',
    ' orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="dg-arrowhead on"/></marker></defs>',
  ];
  for (const box of scene.boxes) parts.push(loopBox(box, selected));
  for (const e of scene.edges) parts.push(edgePath(e));
  for (const e of scene.edges) if (e.label !== null) parts.push(edgeLabel(e));
  for (const dot of scene.dots) parts.push(`<circle class="dg-merge${dot.taken ? " on" : ""}" cx="${dot.x}" cy="${dot.y}" r="4"/>`);
  for (const grid of scene.grids) parts.push(gridBox(grid, selected));
  for (const node of scene.nodes) parts.push(nodeSvg(node, selected));
  for (const t of scene.terminals) parts.push(terminal(t));
  parts.push("</svg>");
  return parts.join("");
}

function edgePath(e) {
  const cls = e.taken ? "dg-edge on" : "dg-edge";
  const marker = e.arrow === false ? "" : ` marker-end="url(#${e.taken ? "dg-arrow-on" : "dg-arrow"})"`;
  const y2 = e.arrow === false ? e.y2 : e.y2 - 1;
  if (e.x1 === e.x2) return `<path class="${cls}" d="M${e.x1},${e.y1} V${y2}"${marker}/>`;
  const mid = (e.y1 + e.y2) / 2;
  return `<path class="${cls}" d="M${e.x1},${e.y1} C${e.x1},${mid} ${e.x2},${mid} ${e.x2},${y2}"${marker}/>`;
}

function edgeLabel(e) {
  const text = clip(e.label, 18);
  const w = Math.max(34, text.length * 6.4 + 14);
  const y = e.y2 - 24;
  const cls = `dg-case${e.taken ? " on" : ""}${e.isDefault ? " default" : ""}`;
  return (
    `<g class="${cls}" data-case="${esc(e.label)}"><title>${esc(e.label)}</title>` +
    `<rect x="${e.x2 - w / 2}" y="${y - 9}" width="${w}" height="18" rx="9"/>` +
    `<text x="${e.x2}" y="${y + 4}" text-anchor="middle">${esc(text)}</text></g>`
  );
}

function shapeSvg(type, x, y, w, h) {
  if (HEX_TYPES.has(type)) {
    return `<path class="dg-shape" d="M${x + 14},${y} H${x + w - 14} L${x + w},${y + h / 2} L${x + w - 14},${y + h} H${x + 14} L${x},${y + h / 2} Z"/>`;
  }
  if (type === "TERMINATE") {
    const c = 10;
    return `<path class="dg-shape" d="M${x + c},${y} H${x + w - c} L${x + w},${y + c} V${y + h - c} L${x + w - c},${y + h} H${x + c} L${x},${y + h - c} V${y + c} Z"/>`;
  }
  const rx = PILL_TYPES.has(type) ? h / 2 : 8;
  let svg = `<rect class="dg-shape" x="${x}" y="${y}" width="${w}" height="${h}" rx="${rx}"/>`;
  if (SUB_TYPES.has(type)) {
    svg += `<path class="dg-subline" d="M${x + 9},${y + 1} V${y + h - 1} M${x + w - 9},${y + 1} V${y + h - 1}"/>`;
  }
  return svg;
}

function nodeSvg(node, selected) {
  const { x, y, w, h, task } = node;
  const ref = node.wt ? node.wt.taskReferenceName : task.referenceTaskName;
  const name = node.wt ? node.wt.name : task.taskDefName;
  const type = node.wt ? node.type : String(task.taskType || "");
  const shownType = task && node.type === "DYNAMIC" ? `DYNAMIC → ${task.taskType}` : type;
  const child = SUB_TYPES.has(type) ? node.wt?.subWorkflowParam?.name || node.wt?.startWorkflow?.name : null;
  const detail = child || (name && name !== ref && name !== type ? name : null);
  const sub = detail ? `${shownType} · ${detail}` : shownType;
  const isSelected = selected && (selected === task?.taskId || (!task && selected === ref));
  const cls = `dg-node ${statusClass(task)}${isSelected ? " selected" : ""}${node.spawned ? " spawned" : ""}`;
  const attrs = `data-ref="${esc(ref)}" data-type="${esc(type)}" data-status="${esc(task ? task.status : "NOT_REACHED")}"${task ? ` data-task-id="${esc(task.taskId)}"` : ""}`;
  const inset = SUB_TYPES.has(type) ? 18 : HEX_TYPES.has(type) ? 20 : 14;
  const parts = [`<g class="${cls}" ${attrs} tabindex="0">`, `<title>${esc(tooltip(ref, sub, node))}</title>`];
  parts.push(shapeSvg(type, x, y, w, h));
  // Top right: the child link of a sub-workflow, else the number of attempts; the name is
  // clipped to leave them room (text is never measured: that would cost a layout per node).
  const corner = task?.subWorkflowId ? 7 : node.attempts.length > 1 ? 4 : 0;
  const room = (SUB_TYPES.has(type) ? 20 : HEX_TYPES.has(type) ? 19 : 22) - corner;
  parts.push(`<text class="dg-label" x="${x + inset}" y="${y + 21}">${esc(clip(ref, room))}</text>`);
  parts.push(`<text class="dg-sub" x="${x + inset}" y="${y + 38}">${esc(clip(sub, SUB_TYPES.has(type) ? 23 : 27))}</text>`);
  if (task?.subWorkflowId) {
    const href = `/execution/${encodeURIComponent(task.subWorkflowId)}`;
    parts.push(
      `<a class="dg-child" href="${href}" data-child="${esc(task.subWorkflowId)}"><title>Open the child execution</title>` +
        `<text x="${x + w - inset + 2}" y="${y + 20}" text-anchor="end">open ↗</text></a>`,
    );
  } else if (node.attempts.length > 1) {
    parts.push(`<text class="dg-attempts" x="${x + w - inset + 4}" y="${y + 20}" text-anchor="end">×${node.attempts.length}</text>`);
  }
  parts.push("</g>");
  return parts.join("");
}

function tooltip(ref, sub, node) {
  const task = node.task;
  if (!task) return `${ref}\n${sub}\nnot reached`;
  const lines = [ref, sub, task.status];
  if (node.attempts.length > 1) lines.push(`${node.attempts.length} attempts`);
  if (task.iteration) lines.push(`iteration ${task.iteration}`);
  if (task.reasonForIncompletion) lines.push(task.reasonForIncompletion);
  return lines.join("\n");
}

function loopBox(box, selected) {
  const { x, y, w, h, node, iteration, iterations } = box;
  const task = node.task;
  const ref = node.wt.taskReferenceName;
  const isSelected = selected && (selected === task?.taskId || (!task && selected === ref));
  const cls = `dg-loop ${statusClass(task)}${isSelected ? " selected" : ""}`;
  const attrs = `data-ref="${esc(ref)}" data-type="DO_WHILE" data-status="${esc(task ? task.status : "NOT_REACHED")}"${task ? ` data-task-id="${esc(task.taskId)}"` : ""}`;
  const parts = [
    `<g class="${cls}" data-loop="${esc(ref)}">`,
    `<rect class="dg-loop-box" x="${x}" y="${y}" width="${w}" height="${h}" rx="12"/>`,
    `<g class="dg-node dg-loop-head ${statusClass(task)}${isSelected ? " selected" : ""}" ${attrs} tabindex="0">`,
    `<title>${esc(`${ref} (DO_WHILE)${task ? `\n${task.status}` : "\nnot reached"}`)}</title>`,
    `<rect class="dg-shape" x="${x}" y="${y}" width="${w}" height="${LOOP.HEAD - 6}" rx="12"/>`,
    `<text class="dg-label" x="${x + 14}" y="${y + 21}">↻ ${esc(clip(ref, headRoom(w, iterations.length)))}</text>`,
    "</g>",
  ];
  const count = iterations.length;
  const label = count ? `iteration ${iteration} of ${count}` : task ? "no iteration yet" : "DO_WHILE";
  const right = x + w - 14;
  if (count > 1) {
    const at = iterations.indexOf(iteration);
    const first = iterations[0];
    const last = iterations[count - 1];
    const prev = iterations[Math.max(0, at - 1)];
    const next = iterations[Math.min(count - 1, at + 1)];
    parts.push(stepper(right - 8, y + 19, "»", "Last iteration", ref, last, iteration === last));
    parts.push(stepper(right - 30, y + 19, "›", "Next iteration", ref, next, iteration === next));
    parts.push(stepper(right - 52, y + 19, "‹", "Previous iteration", ref, prev, iteration === prev));
    parts.push(stepper(right - 74, y + 19, "«", "First iteration", ref, first, iteration === first));
    parts.push(`<text class="dg-iter" data-iteration="${iteration}" x="${right - 90}" y="${y + 20}" text-anchor="end">${esc(label)}</text>`);
  } else {
    parts.push(`<text class="dg-iter" data-iteration="${iteration}" x="${right}" y="${y + 20}" text-anchor="end">${esc(label)}</text>`);
  }
  parts.push("</g>");
  return parts.join("");
}

/** Characters of the loop's name that fit left of its iteration controls. */
function headRoom(w, count) {
  const controls = count > 1 ? 90 + `iteration ${count} of ${count}`.length * 7 : 110;
  return Math.max(6, Math.floor((w - 28 - controls - 24) / 8));
}

function stepper(cx, cy, glyph, title, ref, target, disabled) {
  const cls = `dg-step${disabled ? " disabled" : ""}`;
  return (
    `<g class="${cls}" data-loop-ref="${esc(ref)}" data-loop-to="${target}" role="button" aria-label="${title}">` +
    `<title>${title}</title><circle cx="${cx}" cy="${cy - 4}" r="9"/>` +
    `<text x="${cx}" y="${cy}" text-anchor="middle">${glyph}</text></g>`
  );
}

function gridBox(grid, selected) {
  const { x, y, w, h, block } = grid;
  if (grid.empty) {
    return (
      `<g class="dg-grid empty"><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8"/>` +
      `<text x="${x + w / 2}" y="${y + h / 2 + 4}" text-anchor="middle">tasks decided at run time</text></g>`
    );
  }
  const counts = {};
  for (const t of block.spawned) counts[statusGroup(t.status)] = (counts[statusGroup(t.status)] || 0) + 1;
  const summary = Object.entries(counts).map(([k, n]) => `${n.toLocaleString("en")} ${k}`).join(" · ");
  const parts = [
    `<g class="dg-grid"><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="8"/>`,
    `<text class="dg-grid-head" x="${x + 12}" y="${y + 19}">${block.spawned.length.toLocaleString("en")} spawned tasks · ${esc(summary)}</text>`,
  ];
  for (const tile of gridTiles(grid)) {
    const t = tile.task;
    const sel = selected === t.taskId ? " selected" : "";
    parts.push(
      `<rect class="dg-tile st-${statusGroup(t.status)}${sel}" data-task-id="${esc(t.taskId)}" data-ref="${esc(t.referenceTaskName)}"` +
        ` data-status="${esc(t.status)}" x="${tile.x}" y="${tile.y}" width="${TILE}" height="${TILE}" rx="3">` +
        `<title>${esc(`${t.referenceTaskName} (${t.taskType})\n${t.status}`)}</title></rect>`,
    );
  }
  parts.push("</g>");
  return parts.join("");
}

function terminal(t) {
  const cls = `dg-terminal ${t.status ? `st-${statusGroup(t.status)}` : "unreached"}`;
  return (
    `<g class="${cls}"><circle cx="${t.x}" cy="${t.y}" r="${t.r}"/>` +
    `<text x="${t.x + t.r + 8}" y="${t.y + 4}">${esc(t.label)}</text></g>`
  );
}

export const TERMINAL_H = NODE_H / 2;

// Colours come from the page's status variables (style.css) with fallbacks of the same hue.
const STYLE = `<style>
.dg{font-family:var(--sans,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);--c-completed:var(--status-completed,#16a34a);--c-failed:var(--status-failed,#dc2626);--c-running:var(--status-running,#2563eb);--c-warning:var(--status-warning,#ca8a04);--c-paused:var(--status-paused,#d97706);--c-neutral:var(--status-neutral,#6b7280)}
.dg-edge{fill:none;stroke:#c4cbd4;stroke-width:1.5;stroke-dasharray:4 4}
.dg-edge.on{stroke:#57606a;stroke-width:2;stroke-dasharray:none}
.dg-arrowhead{fill:#c4cbd4}.dg-arrowhead.on{fill:#57606a}
.dg-merge{fill:#c4cbd4}.dg-merge.on{fill:#57606a}
.dg-case rect{fill:#fff;stroke:#d0d7de}.dg-case text{font-size:11px;fill:#6e7781}
.dg-case.on rect{fill:#eef4ff;stroke:#57606a}.dg-case.on text{fill:#24292f;font-weight:600}
.dg-case.default text{font-style:italic}
.dg-node{cursor:pointer;outline:none}
.dg-shape{fill:#fff;stroke:#d0d7de;stroke-width:1.5}
.dg-subline{stroke:#d0d7de;stroke-width:1.2}
.dg-label{font-size:13px;font-weight:600;fill:#24292f}
.dg-sub{font-size:11px;fill:#57606a}
.dg-attempts{font-size:11px;font-weight:600;fill:#57606a}
.dg-child text{font-size:11px;font-weight:600;fill:#0969da;text-decoration:underline}
.dg-node.unreached .dg-shape{fill:#f6f8fa;stroke:#d0d7de;stroke-dasharray:5 4}
.dg-node.unreached .dg-label,.dg-node.unreached .dg-sub{fill:#8c959f}
.st-completed .dg-shape{fill:var(--status-completed-bg,#dcfce7);stroke:var(--c-completed)}
.st-failed .dg-shape{fill:var(--status-failed-bg,#fee2e2);stroke:var(--c-failed);stroke-width:2}
.st-running .dg-shape{fill:var(--status-running-bg,#dbeafe);stroke:var(--c-running);stroke-width:2}
.st-warning .dg-shape{fill:var(--status-warning-bg,#fef9c3);stroke:var(--c-warning)}
.st-paused .dg-shape{fill:var(--status-paused-bg,#fef3c7);stroke:var(--c-paused)}
.st-neutral .dg-shape{fill:var(--status-neutral-bg,#f3f4f6);stroke:var(--c-neutral)}
.st-completed .dg-subline{stroke:var(--c-completed)}.st-failed .dg-subline{stroke:var(--c-failed)}.st-running .dg-subline{stroke:var(--c-running)}
.dg-node.st-running .dg-shape{animation:dg-pulse 1.6s ease-in-out infinite}
@keyframes dg-pulse{50%{stroke-opacity:.35}}
.dg-node:hover .dg-shape,.dg-node:focus .dg-shape{filter:drop-shadow(0 1px 3px rgba(31,35,40,.25))}
.dg-node.selected .dg-shape{stroke:#1d4ed8;stroke-width:3;filter:drop-shadow(0 0 4px rgba(9,105,218,.45))}
.dg-loop-box{fill:rgba(246,248,250,.6);stroke:#afb8c1;stroke-width:1.5;stroke-dasharray:6 4}
.dg-loop-head .dg-shape{stroke:none}
.dg-loop.unreached .dg-loop-head .dg-shape{fill:#eef0f2}
.dg-iter{font-size:11.5px;fill:#57606a;font-weight:600}
.dg-step{cursor:pointer}.dg-step circle{fill:#fff;stroke:#afb8c1}.dg-step text{font-size:14px;font-weight:700;fill:#24292f}
.dg-step:hover circle{stroke:#0969da}.dg-step.disabled{opacity:.35;pointer-events:none}
.dg-grid>rect{fill:#fff;stroke:#d0d7de;stroke-width:1.5}
.dg-grid.empty>rect{fill:#f6f8fa;stroke-dasharray:5 4}.dg-grid.empty text{font-size:12px;fill:#8c959f;font-style:italic}
.dg-grid-head{font-size:12px;font-weight:600;fill:#57606a}
.dg-tile{cursor:pointer;stroke:#fff;stroke-width:.5}
.dg-tile.st-completed{fill:var(--c-completed)}.dg-tile.st-failed{fill:var(--c-failed)}.dg-tile.st-running{fill:var(--c-running)}
.dg-tile.st-warning{fill:var(--c-warning)}.dg-tile.st-paused{fill:var(--c-paused)}.dg-tile.st-neutral{fill:var(--c-neutral)}
.dg-tile:hover{stroke:#24292f;stroke-width:1.5}.dg-tile.selected{stroke:#0550ae;stroke-width:2.5}
.dg-def .dg-edge{stroke:#8c959f;stroke-dasharray:none}.dg-def .dg-arrowhead{fill:#8c959f}.dg-def .dg-merge{fill:#8c959f}
.dg-def .dg-node.unreached .dg-shape{fill:#fff;stroke:#8c959f;stroke-dasharray:none}
.dg-def .dg-node.unreached .dg-label{fill:#24292f}.dg-def .dg-node.unreached .dg-sub{fill:#57606a}
.dg-def .dg-loop.unreached .dg-loop-head .dg-shape{fill:#eef1f5}.dg-def .dg-case text{fill:#24292f}
.dg-terminal circle{fill:#fff;stroke:#8c959f;stroke-width:2}.dg-terminal text{font-size:11px;fill:#57606a;font-weight:600}
.dg-terminal.st-completed circle{fill:var(--c-completed);stroke:var(--c-completed)}
.dg-terminal.st-failed circle{fill:var(--c-failed);stroke:var(--c-failed)}
.dg-terminal.st-running circle{fill:#fff;stroke:var(--c-running)}
.dg-terminal.st-paused circle{fill:var(--c-paused);stroke:var(--c-paused)}
</style>`;
