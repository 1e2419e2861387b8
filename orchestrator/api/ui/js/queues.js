// The queues page ("/queues"): per task type, each of its queues (the default one and each task
// domain's) with pending tasks and pollers, and the task gate's counts for rate- or
// concurrency-limited types, from GET /api/ui/queues; refreshed every REFRESH_MS.
import { api, el, fmtTime, notice, renderNav } from "./common.js";

const REFRESH_MS = 5000;
let timer = null;

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function consumers(info) {
  const members = info.members || [];
  if (!members.length) return el("span", { class: "muted" }, info.state === "UNKNOWN" ? "unknown" : "none");
  const kafka = members.filter((m) => m.kind === "kafka").length;
  const bridge = members.length - kafka;
  const title = members.map((m) => `${m.clientId} @ ${m.host}`).join("\n");
  return el("span", { title },
    kafka ? el("span", { class: "pill" }, plural(kafka, "Kafka worker")) : null, " ",
    bridge ? el("span", { class: "pill" }, "HTTP poll bridge") : null);
}

function recent(workers) {
  if (!workers.length) return el("span", { class: "muted" }, "none");
  return el("div", { class: "workers" }, workers.map((w) =>
    el("div", { dataset: { worker: w.workerId } },
      el("code", {}, w.workerId), " ",
      el("span", { class: "muted small" }, `${plural(w.tasks, "task")}, last ${fmtTime(w.lastStartTime)}`))));
}

function ago(seconds) {
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function pollers(queue, activeSeconds) {
  if (!queue.pollers.length) return el("span", { class: "muted" }, "none");
  const count = el("span", { class: ["pill", queue.activePollers > 0 && "pill-active"], dataset: { activePollers: queue.activePollers } },
    `${queue.activePollers} active`);
  return el("div", { class: "workers" },
    el("div", { title: `polled within the last ${activeSeconds} s` }, count),
    queue.pollers.map((p) =>
      el("div", { class: ["poller", !p.active && "idle"], dataset: { poller: p.workerId } },
        el("code", {}, p.workerId), " ",
        el("span", { class: "muted small", title: fmtTime(p.lastPollTime) }, `last poll ${ago(p.lastPollSecondsAgo)}`))));
}

function limits(gate) {
  const parts = [];
  if (gate.concurrentExecLimit > 0) parts.push(`concurrency ${gate.concurrentExecLimit}`);
  if (gate.rateLimitPerFrequency > 0) parts.push(`rate ${gate.rateLimitPerFrequency}/${gate.rateLimitFrequencyInSeconds}s`);
  return parts;
}

// Why tasks wait: the limit that is full now; else priority order / the gate's prefetch bound.
function heldReason(gate) {
  if (gate.concurrentExecLimit > 0 && gate.inFlight >= gate.concurrentExecLimit) return `concurrency limit ${gate.concurrentExecLimit}`;
  if (gate.rateLimitPerFrequency > 0 && gate.releasedInWindow >= gate.rateLimitPerFrequency) {
    return `rate limit ${gate.rateLimitPerFrequency}/${gate.rateLimitFrequencyInSeconds}s`;
  }
  return null;
}

function gateBlock(gate) {
  if (!gate) return null;
  const reason = heldReason(gate);
  const badge = gate.held > 0
    ? el("span", { class: "badge status-paused gate-held", dataset: { held: gate.held } },
      reason ? `held by ${reason}: ${gate.held} waiting` : `${gate.held} waiting in the gate`)
    : el("span", { class: "badge status-neutral gate-held", dataset: { held: 0 } }, `gated: ${limits(gate).join(", ") || "priority order"}`);
  const figures = [`in flight ${gate.inFlight}${gate.concurrentExecLimit > 0 ? ` / ${gate.concurrentExecLimit}` : ""}`];
  if (gate.rateLimitPerFrequency > 0) figures.push(`handed out ${gate.releasedInWindow} / ${gate.rateLimitPerFrequency} in ${gate.rateLimitFrequencyInSeconds} s`);
  if (gate.held > 0 && !reason && limits(gate).length) figures.push(limits(gate).join(", "));
  return el("div", { class: "gate" },
    badge,
    el("div", { class: "muted small gate-figures" }, figures.join(" · ")),
    gate.stale ? el("div", { class: "gate-stale small", title: `reported by ${gate.gate} at ${fmtTime(gate.at)}` },
      `stale: no report from its gate since ${fmtTime(gate.at)}`) : null);
}

function queueRows(type, activeSeconds) {
  const span = type.queues.length;
  return type.queues.map((q, i) => el("tr", { dataset: { taskType: type.taskType, domain: q.domain || "" }, class: i === span - 1 ? "type-last" : null },
    i === 0 ? el("td", { rowspan: span }, el("strong", {}, type.taskType), gateBlock(type.gate)) : null,
    el("td", {}, q.domain ? el("code", { class: "domain" }, q.domain) : el("span", { class: "muted" }, "default")),
    el("td", { class: ["num", "pending", q.pending > 0 && "has-backlog"] }, q.pending === null ? "?" : String(q.pending)),
    el("td", {}, pollers(q, activeSeconds)),
    el("td", {}, consumers(q.consumers)),
    i === 0 ? el("td", { rowspan: span }, recent(type.recentWorkers)) : null));
}

function table(answer) {
  if (!answer.types.length) return notice("No task queues yet: they appear once a task definition is registered or a worker task is scheduled.");
  const minutes = Math.round(answer.recentSeconds / 60);
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data queues", id: "queues" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Task type"), el("th", {}, "Queue"), el("th", { class: "num" }, "Pending"),
        el("th", {}, `Pollers (active: last ${answer.activeSeconds} s)`), el("th", {}, "Connected now"),
        el("th", {}, `Took a task in the last ${minutes} min`))),
      el("tbody", {}, answer.types.map((t) => queueRows(t, answer.activeSeconds)))),
  );
}

function warnings(answer) {
  const lines = [];
  if (!answer.presenceReady) lines.push("Still reading the presence topic: pollers may be missing.");
  if (!answer.gateStatusAvailable) lines.push("The task gate's status could not be read: held tasks are not shown.");
  return lines.map((line) => el("div", { class: "queues-warning" }, line));
}

async function refresh() {
  const body = document.getElementById("queues-body");
  try {
    const answer = await api("/api/ui/queues");
    body.replaceChildren(...warnings(answer), table(answer));
    document.getElementById("updated").textContent = `updated ${fmtTime(Date.now())}`;
  } catch (error) {
    body.replaceChildren(notice(`Could not load the queues: ${error.message}`, "error"));
  }
  clearTimeout(timer);
  if (document.getElementById("auto").checked) timer = setTimeout(refresh, REFRESH_MS);
}

function main() {
  renderNav("queues");
  const auto = el("input", { type: "checkbox", id: "auto", checked: true, onchange: () => refresh() });
  document.getElementById("app").replaceChildren(
    el("div", { class: "page-head" }, el("h1", {}, "Queues"), el("span", { class: "sub" }, "Tasks waiting for workers, per task type and domain"),
      el("div", { class: "actions" },
        el("label", { class: "muted", style: "display:flex;gap:6px;align-items:center" }, auto, "Auto-refresh"),
        el("button", { type: "button", class: "small", onclick: () => refresh() }, "↻ Refresh"))),
    el("section", { class: "card flush" },
      el("div", { class: "card-head" }, el("h2", {}, "Task queues"), el("span", { class: "spacer" }), el("span", { id: "updated", class: "muted small" })),
      el("div", { id: "queues-body" }, notice("Loading…"))),
    el("p", { class: "muted small" },
      "Pending: tasks on the queue's Kafka topic not yet committed by its worker group (tasks being worked on may still count). ",
      "Held: tasks of a rate- or concurrency-limited type waiting in the task gate; they are not on the topic yet, so not in Pending. ",
      "Pollers: workers (Kafka SDK or HTTP) that announced a poll of that queue; active ones are what task domain routing counts. ",
      "Connected now: members of the worker group (the HTTP poll bridge is one member for all HTTP pollers). ",
      "The last column: worker ids that started a task of that type, from the read model."),
  );
  refresh();
}

main();
