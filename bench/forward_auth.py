"""Forward-auth checks through nginx ``auth_request``, beside the floor of the same run.

nginx (TLS, ``ssl_verify_client optional_no_ca``) serves a protected location whose every
request nginx first checks with ``auth_request``; the page itself is answered by nginx (no
upstream), so an operation is one client request and one check. The client keeps its TLS
connection open (keep-alive), so no handshake is measured. Operations:

- **floor**: the same ``auth_request`` subrequest (same headers, cookie included) to a bare
  WSGI callable answering 200 (``bench/_bare.py``) under the same gunicorn settings;
- **signed-in cookie**: Keystile's gate with a password session's cookie;
- **pinned certificate**: the connection presents alice's pinned self-signed certificate,
  no cookie: a sign-in on the spot at every check;
- **1,000 rules**: the cookie check again, against a Keystile whose rules file has 1,000
  rules (the matching one last) beside one with 10, either all on the checked host (999
  path prefixes: the path index skips them) or on 999 other hosts (the host index does).

Each Keystile and the floor run one gunicorn worker (``--workers``) of one thread, sync by
default (``--worker-class gthread``: Keystile's production class), all started by one helper
with the checkout's ``gunicorn.conf.py``; measurements alternate in slices (``--rounds``) so
that all see the same background load of a shared machine. The target (issue 12): each
check at least 60 % of the floor per worker, zero failures; 1,000 rules at most 10 % dearer
than 10.
``--profile N`` instead runs N checks in-process under cProfile and prints where the time
goes (``--profile-kind cookie|certificate``).

Usage: python bench/forward_auth.py [--duration 10] [--rounds 5] [--clients 2] [--workers 1]
       [--worker-class sync|gthread]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import secrets
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._bare import PASSWORD
from bench._harness import Run, gunicorn, interleaved, server_tls
from tests.e2e.proxies import servers
from tests.support.pki import Pki, make_pki

SESSION_COOKIE = "__Host-keystile-session"
#: rules files: name -> (rules before the matching one, on the checked host or others)
RULES = {"10": (9, True), "1000-same-host": (999, True), "1000-other-hosts": (999, False)}

NGINX = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://127.0.0.1:{keystile_port};
        }}
        # The page, once the check allowed it: answered by nginx itself.
        location @allowed {{
            return 200 "ok\\n";
        }}
{locations}
    }}
}}
"""

LOCATION = """
        location /{name}/ {{
            auth_request /_check/{name};
            try_files /nonexistent @allowed;
        }}
        location = /_check/{name} {{
            internal;
            proxy_pass http://127.0.0.1:{upstream}/api/authz/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}"""


def rules_file(path: Path, before: int, same_host: bool) -> Path:
    """``before`` rules that do not match, then the one that does (any sign-in)."""
    lines = ['default = "deny"']
    for i in range(before):
        host = "localhost" if same_host else f"h{i}.example.net"
        lines += [
            "[[rule]]",
            f'hosts = ["{host}"]',
            f'paths = ["/p{i}/"]',
            'require = { strength = "hardware-key" }',
        ]
    lines += ["[[rule]]", 'hosts = ["localhost"]', 'require = { strength = "password" }']
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare(directory: Path, *, port: int) -> tuple[dict[str, str], str, Path, Path, Pki]:
    """A migrated database with alice (a password and a pinned certificate), a password
    session, the TLS files.

    Returns:
        gunicorn's environment, the session cookie, the server certificate and key, and
        the PKI (alice's certificate is its ``self_signed``).
    """
    from sqlalchemy import select

    from app import create_app
    from app.db import engine_of, get_db
    from app.models import Credential, CredentialKind, User, utcnow
    from app.services import sessions
    from app.services.audit import Client
    from app.web.context import session_timeouts

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
        "KEYSTILE_ACCESS_RULES": str(rules_file(directory / "rules-10.toml", 9, True)),
    }
    app = create_app({name.removeprefix("KEYSTILE_").lower(): v for name, v in env.items()})
    cli = app.test_cli_runner()
    for args, given in (
        (["db", "upgrade"], None),
        (["user", "create", "alice", "--password-stdin"], PASSWORD + "\n"),
        (["cert", "pin", "alice", str(pki.self_signed.cert_path)], None),
    ):
        result = cli.invoke(args=args, input=given)
        if result.exit_code != 0:
            raise SystemExit(f"keystile {' '.join(args)}: {result.output}")
    with app.app_context():
        db = get_db()
        alice = db.scalars(select(User).where(User.username == "alice")).one()
        password = db.scalars(
            select(Credential).where(
                Credential.user_id == alice.id, Credential.kind == CredentialKind.PASSWORD
            )
        ).one()
        opened = sessions.start(
            db,
            user=alice,
            credential=password,
            method="password",
            client=Client(),
            now=utcnow(),
            timeouts=session_timeouts(),
        )
        db.commit()
    engine_of(app).dispose()
    return env, f"{SESSION_COOKIE}={opened.secret}", tls_cert, tls_key, pki


class Connections:
    """One kept-alive TLS connection per client thread and kind (with or without the
    client certificate), opened again if nginx or the network drops it."""

    def __init__(self, port: int, contexts: dict[str, ssl.SSLContext]) -> None:
        self.port, self.contexts = port, contexts
        self.local = threading.local()

    def get(self, kind: str, path: str, cookie: str = "") -> bool:
        conns: dict[str, http.client.HTTPSConnection] = self.local.__dict__.setdefault("conns", {})
        conn = conns.get(kind)
        if conn is None:
            conn = conns[kind] = http.client.HTTPSConnection(
                "localhost", self.port, context=self.contexts[kind], timeout=30
            )
        try:
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conns.pop(kind, None)
            raise
        return resp.status == 200 and body == b"ok\n"


@contextlib.contextmanager
def started(
    directory: Path,
    env: dict[str, str],
    *,
    port: int,
    workers: int,
    worker_class: str,
    tls_cert: Path,
    tls_key: Path,
    trust: ssl.SSLContext,
) -> Iterator[tuple[dict[str, int], list[int]]]:
    """Every Keystile (one per rules file), the bare floor and nginx; yields the upstream
    port of each location and the process ids whose CPU is counted."""
    ports: dict[str, int] = {}
    pids: list[int] = []
    with contextlib.ExitStack() as stack:
        # Every upstream through one helper (bench._harness.gunicorn), so that Keystile and
        # the floor run under the same gunicorn settings by construction.
        upstreams = {"floor": ({}, "bench._bare:raw")}
        for name, (before, same_host) in RULES.items():
            rules = rules_file(directory / f"rules-{name}.toml", before, same_host)
            upstreams[name] = ({**env, "KEYSTILE_ACCESS_RULES": str(rules)}, "app:create_app()")
        for name, (upstream_env, app) in upstreams.items():
            ports[name], pid = stack.enter_context(
                gunicorn(upstream_env, workers=workers, app=app, worker_class=worker_class)
            )
            pids.append(pid)
        locations = "".join(
            LOCATION.format(name=name, upstream=upstream) for name, upstream in ports.items()
        )
        config = NGINX.format(
            prefix=directory / "nginx",
            port=port,
            cert=tls_cert,
            key=tls_key,
            keystile_port=ports["10"],
            locations=locations,
        )
        nginx = stack.enter_context(
            servers.proxy("nginx", config, port=port, prefix=directory / "nginx", trust=trust)
        )
        nginx.wait()
        yield ports, [nginx.pid, *pids]


def in_process_check(
    env: dict[str, str], cookie: str, certificate: Path, kind: str, *, rules: Path | None = None
) -> Callable[[], None]:
    """One check of ``kind`` (``cookie``, ``certificate``: the pinned one in the PEM file
    ``certificate``, or ``bare``: the same request to the floor's WSGI callable) through
    Werkzeug's test client, as nginx sends it; raises unless it is allowed. ``rules``:
    another rules file than ``env``'s."""
    from urllib.parse import quote

    from werkzeug.test import Client

    from app import create_app
    from bench._bare import raw

    if rules is not None:
        env = {**env, "KEYSTILE_ACCESS_RULES": str(rules)}
    headers = {"X-Original-URL": "https://localhost:8443/10/x", "X-Original-Method": "GET"}
    if kind == "certificate":
        # as nginx forwards it: $ssl_client_escaped_cert and $ssl_client_verify
        pem = certificate.read_text()
        headers["X-SSL-Client-Cert"] = quote(pem, safe="")
        headers["X-SSL-Client-Verify"] = "FAILED:self-signed certificate"
    else:
        headers["Cookie"] = cookie
    wsgi = (
        raw
        if kind == "bare"
        else create_app({name.removeprefix("KEYSTILE_").lower(): v for name, v in env.items()})
    )
    client = Client(wsgi, use_cookies=False)

    def check() -> None:
        resp = client.get(
            "/api/authz/auth-request", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}
        )
        if resp.status_code != 200:
            raise SystemExit(f"a {kind} check answered {resp.status_code}")

    return check


def profile(count: int, kind: str) -> None:
    """``count`` checks of ``kind`` (``cookie`` or ``certificate``) through Flask's test
    client under cProfile."""
    import cProfile
    import pstats

    with tempfile.TemporaryDirectory(prefix="keystile-bench-") as tmp:
        env, cookie, _, _, pki = prepare(Path(tmp), port=8443)
        check = in_process_check(env, cookie, pki.self_signed.cert_path, kind)
        for _ in range(200):
            check()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(count):
            check()
        prof.disable()
        stats = pstats.Stats(prof)
        print(
            f"{count} {kind} checks in-process (Flask test client, SQLite): "
            f"{stats.total_tt * 1000 / count:.3f} ms each under cProfile"
        )  # type: ignore[attr-defined]
        stats.sort_stats("cumulative").print_stats(12)  # the framework, outside in
        stats.sort_stats("cumulative").print_stats(r"/app/", 30)  # Keystile's own
        stats.sort_stats("tottime").print_stats(20)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="alternating slices per measurement")
    ap.add_argument("--clients", type=int, default=2, help="concurrent client threads")
    ap.add_argument("--workers", type=int, default=1, help="gunicorn workers each")
    ap.add_argument(
        "--worker-class",
        choices=["sync", "gthread"],
        default="sync",
        help="gunicorn's worker class for Keystile and the floor alike, one thread each "
        "(gthread: Keystile's production default, app/gunicorn_conf.py)",
    )
    ap.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="profile N in-process checks instead",
    )
    ap.add_argument(
        "--profile-kind",
        choices=["cookie", "certificate"],
        default="cookie",
        help="what --profile checks: a signed-in cookie or a pinned certificate",
    )
    args = ap.parse_args()
    if args.profile:
        profile(args.profile, args.profile_kind)
        return
    if servers.binary("nginx") is None:
        raise SystemExit("nginx is not installed (apt install nginx)")

    with tempfile.TemporaryDirectory(prefix="keystile-bench-") as tmp:
        directory = Path(tmp)
        (port,) = servers.free_ports(1)
        env, cookie, tls_cert, tls_key, pki = prepare(directory, port=port)
        plain = ssl.create_default_context(cafile=str(pki.ca.cert_path))
        with_cert = ssl.create_default_context(cafile=str(pki.ca.cert_path))
        with_cert.load_cert_chain(pki.self_signed.cert_path, pki.self_signed.key_path)
        conns = Connections(port, {"plain": plain, "cert": with_cert})
        ops: dict[str, Callable[[int], bool]] = {
            "floor (bare WSGI 200)": lambda _: conns.get("plain", "/floor/x", cookie),
            "signed-in cookie": lambda _: conns.get("plain", "/10/x", cookie),
            "pinned certificate": lambda _: conns.get("cert", "/10/x"),
            "cookie, 1,000 rules same host": lambda _: conns.get(
                "plain", "/1000-same-host/x", cookie
            ),
            "cookie, 1,000 rules other hosts": lambda _: conns.get(
                "plain", "/1000-other-hosts/x", cookie
            ),
        }
        with started(
            directory,
            env,
            port=port,
            workers=args.workers,
            worker_class=args.worker_class,
            tls_cert=tls_cert,
            tls_key=tls_key,
            trust=plain,
        ) as (_, pids):
            for label, op in ops.items():  # warm-up, and a sanity check
                if not all(op(0) for _ in range(20)):
                    raise SystemExit(f"a warm-up check failed ({label}); see the logs in {tmp}")
            runs = interleaved(
                ops,
                duration=args.duration,
                rounds=args.rounds,
                clients=args.clients,
                server_pids=pids,
            )
    report(runs, args)


def report(runs: list[Run], args: argparse.Namespace) -> None:
    base, cookie, cert, same, others = runs
    print(
        f"nginx auth_request (1 worker, TLS kept alive) -> gunicorn ({args.workers} "
        f"{args.worker_class} "
        f"worker{'s' if args.workers > 1 else ''} each), {args.clients} clients, "
        f"{args.duration:.0f} s each in {args.rounds} alternating slices"
    )
    for run in runs:
        print(run.line())
    for run in (cookie, cert):
        ratio = run.rate / base.rate if base.rate else 0.0
        verdict = "meets" if ratio >= 0.6 and run.failures == 0 else "misses"
        print(
            f"{run.label}: {ratio:.1%} of the floor, {run.failures} failures "
            f"({verdict} the target: >= 60%, zero failures)"
        )
    for run in (same, others):
        extra = cookie.rate / run.rate - 1 if run.rate else float("inf")
        cpu = run.cpu_ms_per_op / cookie.cpu_ms_per_op - 1 if cookie.cpu_ms_per_op else 0.0
        verdict = "meets" if extra <= 0.10 else "misses"
        print(
            f"{run.label}: {extra:+.1%} time per check against 10 rules "
            f"(server CPU {cpu:+.1%}; {verdict} the target: at most +10%)"
        )


if __name__ == "__main__":
    main()
