// The definitions page ("/definitions"): workflow definitions, task definitions, event handlers
// and the editor that registers or updates one from pasted JSON. Tabs are in the URL hash
// (#tasks, #events, #register).
import { api, el, jsonBlock, notice, renderNav } from "./common.js";
import { editor } from "./definitions-editor.js";

const TABS = [
  ["workflows", "Workflows"],
  ["tasks", "Task definitions"],
  ["events", "Event handlers"],
  ["register", "Register / update"],
];

function workflowRows(defs) {
  const byName = new Map();
  for (const d of defs) byName.set(d.name, [...(byName.get(d.name) || []), d]);
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, versions]) => {
      versions.sort((a, b) => a.version - b.version);
      const latest = versions[versions.length - 1];
      const href = (v) => `/definitions/workflow/${encodeURIComponent(name)}${v ? `?version=${v}` : ""}`;
      return el(
        "tr",
        { dataset: { name } },
        el("td", {}, el("a", { href: href(null), class: "def-name" }, name)),
        el("td", { class: "num" }, String(latest.version)),
        el("td", {}, versions.map((d) => [el("a", { class: "pill", href: href(d.version) }, `v${d.version}`), " "])),
        el("td", { class: "num" }, String((latest.tasks || []).length)),
        el("td", { class: "muted" }, latest.description || ""),
        el("td", {}, el("a", { href: `/?name=${encodeURIComponent(name)}` }, "Executions")),
      );
    });
}

function workflowTable(defs) {
  if (!defs.length) return notice("No workflow definitions yet: register one from JSON.");
  const head = ["Name", "Latest", "Versions", "Tasks", "Description", ""];
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data", id: "workflow-defs" },
      el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i === 1 || i === 3 ? "num" : null }, h)))),
      el("tbody", {}, workflowRows(defs))),
  );
}

function taskRow(def) {
  const jsonRow = el("tr", { class: "json-row", hidden: true }, el("td", { colspan: 7 }, jsonBlock(def)));
  const toggle = el("button", { type: "button", class: "small", onclick: () => { jsonRow.hidden = !jsonRow.hidden; } }, "JSON");
  const retries = `${def.retryCount ?? 3} × ${def.retryLogic || "FIXED"}${def.retryDelaySeconds ? ` (${def.retryDelaySeconds} s)` : ""}`;
  const timeout = def.timeoutSeconds ? `${def.timeoutSeconds} s · ${def.timeoutPolicy || "TIME_OUT_WF"}` : "none";
  const limit = def.concurrentExecLimit ? `${def.concurrentExecLimit} at once` : "";
  return [
    el("tr", { dataset: { name: def.name } },
      el("td", {}, el("strong", {}, def.name)),
      el("td", {}, retries),
      el("td", {}, timeout),
      el("td", { class: "num" }, def.responseTimeoutSeconds ? `${def.responseTimeoutSeconds} s` : ""),
      el("td", {}, limit),
      el("td", { class: "muted" }, def.description || ""),
      el("td", {}, toggle)),
    jsonRow,
  ];
}

function taskTable(defs) {
  if (!defs.length) return notice("No task definitions yet.");
  const head = ["Name", "Retries", "Timeout", "Response timeout", "Limit", "Description", ""];
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data", id: "task-defs" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, [...defs].sort((a, b) => a.name.localeCompare(b.name)).map(taskRow))),
  );
}

function handlerRow(handler) {
  const jsonRow = el("tr", { class: "json-row", hidden: true }, el("td", { colspan: 6 }, jsonBlock(handler)));
  const toggle = el("button", { type: "button", class: "small", onclick: () => { jsonRow.hidden = !jsonRow.hidden; } }, "JSON");
  const actions = (handler.actions || []).map((a) => {
    const target = (a[a.action] || {}).name || (a[a.action] || {}).taskRefName || "";
    return el("span", { class: "pill" }, target ? `${a.action} ${target}` : a.action);
  });
  return [
    el("tr", { dataset: { name: handler.name } },
      el("td", {}, el("strong", {}, handler.name)),
      el("td", {}, el("code", {}, handler.event)),
      el("td", {}, handler.active ? "active" : el("span", { class: "muted" }, "inactive")),
      el("td", { class: "muted" }, handler.condition ? el("code", {}, handler.condition) : ""),
      el("td", {}, actions),
      el("td", {}, toggle)),
    jsonRow,
  ];
}

function handlerTable(handlers) {
  if (!handlers.length) return notice("No event handlers yet: POST /api/event registers one.");
  const head = ["Name", "Event", "", "Condition", "Actions", ""];
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "data", id: "event-handlers" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))),
      el("tbody", {}, [...handlers].sort((a, b) => a.name.localeCompare(b.name)).map(handlerRow))),
  );
}

async function load(body, tab) {
  body.replaceChildren(notice("Loading…"));
  try {
    if (tab === "workflows") body.replaceChildren(workflowTable(await api("/api/metadata/workflow")));
    else if (tab === "tasks") body.replaceChildren(taskTable(await api("/api/metadata/taskdefs")));
    else if (tab === "events") body.replaceChildren(handlerTable(await api("/api/event")));
    else body.replaceChildren(await editor(new URLSearchParams(location.search)));
  } catch (error) {
    body.replaceChildren(notice(`Could not load: ${error.message}`, "error"));
  }
}

function show(tab) {
  const current = TABS.some(([key]) => key === tab) ? tab : "workflows";
  for (const button of document.querySelectorAll(".tabs button")) {
    button.classList.toggle("active", button.dataset.tab === current);
    button.setAttribute("aria-selected", String(button.dataset.tab === current));
  }
  load(document.getElementById("tab-body"), current);
}

function main() {
  renderNav("definitions");
  const tabs = TABS.map(([key, label]) =>
    el("button", { type: "button", role: "tab", dataset: { tab: key }, onclick: () => { location.hash = key; } }, label),
  );
  document.getElementById("app").replaceChildren(
    el("div", { class: "page-head" }, el("h1", {}, "Definitions"), el("span", { class: "sub" }, "Workflow and task definitions, event handlers")),
    el("section", { class: "card flush" },
      el("div", { class: "tabs", role: "tablist" }, tabs),
      el("div", { class: "tab-body", id: "tab-body" })),
  );
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
}

main();
