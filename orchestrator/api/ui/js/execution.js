// The execution view (/execution/{workflowId}): the diagram with the executed path, a
// timeline of every attempt, the event history with time travel, a panel per task and the
// operations. While the execution runs the page polls (every POLL_MS) and redraws in place;
// it stops once the execution has ended and starts again after an operation.

import { api, el, notice, renderNav } from "./common.js";
import { renderDiagram } from "./diagram.js";
import { runAction } from "./execution_actions.js";
import { renderHead } from "./execution_head.js";
import { renderTaskPanel, renderWorkflowPanel } from "./execution_panel.js";
import { renderHistory, timeTravelBar } from "./history.js";
import { renderTimeline } from "./timeline.js";

const POLL_MS = 1500;
const FULL_EVERY = 6; // a full reload every so many polls, whatever the probe says
const ENDED = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);
const ZOOMS = [0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5];

const workflowId = decodeURIComponent(location.pathname.split("/")[2] || "");
const state = {
  live: null, // the execution now
  shown: null, // live, or the state after event `at`
  history: [],
  at: null,
  definition: null,
  selected: null, // task id or ref
  attempt: null,
  tab: "diagram",
  zoom: 1,
  polls: 0,
  timer: null,
  probeKey: "",
  atCache: new Map(),
  graceUntil: 0, // after an operation: keep polling a while even if it is not visible yet
};
const ui = {};

function skeleton() {
  renderNav("executions");
  const app = document.getElementById("app");
  app.classList.add("exec-page");
  ui.head = el("div", { id: "exec-head" });
  ui.travel = timeTravelBar((seq) => travel(seq));
  ui.banner = el("div", { class: "travel-banner", hidden: true });
  ui.diagram = el("div", { class: "diagram-box exec-diagram", id: "diagram", tabindex: "-1" });
  ui.timeline = el("div", { class: "exec-timeline", id: "timeline", hidden: true });
  ui.history = el("div", { class: "exec-history", id: "history", hidden: true });
  ui.panel = el("aside", { class: "card exec-panel", id: "task-panel" });
  ui.tabs = ["diagram", "timeline", "history"].map((key) =>
    el("button", { type: "button", class: key === "diagram" ? "active" : null, dataset: { tab: key }, onclick: () => showTab(key) }, key[0].toUpperCase() + key.slice(1)),
  );
  ui.zoom = zoomControls();
  ui.legend = legend();
  const main = el(
    "section",
    { class: "card flush exec-main" },
    el("div", { class: "tabs exec-tabs" }, ui.tabs, el("span", { class: "spacer" }), ui.zoom),
    ui.travel.element,
    ui.banner,
    el("div", { class: "exec-views" }, ui.diagram, ui.timeline, ui.history),
    ui.legend,
  );
  app.replaceChildren(ui.head, el("div", { class: "exec-grid" }, main, ui.panel));
}

function legend() {
  const item = (cls, label) => el("span", { class: "legend-item" }, el("span", { class: `legend-swatch ${cls}` }), label);
  return el(
    "div",
    { class: "exec-legend", "aria-label": "Legend" },
    item("sw-completed", "Completed"),
    item("sw-running", "Running"),
    item("sw-failed", "Failed"),
    item("sw-paused", "Paused / terminated"),
    item("sw-neutral", "Skipped / canceled"),
    item("sw-unreached", "Not reached"),
    el("span", { class: "legend-item" }, el("span", { class: "legend-line" }), "Executed path"),
  );
}

function zoomControls() {
  const label = el("span", { class: "zoom-label muted small" }, "100%");
  const step = (dir) => {
    const i = ZOOMS.indexOf(state.zoom);
    state.zoom = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, i + dir))];
    applyZoom();
  };
  ui.zoomLabel = label;
  return el(
    "span",
    { class: "zoom" },
    el("button", { type: "button", class: "small", title: "Zoom out", "aria-label": "Zoom out", onclick: () => step(-1) }, "−"),
    label,
    el("button", { type: "button", class: "small", title: "Zoom in", "aria-label": "Zoom in", onclick: () => step(1) }, "+"),
  );
}

function applyZoom() {
  const svg = ui.diagram.querySelector("svg");
  if (svg) {
    const [, , w, h] = svg.getAttribute("viewBox").split(" ").map(Number);
    svg.setAttribute("width", String(Math.round(w * state.zoom)));
    svg.setAttribute("height", String(Math.round(h * state.zoom)));
  }
  ui.zoomLabel.textContent = `${Math.round(state.zoom * 100)}%`;
}

function showTab(key) {
  state.tab = key;
  ui.tabs.forEach((b) => b.classList.toggle("active", b.dataset.tab === key));
  ui.diagram.hidden = key !== "diagram";
  ui.timeline.hidden = key !== "timeline";
  ui.history.hidden = key !== "history";
  ui.zoom.hidden = key !== "diagram";
  ui.legend.hidden = key === "history";
  renderView();
}

/** Draws what depends on the shown execution: head, current tab, panel. */
function render() {
  const shown = state.shown;
  const travelling = state.at !== null;
  renderHead(ui.head, { live: state.live, shown, travelling, polling: Boolean(state.timer), onDone: afterOperation });
  ui.travel.update(state.history, state.at);
  ui.banner.hidden = !travelling;
  if (travelling) {
    ui.banner.replaceChildren(
      `Showing the execution as it was after event #${state.at} of ${state.history.length}. `,
      el("button", { type: "button", class: "link", onclick: () => travel(null) }, "Back to live"),
    );
  }
  document.title = `${shown.workflowName} · ${shown.status} · Orchestrator`;
  renderView();
  renderPanel();
}

function renderView() {
  if (!state.shown) return;
  if (state.tab === "diagram") {
    renderDiagram(ui.diagram, state.definition, state.shown.tasks, {
      workflowStatus: state.shown.status,
      selected: state.selected,
      onSelect: (info) => select(info.task ? info.task.taskId : info.ref),
    });
    applyZoom();
  } else if (state.tab === "timeline") {
    renderTimeline(ui.timeline, state.shown, state.selected, (taskId) => select(taskId));
  } else {
    renderHistory(ui.history, state.history, state.at, (seq) => travel(seq));
  }
}

function select(key) {
  state.selected = key;
  state.attempt = null;
  if (state.tab !== "diagram") ui.diagram._diagram?.select(key);
  if (state.tab === "timeline") renderView();
  renderPanel();
}

function renderPanel() {
  const info = state.selected ? selectedInfo() : null;
  if (!info) {
    renderWorkflowPanel(ui.panel, state.shown, state.at !== null);
    return;
  }
  renderTaskPanel(ui.panel, info, {
    workflow: state.live,
    history: state.history,
    travelling: state.at !== null,
    attempt: state.attempt,
    onClose: () => {
      state.selected = null;
      ui.diagram._diagram?.select(null);
      renderPanel();
    },
    onAttempt: (taskId) => {
      state.attempt = taskId;
      renderPanel();
    },
    onAction: (kind, chosen) => runAction(state.live, kind, kind === "skip" ? chosen.ref : chosen.task.taskId, afterOperation),
  });
}

/** The diagram's view of the selection, or one made from the tasks (timeline of a hidden loop iteration). */
function selectedInfo() {
  const found = ui.diagram._diagram?.info(state.selected);
  if (found) return found;
  const task = (state.shown.tasks || []).find((t) => t.taskId === state.selected);
  if (!task) return null;
  const attempts = state.shown.tasks.filter((t) => t.referenceTaskName === task.referenceTaskName);
  return { ref: task.referenceTaskName, type: task.taskType, wt: null, task, attempts };
}

/** Fetches the execution (drawn at once) and its history (it follows: the slider and logs). */
async function load() {
  const history = api(`/api/workflow/${encodeURIComponent(workflowId)}/history`).catch((error) => {
    console.warn("history failed", error); // the diagram still shows; the slider waits
    return null;
  });
  const live = await api(`/api/workflow/${encodeURIComponent(workflowId)}`, { query: { includeTasks: true } });
  state.live = live;
  state.probeKey = probeKey(live);
  if (!state.definition || state.definition.name !== live.workflowName) state.definition = await definitionOf(live);
  if (state.at === null) state.shown = live;
  history.then(onHistory);
}

function onHistory(history) {
  if (!history) return;
  state.history = history;
  ui.travel.update(state.history, state.at);
  if (state.tab === "history") renderView();
  if (state.selected) renderPanel(); // the logs of a task come from the history
}

async function definitionOf(workflow) {
  if (workflow.workflowDefinition) return workflow.workflowDefinition;
  return api(`/api/metadata/workflow/${encodeURIComponent(workflow.workflowName)}`, { query: { version: workflow.version } });
}

function probeKey(w) {
  return `${w.status}|${w.updateTime}|${w.endTime}`;
}

async function travel(seq) {
  state.at = seq;
  if (seq === null) {
    state.shown = state.live;
  } else {
    if (!state.atCache.has(seq)) {
      state.atCache.set(seq, await api(`/api/workflow/${encodeURIComponent(workflowId)}/state`, { query: { at: seq } }));
    }
    if (state.at !== seq) return; // a newer pick overtook this one
    state.shown = state.atCache.get(seq);
  }
  render();
}

function schedulePoll() {
  clearTimeout(state.timer);
  state.timer = null;
  if (ENDED.has(state.live.status) && Date.now() > state.graceUntil) return;
  state.timer = setTimeout(poll, POLL_MS);
}

async function poll() {
  try {
    state.polls += 1;
    const probe = await api(`/api/workflow/${encodeURIComponent(workflowId)}`, { query: { includeTasks: false } });
    if (probeKey(probe) !== state.probeKey || state.polls % FULL_EVERY === 0) {
      await load();
      render();
    }
  } catch (error) {
    console.warn("poll failed", error); // a restarting API: try again on the next tick
  }
  schedulePoll();
  if (!state.timer) render(); // ended: the head says so
}

function afterOperation() {
  state.at = null;
  state.atCache.clear();
  state.graceUntil = Date.now() + 10_000;
  load().then(() => {
    schedulePoll();
    render();
  });
}

async function main() {
  skeleton();
  ui.diagram.replaceChildren(notice("Loading the execution…"));
  try {
    await load();
  } catch (error) {
    ui.head.replaceChildren(el("div", { class: "alert alert-error" }, `Cannot load execution ${workflowId}: ${error.message}`));
    ui.diagram.replaceChildren();
    return;
  }
  schedulePoll();
  render();
  document.getElementById("app").dataset.renderedMs = String(Math.round(performance.now()));
}

main();
