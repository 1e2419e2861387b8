// The head of the execution view: name, status, ids, times, the reason of a failure, the live
// indicator and the operations.

import { el, executionHref, fmtDuration, fmtTime, statusBadge } from "./common.js";
import { actionButtons } from "./execution_actions.js";

const ENDED = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);

function fact(label, value, attrs = {}) {
  if (value === null || value === undefined || value === "") return null;
  return el("div", { class: "exec-fact", ...attrs }, el("span", { class: "exec-fact-label" }, label), el("span", { class: "exec-fact-value" }, value));
}

function counts(tasks) {
  const by = {};
  for (const t of tasks || []) by[t.status] = (by[t.status] || 0) + 1;
  return Object.entries(by)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${n} ${s.toLowerCase().replaceAll("_", " ")}`)
    .join(", ");
}

/**
 * ctx: {live (the workflow now), shown (live or the state at a seq), travelling, polling,
 * onDone (after an operation)}.
 */
export function renderHead(container, ctx) {
  const { live, shown, travelling } = ctx;
  // In the past (time travel) or once ended, the clock stops at the last event shown.
  const end = shown.endTime || (travelling || ENDED.has(shown.status) ? shown.updateTime : Date.now());
  const liveState = ctx.polling ? el("span", { class: "live-dot on", title: "Updates every 1.5 s" }, "Live") : el("span", { class: "live-dot", title: "The execution has ended: no more updates" }, "Ended");
  const title = el(
    "div",
    { class: "exec-title" },
    el("h1", {}, shown.workflowName),
    el("span", { class: "pill", title: "Definition version" }, `v${shown.version}`),
    el("span", { id: "exec-status", dataset: { status: shown.status } }, statusBadge(shown.status)),
    travelling ? el("span", { class: "pill travel-pill" }, `as after event #${shown.seq}`) : liveState,
  );
  const head = el("div", { class: "page-head exec-head" }, title, el("div", { class: "actions" }, actionButtons(live, travelling, ctx.onDone)));
  const facts = el(
    "div",
    { class: "exec-facts" },
    fact("Workflow id", el("span", { class: "mono", id: "exec-id" }, shown.workflowId), { title: "Execution id" }),
    fact("Started", fmtTime(shown.startTime)),
    fact("Ended", fmtTime(shown.endTime)),
    fact("Duration", fmtDuration(end - shown.startTime)),
    fact("Correlation id", shown.correlationId),
    fact("Parent", shown.parentWorkflowId ? el("a", { href: executionHref(shown.parentWorkflowId), class: "mono parent-link" }, shown.parentWorkflowId.slice(0, 8) + "…") : null),
    fact("Tasks", counts(shown.tasks) || "none yet"),
  );
  const parts = [head, facts];
  if (shown.reasonForIncompletion) {
    parts.push(el("div", { class: "alert alert-error exec-reason" }, el("strong", {}, `${shown.status.replaceAll("_", " ").toLowerCase()}: `), shown.reasonForIncompletion));
  }
  container.replaceChildren(...parts.filter(Boolean));
}
