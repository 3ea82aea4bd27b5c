// Sign-in page: "Sign in with a passkey" (discoverable), passkey autofill on the username
// field (conditional mediation), and "Use a security key for this username".
import { appUrl } from "./csrf.js";
import { isAbort, messageFor } from "./errors.js";
import { signIn } from "./passkeys.js";
import { revealJsOnly, say } from "./ui.js";
import { browserSupportsAutofill, browserSupportsWebAuthn } from "./webauthn-client.js";

const button = document.getElementById("passkey-signin");
const keyButton = document.getElementById("security-key-signin");
const username = document.getElementById("username");
const status = document.getElementById("passkey-status");
const keyStatus = document.getElementById("security-key-status");

function destination() {
  return button?.dataset.next || appUrl("/account");
}

function done(where = status) {
  say(where, "Signed in.", "success");
  window.location.assign(destination());
}

/** Passkey autofill: a pending get() the browser completes from the username field. */
async function startAutofill() {
  if (!(await browserSupportsAutofill())) {
    document.body.dataset.autofill = "unavailable";
    return;
  }
  document.body.dataset.autofill = "pending";
  try {
    await signIn({ mediation: "conditional" });
    done();
  } catch (error) {
    if (isAbort(error)) return; // a modal request took over
    document.body.dataset.autofill = "failed";
    // Autofill starts with the page: only a passkey the person picked has news for them.
    if (error.afterChoice) say(status, messageFor(error), "error");
  }
}

/** A button's ceremony; its messages go to the status line beside that button. */
async function modal(name, where) {
  say(where, "Follow your browser's instructions to use your passkey or security key.");
  try {
    await signIn({ username: name });
    done(where);
  } catch (error) {
    if (!isAbort(error)) say(where, messageFor(error), "error");
    startAutofill();
  }
}

// What the page itself tied to the username field (a server-side error, a hint).
const describedByPage = username?.getAttribute("aria-describedby") ?? "";

function usernameProblem(text) {
  if (!username) return;
  username.setAttribute("aria-invalid", text ? "true" : "false");
  const ids = [describedByPage, text ? "security-key-status" : ""].filter(Boolean).join(" ");
  if (ids) username.setAttribute("aria-describedby", ids);
  else username.removeAttribute("aria-describedby");
  if (text) {
    say(keyStatus, text, "error");
    username.focus();
  }
}

function init() {
  if (!button) return;
  if (!browserSupportsWebAuthn()) {
    say(status, button.dataset.unsupported
      ?? "This browser cannot use passkeys here. Please use another way to sign in.");
    return;
  }
  revealJsOnly();
  button.disabled = false;
  button.addEventListener("click", () => modal(null, status));
  // On a step-up page the username stands alone: Enter there asks the security key.
  document.getElementById("security-key-form")?.addEventListener("submit", (event) => {
    event.preventDefault();
    keyButton?.click();
  });
  keyButton?.addEventListener("click", () => {
    const name = username?.value.trim();
    if (!name) {
      usernameProblem("Enter your username first, then use your security key.");
      return;
    }
    usernameProblem("");
    modal(name, keyStatus ?? status);
  });
  startAutofill();
}

init();
