// One WebAuthn ceremony at a time: starting one aborts the one before (e.g. the autofill
// request when the user presses "Sign in with a passkey"), as WebAuthn L3 §5.6 allows.

let controller = null;

export function newCeremonySignal() {
  cancelCeremony();
  controller = new AbortController();
  return controller.signal;
}

export function cancelCeremony() {
  if (!controller) return;
  const reason = new Error("Cancelled: another passkey request started.");
  reason.name = "AbortError";
  controller.abort(reason);
  controller = null;
}
