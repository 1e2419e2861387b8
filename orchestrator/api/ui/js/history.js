// The event history of an execution (GET /api/workflow/{id}/history: [{seq, type, at, actor,
// data}]) as a table, and the time-travel bar: a slider over the events that asks the page to
// show the execution as it was after any one of them (GET .../state?at=SEQ).

import { el, fmtTime } from "./common.js";

const EVENT_KIND = {
  WorkflowStarted: "start",
  WorkflowCompleted: "ok",
  TaskCompleted: "ok",
  WorkflowFailed: "bad",
  TaskFailed: "bad",
  WorkflowTerminated: "bad",
  TaskCanceled: "muted",
  TaskSkipped: "muted",
  TaskCompletedWithErrors: "warn",
  TaskFailurePermitted: "warn",
  WorkflowPaused: "warn",
  WorkflowResumed: "op",
  WorkflowRetried: "op",
  WorkflowRestarted: "op",
  WorkflowRerun: "op",
  VariablesUpdated: "var",
};

/** task id -> reference name, from the TaskScheduled events. */
export function taskRefs(history) {
  const refs = new Map();
  for (const e of history || []) if (e.type === "TaskScheduled") refs.set(e.data.task_id, e.data.ref);
  return refs;
}

function brief(value, max = 90) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > max ? `${text.slice(0, max - 1)}…` : text || "";
}

/** A report that carried its own pickup (no TaskPickedUp before it; ADR 0007). */
function pickedUp(d) {
  return d.started_at ? ` (picked up${d.worker_id ? ` by ${d.worker_id}` : ""} in the same report)` : "";
}

/** One line saying what an event did: "left_a COMPLETED {"v":1}". */
export function describe(event, refs) {
  const d = event.data || {};
  const ref = d.ref || refs.get(d.task_id) || "";
  switch (event.type) {
    case "WorkflowStarted":
      return `${d.definition?.name ?? ""} v${d.definition?.version ?? ""} input=${brief(d.input)}`;
    case "TaskScheduled":
      return `${ref} [${d.task_type || d.kind}] ${d.status}${d.retry_count ? ` (retry ${d.retry_count})` : ""}`;
    case "TaskPickedUp":
      return `${ref} IN_PROGRESS${d.worker_id ? ` by ${d.worker_id}` : ""}`;
    case "TaskProgressed":
      return `${ref} progress ${brief(d.output, 60)}`;
    case "TaskPostponed":
      return `${ref} SCHEDULED again${d.callback_after_seconds ? ` in ${d.callback_after_seconds} s` : ""} ${brief(d.output, 50)}`;
    case "TaskCompleted":
      return `${ref} COMPLETED${pickedUp(d)} ${brief(d.output, 70)}`;
    case "TaskFailed":
      return `${ref} ${d.status}${pickedUp(d)}: ${brief(d.reason)}`;
    case "TaskCanceled":
      return `${ref} CANCELED${d.reason ? `: ${brief(d.reason)}` : ""}`;
    case "TaskSkipped":
      return `${d.ref || ref} SKIPPED`;
    case "TaskCompletedWithErrors":
      return `${ref} COMPLETED_WITH_ERRORS${d.reason ? `: ${brief(d.reason)}` : ""}`;
    case "TaskFailurePermitted":
      return `${ref} failure permitted (permissive): the workflow goes on`;
    case "VariablesUpdated":
      return brief(d.variables);
    case "WorkflowCompleted":
      return `${d.reason ? `${brief(d.reason, 60)} ` : ""}output=${brief(d.output)}`;
    case "WorkflowFailed":
    case "WorkflowTerminated":
      return brief(d.reason);
    case "WorkflowRerun":
      return `from ${refs.get(d.from_task_id) || d.from_task_id}`;
    default:
      return ref || "";
  }
}

/**
 * The history table. `current` is the seq shown (null = live, i.e. the last); a click on a row
 * calls onPick(seq).
 */
export function renderHistory(container, history, current, onPick) {
  const refs = taskRefs(history);
  const last = history.length ? history[history.length - 1].seq : 0;
  const shown = current ?? last;
  const rows = history.map((e) => {
    const kind = EVENT_KIND[e.type] || "";
    return el(
      "tr",
      {
        class: ["history-row", e.seq === shown ? "current" : null, e.seq > shown ? "future" : null],
        dataset: { seq: e.seq, type: e.type },
        onclick: () => onPick(e.seq),
        title: "Show the execution as it was after this event",
      },
      el("td", { class: "num" }, String(e.seq)),
      el("td", { class: "nowrap mono small" }, fmtTime(e.at) + `.${String(e.at % 1000).padStart(3, "0")}`),
      el("td", { class: "nowrap" }, el("span", { class: "actor" }, e.actor)),
      el("td", { class: "nowrap" }, el("span", { class: `event-type ev-${kind}` }, e.type)),
      el("td", { class: "history-detail mono small" }, describe(e, refs)),
    );
  });
  const table = el(
    "table",
    { class: "data history-table" },
    el("thead", {}, el("tr", {}, ["#", "Time", "Actor", "Event", "Details"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows),
  );
  container.replaceChildren(el("div", { class: "table-wrap history-wrap" }, table));
  container.querySelector("tr.current")?.scrollIntoView({ block: "nearest" });
}

/**
 * The time-travel bar. Returns {update(history, current)}; onPick(seq | null) with null meaning
 * "back to live".
 */
export function timeTravelBar(onPick) {
  const slider = el("input", { type: "range", min: "1", max: "1", value: "1", class: "tt-slider", "aria-label": "Event" });
  const label = el("div", { class: "tt-label" });
  const prev = el("button", { class: "small", title: "Previous event", "aria-label": "Previous event" }, "‹");
  const next = el("button", { class: "small", title: "Next event", "aria-label": "Next event" }, "›");
  const live = el("button", { class: "small tt-live", title: "Show the execution as it is now" }, "Live");
  const bar = el("div", { class: "tt-bar" }, el("span", { class: "tt-title" }, "Time travel"), prev, slider, next, label, live);
  let history = [];
  let timer = null;
  const lastSeq = () => (history.length ? history[history.length - 1].seq : 1);
  const pick = (seq) => onPick(seq >= lastSeq() ? null : seq);
  slider.addEventListener("input", () => {
    showLabel(Number(slider.value));
    clearTimeout(timer); // dragging: ask for the state once the thumb rests
    timer = setTimeout(() => pick(Number(slider.value)), 120);
  });
  prev.addEventListener("click", () => pick(Math.max(1, Number(slider.value) - 1)));
  next.addEventListener("click", () => pick(Math.min(lastSeq(), Number(slider.value) + 1)));
  live.addEventListener("click", () => onPick(null));

  function showLabel(seq) {
    const e = history[seq - 1];
    if (!e) return label.replaceChildren();
    const refs = taskRefs(history.slice(0, seq));
    label.replaceChildren(
      el("strong", {}, `#${e.seq} `),
      el("span", { class: "event-type" }, e.type),
      " ",
      el("span", { class: "muted" }, `${describe(e, refs).slice(0, 60)} · ${fmtTime(e.at)} · ${e.actor}`),
    );
  }

  return {
    element: bar,
    update(newHistory, current) {
      history = newHistory;
      const last = lastSeq();
      slider.max = String(last);
      slider.value = String(current ?? last);
      slider.disabled = history.length < 2;
      bar.classList.toggle("travelling", current !== null);
      live.disabled = current === null;
      prev.disabled = (current ?? last) <= 1;
      next.disabled = current === null;
      showLabel(current ?? last);
    },
  };
}
