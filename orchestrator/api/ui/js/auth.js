// The API key the UI sends with every request (Authorization: Bearer), asked for once and kept
// in this browser's localStorage. `make run` prints one; `orchestrator keys create` makes more.
// Self-contained (no import of common.js, which imports this module).

const STORAGE = "orchestrator.apiKey";
let asking = null;

export function storedKey() {
  try {
    return localStorage.getItem(STORAGE) || "";
  } catch {
    return "";
  }
}

export function forgetKey() {
  localStorage.removeItem(STORAGE);
}

/** Ask for a key until one works (one dialog for all the requests refused meanwhile). */
export function askForKey(reason) {
  if (!asking) asking = ask(reason).finally(() => (asking = null));
  return asking;
}

/** Who the stored key names ({id, roles, ...}), or null without one. */
export async function whoAmI() {
  const key = storedKey();
  const response = await fetch("/api/token/userInfo", { headers: authHeaders(key) });
  return response.ok ? response.json() : null;
}

export function authHeaders(key) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

async function ask(reason) {
  let message = reason;
  for (;;) {
    const key = (await dialog(message)).trim();
    const response = await fetch("/api/token/userInfo", { headers: authHeaders(key) });
    if (response.ok) {
      localStorage.setItem(STORAGE, key);
      return response.json();
    }
    const body = await response.json().catch(() => ({}));
    message = `That key was refused: ${body.message || `HTTP ${response.status}`}`;
  }
}

function dialog(message) {
  return new Promise((resolve) => {
    const box = document.createElement("dialog");
    box.className = "login-dialog";
    box.innerHTML = `<form method="dialog">
      <h3>Sign in with an API key</h3>
      <p>This orchestrator asks for a key. <code>make run</code> printed an admin key;
      create others with <code>orchestrator keys create --role viewer</code>.</p>
      <p class="login-error" role="alert"></p>
      <input name="key" type="password" autocomplete="off" placeholder="key_…" required>
      <div class="form-actions"><span class="spacer"></span>
      <button type="submit" class="primary">Sign in</button></div></form>`;
    box.querySelector(".login-error").textContent = message || "";
    box.addEventListener("cancel", (event) => event.preventDefault()); // no way around it
    box.querySelector("form").addEventListener("submit", () => {
      const key = box.querySelector("input").value;
      box.remove();
      resolve(key);
    });
    document.body.append(box);
    box.showModal();
  });
}
