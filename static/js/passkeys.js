// The ceremonies as the pages use them: options from Keystile, the browser's
// create()/get(), the result back to Keystile, and the Signal API on the way out.
import { newCeremonySignal } from "./abort.js";
import { postJSON } from "./csrf.js";
import { ServerError } from "./errors.js";
import { signalAccepted, signalUnknown } from "./signal.js";
import { createCredential, getCredential } from "./webauthn-client.js";

/** Register a new credential: `options`/`verify` are the endpoint URLs. */
export async function register({ options, verify, kind = "passkey", label = "" }) {
  const signal = newCeremonySignal();
  const creationOptions = await postJSON(options, { kind });
  const credential = await createCredential(creationOptions, { signal });
  const result = await postJSON(verify, label ? { ...credential, label } : credential);
  await signalAccepted(result.signal);
  return result;
}

/**
 * Sign in. No username: a discoverable credential (button, or autofill with
 * `mediation: "conditional"`). A username: its security keys via allowCredentials.
 */
export async function signIn({ username = null, mediation } = {}) {
  const signal = newCeremonySignal();
  const requestOptions = await postJSON("/webauthn/login/options", username ? { username } : {});
  const credential = await getCredential(requestOptions, { mediation, signal });
  let result;
  try {
    result = await postJSON("/webauthn/login/verify", credential);
  } catch (error) {
    if (error instanceof ServerError && error.code === "unknown_credential") {
      await signalUnknown(error.data.rpId, error.data.credentialId);
    }
    error.afterChoice = true; // the person picked a credential: theirs to hear about
    throw error;
  }
  await signalAccepted(result.signal);
  return result;
}
