// JSON requests to Keystile with the page's CSRF token in the X-CSRFToken header.
import { ServerError } from "./errors.js";

/**
 * A path of Keystile's (``/webauthn/...``) below the script root the server runs under
 * (``SCRIPT_NAME``, given by the page's ``keystile-root`` meta tag). Absolute URLs and
 * paths the server already built pass unchanged.
 */
export function appUrl(path) {
  const root = document.querySelector('meta[name="keystile-root"]')?.content ?? "";
  return path.startsWith("/") && !path.startsWith(root + "/") ? root + path : path;
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

async function readJSON(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ServerError(data?.error ?? `http_${response.status}`,
      data?.message ?? "The server refused the request. Please reload the page and try again.",
      response.status, data);
  }
  return data;
}

export async function postJSON(url, body) {
  const response = await fetch(appUrl(url), {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  return readJSON(response);
}

export async function getJSON(url) {
  const response = await fetch(appUrl(url), { credentials: "same-origin", headers: { Accept: "application/json" } });
  return readJSON(response);
}
