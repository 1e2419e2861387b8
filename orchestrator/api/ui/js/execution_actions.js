// Operations on an execution from the page: terminate, pause, resume, retry, restart, rerun
// (from the start or from a task) and skip a task. Each calls the REST API the CLI and SDKs use;
// the ones that cannot be undone ask first in a small <dialog> (never window.confirm, which
// blocks the page).

import { api, el, toast } from "./common.js";

const ENDED = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);
const RETRIABLE = new Set(["FAILED", "TIMED_OUT", "TERMINATED"]);

/** [{key, label, kind, confirm?, reason?}] the workflow's status allows. */
function available(workflow) {
  const status = workflow.status;
  const list = [];
  if (status === "RUNNING") list.push({ key: "pause", label: "Pause" });
  if (status === "PAUSED") list.push({ key: "resume", label: "Resume", kind: "primary" });
  if (!ENDED.has(status)) list.push({ key: "terminate", label: "Terminate", kind: "danger", reason: true });
  if (RETRIABLE.has(status)) list.push({ key: "retry", label: "Retry", kind: "primary" });
  if (ENDED.has(status)) {
    list.push({ key: "restart", label: "Restart", confirm: "Run the whole workflow again from its first task? Its history is kept." });
    list.push({ key: "rerun", label: "Rerun", confirm: "Run the workflow again from its first task, with the same input?" });
  }
  return list;
}

const CALLS = {
  pause: (id) => api(`/api/workflow/${id}/pause`, { method: "PUT" }),
  resume: (id) => api(`/api/workflow/${id}/resume`, { method: "PUT" }),
  terminate: (id, reason) => api(`/api/workflow/${id}`, { method: "DELETE", query: { reason } }),
  retry: (id) => api(`/api/workflow/${id}/retry`, { method: "POST" }),
  restart: (id) => api(`/api/workflow/${id}/restart`, { method: "POST" }),
  rerun: (id, _reason, taskId) => api(`/api/workflow/${id}/rerun`, { method: "POST", body: taskId ? { reRunFromTaskId: taskId } : {} }),
  skip: (id, _reason, ref) => api(`/api/workflow/${id}/skiptask/${encodeURIComponent(ref)}`, { method: "PUT", body: {} }),
};

const DONE = {
  pause: "Paused",
  resume: "Resumed",
  terminate: "Terminated",
  retry: "Retrying the failed tasks",
  restart: "Restarted",
  rerun: "Rerunning",
  skip: "Task skipped",
};

/** Asks in a modal; resolves to {ok, reason}. */
export function ask({ title, text, confirmLabel = "Confirm", danger = false, reason = false }) {
  return new Promise((resolve) => {
    const input = reason ? el("textarea", { rows: 3, name: "reason", placeholder: "Reason (recorded in the history)" }) : null;
    const cancel = el("button", { type: "button", dataset: { dialog: "cancel" } }, "Cancel");
    const ok = el("button", { type: "submit", class: danger ? "danger" : "primary", dataset: { dialog: "confirm" } }, confirmLabel);
    const dialog = el(
      "dialog",
      { class: "exec-dialog" },
      el("form", { method: "dialog" }, el("h3", {}, title), text ? el("p", {}, text) : null, input, el("div", { class: "form-actions" }, el("span", { class: "spacer" }), cancel, ok)),
    );
    let answered = false;
    const finish = (value) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish({ ok: false }));
    dialog.addEventListener("cancel", () => finish({ ok: false }));
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      finish({ ok: true, reason: input ? input.value.trim() : "" });
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || ok).focus();
  });
}

/**
 * Runs an operation; `target` is a task id (rerun) or a ref (skip). Resolves true when the
 * API accepted it. onDone() runs after success (the page refreshes and polls again).
 */
export async function runAction(workflow, key, target, onDone) {
  const spec = available(workflow).find((a) => a.key === key) || {};
  const id = encodeURIComponent(workflow.workflowId);
  let reason = "";
  if (key === "terminate") {
    const answer = await ask({ title: "Terminate this execution?", text: "Its open tasks are canceled.", confirmLabel: "Terminate", danger: true, reason: true });
    if (!answer.ok) return false;
    reason = answer.reason;
  } else if (key === "skip") {
    const answer = await ask({ title: `Skip task ${target}?`, text: "It is marked SKIPPED when the workflow reaches it.", confirmLabel: "Skip" });
    if (!answer.ok) return false;
  } else if (key === "rerun" && target) {
    const answer = await ask({ title: "Rerun from this task?", text: "The tasks from this one on run again; the history keeps the earlier run.", confirmLabel: "Rerun" });
    if (!answer.ok) return false;
  } else if (spec.confirm) {
    const answer = await ask({ title: `${spec.label} this execution?`, text: spec.confirm, confirmLabel: spec.label });
    if (!answer.ok) return false;
  }
  try {
    await CALLS[key](id, reason, target);
    toast(DONE[key], "success");
    onDone?.();
    return true;
  } catch (error) {
    toast(`${key} failed: ${error.message}`, "error", 8000);
    return false;
  }
}

/** The buttons of the page head; disabled while time travelling (the past is read-only). */
export function actionButtons(workflow, travelling, onDone) {
  return available(workflow).map((a) =>
    el(
      "button",
      {
        type: "button",
        class: a.kind || null,
        disabled: travelling,
        title: travelling ? "Go back to live to act on the execution" : null,
        dataset: { action: a.key },
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          const button = event.currentTarget;
          const ok = await runAction(workflow, a.key, null, onDone);
          if (!ok) button.disabled = false;
        },
      },
      a.label,
    ),
  );
}
