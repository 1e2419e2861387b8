// The executions search's results table (selectable rows, sortable columns) and its pager.
import { el, executionHref, fmtDuration, fmtTime, notice, statusBadge } from "./common.js";
import { nextSort, PAGE_SIZES } from "./search-query.js";

function duration(row) {
  if (row.endTime) return fmtDuration(row.executionTime || 0);
  const start = Date.parse(row.startTime);
  if (!row.endTime && !Number.isNaN(start) && ["RUNNING", "PAUSED"].includes(row.status)) {
    return fmtDuration(Date.now() - start);
  }
  return "";
}

function problem(row) {
  const text = row.reasonForIncompletion || "";
  const tasks = row.failedReferenceTaskNames || "";
  if (!text && !tasks) return "";
  return el("span", { class: "clamp2", title: [tasks && `failed: ${tasks}`, text].filter(Boolean).join("\n") },
    tasks ? el("code", {}, tasks) : null, tasks && text ? " · " : null, text);
}

// label, sort field (null = not sortable), cell, extra class
const COLUMNS = [
  ["Workflow ID", "workflowId", (r) => el("a", { class: "id", href: executionHref(r.workflowId) }, r.workflowId), "nowrap"],
  ["Workflow", "workflowType", (r) => el("span", { class: "wf-name" }, r.workflowType)],
  ["Ver", "version", (r) => r.version, "num"],
  ["Status", "status", (r) => statusBadge(r.status)],
  ["Started", "startTime", (r) => fmtTime(r.startTime), "nowrap"],
  ["Ended", "endTime", (r) => fmtTime(r.endTime), "nowrap"],
  ["Duration", null, duration, "num nowrap"],
  ["Correlation ID", "correlationId", (r) => el("span", { class: "id ellipsis", title: r.correlationId || "" }, r.correlationId || "")],
  ["Failure", null, problem],
];

function header(state, onSort, page, onSelect) {
  const [sortField, sortDir = "ASC"] = state.sort.split(":");
  const ids = page.results.map((r) => r.workflowId);
  const all = el("input", {
    type: "checkbox",
    "aria-label": "Select all on this page",
    checked: ids.length > 0 && ids.every((id) => page.selected.has(id)),
    onchange: (e) => {
      for (const id of ids) e.target.checked ? page.selected.add(id) : page.selected.delete(id);
      onSelect();
    },
  });
  const cells = COLUMNS.map(([label, field, , cls]) => {
    if (!field) return el("th", { class: cls }, label);
    const sorted = field === sortField;
    const arrow = sorted ? (sortDir === "DESC" ? "▼" : "▲") : "";
    return el(
      "th",
      {
        class: ["sortable", sorted && "sorted", cls],
        dataset: { sort: field },
        "aria-sort": sorted ? (sortDir === "DESC" ? "descending" : "ascending") : "none",
        onclick: () => onSort(nextSort(state.sort, field)),
        title: `Sort by ${label}`,
      },
      label, " ", el("span", { class: "arrow" }, arrow),
    );
  });
  return el("thead", {}, el("tr", {}, el("th", { class: "check" }, all), cells));
}

function row(r, page, onSelect) {
  const selected = page.selected.has(r.workflowId);
  const box = el("input", {
    type: "checkbox",
    "aria-label": `Select ${r.workflowId}`,
    checked: selected,
    onchange: (e) => {
      e.target.checked ? page.selected.add(r.workflowId) : page.selected.delete(r.workflowId);
      onSelect();
    },
  });
  return el(
    "tr",
    { class: selected ? "selected" : null, dataset: { workflowId: r.workflowId, status: r.status } },
    el("td", { class: "check" }, box),
    COLUMNS.map(([, , cell, cls]) => el("td", { class: cls }, cell(r))),
  );
}

/** The table, or a notice when there is nothing to show (or the search failed). */
export function resultsTable(page, onSort, onSelect, error) {
  if (error) {
    return el("div", { class: "alert alert-error", style: "margin:16px", role: "alert", id: "search-error" },
      el("strong", {}, "Search failed: "), error.message);
  }
  if (!page.results.length) return notice("No executions match these filters.");
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data", id: "results" },
      header(page.state, onSort, page, onSelect),
      el("tbody", {}, page.results.map((r) => row(r, page, onSelect)))),
  );
}

/** "1–25 of 132", page size, previous / next. */
export function pager(state, total, onPage) {
  const first = state.start + 1;
  const last = Math.min(state.start + state.size, total);
  const pages = Math.max(1, Math.ceil(total / state.size));
  const current = Math.floor(state.start / state.size) + 1;
  const size = el(
    "select",
    { "aria-label": "Rows per page", onchange: (e) => onPage(0, Number(e.target.value)) },
    PAGE_SIZES.map((n) => el("option", { value: n, selected: n === state.size }, String(n))),
  );
  return el(
    "div",
    { class: "pager", id: "pager" },
    el("span", {}, "Rows per page"), size,
    el("span", { class: "spacer" }),
    el("span", { id: "page-range" }, `${first}–${last} of ${total >= 10000 ? "10,000+" : total.toLocaleString("en-US")}`),
    el("span", {}, `· page ${current} of ${total >= 10000 ? `${pages}+` : pages}`),
    el("button", { type: "button", class: "small", disabled: state.start === 0,
      onclick: () => onPage(Math.max(0, state.start - state.size), state.size) }, "‹ Previous"),
    el("button", { type: "button", class: "small", disabled: last >= total,
      onclick: () => onPage(state.start + state.size, state.size) }, "Next ›"),
  );
}
