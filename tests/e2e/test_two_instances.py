"""Two Keystile instances behind nginx round robin, on one PostgreSQL and one Redis: what
one instance does, the other honours at the next request (issue 14).

Each test acts on instance A and checks on instance B (or through nginx, which alternates);
the instances are separate gunicorn processes on separate ports, as if on separate machines,
sharing only the database, Redis and the CA directory.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import PASSWORD, PG_URL, require
from tests.e2e.proxies import servers
from tests.support import cluster as clusters
from tests.support.cluster import Cluster
from tests.support.load import SignInLoad, wait_until
from tests.support.soft_authenticator import SoftAuthenticator, SoftCredential, unb64url
from tests.support.web_client import ORIGIN, WebClient

REDIS_URL = os.environ.get("KEYSTILE_TEST_REDIS_URL", "")
PREFIX = re.sub(r"\W", "", os.environ.get("KEYSTILE_TEST_DATABASE_PREFIX", "keystile_test_"))
SESSION = "__Host-keystile-session"


def _require_parts() -> None:
    require(servers.binary("nginx") is not None, "nginx is not installed")
    require(bool(PG_URL), "KEYSTILE_TEST_DATABASE_URL is not set")
    require(bool(REDIS_URL), "KEYSTILE_TEST_REDIS_URL is not set")


GATE_RULES = (
    'default = "deny"\n[[rule]]\nhosts = ["localhost"]\nrequire = { strength = "password" }\n'
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require_parts()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = clusters.fresh_database(PG_URL, f"{PREFIX}two_{worker}")
    work = tmp_path_factory.mktemp("cluster")
    # The gate in front of nginx's /gate/ (tests/support/cluster.py) needs a sign-in there.
    rules = work / "rules.toml"
    rules.write_text(GATE_RULES)
    with clusters.running(
        work,
        database_url=url,
        redis_url=REDIS_URL,
        extra_env={"KEYSTILE_ACCESS_RULES": str(rules)},
    ) as running:
        yield running


@pytest.fixture
def browsers(cluster: Cluster) -> Iterator[Callable[[], WebClient]]:
    made: list[WebClient] = []

    def new() -> WebClient:
        made.append(WebClient(cluster.url))
        return made[-1]

    yield new
    for client in made:
        client.close()


def _user(cluster: Cluster, *, admin: bool = False) -> str:
    name = f"u{secrets.token_hex(4)}"
    cluster.cli(
        "user",
        "create",
        name,
        *(["--admin"] if admin else []),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    return name


def _scalar(cluster: Cluster, sql: str, **params: Any) -> Any:
    engine = sa.create_engine(
        cluster.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text(sql), params)
    finally:
        engine.dispose()


def _user_id(cluster: Cluster, name: str) -> int:
    found = _scalar(cluster, "SELECT id FROM users WHERE username = :n", n=name)
    assert isinstance(found, int)
    return found


def _audited(cluster: Cluster, tag: str, name: str) -> int:
    return int(
        _scalar(
            cluster,
            "SELECT count(*) FROM audit_events e JOIN users u "
            "ON u.id = e.user_id WHERE e.tag = :t AND u.username = :n",
            t=tag,
            n=name,
        )
    )


def _signed_in_on(client: WebClient, cluster: Cluster, name: str) -> WebClient:
    a = cluster.instances[0]
    resp = client.login(name, PASSWORD, base=a.url)
    assert resp.status_code == 303, resp.text
    return client


def _at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Run the calls in threads released together; their responses, in order."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        start.wait()
        results[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_nginx_alternates_between_the_instances(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    client = browsers()
    served = {client.get("/healthz").headers["X-Upstream"] for _ in range(4)}
    assert served == {f"127.0.0.1:{i.port}" for i in cluster.instances}


def test_a_session_opened_on_a_is_valid_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    client = _signed_in_on(browsers(), cluster, _user(cluster))
    assert client.signed_in(base=b.url) and client.signed_in(base=a.url)
    assert all(client.get("/account").status_code == 200 for _ in range(4))  # round robin


def test_signing_out_on_a_is_refused_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    client = _signed_in_on(browsers(), cluster, _user(cluster))
    kept = client.cookies[SESSION]  # a copy of the cookie, replayed after signing out
    token = client.csrf("/account", base=a.url)
    assert client.post("/logout", base=a.url, data={"csrf_token": token}).status_code == 303
    client.cookies[SESSION] = kept
    assert not client.signed_in(base=b.url)
    client.cookies[SESSION] = kept
    assert client.get("/account", base=b.url).status_code in {302, 303}


def test_signing_out_everywhere_on_a_ends_a_session_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    name = _user(cluster)
    laptop = _signed_in_on(browsers(), cluster, name)
    phone = browsers()
    assert phone.login(name, PASSWORD, base=b.url).status_code == 303
    assert phone.signed_in(base=b.url)
    token = laptop.csrf("/account", base=a.url)
    resp = laptop.post("/account/sessions/end-all", base=a.url, data={"csrf_token": token})
    assert resp.status_code == 303
    assert not phone.signed_in(base=b.url)
    assert not phone.signed_in(base=a.url)


def test_signing_out_everywhere_on_a_ends_access_at_the_gate_of_both(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    """A protected site's check (nginx auth_request, round robin over A and B) lets the
    session through while it lives, and refuses it on both at the next request once it is
    ended on A (issue 14 with the gate of issue 12)."""
    a, b = cluster.instances
    name = _user(cluster)
    laptop = _signed_in_on(browsers(), cluster, name)
    phone = browsers()
    assert phone.login(name, PASSWORD, base=b.url).status_code == 303
    checks = [phone.get("/gate/page") for _ in range(4)]
    assert [r.status_code for r in checks] == [200] * 4
    token = laptop.csrf("/account", base=a.url)
    resp = laptop.post("/account/sessions/end-all", base=a.url, data={"csrf_token": token})
    assert resp.status_code == 303
    # nginx sends the checks round robin: four in a row reach both instances
    assert [phone.get("/gate/page").status_code for _ in range(4)] == [401] * 4


def test_disabling_an_account_on_a_ends_its_session_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    admin = _signed_in_on(browsers(), cluster, _user(cluster, admin=True))
    name = _user(cluster)
    user = browsers()
    assert user.login(name, PASSWORD, base=b.url).status_code == 303
    page = f"/admin/users/{_user_id(cluster, name)}"
    token = admin.csrf(page, base=a.url)
    resp = admin.post(f"{page}/disable", base=a.url, data={"csrf_token": token})
    assert resp.status_code == 303, resp.text
    assert not user.signed_in(base=b.url)
    assert user.login(name, PASSWORD, base=b.url).status_code != 303


def test_an_admin_ending_a_session_on_a_is_refused_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    admin = _signed_in_on(browsers(), cluster, _user(cluster, admin=True))
    name = _user(cluster)
    user = browsers()
    assert user.login(name, PASSWORD, base=b.url).status_code == 303
    user_id = _user_id(cluster, name)
    session_id = _scalar(cluster, "SELECT max(id) FROM sessions WHERE user_id = :u", u=user_id)
    page = f"/admin/users/{user_id}"
    token = admin.csrf(page, base=a.url)
    resp = admin.post(f"{page}/sessions/{session_id}/end", base=a.url, data={"csrf_token": token})
    assert resp.status_code == 303, resp.text
    assert not user.signed_in(base=b.url)


def test_an_admin_revoking_a_credential_on_a_ends_its_session_on_b(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    admin = _signed_in_on(browsers(), cluster, _user(cluster, admin=True))
    name = _user(cluster)
    user = browsers()
    assert user.login(name, PASSWORD, base=b.url).status_code == 303
    user_id = _user_id(cluster, name)
    password_id = _scalar(
        cluster, "SELECT id FROM credentials WHERE user_id = :u AND kind = 'password'", u=user_id
    )
    page = f"/admin/users/{user_id}"
    token = admin.csrf(page, base=a.url)
    resp = admin.post(
        f"{page}/credentials/{password_id}/revoke",
        base=a.url,
        data={"csrf_token": token, "reason": "lost laptop"},
    )
    assert resp.status_code == 303, resp.text
    assert not user.signed_in(base=b.url)
    assert user.login(name, PASSWORD, base=b.url).status_code != 303


def _passkey_for(client: WebClient, base: str) -> tuple[SoftAuthenticator, SoftCredential]:
    """Register a passkey for the signed-in ``client`` (as the account page's script does)."""
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    csrf = {"X-CSRFToken": client.csrf("/account", base=base)}
    options = client.post(
        "/webauthn/register/options", base=base, json={"kind": "passkey"}, headers=csrf
    ).json()
    response, credential = authenticator.register(
        challenge=unb64url(options["challenge"]), user_handle=unb64url(options["user"]["id"])
    )
    resp = client.post("/webauthn/register/verify", base=base, json=response, headers=csrf)
    assert resp.status_code == 201, resp.text
    return authenticator, credential


def test_one_passkey_assertion_posted_to_a_and_b_at_once_signs_in_once(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    name = _user(cluster)
    authenticator, credential = _passkey_for(_signed_in_on(browsers(), cluster, name), a.url)
    first = browsers()
    csrf = {"X-CSRFToken": first.csrf(base=a.url)}
    options = first.post("/webauthn/login/options", base=a.url, json={}, headers=csrf).json()
    assertion = authenticator.authenticate(credential, challenge=unb64url(options["challenge"]))
    second = browsers()  # the same browser state, sent twice
    second.cookies = dict(first.cookies)

    def verify(client: WebClient, base: str) -> Callable[[], httpx.Response]:
        return lambda: client.post(
            "/webauthn/login/verify", base=base, json=assertion, headers=csrf
        )

    results = _at_once(verify(first, a.url), verify(second, b.url))
    statuses = sorted(r.status_code for r in results)
    assert statuses[0] == 200 and statuses[1] >= 400, [r.text for r in results]
    assert _audited(cluster, "auth:passkey:success", name) == 1
    winner = (first, second)[[r.status_code for r in results].index(200)]
    assert winner.signed_in(base=a.url) and winner.signed_in(base=b.url)


def test_an_instance_killed_mid_sign_in_the_other_serves(cluster: Cluster) -> None:
    """SIGKILL to A's whole process group under a stream of sign-ins through nginx: what A
    had in hand is lost (nginx answers 502 for a request it had already sent there), every
    later request is served by B, and no half-written sign-in is left."""
    a, _ = cluster.instances
    name = _user(cluster)
    assert a.server is not None
    try:
        with SignInLoad(cluster.url, name) as load:
            wait_until(lambda: load.signed_in >= 4, 60)
            os.killpg(a.server.pid, signal.SIGKILL)
            killed_at = sum(load.statuses.values())
            wait_until(lambda: load.signed_in >= 12, 60)
        after = sum(load.statuses.values()) - killed_at
    finally:
        a.stop()
        a.start()
    assert load.bad == [], load.bad
    # at most the requests in flight when A died were lost; nginx sends the rest to B
    assert load.statuses[502] <= 2 and set(load.statuses) <= {200, 303, 502}, load.statuses
    assert after >= 16
    sessions = _scalar(
        cluster,
        "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = :n",
        n=name,
    )
    assert sessions == _audited(cluster, "auth:password:success", name) >= load.signed_in


def test_a_graceful_reload_under_load_loses_no_request(cluster: Cluster) -> None:
    """gunicorn's HUP starts new workers and lets the old ones finish what they hold."""
    a, _ = cluster.instances
    name = _user(cluster)
    assert a.server is not None
    with SignInLoad(a.url, name) as load:
        wait_until(lambda: load.signed_in >= 3, 60)
        os.kill(a.server.pid, signal.SIGHUP)
        before = load.signed_in
        wait_until(lambda: load.signed_in >= before + 10, 60)
    assert load.bad == [] and set(load.statuses) <= {200, 303}, (load.bad, load.statuses)


def test_failures_spread_over_a_and_b_are_throttled_as_one(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    """The per-account limit (10 a minute by default) counts in Redis: five wrong passwords
    on each instance spend it, and the next try is refused on either."""
    a, b = cluster.instances
    name = _user(cluster)
    client = browsers()
    for n in range(10):
        resp = client.login(name, "not the password", base=(a.url, b.url)[n % 2])
        assert resp.status_code == 401, (n, resp.status_code)  # the form again, with an error
    for instance in (a, b):
        refused = client.login(name, PASSWORD, base=instance.url)
        assert refused.status_code == 429, refused.status_code
        assert int(refused.headers["Retry-After"]) > 0


def test_a_rolling_restart_under_load_loses_no_request(cluster: Cluster) -> None:
    """Each instance in turn stopped (SIGTERM: its workers finish what they hold) and started
    again while sign-ins stream through nginx, which sends new requests to the other."""
    name = _user(cluster)
    with SignInLoad(cluster.url, name) as load:
        for instance in cluster.instances:
            before = load.signed_in
            wait_until(lambda: load.signed_in >= before + 3, 60)  # noqa: B023
            instance.restart()
        before = load.signed_in
        wait_until(lambda: load.signed_in >= before + 3, 60)
    assert load.bad == [] and set(load.statuses) <= {200, 303}, (load.bad, load.statuses)


def test_an_enrolment_link_used_on_a_and_b_at_once_works_once(
    cluster: Cluster, browsers: Callable[[], WebClient]
) -> None:
    a, b = cluster.instances
    name = f"u{secrets.token_hex(4)}"
    out = cluster.cli("user", "create", name).stdout
    match = re.search(r"/enroll/(\S+)", out)
    assert match, out
    path = f"/enroll/{match.group(1)}"
    first, second = browsers(), browsers()
    forms = [
        (first, a.url, first.csrf(path, base=a.url)),
        (second, b.url, second.csrf(path, base=b.url)),
    ]
    password = secrets.token_urlsafe(16)

    def submit(client: WebClient, base: str, token: str) -> Callable[[], httpx.Response]:
        return lambda: client.post(
            path, base=base, data={"password": password, "confirm": password, "csrf_token": token}
        )

    results = _at_once(*(submit(*form) for form in forms))
    assert sorted(r.status_code for r in results) == [303, 404], [r.text for r in results]
    winner = forms[[r.status_code for r in results].index(303)][0]
    assert winner.signed_in(base=a.url) and winner.signed_in(base=b.url)
    listed = cluster.cli("user", "list", "--json").stdout
    assert f'"username": "{name}"' in listed
    assert first.get(path, base=a.url).status_code == 404  # spent everywhere


def _csr() -> tuple[str, str]:
    """A CSR and the SHA-256 of its SubjectPublicKeyInfo (hex)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "me")]))
        .sign(key, hashes.SHA256())
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    return csr.public_bytes(serialization.Encoding.PEM).decode(), digest.finalize().hex()


def test_the_ca_issuing_on_a_and_b_at_once(
    cluster: Cluster, browsers: Callable[[], WebClient], tmp_path: Path
) -> None:
    a, b = cluster.instances
    if not (cluster.workdir / "ca").exists():
        cluster.cli("ca", "init")
    requests = []
    for instance in (a, b):
        client = browsers()
        assert client.login(_user(cluster), PASSWORD, base=instance.url).status_code == 303
        csr, spki = _csr()
        token = client.csrf("/certificate/csr", base=instance.url)
        requests.append((client, instance.url, token, csr, spki))

    def post(
        client: WebClient, base: str, token: str, csr: str, _spki: str
    ) -> Callable[[], httpx.Response]:
        return lambda: client.post(
            "/certificate/csr", base=base, data={"csr": csr, "csrf_token": token}
        )

    issued = _at_once(*(post(*r) for r in requests))
    assert [r.status_code for r in issued] == [200, 200], [r.text for r in issued]
    serials = [x509.load_pem_x509_certificate(r.content).serial_number for r in issued]
    assert serials[0] != serials[1]

    for *_, spki in requests:
        cluster.cli("cert", "revoke", spki)
    crl_path = tmp_path / "crl.pem"
    cluster.cli("ca", "crl", "--out", str(crl_path))
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    assert {r.serial_number for r in crl} >= set(serials)


def test_rotating_the_secret_key_one_instance_at_a_time_logs_nobody_out(tmp_path: Path) -> None:
    """The documented two-step rotation: first every instance learns the new key as a
    fallback, then every instance signs with it and keeps the old one as a fallback; at no
    moment does an instance meet a cookie it cannot read, and a page opened before the
    rotation still posts with its token."""
    _require_parts()
    url = clusters.fresh_database(
        PG_URL, f"{PREFIX}rotate_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    )
    old, new = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
    with clusters.running(
        tmp_path, database_url=url, redis_url=REDIS_URL, extra_env={"KEYSTILE_SECRET_KEY": old}
    ) as cluster:
        name = _user(cluster)
        client = WebClient(cluster.url)
        try:
            assert client.login(name, PASSWORD).status_code == 303
            # a page opened before the rotation: its CSRF token is signed with the old key
            open_page_token = client.csrf("/account")
            cookie_session = client.cookies["__Host-keystile"]
            steps = [
                {"KEYSTILE_SECRET_KEY_FALLBACKS": new},
                {"KEYSTILE_SECRET_KEY": new, "KEYSTILE_SECRET_KEY_FALLBACKS": old},
            ]
            for step in steps:
                for instance in cluster.instances:
                    instance.restart(**step)
                    for other in cluster.instances:
                        assert client.signed_in(base=other.url)
                        page = client.get("/account", base=other.url)
                        assert page.status_code == 200
                        # the cookie session was read, not replaced by a new one
                        assert "__Host-keystile=" not in page.headers.get("set-cookie", "")
                        assert client.cookies["__Host-keystile"] == cookie_session
            # ... still posts once every instance signs with the new key
            resp = client.post("/logout", data={"csrf_token": open_page_token})
            assert resp.status_code == 303, resp.text
            assert not client.signed_in()
        finally:
            client.close()


def _served_by(resp: httpx.Response, instance: clusters.Instance) -> bool:
    return resp.headers["X-Upstream"] == f"127.0.0.1:{instance.port}"


def _next_on(client: WebClient, instance: clusters.Instance, other: clusters.Instance) -> None:
    """Round robin (one nginx worker, this client alone): once ``other`` answered, the next
    request goes to ``instance`` (each test checks where its request did land)."""
    for _ in range(3):
        if _served_by(client.get("/healthz"), other):
            return
    raise AssertionError("nginx does not alternate")


def test_the_sign_out_hold_of_a_presented_certificate_holds_on_b(tmp_path: Path) -> None:
    """Threat model E.23 across instances: a browser that signed out on A while presenting
    its pinned certificate is not signed straight back in by B; it is offered "Continue as
    ...", and only that signs it in again."""
    _require_parts()
    pki, cert, key = clusters.tls_files(tmp_path / "tls")
    url = clusters.fresh_database(PG_URL, f"{PREFIX}two_cert")
    with clusters.running(
        tmp_path / "cluster",
        database_url=url,
        redis_url=REDIS_URL,
        tls=(cert, key),
        extra_env={"KEYSTILE_CERT_LOGIN": "auto"},
    ) as cluster:
        a, b = cluster.instances
        name = _user(cluster)
        cluster.cli("cert", "pin", name, str(pki.self_signed.cert_path))
        tls = ssl.create_default_context(cafile=str(pki.ca.cert_path))
        tls.load_cert_chain(pki.self_signed.cert_path, pki.self_signed.key_path)
        client = WebClient(cluster.tls_url)
        client.http = httpx.Client(verify=tls, timeout=30, follow_redirects=False)
        try:
            _next_on(client, a, b)
            signed_in = client.get("/login")  # auto mode: signed in without a form
            assert _served_by(signed_in, a) and signed_in.status_code == 303
            session = client.get("/api/session")
            assert session.status_code == 200 and session.json()["method"] == "certificate"

            token = client.csrf("/account")
            _next_on(client, a, b)
            out = client.post("/logout", data={"csrf_token": token})
            assert _served_by(out, a) and out.status_code == 303, out.text

            # B, at the next request, with the same certificate still presented: held.
            page = client.get("/login")
            assert _served_by(page, b) and page.status_code == 200
            assert f"Continue as {name} with certificate" in page.text
            refused = client.get("/api/session")
            assert _served_by(refused, a) and refused.status_code == 401
            assert client.get("/api/session").status_code == 401  # B
            assert _audited(cluster, "auth:certificate:success", name) == 1

            # Choosing to continue signs it in again (on whichever instance answers).
            token = client.csrf("/login")
            again = client.post("/certificate/login", data={"csrf_token": token})
            assert again.status_code == 303, again.text
            assert {client.signed_in(), client.signed_in()} == {True}
            assert _audited(cluster, "auth:certificate:success", name) == 2
        finally:
            client.close()
