"""What every blueprint shares: who the client is, who is signed in, headers, errors."""
