// navigator.credentials.create()/get() with JSON in and JSON out: the browser's own
// parseCreationOptionsFromJSON / parseRequestOptionsFromJSON / toJSON (WebAuthn L3 §5.1.8-
// §5.1.10) where it has them, and a small equivalent where it does not.
import { fromBuffer, toBuffer } from "./base64url.js";
import { WebAuthnClientError, identifyCreationError, identifyRequestError } from "./errors.js";

const PKC = () => window.PublicKeyCredential;

export function browserSupportsWebAuthn() {
  return typeof PKC() === "function" && typeof navigator.credentials?.get === "function";
}

/** Conditional mediation ("passkey autofill", §5.1.4 / §5.1.7). */
export async function browserSupportsAutofill() {
  if (!browserSupportsWebAuthn() || typeof PKC().isConditionalMediationAvailable !== "function") return false;
  try {
    return await PKC().isConditionalMediationAvailable();
  } catch {
    return false;
  }
}

function descriptors(list) {
  return (list ?? []).map((d) => ({ ...d, id: toBuffer(d.id) }));
}

export function parseCreationOptions(json) {
  if (typeof PKC().parseCreationOptionsFromJSON === "function") return PKC().parseCreationOptionsFromJSON(json);
  return {
    ...json,
    challenge: toBuffer(json.challenge),
    user: { ...json.user, id: toBuffer(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

export function parseRequestOptions(json) {
  if (typeof PKC().parseRequestOptionsFromJSON === "function") return PKC().parseRequestOptionsFromJSON(json);
  return { ...json, challenge: toBuffer(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

function optional(response, method, encode = (v) => v) {
  if (typeof response[method] !== "function") return undefined;
  const value = response[method]();
  return value === null || value === undefined ? undefined : encode(value);
}

/** PublicKeyCredential.toJSON() (§5.1.8), or the same shape built by hand. */
export function credentialToJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: fromBuffer(r.clientDataJSON) };
  if (r.attestationObject) {
    Object.assign(response, {
      attestationObject: fromBuffer(r.attestationObject),
      authenticatorData: optional(r, "getAuthenticatorData", fromBuffer),
      publicKey: optional(r, "getPublicKey", fromBuffer),
      publicKeyAlgorithm: optional(r, "getPublicKeyAlgorithm"),
      transports: optional(r, "getTransports") ?? [],
    });
  } else {
    Object.assign(response, {
      authenticatorData: fromBuffer(r.authenticatorData),
      signature: fromBuffer(r.signature),
      userHandle: r.userHandle ? fromBuffer(r.userHandle) : null,
    });
  }
  return {
    id: credential.id,
    rawId: fromBuffer(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults(),
    response,
  };
}

function noCredential() {
  return new WebAuthnClientError("ERROR_NO_CREDENTIAL", "The browser returned no passkey. Please try again.");
}

export async function createCredential(optionsJSON, { signal } = {}) {
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey: parseCreationOptions(optionsJSON), signal });
  } catch (error) {
    throw identifyCreationError(error);
  }
  if (!credential) throw noCredential();
  return credentialToJSON(credential);
}

export async function getCredential(optionsJSON, { mediation, signal } = {}) {
  let credential;
  try {
    const request = { publicKey: parseRequestOptions(optionsJSON), signal };
    if (mediation) request.mediation = mediation;
    credential = await navigator.credentials.get(request);
  } catch (error) {
    throw identifyRequestError(error);
  }
  if (!credential) throw noCredential();
  return credentialToJSON(credential);
}
