// Small page helpers: status lines and the sections only JavaScript can use.

export function say(element, text, tone = "info") {
  if (!element) return;
  element.textContent = text;
  element.dataset.tone = tone;
  element.classList.toggle("error", tone === "error");
}

export function revealJsOnly(root = document) {
  for (const element of root.querySelectorAll(".js-only[hidden]")) element.hidden = false;
}

/** A status line with a link, e.g. to sign in again; built without innerHTML. */
export function sayWithLink(element, text, linkText, href) {
  say(element, `${text} `, "error");
  const link = document.createElement("a");
  link.href = href;
  link.textContent = linkText;
  element.append(link);
}
