// The executions search page ("/"): filters, results, paging, bulk actions.
import { api, el, renderNav } from "./common.js";
import { bulkBar } from "./search-bulk.js";
import {
  buildQuery,
  readState,
  searchParams,
  STATUSES,
  writeState,
} from "./search-query.js";
import { resultsTable, pager } from "./search-table.js";

const page = {
  state: readState(location.search),
  selected: new Set(),
  results: [],
  total: 0,
  seq: 0, // answers of superseded searches are dropped
};

function filterForm() {
  const s = page.state;
  const input = (name, value, attrs = {}) =>
    el("input", { type: "text", name, value, autocomplete: "off", ...attrs });
  const picks = STATUSES.map((status) => {
    const box = el("input", { type: "checkbox", name: "status", value: status, checked: s.status.includes(status) });
    const label = el("label", { class: ["status-pick", box.checked && "checked"] }, box, status.replace("_", " "));
    box.addEventListener("change", () => label.classList.toggle("checked", box.checked));
    return label;
  });
  const field = (label, control, wide = false) =>
    el("label", { class: ["field", wide && "wide"] }, el("span", {}, label), control);
  const form = el(
    "form",
    { id: "filters", class: "card", onsubmit: onSearch, "aria-label": "Search filters" },
    el(
      "div",
      { class: "filters" },
      field("Workflow name", input("name", s.name, { list: "workflow-names", placeholder: "Any workflow" })),
      field("Correlation ID", input("correlationId", s.correlationId, { placeholder: "Exact id" })),
      field("Started after", el("input", { type: "datetime-local", name: "from", value: s.from, step: "1" })),
      field("Started before", el("input", { type: "datetime-local", name: "to", value: s.to, step: "1" })),
      field("Free text", input("text", s.text, { type: "search", placeholder: "Words in input or output, or an id" }), true),
      field("Query", input("query", s.query, { placeholder: "e.g. version >= 2 AND priority > 0", class: "mono" }), true),
    ),
    el("div", { class: "field", style: "margin-top:12px" }, el("span", {}, "Status"), el("div", { class: "status-picks" }, picks)),
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "submit", class: "primary" }, "Search"),
      el("button", { type: "button", onclick: onReset }, "Reset"),
      el("span", { class: "spacer" }),
      el("code", { id: "query-preview", class: "muted small" }),
    ),
    el("datalist", { id: "workflow-names" }),
  );
  return form;
}

function readForm() {
  const data = new FormData(document.getElementById("filters"));
  return {
    ...page.state,
    name: String(data.get("name") || "").trim(),
    correlationId: String(data.get("correlationId") || "").trim(),
    from: String(data.get("from") || ""),
    to: String(data.get("to") || ""),
    text: String(data.get("text") || ""),
    query: String(data.get("query") || ""),
    status: data.getAll("status").map(String),
    start: 0,
  };
}

function onSearch(event) {
  event.preventDefault();
  navigate(readForm(), true);
}

function onReset() {
  navigate(readState(""), true);
  rebuildForm();
}

/** New state: into the URL (a history entry when `push`), then search. */
export function navigate(state, push = false) {
  page.state = state;
  const url = location.pathname + writeState(state);
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  return load();
}

function rebuildForm() {
  document.getElementById("filters").replaceWith(filterForm());
  fillNames();
}

async function load() {
  const seq = ++page.seq;
  const query = buildQuery(page.state);
  document.getElementById("query-preview").textContent = query ? `query: ${query}` : "";
  const body = document.getElementById("results-body");
  body.setAttribute("aria-busy", "true");
  try {
    const answer = await api("/api/workflow/search", { query: searchParams(page.state) });
    if (seq !== page.seq) return;
    page.results = answer.results;
    page.total = answer.totalHits;
    const visible = new Set(page.results.map((r) => r.workflowId));
    for (const id of [...page.selected]) if (!visible.has(id)) page.selected.delete(id);
    renderResults();
  } catch (error) {
    if (seq !== page.seq) return;
    page.results = [];
    page.total = 0;
    renderResults(error);
  } finally {
    if (seq === page.seq) body.removeAttribute("aria-busy");
  }
}

function renderResults(error = null) {
  const body = document.getElementById("results-body");
  const onSort = (sort) => navigate({ ...page.state, sort, start: 0 }, true);
  const onPage = (start, size) => navigate({ ...page.state, start, size }, true);
  body.replaceChildren(
    resultsTable(page, onSort, renderResults, error),
    page.total ? pager(page.state, page.total, onPage) : null,
  );
  document.getElementById("bulk").replaceWith(bulkBar(page, load));
  document.getElementById("hits").textContent = error ? "" : hitsLabel(page.total);
}

function hitsLabel(total) {
  if (total >= 10000) return "10,000+ executions";
  return `${total.toLocaleString("en-US")} execution${total === 1 ? "" : "s"}`;
}

async function fillNames() {
  try {
    const defs = await api("/api/metadata/workflow");
    const names = [...new Set(defs.map((d) => d.name))].sort();
    document.getElementById("workflow-names").replaceChildren(...names.map((n) => el("option", { value: n })));
  } catch {
    // The list only helps typing; the search works without it.
  }
}

function main() {
  renderNav("executions");
  const app = document.getElementById("app");
  app.replaceChildren(
    el("div", { class: "page-head" }, el("h1", {}, "Executions"), el("span", { class: "sub" }, "Search workflow executions")),
    filterForm(),
    el(
      "section",
      { class: "card flush", "aria-label": "Results" },
      el("div", { class: "card-head" }, el("h2", {}, "Results"), el("span", { id: "hits", class: "pill" }), el("span", { class: "spacer" }),
        el("button", { type: "button", class: "small", onclick: () => load(), title: "Search again" }, "↻ Refresh")),
      el("div", { id: "bulk" }),
      el("div", { id: "results-body" }),
    ),
  );
  window.addEventListener("popstate", () => {
    page.state = readState(location.search);
    rebuildForm();
    load();
  });
  fillNames();
  load();
}

main();
