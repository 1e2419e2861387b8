// The side panel of the execution view: the workflow's input, output and variables, or, once a
// node is clicked, that task: its attempts, input, output, logs, the reason of a failure and
// what can be done from there (rerun from it, skip it, open its child execution).

import { el, executionHref, fmtDuration, fmtTime, jsonBlock, statusBadge } from "./common.js";

const OPEN = new Set(["RUNNING", "PAUSED"]);

function tabs(names, initial, onChange) {
  let active = initial;
  const body = el("div", { class: "panel-body" });
  const buttons = names.map(([key, label]) =>
    el("button", { type: "button", class: key === active ? "active" : null, dataset: { panelTab: key }, onclick: () => show(key) }, label),
  );
  function show(key) {
    active = key;
    buttons.forEach((b) => b.classList.toggle("active", b.dataset.panelTab === key));
    body.replaceChildren(onChange(key));
  }
  show(active);
  return [el("div", { class: "tabs panel-tabs" }, buttons), body];
}

function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

/** The workflow's own data: shown when no task is selected. */
export function renderWorkflowPanel(container, workflow, travelling) {
  const [tabBar, body] = tabs(
    [["variables", "Variables"], ["input", "Input"], ["output", "Output"]],
    "variables",
    (key) => jsonBlock(workflow[key], { class: "json", dataset: { json: key } }),
  );
  container.replaceChildren(
    el(
      "div",
      { class: "panel-head" },
      el("h2", {}, "Workflow data"),
      travelling ? el("span", { class: "pill" }, `after event #${workflow.seq}`) : null,
    ),
    el("p", { class: "muted small panel-hint" }, "Click a task in the diagram or the timeline to see its details."),
    tabBar,
    body,
  );
}

/** Log lines of one attempt, from the history (TaskProgressed/Completed/Failed carry them). */
export function logsOf(history, taskId) {
  const lines = [];
  for (const e of history || []) {
    if (e.data?.task_id === taskId && Array.isArray(e.data.logs)) {
      for (const line of e.data.logs) lines.push({ at: e.at, line });
    }
  }
  return lines;
}

/**
 * One task. ctx: {workflow, history, travelling, attempt (task id), onAction(kind, info),
 * onClose(), onAttempt(taskId)}.
 */
export function renderTaskPanel(container, info, ctx) {
  const { workflow } = ctx;
  const attempts = info.attempts || [];
  const task = attempts.find((a) => a.taskId === ctx.attempt) || info.task;
  const head = el(
    "div",
    { class: "panel-head" },
    el("button", { type: "button", class: "link small back", onclick: ctx.onClose, title: "Back to the workflow data" }, "← Workflow"),
    el("h2", { class: "task-title", title: info.ref }, info.ref),
    task ? statusBadge(task.status) : el("span", { class: "badge status-neutral" }, "NOT REACHED"),
  );
  const parts = [head, el("div", { class: "muted small task-type" }, [info.type, info.wt?.name && info.wt.name !== info.ref ? ` · ${info.wt.name}` : "", task?.iteration ? ` · iteration ${task.iteration}` : ""].join(""))];
  if (attempts.length > 1) parts.push(attemptPicker(attempts, task, ctx.onAttempt));
  if (task?.reasonForIncompletion) {
    parts.push(el("div", { class: "alert alert-error task-reason" }, el("strong", {}, "Reason: "), task.reasonForIncompletion));
  }
  parts.push(actions(info, task, ctx));
  if (!task) {
    parts.push(el("p", { class: "muted" }, "This task was not reached in this run."));
    if (info.wt) parts.push(el("h3", {}, "Definition"), jsonBlock(info.wt));
    container.replaceChildren(...parts.filter(Boolean));
    return;
  }
  const logs = logsOf(ctx.history, task.taskId);
  const [tabBar, body] = tabs(
    [
      ["summary", "Summary"],
      ["input", "Input"],
      ["output", "Output"],
      ["logs", `Logs (${logs.length})`],
      ["definition", "Definition"],
    ],
    "summary",
    (key) => tabContent(key, task, info, logs, workflow),
  );
  parts.push(tabBar, body);
  container.replaceChildren(...parts.filter(Boolean));
}

function attemptPicker(attempts, task, onAttempt) {
  return el(
    "div",
    { class: "attempts", role: "group", "aria-label": "Attempts" },
    el("span", { class: "muted small" }, "Attempts"),
    attempts.map((a, i) =>
      el(
        "button",
        {
          type: "button",
          class: ["small", "attempt", `attempt-${a.status.toLowerCase()}`, a.taskId === task.taskId ? "active" : null],
          title: `${a.status}${a.reasonForIncompletion ? `: ${a.reasonForIncompletion}` : ""}`,
          dataset: { attempt: i + 1, status: a.status },
          onclick: () => onAttempt(a.taskId),
        },
        `#${i + 1}`,
      ),
    ),
  );
}

function tabContent(key, task, info, logs, workflow) {
  switch (key) {
    case "input":
      return jsonBlock(task.inputData, { dataset: { json: "task-input" } });
    case "output":
      return jsonBlock(task.outputData, { dataset: { json: "task-output" } });
    case "logs":
      return logs.length
        ? el("ol", { class: "task-logs" }, logs.map((l) => el("li", {}, el("span", { class: "muted mono small" }, fmtTime(l.at)), " ", l.line)))
        : el("div", { class: "notice" }, "This attempt wrote no log lines.");
    case "definition":
      return jsonBlock(info.wt || task.workflowTask || { taskType: task.taskType, name: task.taskDefName });
    default:
      return summary(task, workflow);
  }
}

function summary(task, workflow) {
  const end = task.endTime || (OPEN.has(workflow.status) ? Date.now() : task.updateTime);
  return facts([
    ["Task id", el("span", { class: "mono small" }, task.taskId)],
    ["Type", task.taskType],
    ["Definition", task.taskDefName],
    ["Scheduled", fmtTime(task.scheduledTime)],
    ["Started", fmtTime(task.startTime)],
    ["Ended", fmtTime(task.endTime)],
    ["Queued", task.startTime ? fmtDuration(task.startTime - task.scheduledTime) : null],
    ["Ran", task.startTime ? fmtDuration(end - task.startTime) : null],
    ["Retry count", String(task.retryCount)],
    ["Polls", task.pollCount ? String(task.pollCount) : null],
    ["Worker", task.workerId],
    ["Iteration", task.iteration ? String(task.iteration) : null],
    ["Child execution", task.subWorkflowId ? el("a", { href: executionHref(task.subWorkflowId), class: "mono small child-link" }, task.subWorkflowId) : null],
  ]);
}

function actions(info, task, ctx) {
  if (ctx.travelling) return el("p", { class: "muted small" }, "Viewing the past: go back to live to act on this task.");
  const status = ctx.workflow.status;
  const buttons = [];
  if (task && !OPEN.has(status) && task === (info.task || task)) {
    buttons.push(el("button", { type: "button", class: "small", dataset: { action: "rerun-task" }, onclick: () => ctx.onAction("rerun", info) }, "Rerun from here"));
  }
  if (!task && status === "RUNNING" && info.wt) {
    buttons.push(el("button", { type: "button", class: "small", dataset: { action: "skip-task" }, onclick: () => ctx.onAction("skip", info) }, "Skip this task"));
  }
  if (task?.subWorkflowId) {
    buttons.push(el("a", { class: "button small", href: executionHref(task.subWorkflowId) }, "Open child execution ↗"));
  }
  return buttons.length ? el("div", { class: "panel-actions" }, buttons) : null;
}
