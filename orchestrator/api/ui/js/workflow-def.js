// One workflow definition ("/definitions/workflow/{name}?version=N"): its versions, facts,
// diagram (UI-2's diagram.js) and JSON.
import { api, el, jsonBlock, notice, renderNav } from "./common.js";

const name = decodeURIComponent(location.pathname.split("/")[3] || "");
const wanted = new URLSearchParams(location.search).get("version");

function facts(def) {
  const rows = [
    ["Version", def.version],
    ["Description", def.description],
    ["Tasks", `${(def.tasks || []).length} at the top level`],
    ["Inputs", (def.inputParameters || []).join(", ")],
    ["Timeout", def.timeoutSeconds ? `${def.timeoutSeconds} s (${def.timeoutPolicy || "ALERT_ONLY"})` : "none"],
    ["Restartable", def.restartable === false ? "no" : "yes"],
    ["Failure workflow", def.failureWorkflow],
    ["Owner", def.ownerEmail],
    ["Schema version", def.schemaVersion],
  ].filter(([, v]) => v !== undefined && v !== null && v !== "");
  return el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
}

async function diagram(box, def) {
  try {
    const { renderDiagram } = await import("./diagram.js");
    box.replaceChildren();
    renderDiagram(box, def, null, {});
  } catch (error) {
    box.replaceChildren(notice(`The diagram is not available: ${error.message}`, "error"));
  }
}

function versionPicker(versions, current) {
  const select = el(
    "select",
    { "aria-label": "Version", style: "width:auto", onchange: (e) => { location.search = `?version=${e.target.value}`; } },
    versions.map((v) => el("option", { value: v, selected: v === current }, `Version ${v}`)),
  );
  return select;
}

function tabs(def) {
  const diagramBox = el("div", { class: "diagram-box", id: "definition-diagram" }, notice("Drawing…"));
  const jsonBox = el("div", { id: "definition-json", hidden: true }, jsonBlock(def));
  const buttons = [["diagram", "Diagram", diagramBox], ["json", "JSON", jsonBox]].map(([key, label, panel], i) =>
    el("button", {
      type: "button", role: "tab", class: i === 0 ? "active" : null, dataset: { tab: key },
      onclick: (e) => {
        for (const b of e.target.parentElement.children) b.classList.toggle("active", b === e.target);
        diagramBox.hidden = panel !== diagramBox;
        jsonBox.hidden = panel !== jsonBox;
      },
    }, label),
  );
  diagram(diagramBox, def);
  return el("section", { class: "card flush" },
    el("div", { class: "tabs", role: "tablist" }, buttons),
    el("div", { class: "tab-body" }, diagramBox, jsonBox));
}

async function main() {
  renderNav("definitions");
  const app = document.getElementById("app");
  app.replaceChildren(notice("Loading…"));
  try {
    const all = await api("/api/metadata/workflow");
    const versions = all.filter((d) => d.name === name).map((d) => d.version).sort((a, b) => a - b);
    const def = await api(`/api/metadata/workflow/${encodeURIComponent(name)}`, { query: { version: wanted || undefined } });
    const edit = `/definitions?edit=${encodeURIComponent(name)}&version=${def.version}#register`;
    app.replaceChildren(
      el("div", { class: "page-head" },
        el("a", { href: "/definitions", class: "muted" }, "Definitions ›"),
        el("h1", { id: "definition-name" }, name),
        versionPicker(versions, def.version),
        el("div", { class: "actions" },
          el("a", { class: "button", href: `/?name=${encodeURIComponent(name)}` }, "Executions"),
          el("a", { class: "button", href: edit }, "Edit JSON"))),
      el("div", { class: "grid-2" },
        el("section", { class: "card" }, el("h2", {}, "About"), facts(def)),
        tabs(def)),
    );
  } catch (error) {
    app.replaceChildren(
      el("div", { class: "page-head" }, el("a", { href: "/definitions", class: "muted" }, "Definitions ›"), el("h1", {}, name)),
      el("div", { class: "card" }, notice(error.message, "error")),
    );
  }
}

main();
