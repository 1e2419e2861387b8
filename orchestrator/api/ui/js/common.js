// Shared by every page: the API client, a DOM helper, status badges, formatting, the top nav
// and toasts. Plain ES module, no dependency: the UI must work without internet access.

import { askForKey, authHeaders, forgetKey, storedKey, whoAmI } from "./auth.js";

/** An API error: `message` is the server's message, `problems` its validationErrors. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || `HTTP ${status}`;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.problems = (body && body.validationErrors) || [];
  }
}

/**
 * Fetch from the REST API. `path` is "/api/..." (or "/..." / "...", then /api is prepended).
 * options: {method, body (object, sent as JSON), query (object; arrays repeat the key),
 * signal}. Resolves to the parsed JSON, the text when the answer is not JSON, or null (204).
 */
export async function api(path, options = {}) {
  const { method = "GET", body, query, signal, headers = {} } = options;
  let url = path.startsWith("/api/") ? path : `/api${path.startsWith("/") ? "" : "/"}${path}`;
  const params = toParams(query);
  if (params) url += (url.includes("?") ? "&" : "?") + params;
  const init = { method, signal, headers: { ...authHeaders(storedKey()), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response = await fetch(url, init);
  if (response.status === 401) {
    // No key yet, or a revoked one: ask (once for all pending requests), then try again.
    const refused = await response.clone().json().catch(() => ({}));
    await askForKey(storedKey() ? `Your key was refused: ${refused.message || "401"}` : "");
    init.headers = { ...init.headers, ...authHeaders(storedKey()) };
    response = await fetch(url, init);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, typeof data === "object" ? data : { message: data });
  }
  return data;
}

function toParams(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  return params.toString();
}

/**
 * el("a", {href: "/x", class: "link", onclick: fn, dataset: {id: 1}}, "text", child, [more]).
 * Strings become text nodes (never HTML), null/undefined/false children are skipped.
 */
export function el(tag, attrs = {}, ...children) {
  const isSvg = tag === "svg" || Boolean(attrs?.svg);
  const node = isSvg ? svgNode(tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false || key === "svg") continue;
    if (key === "class") node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (!isSvg && key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function svgNode(tag) {
  return document.createElementNS("http://www.w3.org/2000/svg", tag);
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const STATUS_GROUPS = {
  completed: ["COMPLETED"],
  warning: ["COMPLETED_WITH_ERRORS"],
  failed: ["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"],
  running: ["RUNNING", "IN_PROGRESS", "SCHEDULED"],
  paused: ["PAUSED", "TERMINATED"],
  neutral: ["CANCELED", "SKIPPED"],
};

/** The colour group of a Conductor status: completed|warning|failed|running|paused|neutral. */
export function statusGroup(status) {
  const upper = String(status || "").toUpperCase();
  for (const [group, members] of Object.entries(STATUS_GROUPS)) {
    if (members.includes(upper)) return group;
  }
  return "neutral";
}

/** The CSS colour of a status, e.g. for SVG fills: "var(--status-failed)". */
export function statusColor(status) {
  return `var(--status-${statusGroup(status)})`;
}

/** <span class="badge status-failed">FAILED</span> */
export function statusBadge(status) {
  const label = String(status || "UNKNOWN");
  return el("span", { class: `badge status-${statusGroup(label)}`, title: label }, label.replaceAll("_", " "));
}

/** Epoch ms (or an ISO string) as local "2024-05-01 14:03:07"; "" when absent. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === "" || ms === 0) return "";
  const date = typeof ms === "number" ? new Date(ms) : new Date(String(ms));
  if (Number.isNaN(date.getTime())) return String(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A duration in ms as "850 ms", "12.3 s", "4m 05s", "2h 03m", "3d 4h". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return "";
  const n = Math.max(0, Number(ms));
  if (n < 1000) return `${Math.round(n)} ms`;
  const s = n / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const pad = (v) => String(Math.floor(v)).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

const NAV = [
  ["executions", "Executions", "/"],
  ["definitions", "Definitions", "/definitions"],
  ["queues", "Queues", "/queues"],
];

/** The top bar, inserted as the first child of <body>; `active` is a NAV key. */
export function renderNav(active) {
  document.querySelector("header.topbar")?.remove();
  const links = NAV.map(([key, label, href]) =>
    el("a", { href, class: key === active ? "active" : null, "aria-current": key === active ? "page" : null }, label),
  );
  const bar = el(
    "header",
    { class: "topbar" },
    el("a", { class: "brand", href: "/" }, el("span", { class: "brand-mark" }, "◆"), "Orchestrator"),
    el("nav", { "aria-label": "Main" }, links),
    el("a", { class: "topbar-aside", href: "/docs", target: "_blank" }, "API docs"),
    el("span", { class: "topbar-user" }),
  );
  document.body.prepend(bar);
  showUser(bar.querySelector(".topbar-user"));
  return bar;
}

/** Who is signed in, and a way to sign out (forget the key in this browser). */
async function showUser(slot) {
  // Every page asks at once when it has no working key, not at its first API call.
  const me = (await whoAmI().catch(() => null)) || (await askForKey(storedKey() ? "Your key was refused." : ""));
  const name = me.via === "auth-off" ? "authentication off" : `${me.id} (${me.roles.join(", ")})`;
  const out = el("button", { type: "button", class: "link-button", onclick: () => { forgetKey(); location.reload(); } }, "Sign out");
  slot.replaceChildren(el("span", { class: "topbar-who" }, name), me.via === "auth-off" ? null : out);
}

/** A short message in the corner; kind: "info" | "success" | "error". */
export function toast(message, kind = "info", timeoutMs = 5000) {
  let box = document.getElementById("toasts");
  if (!box) {
    box = el("div", { id: "toasts", class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = el("div", { class: `toast toast-${kind}` }, message);
  item.addEventListener("click", () => item.remove());
  box.append(item);
  if (timeoutMs > 0) setTimeout(() => item.remove(), timeoutMs);
  return item;
}

/** An ApiError's validation problems as a list ("$.tasks[0].name: required"). */
export function problemList(error) {
  const problems = error?.problems || [];
  if (!problems.length) return null;
  return el(
    "ul",
    { class: "problems" },
    problems.map((p) => el("li", {}, el("code", {}, p.path || "$"), " ", p.message || "")),
  );
}

/** A JSON value, pretty printed, in a <pre>. */
export function jsonBlock(value, attrs = {}) {
  return el("pre", { class: "json", ...attrs }, JSON.stringify(value ?? null, null, 2));
}

/** The link to an execution's page. */
export function executionHref(workflowId) {
  return `/execution/${encodeURIComponent(workflowId)}`;
}

/** A small empty-state / loading / error line for a panel. */
export function notice(text, kind = "muted") {
  return el("div", { class: `notice notice-${kind}` }, text);
}
