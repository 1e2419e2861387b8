// Bulk actions on the selected executions: /api/workflow/bulk/{action}, per-id failures shown.
import { api, el, executionHref, toast } from "./common.js";

const ACTIONS = [
  ["pause", "Pause"],
  ["resume", "Resume"],
  ["retry", "Retry"],
  ["restart", "Restart"],
  ["terminate", "Terminate"],
];

/** The toolbar above the results (replaces #bulk); `reload` searches again afterwards. */
export function bulkBar(page, reload) {
  const count = page.selected.size;
  const rerender = () => document.getElementById("bulk").replaceWith(bulkBar(page, reload));
  const buttons = ACTIONS.map(([action, label]) =>
    el(
      "button",
      {
        type: "button",
        class: ["small", action === "terminate" && "danger"],
        disabled: count === 0 || page.bulkBusy,
        dataset: { action },
        onclick: () => (action === "terminate" ? askTerminate(page, rerender, reload) : run(page, action, {}, rerender, reload)),
      },
      label,
    ),
  );
  return el(
    "div",
    { id: "bulk" },
    el(
      "div",
      { class: "toolbar", role: "toolbar", "aria-label": "Bulk actions" },
      el("span", { class: "count", id: "selected-count" }, count ? `${count} selected` : "Select executions to act on them"),
      buttons,
      count ? el("button", { type: "button", class: "small link", onclick: () => { page.selected.clear(); reload(); } }, "Clear selection") : null,
    ),
    page.confirm ? page.confirm : null,
    page.bulkResult ? page.bulkResult : null,
  );
}

function askTerminate(page, rerender, reload) {
  const reason = el("input", { type: "text", name: "reason", placeholder: "Reason (optional)", style: "max-width:360px" });
  const close = () => { page.confirm = null; rerender(); };
  page.confirm = el(
    "div",
    { class: "toolbar", id: "terminate-confirm", style: "background:#fef2f2" },
    el("strong", {}, `Terminate ${page.selected.size} execution${page.selected.size === 1 ? "" : "s"}?`),
    reason,
    el("button", { type: "button", class: "small danger", onclick: () => { page.confirm = null; run(page, "terminate", { reason: reason.value.trim() || undefined }, rerender, reload); } }, "Terminate"),
    el("button", { type: "button", class: "small", onclick: close }, "Cancel"),
  );
  rerender();
  reason.focus();
}

async function run(page, action, query, rerender, reload) {
  const ids = [...page.selected];
  page.bulkBusy = true;
  page.bulkResult = null;
  rerender();
  try {
    const answer = await api(`/api/workflow/bulk/${action}`, { method: "POST", body: ids, query });
    page.bulkResult = resultBox(action, answer, () => { page.bulkResult = null; rerender(); });
    const failed = Object.keys(answer.bulkErrorResults || {});
    page.selected = new Set(failed); // keep what did not work, to look at it
    toast(`${label(action)}: ${answer.bulkSuccessfulResults.length} accepted, ${failed.length} failed`, failed.length ? "error" : "success");
  } catch (error) {
    page.bulkResult = el("div", { class: "alert alert-error bulk-result", role: "alert" }, `${label(action)} failed: ${error.message}`);
  } finally {
    page.bulkBusy = false;
  }
  await reload();
}

function label(action) {
  return ACTIONS.find(([a]) => a === action)[1];
}

function resultBox(action, answer, onDismiss) {
  const ok = answer.bulkSuccessfulResults || [];
  const errors = Object.entries(answer.bulkErrorResults || {});
  const close = el("button", { type: "button", class: "small link", style: "float:right", onclick: onDismiss }, "Dismiss");
  return el(
    "div",
    { class: ["alert", "bulk-result", errors.length ? "alert-error" : "alert-success"], id: "bulk-result", role: "status" },
    close,
    el("strong", {}, `${label(action)}: ${ok.length} accepted`), errors.length ? `, ${errors.length} failed` : "",
    errors.length
      ? el("ul", {}, errors.map(([id, message]) => el("li", { dataset: { workflowId: id } },
          el("a", { class: "id", href: executionHref(id) }, id), " — ", message)))
      : null,
  );
}
