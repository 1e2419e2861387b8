// The timeline of every task attempt: one row per attempt, the wait in the queue (scheduled ->
// started) drawn light, the run (started -> ended) in the status colour. One SVG string, as
// the diagram, so a thousand attempts draw at once.

import { fmtDuration, statusGroup } from "./common.js";
import { esc } from "./diagram_svg.js";

const ROW_H = 24;
const LABEL_W = 250;
const AXIS_H = 28;
const RIGHT_PAD = 24;

function niceStep(span, target) {
  const raw = span / target;
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000,
    120000, 300000, 600000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000];
  return steps.find((s) => s >= raw) || Math.ceil(raw / 86400000) * 86400000;
}

/** Attempts in the order they were scheduled. */
function ordered(tasks) {
  return [...tasks].sort((a, b) => a.scheduledTime - b.scheduledTime || a.seq - b.seq);
}

/**
 * Draws the timeline of `workflow.tasks` into `container`; a click on a row calls
 * onSelect(taskId). `selected` is a task id.
 */
export function renderTimeline(container, workflow, selected, onSelect) {
  const tasks = ordered(workflow.tasks || []);
  if (!tasks.length) {
    container.innerHTML = '<div class="notice">No task has been scheduled yet.</div>';
    return;
  }
  const now = Date.now();
  const endOf = (t) => t.endTime || (["SCHEDULED", "IN_PROGRESS"].includes(t.status) ? now : t.updateTime);
  const t0 = Math.min(workflow.startTime || Infinity, ...tasks.map((t) => t.scheduledTime));
  const t1 = Math.max(t0 + 1, workflow.endTime || 0, ...tasks.map(endOf));
  const width = Math.max(720, container.clientWidth || 960);
  const chartW = width - LABEL_W - RIGHT_PAD;
  const x = (ms) => LABEL_W + ((ms - t0) / (t1 - t0)) * chartW;
  const height = AXIS_H + tasks.length * ROW_H + 8;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="tl" width="${width}" height="${height}" role="img" aria-label="Timeline of task attempts">`];
  parts.push(axis(t0, t1, x, height));
  const counts = new Map();
  tasks.forEach((t, i) => {
    const n = (counts.get(t.referenceTaskName) || 0) + 1;
    counts.set(t.referenceTaskName, n);
    parts.push(row(t, i, n, x, endOf(t), selected, width));
  });
  parts.push("</svg>");
  container.innerHTML = parts.join("");
  container.onclick = (event) => {
    const hit = event.target instanceof Element ? event.target.closest("[data-task-id]") : null;
    if (hit) onSelect(hit.getAttribute("data-task-id"));
  };
}

function axis(t0, t1, x, height) {
  const step = niceStep(t1 - t0, 8);
  const parts = [];
  for (let ms = 0; ms <= t1 - t0; ms += step) {
    const px = x(t0 + ms);
    parts.push(`<line class="tl-grid" x1="${px}" y1="${AXIS_H - 6}" x2="${px}" y2="${height}"/>`);
    parts.push(`<text class="tl-tick" x="${px}" y="${AXIS_H - 10}" text-anchor="middle">+${esc(fmtDuration(ms))}</text>`);
  }
  return parts.join("");
}

/** After the bar, or inside its end when the bar reaches the right edge. */
function durationText(barEnd, y, width, text) {
  if (!text) return "";
  const inside = barEnd + 6 + text.length * 6 > width;
  const xText = inside ? barEnd - 6 : barEnd + 6;
  return `<text class="tl-dur${inside ? " inside" : ""}" x="${xText}" y="${y + 16}"${inside ? ' text-anchor="end"' : ""}>${esc(text)}</text>`;
}

function row(t, i, attempt, x, end, selected, width) {
  const y = AXIS_H + i * ROW_H;
  const group = statusGroup(t.status);
  const start = t.startTime || end;
  const label = `${t.referenceTaskName}${attempt > 1 ? ` · attempt ${attempt}` : ""}`;
  const waitW = Math.max(0, x(start) - x(t.scheduledTime));
  const runW = Math.max(2, x(end) - x(start));
  const took = t.startTime ? fmtDuration(end - start) : "not started";
  const tip = `${label} (${t.taskType})\n${t.status}\nqueued ${fmtDuration(start - t.scheduledTime)}, ran ${took}${t.reasonForIncompletion ? `\n${t.reasonForIncompletion}` : ""}`;
  const cls = `tl-row st-${group}${selected === t.taskId ? " selected" : ""}`;
  const shown = label.length > 34 ? `${label.slice(0, 33)}…` : label;
  return (
    `<g class="${cls}" data-task-id="${esc(t.taskId)}" data-ref="${esc(t.referenceTaskName)}" data-status="${esc(t.status)}">` +
    `<title>${esc(tip)}</title>` +
    `<rect class="tl-hit" x="0" y="${y}" width="${width}" height="${ROW_H}"/>` +
    `<text class="tl-label" x="12" y="${y + 16}">${esc(shown)}</text>` +
    (waitW > 0.5 ? `<rect class="tl-wait" x="${x(t.scheduledTime)}" y="${y + 8}" width="${waitW}" height="8" rx="2"/>` : "") +
    `<rect class="tl-bar" x="${x(start)}" y="${y + 5}" width="${runW}" height="14" rx="3"/>` +
    durationText(x(start) + runW, y, width, t.startTime ? fmtDuration(end - start) : "") +
    "</g>"
  );
}
