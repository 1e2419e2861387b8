// The diagram's model: a Conductor workflow definition turned into a tree of blocks, each
// matched with the execution's tasks (when there is an execution). Pure data, no DOM, so it can
// be built for 1,000 tasks in a few milliseconds and tested on its own.
//
// Blocks: {kind: "task" | "seq" | "fork" | "switch" | "loop" | "dynamic", ...} (see build()).

const FORK_TYPES = new Set(["FORK_JOIN", "FORK"]);
const SWITCH_TYPES = new Set(["SWITCH", "DECISION"]);
const LOOP_SUFFIX = /__(\d+)$/;

/** Reference name without Conductor's loop suffix: "step__3" -> "step". */
export function baseRef(ref) {
  return String(ref || "").replace(LOOP_SUFFIX, "");
}

/**
 * Index of the execution's tasks (every attempt). `byRef`: definition ref -> iteration ->
 * attempts sorted oldest first. `unknown`: tasks whose ref is not in the definition (the tasks
 * a dynamic fork spawned at run time).
 */
export function indexTasks(tasks, knownRefs) {
  const byRef = new Map();
  const unknown = [];
  const byId = new Map();
  for (const task of tasks || []) {
    byId.set(task.taskId, task);
    const ref = baseRef(task.referenceTaskName);
    if (!knownRefs.has(ref) && !knownRefs.has(task.referenceTaskName)) {
      unknown.push(task);
      continue;
    }
    const key = knownRefs.has(ref) ? ref : task.referenceTaskName;
    if (!byRef.has(key)) byRef.set(key, new Map());
    const iterations = byRef.get(key);
    const it = task.iteration || 0;
    if (!iterations.has(it)) iterations.set(it, []);
    iterations.get(it).push(task);
  }
  for (const iterations of byRef.values()) {
    for (const attempts of iterations.values()) attempts.sort((a, b) => a.seq - b.seq);
  }
  return { byRef, unknown, byId, executed: tasks !== null && tasks !== undefined };
}

/** Every taskReferenceName of a definition, nested ones included. */
export function collectRefs(tasks, into = new Set()) {
  for (const wt of tasks || []) {
    into.add(wt.taskReferenceName);
    for (const branch of wt.forkTasks || []) collectRefs(branch, into);
    for (const branch of Object.values(wt.decisionCases || {})) collectRefs(branch, into);
    collectRefs(wt.defaultCase, into);
    collectRefs(wt.loopOver, into);
  }
  return into;
}

/**
 * The block tree of a definition's task list. `iterations` maps a DO_WHILE ref to the iteration
 * the user selected (default: the latest one executed).
 */
export function build(definition, tasks, iterations = new Map()) {
  const refs = collectRefs(definition?.tasks);
  const index = indexTasks(tasks, refs);
  const ctx = { index, iterations, loopIteration: null };
  const root = seq(definition?.tasks || [], ctx);
  assignSpawned(root, index);
  return { root, index };
}

function seq(list, ctx) {
  const items = [];
  for (let i = 0; i < list.length; i++) {
    const wt = list[i];
    const next = list[i + 1];
    const type = String(wt.type || "SIMPLE").toUpperCase();
    if ((FORK_TYPES.has(type) || type === "FORK_JOIN_DYNAMIC") && next && next.type === "JOIN") {
      items.push(type === "FORK_JOIN_DYNAMIC" ? dynamic(wt, next, ctx) : fork(wt, next, ctx));
      i++; // the JOIN is drawn by its fork
    } else if (FORK_TYPES.has(type)) items.push(fork(wt, null, ctx));
    else if (type === "FORK_JOIN_DYNAMIC") items.push(dynamic(wt, null, ctx));
    else if (SWITCH_TYPES.has(type)) items.push(switchBlock(wt, ctx));
    else if (type === "DO_WHILE") items.push(loop(wt, ctx));
    else items.push(taskBlock(wt, ctx));
  }
  return { kind: "seq", items };
}

/** A node of the definition with the attempts of the iteration in view. */
function taskBlock(wt, ctx) {
  const iterations = ctx.index.byRef.get(wt.taskReferenceName);
  let attempts = [];
  if (iterations) {
    const wanted = ctx.loopIteration ?? 0;
    attempts = iterations.get(wanted) || (ctx.loopIteration === null ? lastOf(iterations) : []);
  }
  const task = attempts.length ? attempts[attempts.length - 1] : null;
  return { kind: "task", wt, type: String(wt.type || "SIMPLE").toUpperCase(), task, attempts };
}

function lastOf(iterations) {
  let best = null;
  for (const key of iterations.keys()) if (best === null || key > best) best = key;
  return best === null ? [] : iterations.get(best);
}

function fork(wt, joinWt, ctx) {
  return {
    kind: "fork",
    node: taskBlock(wt, ctx),
    branches: (wt.forkTasks || []).map((branch) => seq(branch, ctx)),
    join: joinWt ? taskBlock(joinWt, ctx) : null,
  };
}

function switchBlock(wt, ctx) {
  const node = taskBlock(wt, ctx);
  const selected = node.task?.outputData?.selectedCase;
  const cases = Object.entries(wt.decisionCases || {}).map(([label, branch]) => ({
    label,
    body: seq(branch, ctx),
    taken: node.task ? String(selected) === label : false,
  }));
  const anyTaken = cases.some((c) => c.taken);
  cases.push({
    label: "default",
    body: seq(wt.defaultCase || [], ctx),
    taken: Boolean(node.task && node.task.status !== "SCHEDULED" && !anyTaken && selected !== undefined),
    isDefault: true,
  });
  return { kind: "switch", node, cases };
}

function loop(wt, ctx) {
  const node = taskBlock(wt, ctx);
  const seen = new Set();
  for (const inner of collectRefs(wt.loopOver)) {
    for (const it of ctx.index.byRef.get(inner)?.keys() || []) if (it > 0) seen.add(it);
  }
  const all = [...seen].sort((a, b) => a - b);
  const latest = all.length ? all[all.length - 1] : 0;
  const chosen = ctx.iterations.get(wt.taskReferenceName);
  const iteration = chosen !== undefined && seen.has(chosen) ? chosen : latest;
  const outer = ctx.loopIteration;
  ctx.loopIteration = ctx.index.executed ? iteration : null;
  const body = seq(wt.loopOver || [], ctx);
  ctx.loopIteration = outer;
  return { kind: "loop", node, body, iteration, iterations: all };
}

function dynamic(wt, joinWt, ctx) {
  return { kind: "dynamic", node: taskBlock(wt, ctx), spawned: [], join: joinWt ? taskBlock(joinWt, ctx) : null };
}

/** Hands the run-time tasks to their dynamic fork: by the JOIN's joinOn, else by position. */
function assignSpawned(root, index) {
  const forks = [];
  walk(root, (block) => block.kind === "dynamic" && forks.push(block));
  if (!forks.length || !index.unknown.length) return;
  const rest = [];
  for (const task of index.unknown) {
    const ref = task.referenceTaskName;
    const owner = forks.find((f) => (f.join?.task?.inputData?.joinOn || []).includes(ref));
    if (owner) owner.spawned.push(task);
    else rest.push(task);
  }
  // Without a JOIN that names them: the latest dynamic fork scheduled before the task.
  const bySeq = forks.filter((f) => f.node.task).sort((a, b) => a.node.task.seq - b.node.task.seq);
  for (const task of rest) {
    const owner = [...bySeq].reverse().find((f) => f.node.task.seq < task.seq);
    if (owner) owner.spawned.push(task);
  }
  for (const f of forks) f.spawned = latestAttempts(f.spawned);
}

/** One entry per reference name: its latest attempt, with the others as `attempts`. */
function latestAttempts(tasks) {
  const byRef = new Map();
  for (const task of [...tasks].sort((a, b) => a.seq - b.seq)) {
    const key = task.referenceTaskName;
    if (!byRef.has(key)) byRef.set(key, []);
    byRef.get(key).push(task);
  }
  return [...byRef.values()].map((attempts) => ({ ...attempts[attempts.length - 1], _attempts: attempts }));
}

/** Depth-first visit of every block. */
export function walk(block, visit) {
  visit(block);
  switch (block.kind) {
    case "seq":
      block.items.forEach((b) => walk(b, visit));
      break;
    case "fork":
      visit(block.node);
      block.branches.forEach((b) => walk(b, visit));
      if (block.join) visit(block.join);
      break;
    case "switch":
      visit(block.node);
      block.cases.forEach((c) => walk(c.body, visit));
      break;
    case "loop":
      visit(block.node);
      walk(block.body, visit);
      break;
    case "dynamic":
      visit(block.node);
      if (block.join) visit(block.join);
      break;
    default:
      break;
  }
}
