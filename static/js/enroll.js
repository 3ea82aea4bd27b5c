// Enrolment link: create a passkey instead of choosing a password.
import { appUrl } from "./csrf.js";
import { messageFor } from "./errors.js";
import { register } from "./passkeys.js";
import { revealJsOnly, say } from "./ui.js";
import { browserSupportsWebAuthn } from "./webauthn-client.js";

const button = document.getElementById("enrol-passkey-button");
const status = document.getElementById("enrol-passkey-status");

async function enrol() {
  const base = `/webauthn/enrol/${encodeURIComponent(button.dataset.token)}`;
  say(status, "Follow your browser's instructions to create a passkey.");
  button.disabled = true;
  try {
    const result = await register({ options: `${base}/options`, verify: `${base}/verify` });
    say(status, "Your passkey is set up.", "success");
    window.location.assign(result.redirect || appUrl("/account"));
  } catch (error) {
    say(status, messageFor(error), "error");
    button.disabled = false;
  }
}

if (button && browserSupportsWebAuthn()) {
  revealJsOnly();
  button.addEventListener("click", enrol);
}
