"""Complete certificate sign-ins through nginx, beside the TLS floor of the same run.

Keystile runs under gunicorn behind nginx, configured by ``keystile proxy-config nginx``
(auto mode, pinned keys), both on loopback. Every operation opens a new TCP connection and
does a full TLS handshake presenting a client certificate (RFC 8446: CertificateRequest,
Certificate, CertificateVerify; no session is ever resumed), then, on that connection:

- **a complete certificate sign-in**: ``GET /login``, which must answer 303 with a new
  ``__Host-keystile-session`` cookie, then ``GET /api/session`` with that cookie, which must
  answer 200 with ``"method":"certificate"``;
- **the floor**: the same handshake and two ``GET /healthz`` (a trivial endpoint of the same
  gunicorn), so the floor pays for the same TLS, the same two proxied requests and the same
  two upstream connections, everything but the sign-in itself.

``sign-ins/s ÷ floor/s`` is the share of the stack's capacity left when each connection
signs in; the target is at least 80% with zero failures. The two are measured in alternating
slices (``--rounds``), so that both see the same background load of a shared machine.
Server CPU per operation is the user+system time of the nginx master and workers and the
gunicorn master and workers, read from /proc, divided by the operations completed.

Usage: python bench/cert_login.py [--duration 10] [--rounds 5] [--clients 2] [--workers 1]
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import ssl
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import interleaved, server_tls
from tests.e2e.proxies import servers
from tests.support.pki import Identity, make_pki

SESSION_COOKIE = "__Host-keystile-session"


def prepare(
    directory: Path, *, port: int, app_port: int
) -> tuple[dict[str, str], str, Identity, Path]:
    """PKI, a migrated database with alice's pinned certificate, and nginx's configuration.

    Returns:
        gunicorn's environment, the nginx configuration, the client identity, the CA file.
    """

    from app import create_app
    from app.db import engine_of

    pki = make_pki(directory / "pki")
    tls_cert, tls_key = server_tls(pki, directory)
    env = {
        "KEYSTILE_ENV": "production",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}",
        "KEYSTILE_INSTANCE_PATH": str(directory / "instance"),
        "KEYSTILE_ORIGIN": f"https://localhost:{port}",
        "KEYSTILE_CERT_HEADER_FORMAT": "nginx",
        "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1",
        "KEYSTILE_CERT_LOGIN": "auto",
    }
    app = create_app({name.removeprefix("KEYSTILE_").lower(): v for name, v in env.items()})
    cli = app.test_cli_runner()
    for args in (
        ["db", "upgrade"],
        ["user", "create", "alice"],
        ["cert", "pin", "alice", str(pki.self_signed.cert_path)],
        [
            "proxy-config",
            "nginx",
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            f"127.0.0.1:{app_port}",
            "--tls-cert",
            str(tls_cert),
            "--tls-key",
            str(tls_key),
            "--prefix",
            str(directory / "nginx"),
        ],
    ):
        result = cli.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"keystile {' '.join(args)}: {result.output}")
    engine_of(app).dispose()
    return env, str(result.stdout), pki.self_signed, pki.ca.cert_path


def connection(port: int, tls: ssl.SSLContext) -> http.client.HTTPSConnection:
    """A new connection; the handshake (full: no session is passed in) happens here."""
    conn = http.client.HTTPSConnection("localhost", port, context=tls, timeout=30)
    conn.connect()
    return conn


def get(
    conn: http.client.HTTPSConnection, path: str, cookie: str = ""
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    resp = conn.getresponse()
    return resp.status, resp, resp.read()


def sign_in(port: int, tls: ssl.SSLContext) -> bool:
    conn = connection(port, tls)
    try:
        status, resp, _ = get(conn, "/login")
        cookies = [
            c.split(";", 1)[0]
            for c in resp.headers.get_all("Set-Cookie") or []
            if c.startswith(SESSION_COOKIE + "=")
        ]
        if status != 303 or not cookies:
            return False
        status, _, body = get(conn, "/api/session", cookies[0])
        return status == 200 and b'"method":"certificate"' in body
    finally:
        conn.close()


def floor(port: int, tls: ssl.SSLContext) -> bool:
    conn = connection(port, tls)
    try:
        return all(get(conn, "/healthz")[0] == 200 for _ in range(2))
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="alternating slices per measurement")
    ap.add_argument("--clients", type=int, default=2, help="concurrent client threads")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn sync workers")
    args = ap.parse_args()
    if servers.binary("nginx") is None:
        raise SystemExit("nginx is not installed (apt install nginx)")

    with tempfile.TemporaryDirectory(prefix="keystile-bench-") as tmp:
        directory = Path(tmp)
        port, app_port = servers.free_ports(2)
        env, config, identity, ca_file = prepare(directory, port=port, app_port=app_port)
        tls = ssl.create_default_context(cafile=str(ca_file))
        tls.load_cert_chain(identity.cert_path, identity.key_path)
        with (
            servers.keystile(env, directory, port=app_port, workers=args.workers, threads=1) as app,
            servers.proxy(
                "nginx", config, port=port, prefix=directory / "nginx", trust=tls
            ) as nginx,
        ):
            app.wait()
            nginx.wait()
            if not (sign_in(port, tls) and floor(port, tls)):  # warm-up, and a sanity check
                raise SystemExit("a warm-up sign-in failed; see the logs in " + tmp)
            base, run = interleaved(
                {
                    "TLS floor (2 x /healthz)": lambda _: floor(port, tls),
                    "certificate sign-in": lambda _: sign_in(port, tls),
                },
                duration=args.duration,
                rounds=args.rounds,
                clients=args.clients,
                server_pids=[nginx.pid, app.pid],
            )
    print(
        f"nginx (worker_processes auto) -> gunicorn ({args.workers} sync worker"
        f"{'s' if args.workers > 1 else ''}), {args.clients} clients, "
        f"{args.duration:.0f} s each in {args.rounds} alternating slices, a new TLS 1.3 "
        "handshake with a client certificate per operation"
    )
    print(base.line())
    print(run.line())
    ratio = run.rate / base.rate if base.rate else 0.0
    verdict = "meets" if ratio >= 0.8 and run.failures == 0 else "misses"
    print(
        f"sign-ins: {ratio:.0%} of the floor, {run.failures} failures "
        f"({verdict} the target: >= 80%, zero failures)"
    )


if __name__ == "__main__":
    main()
