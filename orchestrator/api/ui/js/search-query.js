// The executions search's state: filters <-> the page URL <-> the API's query grammar
// (docs/search-and-operations.md: Conductor's grammar; AND/OR group to the right, hence the
// parentheses around a hand-written query).

export const STATUSES = ["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"];
export const PAGE_SIZES = [10, 25, 50, 100];
export const DEFAULT_SORT = "startTime:DESC";

const DEFAULTS = {
  name: "",
  status: [],
  from: "",
  to: "",
  correlationId: "",
  text: "",
  query: "",
  sort: DEFAULT_SORT,
  start: 0,
  size: 25,
};

/** A value as a single-quoted literal; backslash escapes the next character. */
export function quote(value) {
  return `'${String(value).replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A datetime-local value ("2024-05-01T14:30") as epoch ms in the browser's zone, or null. */
export function localToMs(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/** The `query` parameter for the filters ("" = everything). */
export function buildQuery(filters) {
  const parts = [];
  if (filters.name) parts.push(`workflowType = ${quote(filters.name)}`);
  if (filters.status.length) parts.push(`status IN (${filters.status.join(", ")})`);
  const from = localToMs(filters.from);
  const to = localToMs(filters.to);
  if (from !== null) parts.push(`startTime >= ${from}`);
  if (to !== null) parts.push(`startTime <= ${to}`);
  if (filters.correlationId) parts.push(`correlationId = ${quote(filters.correlationId)}`);
  if (filters.query.trim()) parts.push(`(${filters.query.trim()})`);
  return parts.join(" AND ");
}

/** The parameters of GET /api/workflow/search. */
export function searchParams(state) {
  return {
    query: buildQuery(state) || undefined,
    freeText: state.text.trim() || "*",
    sort: state.sort,
    start: state.start,
    size: state.size,
  };
}

const KEYS = {
  name: "name",
  status: "status",
  from: "from",
  to: "to",
  correlationId: "cid",
  text: "text",
  query: "q",
  sort: "sort",
  start: "start",
  size: "size",
};

/** The state in a URL query string (so reload, back and shared links keep the search). */
export function readState(search) {
  const params = new URLSearchParams(search);
  const state = structuredClone(DEFAULTS);
  for (const [field, key] of Object.entries(KEYS)) {
    const raw = params.get(key);
    if (raw === null) continue;
    if (field === "status") state.status = raw.split(",").filter((s) => STATUSES.includes(s));
    else if (field === "start") state.start = Math.max(0, parseInt(raw, 10) || 0);
    else if (field === "size") state.size = PAGE_SIZES.includes(+raw) ? +raw : DEFAULTS.size;
    else state[field] = raw;
  }
  return state;
}

export function writeState(state) {
  const params = new URLSearchParams();
  for (const [field, key] of Object.entries(KEYS)) {
    const value = field === "status" ? state.status.join(",") : state[field];
    if (value === "" || value === DEFAULTS[field]) continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Next sort after a click on a column: DESC first for times, then toggles. */
export function nextSort(current, field) {
  const [curField, curDir = "ASC"] = current.split(":");
  if (curField === field) return `${field}:${curDir === "ASC" ? "DESC" : "ASC"}`;
  return `${field}:${field.endsWith("Time") ? "DESC" : "ASC"}`;
}
