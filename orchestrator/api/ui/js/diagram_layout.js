// Layered layout of the diagram's block tree (diagram_model.js): sequences top to bottom,
// fork branches and switch cases side by side, loops as a box around their body. Two passes
// over the tree (measure, then place), no DOM measuring: text is truncated to a fixed width,
// so a 1,000-task execution lays out in well under a millisecond per node.

export const NODE_W = 188;
export const NODE_H = 50;
const GAP_X = 28;
const GAP_Y = 34;
const CASE_GAP_Y = 62; // room for the case labels under a switch
const LOOP_PAD = 16;
const LOOP_HEAD = 38;
const LOOP_MIN_W = 300; // the header holds the name, "iteration N of M" and four steppers
export const TILE = 14;
export const TILE_GAP = 4;
const GRID_PAD = 12;
const GRID_HEAD = 30;
const GRID_MAX_COLS = 30;
export const DYN_INLINE_MAX = 8; // more spawned tasks than this are drawn as a grid of tiles
const EMPTY_W = 48;

const OPEN = new Set(["SCHEDULED", "IN_PROGRESS"]);

/** Sets w/h on every block (bottom-up). */
export function measure(block) {
  switch (block.kind) {
    case "task":
      block.w = NODE_W;
      block.h = NODE_H;
      break;
    case "seq":
      block.items.forEach(measure);
      block.w = block.items.length ? Math.max(...block.items.map((b) => b.w)) : EMPTY_W;
      block.h = block.items.reduce((sum, b) => sum + b.h, 0) + GAP_Y * Math.max(0, block.items.length - 1);
      break;
    case "fork":
      measureParallel(block, block.branches, GAP_Y, block.join);
      break;
    case "switch":
      block.cases.forEach((c) => measure(c.body));
      measureParallel(block, block.cases.map((c) => c.body), CASE_GAP_Y, null);
      break;
    case "loop":
      measure(block.body);
      block.w = Math.max(block.body.w, LOOP_MIN_W) + 2 * LOOP_PAD;
      block.h = LOOP_HEAD + LOOP_PAD + block.body.h + LOOP_PAD;
      break;
    case "dynamic":
      measureDynamic(block);
      break;
    default:
      throw new Error(`unknown block ${block.kind}`);
  }
  return block;
}

function measureParallel(block, branches, gapTop, join) {
  branches.forEach(measure);
  measure(block.node);
  if (join) measure(join);
  const width = branches.reduce((sum, b) => sum + b.w, 0) + GAP_X * Math.max(0, branches.length - 1);
  const tallest = branches.length ? Math.max(...branches.map((b) => b.h)) : 0;
  block.w = Math.max(NODE_W, width);
  block.h = NODE_H + gapTop + tallest + GAP_Y + (join ? NODE_H : 0);
}

function measureDynamic(block) {
  measure(block.node);
  if (block.join) measure(block.join);
  const n = block.spawned.length;
  let middle;
  if (n === 0) middle = { w: NODE_W, h: 36 };
  else if (n <= DYN_INLINE_MAX) middle = { w: n * NODE_W + (n - 1) * GAP_X, h: NODE_H };
  else {
    const cols = Math.min(n, GRID_MAX_COLS);
    const rows = Math.ceil(n / cols);
    block.grid = { cols, rows };
    middle = {
      w: Math.max(NODE_W, cols * (TILE + TILE_GAP) - TILE_GAP + 2 * GRID_PAD),
      h: GRID_HEAD + rows * (TILE + TILE_GAP) - TILE_GAP + GRID_PAD,
    };
  }
  block.middle = middle;
  block.w = Math.max(NODE_W, middle.w);
  block.h = NODE_H + GAP_Y + middle.h + GAP_Y + (block.join ? NODE_H : 0);
}

/** Whether a block was reached (its first task exists); null for an empty sequence. */
export function reached(block) {
  switch (block.kind) {
    case "task":
      return Boolean(block.task);
    case "seq":
      return block.items.length ? reached(block.items[0]) : null;
    default:
      return reached(block.node);
  }
}

/** Whether execution left a block (its last task finished); null for an empty sequence. */
function finished(block) {
  switch (block.kind) {
    case "task":
      return Boolean(block.task) && !OPEN.has(block.task.status);
    case "seq":
      return block.items.length ? finished(block.items[block.items.length - 1]) : null;
    case "fork":
      return block.join ? finished(block.join) : block.branches.every((b) => finished(b) !== false);
    case "dynamic":
      return block.join ? finished(block.join) : finished(block.node);
    case "switch": {
      const taken = block.cases.find((c) => c.taken);
      return Boolean(taken) && finished(taken.body) !== false && finished(block.node);
    }
    default:
      return finished(block.node);
  }
}

/**
 * Places the tree with its top centre at (cx, y); appends what to draw to `scene`
 * ({nodes, edges, boxes, grids, dots}).
 */
export function place(block, cx, y, scene) {
  block.x = cx - block.w / 2;
  block.y = y;
  switch (block.kind) {
    case "task":
      scene.nodes.push(block);
      break;
    case "seq":
      placeSeq(block, cx, y, scene);
      break;
    case "fork":
      placeParallel(block, block.branches.map((b) => ({ body: b })), GAP_Y, scene);
      break;
    case "switch":
      placeParallel(block, block.cases, CASE_GAP_Y, scene);
      break;
    case "loop":
      scene.boxes.push(block);
      place(block.body, cx, y + LOOP_HEAD + LOOP_PAD, scene);
      break;
    case "dynamic":
      placeDynamic(block, cx, y, scene);
      break;
    default:
      break;
  }
}

function placeSeq(block, cx, y, scene) {
  let top = y;
  block.items.forEach((item, i) => {
    if (i > 0) {
      const prev = block.items[i - 1];
      scene.edges.push(edge(cx, prev.y + prev.h, cx, top, reached(item)));
    }
    place(item, cx, top, scene);
    top += item.h + GAP_Y;
  });
}

function placeParallel(block, lanes, gapTop, scene) {
  const cx = block.x + block.w / 2;
  place(block.node, cx, block.y, scene);
  const forkBottom = block.y + NODE_H;
  const laneTop = forkBottom + gapTop;
  const tallest = Math.max(0, ...lanes.map((l) => l.body.h));
  const mergeY = laneTop + tallest + GAP_Y;
  const total = lanes.reduce((sum, l) => sum + l.body.w, 0) + GAP_X * Math.max(0, lanes.length - 1);
  let left = cx - total / 2;
  const nodeReached = reached(block.node);
  for (const lane of lanes) {
    const lx = left + lane.body.w / 2;
    const isCase = lane.label !== undefined;
    const inTaken = isCase ? lane.taken : (reached(lane.body) ?? nodeReached);
    const laneEnd = laneTop + lane.body.h;
    scene.edges.push(edge(cx, forkBottom, lx, laneTop, inTaken, isCase ? lane.label : null, lane.isDefault));
    place(lane.body, lx, laneTop, scene);
    const done = finished(lane.body) ?? (isCase ? lane.taken && finished(block.node) : nodeReached);
    const outTaken = isCase ? lane.taken && done : done && (!block.join || reached(block.join));
    const toMerge = edge(lx, laneEnd, cx, mergeY, Boolean(outTaken));
    toMerge.arrow = Boolean(block.join); // into a merge dot: no arrowhead
    scene.edges.push(toMerge);
    left += lane.body.w + GAP_X;
  }
  if (block.join) place(block.join, cx, mergeY, scene);
  else scene.dots.push({ x: cx, y: mergeY, taken: finished(block) });
}

function placeDynamic(block, cx, y, scene) {
  place(block.node, cx, y, scene);
  const top = y + NODE_H + GAP_Y;
  const { middle } = block;
  const mergeY = top + middle.h + GAP_Y;
  const nodeReached = reached(block.node);
  const n = block.spawned.length;
  if (n > 0 && n <= DYN_INLINE_MAX) {
    let left = cx - middle.w / 2;
    for (const task of block.spawned) {
      const lx = left + NODE_W / 2;
      const node = { kind: "task", wt: null, type: task.taskType, task, attempts: task._attempts || [task], spawned: true };
      node.w = NODE_W;
      node.h = NODE_H;
      scene.edges.push(edge(cx, y + NODE_H, lx, top, true));
      place(node, lx, top, scene);
      scene.edges.push(edge(lx, top + NODE_H, cx, mergeY, !OPEN.has(task.status)));
      left += NODE_W + GAP_X;
    }
  } else {
    const grid = { x: cx - middle.w / 2, y: top, w: middle.w, h: middle.h, block, empty: n === 0 };
    scene.grids.push(grid);
    scene.edges.push(edge(cx, y + NODE_H, cx, top, nodeReached && n > 0));
    scene.edges.push(edge(cx, top + middle.h, cx, mergeY, Boolean(block.join && reached(block.join))));
  }
  if (block.join) place(block.join, cx, mergeY, scene);
  else scene.dots.push({ x: cx, y: mergeY, taken: finished(block) });
}

function edge(x1, y1, x2, y2, taken, label = null, isDefault = false) {
  return { x1, y1, x2, y2, taken: Boolean(taken), label, isDefault, arrow: true };
}

/** Geometry of the tiles of a dynamic fork's grid: [{task, x, y}]. */
export function gridTiles(grid) {
  const { cols } = grid.block.grid;
  const width = cols * (TILE + TILE_GAP) - TILE_GAP;
  const left = grid.x + (grid.w - width) / 2;
  return grid.block.spawned.map((task, i) => ({
    task,
    x: left + (i % cols) * (TILE + TILE_GAP),
    y: grid.y + GRID_HEAD + Math.floor(i / cols) * (TILE + TILE_GAP),
  }));
}

export const LOOP = { HEAD: LOOP_HEAD, PAD: LOOP_PAD };
export const GAP = { X: GAP_X, Y: GAP_Y };
