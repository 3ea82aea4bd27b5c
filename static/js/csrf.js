// JSON requests to Keystile with the page's CSRF token in the X-CSRFToken header.
import { ServerError } from "./errors.js";

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
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  return readJSON(response);
}

export async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  return readJSON(response);
}
