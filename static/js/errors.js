// Errors with a stable `code` and the original `cause`, in the manner of SimpleWebAuthn's
// identifyRegistrationError / identifyAuthenticationError. Browser DOMException names come
// from WebAuthn L3 §5.1.3 (create) and §5.1.4 (get); both reject with NotAllowedError for
// cancel, timeout and "no credential", so they cannot be told apart (on purpose, §14.5.2).

export class WebAuthnClientError extends Error {
  constructor(code, message, cause) {
    super(message, { cause });
    this.name = "WebAuthnClientError";
    this.code = code;
  }
}

/** A refusal from Keystile: `{"error": code, "message": ...}` with a 4xx. */
export class ServerError extends Error {
  constructor(code, message, status, data) {
    super(message);
    this.name = "ServerError";
    this.code = code;
    this.status = status;
    this.data = data ?? {};
  }
}

const SHARED = {
  AbortError: ["ERROR_CEREMONY_ABORTED", "The request was cancelled."],
  SecurityError: ["ERROR_INVALID_DOMAIN",
    "This browser refused passkeys for this address. Open the site at its usual address (https) and try again."],
  UnknownError: ["ERROR_AUTHENTICATOR_GENERAL_ERROR",
    "Your authenticator reported an error. Try again, or use another authenticator."],
  TypeError: ["ERROR_MALFORMED_OPTIONS", "This browser could not read the passkey request. Please reload the page."],
};

const CREATION = {
  ...SHARED,
  NotAllowedError: ["ERROR_CANCELLED_OR_TIMED_OUT",
    "The request was cancelled or timed out. Nothing was added; please try again."],
  InvalidStateError: ["ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED",
    "This authenticator is already registered to your account."],
  NotSupportedError: ["ERROR_NO_SUPPORTED_ALGORITHM",
    "This authenticator does not support the kinds of keys this site accepts."],
  ConstraintError: ["ERROR_AUTHENTICATOR_MISSING_FEATURE",
    "This authenticator cannot store a passkey or verify you (PIN, fingerprint or face). Try another one."],
};

const REQUEST = {
  ...SHARED,
  NotAllowedError: ["ERROR_CANCELLED_OR_TIMED_OUT",
    "Sign-in was cancelled or timed out, or this device has no passkey for this site. Please try again or use another method."],
  InvalidStateError: ["ERROR_UNKNOWN_KEY", "This authenticator holds no passkey for this site."],
  NotSupportedError: ["ERROR_NOT_SUPPORTED", "This browser or authenticator cannot do this kind of sign-in."],
};

function identify(table, error) {
  if (error instanceof WebAuthnClientError) return error;
  const [code, message] = table[error?.name] ?? ["ERROR_UNKNOWN", "Something went wrong with the passkey request. Please try again."];
  return new WebAuthnClientError(code, message, error);
}

export function identifyCreationError(error) {
  return identify(CREATION, error);
}

export function identifyRequestError(error) {
  return identify(REQUEST, error);
}

export function isAbort(error) {
  return error?.code === "ERROR_CEREMONY_ABORTED" || error?.name === "AbortError";
}

/** The sentence to show for any error this code can meet. */
export function messageFor(error) {
  if (error instanceof WebAuthnClientError || error instanceof ServerError) return error.message;
  if (error instanceof TypeError) return "Could not reach the server. Check your connection and try again.";
  return "Something went wrong. Please try again.";
}
