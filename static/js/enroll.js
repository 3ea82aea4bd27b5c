// Filled in by the passkey work (issue 4).
