// Account page: add a passkey or a security key, and keep the user's passkey provider in
// step with this account through the Signal API (after a removal or a rename).
import { appUrl, getJSON } from "./csrf.js";
import { ServerError, messageFor } from "./errors.js";
import { register } from "./passkeys.js";
import { signalAccepted, signalUnknown } from "./signal.js";
import { revealJsOnly, say, sayWithLink } from "./ui.js";
import { browserSupportsWebAuthn } from "./webauthn-client.js";

const status = document.getElementById("add-status");
const REMOVED = "keystile.removedPasskeys";

async function add(kind) {
  say(status, kind === "passkey"
    ? "Follow your browser's instructions to create a passkey."
    : "Insert or tap your security key when your browser asks.");
  try {
    await register({ options: "/webauthn/register/options", verify: "/webauthn/register/verify", kind });
    say(status, "Added.", "success");
    window.location.reload();
  } catch (error) {
    if (error instanceof ServerError
        && (error.code === "reauth_required" || error.code === "step_up_required")) {
      sayWithLink(status, error.message, "Sign in again",
        appUrl(`/login?reauth=1&next=${encodeURIComponent(appUrl("/account"))}`));
      return;
    }
    say(status, messageFor(error), "error");
  }
}

function rememberRemovals() {
  for (const form of document.querySelectorAll("form[data-passkey-remove]")) {
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return; // not confirmed (confirm.js runs first)
      const ids = JSON.parse(sessionStorage.getItem(REMOVED) || "[]");
      ids.push(form.dataset.passkeyRemove);
      sessionStorage.setItem(REMOVED, JSON.stringify(ids));
    });
  }
}

/** Tell the provider what is current; and, for browsers with only signalUnknownCredential,
 *  which passkeys were just removed. */
async function syncProvider() {
  let state;
  try {
    state = await getJSON("/webauthn/signal-state");
  } catch {
    return;
  }
  const removed = JSON.parse(sessionStorage.getItem(REMOVED) || "[]");
  sessionStorage.removeItem(REMOVED);
  for (const id of removed) {
    if (!state.allAcceptedCredentialIds.includes(id)) await signalUnknown(state.rpId, id);
  }
  await signalAccepted(state);
  document.body.dataset.signal = "done";
}

function init() {
  if (!browserSupportsWebAuthn()) return;
  revealJsOnly();
  document.getElementById("add-passkey")?.addEventListener("click", () => add("passkey"));
  document.getElementById("add-security-key")?.addEventListener("click", () => add("security-key"));
  rememberRemovals();
  syncProvider();
}

init();
