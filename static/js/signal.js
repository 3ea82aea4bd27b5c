// The WebAuthn Signal API (L3 §5.1.10-§5.1.12): tell the user's passkey provider which
// credentials still exist and what the account is called. Feature-detected; never fails.

const PKC = () => window.PublicKeyCredential;

function can(method) {
  return typeof PKC() === "function" && typeof PKC()[method] === "function";
}

async function quietly(calls) {
  await Promise.allSettled(calls.map((call) => Promise.resolve().then(call)));
}

/** After sign-in and on the account page: the live passkeys and current names. */
export async function signalAccepted(state) {
  if (!state) return;
  const calls = [];
  if (can("signalAllAcceptedCredentials")) {
    calls.push(() => PKC().signalAllAcceptedCredentials({
      rpId: state.rpId, userId: state.userId, allAcceptedCredentialIds: state.allAcceptedCredentialIds,
    }));
  }
  if (can("signalCurrentUserDetails")) {
    calls.push(() => PKC().signalCurrentUserDetails({
      rpId: state.rpId, userId: state.userId, name: state.name, displayName: state.displayName,
    }));
  }
  await quietly(calls);
}

/** A credential the server does not know (removed, or never registered here). */
export async function signalUnknown(rpId, credentialId) {
  if (!rpId || !credentialId || !can("signalUnknownCredential")) return;
  await quietly([() => PKC().signalUnknownCredential({ rpId, credentialId })]);
}
