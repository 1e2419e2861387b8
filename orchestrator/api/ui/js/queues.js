// The queues page ("/queues"): pending tasks per task type and the workers seen, from
// GET /api/ui/queues; refreshed every REFRESH_MS while the page is visible.
import { api, el, fmtTime, notice, renderNav } from "./common.js";

const REFRESH_MS = 5000;
let timer = null;

function consumers(info) {
  const members = info.members || [];
  if (!members.length) return el("span", { class: "muted" }, info.state === "UNKNOWN" ? "unknown" : "none");
  const kafka = members.filter((m) => m.kind === "kafka").length;
  const bridge = members.length - kafka;
  const title = members.map((m) => `${m.clientId} @ ${m.host}`).join("\n");
  return el("span", { title },
    kafka ? el("span", { class: "pill" }, `${kafka} Kafka worker${kafka === 1 ? "" : "s"}`) : null, " ",
    bridge ? el("span", { class: "pill" }, "HTTP poll bridge") : null);
}

function recent(workers) {
  if (!workers.length) return el("span", { class: "muted" }, "none");
  return el("div", { class: "workers" }, workers.map((w) =>
    el("div", { dataset: { worker: w.workerId } },
      el("code", {}, w.workerId), " ",
      el("span", { class: "muted small" }, `${w.tasks} task${w.tasks === 1 ? "" : "s"}, last ${fmtTime(w.lastStartTime)}`))));
}

function table(answer) {
  if (!answer.queues.length) return notice("No task queues yet: they appear once a task definition is registered or a worker task is scheduled.");
  const minutes = Math.round(answer.recentSeconds / 60);
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data", id: "queues" },
      el("thead", {}, el("tr", {},
        el("th", {}, "Task type"), el("th", { class: "num" }, "Pending"),
        el("th", {}, "Connected now"), el("th", {}, `Took a task in the last ${minutes} min`))),
      el("tbody", {}, answer.queues.map((q) =>
        el("tr", { dataset: { taskType: q.taskType } },
          el("td", {}, el("strong", {}, q.taskType)),
          el("td", { class: ["num", "pending", q.pending > 0 && "has-backlog"] }, String(q.pending)),
          el("td", {}, consumers(q.consumers)),
          el("td", {}, recent(q.recentWorkers)))))),
  );
}

async function refresh() {
  const body = document.getElementById("queues-body");
  try {
    const answer = await api("/api/ui/queues");
    body.replaceChildren(table(answer));
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
    el("div", { class: "page-head" }, el("h1", {}, "Queues"), el("span", { class: "sub" }, "Tasks waiting for workers, per task type"),
      el("div", { class: "actions" },
        el("label", { class: "muted", style: "display:flex;gap:6px;align-items:center" }, auto, "Auto-refresh"),
        el("button", { type: "button", class: "small", onclick: () => refresh() }, "↻ Refresh"))),
    el("section", { class: "card flush" },
      el("div", { class: "card-head" }, el("h2", {}, "Task queues"), el("span", { class: "spacer" }), el("span", { id: "updated", class: "muted small" })),
      el("div", { id: "queues-body" }, notice("Loading…"))),
    el("p", { class: "muted small" },
      "Pending: tasks on the type's Kafka topic not yet committed by its worker group (tasks being worked on may still count). ",
      "Connected now: members of the worker group (the HTTP poll bridge is one member for all HTTP pollers). ",
      "The last column: worker ids that started a task of that type, from the read model."),
  );
  refresh();
}

main();
