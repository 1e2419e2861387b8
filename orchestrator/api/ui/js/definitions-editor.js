// Register or update a definition from pasted JSON: POST/PUT /api/metadata/workflow and
// /api/metadata/taskdefs. Every validation problem of a 400 is listed with its JSON path.
import { api, el, problemList } from "./common.js";

const WORKFLOW_TEMPLATE = {
  name: "my_workflow",
  version: 1,
  description: "What it does",
  tasks: [
    {
      name: "double",
      taskReferenceName: "double",
      type: "INLINE",
      inputParameters: { evaluatorType: "javascript", expression: "$.n * 2", n: "${workflow.input.n}" },
    },
  ],
  outputParameters: { result: "${double.output.result}" },
};
const TASK_TEMPLATE = [{ name: "my_task", retryCount: 3, retryLogic: "FIXED", retryDelaySeconds: 5, timeoutSeconds: 300, responseTimeoutSeconds: 60 }];

const TARGETS = {
  workflow: { path: "/api/metadata/workflow", label: "Workflow definition", template: WORKFLOW_TEMPLATE },
  task: { path: "/api/metadata/taskdefs", label: "Task definition(s)", template: TASK_TEMPLATE },
};

/** The editor panel; `params` may name a workflow to edit: ?edit=NAME&version=N. */
export async function editor(params) {
  let kind = "workflow";
  let text = JSON.stringify(WORKFLOW_TEMPLATE, null, 2);
  if (params.get("edit")) {
    const def = await api(`/api/metadata/workflow/${encodeURIComponent(params.get("edit"))}`, {
      query: { version: params.get("version") || undefined },
    });
    text = JSON.stringify(def, null, 2);
  }
  const kindSelect = el(
    "select",
    { name: "kind", "aria-label": "Kind" },
    Object.entries(TARGETS).map(([key, t]) => el("option", { value: key, selected: key === kind }, t.label)),
  );
  const methodSelect = el(
    "select",
    { name: "method", "aria-label": "Mode" },
    el("option", { value: "PUT" }, "Create or update (PUT)"),
    el("option", { value: "POST" }, "Create only (POST)"),
  );
  const area = el("textarea", { name: "json", rows: 22, spellcheck: "false", "aria-label": "Definition JSON" }, text);
  const result = el("div", { id: "register-result" });
  kindSelect.addEventListener("change", () => {
    kind = kindSelect.value;
    area.value = JSON.stringify(TARGETS[kind].template, null, 2);
    result.replaceChildren();
  });
  const format = () => {
    try {
      area.value = JSON.stringify(JSON.parse(area.value), null, 2);
    } catch (error) {
      result.replaceChildren(alert("error", `Not valid JSON: ${error.message}`));
    }
  };
  const submit = (event) => {
    event.preventDefault();
    save(kind, methodSelect.value, area.value, result);
  };
  return el(
    "form",
    { id: "register", onsubmit: submit },
    el("p", { class: "muted", style: "margin-top:0" },
      "Paste a definition in Conductor's JSON. The server validates it and lists every problem with its path."),
    el("div", { class: "filters", style: "max-width:620px;margin-bottom:12px" },
      el("label", { class: "field" }, el("span", {}, "Kind"), kindSelect),
      el("label", { class: "field" }, el("span", {}, "Mode"), methodSelect)),
    area,
    el("div", { class: "form-actions" },
      el("button", { type: "submit", class: "primary" }, "Save definition"),
      el("button", { type: "button", onclick: format }, "Format JSON")),
    result,
  );
}

function alert(kind, ...content) {
  return el("div", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" }, ...content);
}

async function save(kind, method, text, result) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (error) {
    result.replaceChildren(alert("error", `Not valid JSON: ${error.message}`));
    return;
  }
  result.replaceChildren(alert("success", "Saving…"));
  try {
    await api(TARGETS[kind].path, { method, body });
    result.replaceChildren(alert("success", savedMessage(kind, body)));
  } catch (error) {
    const count = error.problems.length;
    result.replaceChildren(
      alert("error",
        el("strong", {}, `Not saved (HTTP ${error.status || "?"}): `), error.message,
        count ? el("div", { class: "small", style: "margin-top:6px" }, `${count} problem${count === 1 ? "" : "s"}:`) : null,
        problemList(error)),
    );
  }
}

function savedMessage(kind, body) {
  if (kind === "task") {
    const names = (Array.isArray(body) ? body : [body]).map((d) => d.name).join(", ");
    return ["Saved task definition(s): ", el("strong", {}, names)];
  }
  const href = `/definitions/workflow/${encodeURIComponent(body.name)}?version=${body.version ?? 1}`;
  return ["Saved ", el("a", { href }, `${body.name} v${body.version ?? 1}`), "."];
}
