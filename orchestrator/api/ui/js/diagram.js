// renderDiagram(container, workflowDef, executionTasksOrNull, options): the workflow as an
// SVG diagram. With tasks (GET /api/workflow/{id} .tasks) nodes are coloured by status, the
// executed path is drawn solid and unreached nodes grey; with null it is the definition alone.
//
// options: {onSelect(info), selected (task id or ref), iterations (Map DO_WHILE ref -> iteration),
//           workflowStatus, onIteration(ref, iteration)}
// info given to onSelect: {ref, type, wt, task (latest attempt or null), attempts}.
// Returns a handle: {update(workflowDef, tasks, options), select(idOrRef), info(idOrRef), stats}.

import { build } from "./diagram_model.js";
import { GAP, NODE_W, measure, place, reached } from "./diagram_layout.js";
import { TERMINAL_H, sceneSvg } from "./diagram_svg.js";

const PAD = 24;
const TERMINAL_R = 9;
const ENDED = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);

export function renderDiagram(container, workflowDef, tasks, options = {}) {
  const handle = container._diagram || createHandle(container);
  handle.update(workflowDef, tasks, options);
  return handle;
}

function createHandle(container) {
  const state = { def: null, tasks: null, options: {}, iterations: new Map(), lookup: new Map() };
  const handle = {
    stats: {},
    update(def, tasks, options = {}) {
      state.def = def;
      state.tasks = tasks;
      state.options = { ...state.options, ...options };
      if (options.iterations) state.iterations = new Map(options.iterations);
      draw(container, state, handle);
    },
    select(idOrRef) {
      state.options.selected = idOrRef;
      draw(container, state, handle);
    },
    setIteration(ref, iteration) {
      state.iterations.set(ref, iteration);
      draw(container, state, handle);
    },
    info(idOrRef) {
      return state.lookup.get(idOrRef) || null;
    },
    get iterations() {
      return new Map(state.iterations);
    },
  };
  container._diagram = handle;
  container.classList.add("diagram-host");
  container.addEventListener("click", (event) => onClick(event, state, handle));
  container.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") onClick(event, state, handle);
  });
  return handle;
}

function draw(container, state, handle) {
  const started = performance.now();
  const { root } = build(state.def, state.tasks, state.iterations);
  measure(root);
  const scene = { nodes: [], edges: [], boxes: [], grids: [], dots: [], terminals: [] };
  const width = Math.max(root.w, NODE_W) + 2 * PAD + 60; // room for the start/end labels
  const cx = PAD + Math.max(root.w, NODE_W) / 2;
  const top = PAD + TERMINAL_H;
  place(root, cx, top, scene);
  const height = addTerminals(scene, root, cx, top, state);
  container.innerHTML = sceneSvg(scene, width, height, state.options.selected, Array.isArray(state.tasks));
  state.lookup = lookupOf(scene);
  handle.stats = { nodes: scene.nodes.length, tiles: scene.grids.reduce((n, g) => n + g.block.spawned.length, 0), ms: performance.now() - started, width, height };
}

function addTerminals(scene, root, cx, top, state) {
  const executed = Array.isArray(state.tasks);
  const status = state.options.workflowStatus;
  const startY = PAD / 2 + TERMINAL_R;
  scene.terminals.push({ x: cx, y: startY, r: TERMINAL_R, label: "start", status: executed ? "COMPLETED" : null });
  const firstReached = root.items.length ? reached(root.items[0]) : executed;
  scene.edges.push({ x1: cx, y1: startY + TERMINAL_R, x2: cx, y2: top, taken: executed && firstReached, label: null });
  const bottom = top + root.h;
  const endY = bottom + GAP.Y + TERMINAL_R;
  const ended = executed && ENDED.has(status);
  scene.edges.push({ x1: cx, y1: bottom, x2: cx, y2: endY - TERMINAL_R, taken: ended && status === "COMPLETED", label: null });
  scene.terminals.push({ x: cx, y: endY, r: TERMINAL_R, label: ended ? status.toLowerCase() : "end", status: ended ? status : null });
  return endY + TERMINAL_R + PAD;
}

/** task id and ref -> what the task panel needs. */
function lookupOf(scene) {
  const lookup = new Map();
  const add = (node) => {
    const ref = node.wt ? node.wt.taskReferenceName : node.task.referenceTaskName;
    const info = { ref, type: node.type, wt: node.wt, task: node.task, attempts: node.attempts };
    if (!lookup.has(ref)) lookup.set(ref, info);
    if (node.task) lookup.set(node.task.taskId, info);
    for (const attempt of node.attempts) if (!lookup.has(attempt.taskId)) lookup.set(attempt.taskId, info);
  };
  scene.nodes.forEach(add);
  scene.boxes.forEach((box) => add(box.node));
  for (const grid of scene.grids) {
    for (const task of grid.block.spawned) {
      const info = { ref: task.referenceTaskName, type: task.taskType, wt: null, task, attempts: task._attempts || [task] };
      lookup.set(task.taskId, info);
      lookup.set(task.referenceTaskName, info);
    }
  }
  return lookup;
}

function onClick(event, state, handle) {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  if (target.closest("a.dg-child")) return; // a link to the child execution: let it navigate
  const step = target.closest("[data-loop-to]");
  if (step) {
    event.preventDefault();
    const ref = step.getAttribute("data-loop-ref");
    const iteration = Number(step.getAttribute("data-loop-to"));
    handle.setIteration(ref, iteration);
    state.options.onIteration?.(ref, iteration);
    return;
  }
  const node = target.closest("[data-task-id], .dg-node[data-ref]");
  if (!node) return;
  event.preventDefault();
  const key = node.getAttribute("data-task-id") || node.getAttribute("data-ref");
  const info = state.lookup.get(key);
  if (!info) return;
  handle.select(key);
  state.options.onSelect?.(info);
}
