"""Admin reports, dashboard numbers and audit queries against a real database (SQLite, and
PostgreSQL when configured), with a fixed "now"."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.models import AuditEvent, Credential, Strength, User, UserStatus, utcnow
from app.services import audit_queries, credentials, dashboard, reports
from app.services.audit import SYSTEM
from app.services.audit_queries import AuditFilter, Cursor, ExportFormat
from app.services.reports import UserFilter, UserQuery
from tests.conftest import make_user
from tests.support import factories

NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def people(app: Flask, db: Session) -> dict[str, User]:
    """One user per situation the filters and the funnel tell apart."""
    u = {
        name: make_user(db, app, name, admin=name in {"hana", "rita"})
        for name in ("pat", "carl", "sam", "hana", "rita", "clive", "dora")
    }
    u["cora"] = make_user(db, app, "cora", password=None)
    u["dis"] = make_user(db, app, "dis", password=None)
    u["nobody"] = make_user(db, app, "nobody", password=None)
    factories.certificate(db, u["carl"], not_after=utcnow() + timedelta(days=10))
    factories.certificate(db, u["cora"])
    factories.certificate(db, u["sam"])
    factories.passkey(db, u["sam"], synced=True)
    factories.passkey(db, u["hana"], synced=False, attested=True)
    factories.passkey(db, u["rita"], synced=False)
    factories.passkey(db, u["clive"], synced=True, clone_flagged=True)
    factories.certificate(db, u["dis"])
    u["dis"].status = UserStatus.DISABLED
    u["dora"].last_sign_in_at = utcnow() - timedelta(days=100)
    db.commit()
    return u


def names(db: Session, flt: UserFilter, search: str = "", roles: tuple[str, ...] = ()) -> list[str]:
    page = reports.users_page(
        db, UserQuery(search=search, filter=flt, limit=100), now=utcnow(), hardware_roles=roles
    )
    return [row.user.username for row in page.rows]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (
            UserFilter.ALL,
            ["carl", "clive", "cora", "dis", "dora", "hana", "nobody", "pat", "rita", "sam"],
        ),
        (UserFilter.PASSWORD_ONLY, ["dora", "pat"]),
        (UserFilter.CERTIFICATE_NO_HARDWARE_KEY, ["carl", "cora", "dis", "sam"]),
        (UserFilter.DEPENDS_ON_CERTIFICATE, ["carl", "cora", "dis"]),
        (UserFilter.CERTIFICATE_EXPIRING, ["carl"]),
        (UserFilter.CLONE_FLAGGED, ["clive"]),
        (UserFilter.DISABLED, ["dis"]),
    ],
)
def test_user_filters(
    db: Session, people: dict[str, User], flt: UserFilter, expected: list[str]
) -> None:
    assert names(db, flt) == expected


def test_dormant_filter_counts_creation_for_those_who_never_signed_in(
    db: Session, people: dict[str, User]
) -> None:
    assert names(db, UserFilter.DORMANT) == ["dora"]
    people["nobody"].created_at = utcnow() - timedelta(days=120)
    db.commit()
    assert names(db, UserFilter.DORMANT) == ["dora", "nobody"]


def test_hardware_key_policy_filter(db: Session, people: dict[str, User]) -> None:
    assert names(db, UserFilter.HARDWARE_KEY_POLICY) == []  # no rule configured
    assert names(db, UserFilter.HARDWARE_KEY_POLICY, roles=("admin",)) == ["rita"]


def test_search_is_case_insensitive_and_literal(db: Session, people: dict[str, User]) -> None:
    assert names(db, UserFilter.ALL, "CAR") == ["carl"]
    assert names(db, UserFilter.ALL, "pat@example") == ["pat"]
    assert names(db, UserFilter.ALL, "%") == [] and names(db, UserFilter.ALL, "_") == []
    assert names(db, UserFilter.PASSWORD_ONLY, "a") == ["dora", "pat"]


def test_keyset_pages_forward_and_back(db: Session, people: dict[str, User]) -> None:
    seen, after, pages = [], None, []
    while True:
        page = reports.users_page(db, UserQuery(after=after, limit=3), now=utcnow())
        pages.append(page)
        seen += [r.user.username for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(seen) and len(seen) == 10 and len(pages) == 4
    assert pages[0].prev_before is None and pages[1].prev_before == "dis"
    back = reports.users_page(db, UserQuery(before=pages[2].prev_before, limit=3), now=utcnow())
    assert [r.user.username for r in back.rows] == [r.user.username for r in pages[1].rows]
    assert back.next_after == pages[1].next_after == "hana" and back.prev_before == "dis"
    first = reports.users_page(db, UserQuery(before=back.prev_before, limit=3), now=utcnow())
    assert [r.user.username for r in first.rows] == ["carl", "clive", "cora"]
    assert first.prev_before is None


def test_badges_by_strength(db: Session, people: dict[str, User]) -> None:
    page = reports.users_page(db, UserQuery(limit=100), now=utcnow())
    labels = {r.user.username: [b.label for b in r.badges] for r in page.rows}
    assert labels["sam"] == ["password", "certificate file", "synced passkey"]
    assert labels["hana"] == ["password", "attested hardware key"]
    # a device-bound passkey whose attestation proved nothing is not called hardware
    assert labels["rita"] == ["password", "device-bound key"]
    assert labels["nobody"] == []
    rows = {r.user.username: r for r in page.rows}
    assert rows["clive"].clone_flagged and not rows["sam"].clone_flagged
    assert rows["carl"].earliest_certificate_expiry is not None
    assert rows["sam"].strongest is Strength.SYNCED_PASSKEY and rows["nobody"].strongest is None


def test_revoked_credentials_do_not_count(db: Session, people: dict[str, User]) -> None:
    cred = next(c for c in people["sam"].credentials if c.kind.value == "passkey")
    credentials.remove(db, cred, client=SYSTEM, now=utcnow())
    assert "sam" in names(db, UserFilter.DEPENDS_ON_CERTIFICATE)


def test_population_funnel_and_policies(db: Session, people: dict[str, User]) -> None:
    pop = dashboard.population(db, hardware_roles=("admin", "no-such-role"))
    assert pop.active_users == 9  # dis is disabled
    assert pop.funnel == {
        None: 1,
        Strength.PASSWORD: 2,
        Strength.CERTIFICATE: 2,
        Strength.SYNCED_PASSKEY: 2,
        Strength.DEVICE_KEY: 1,
        Strength.HARDWARE_KEY: 1,
    }
    assert (pop.certificate_holders, pop.certificate_dependent, pop.certificate_only) == (3, 2, 1)
    assert [(r.role, r.users, r.missing) for r in pop.hardware_roles] == [("admin", 2, 1)]
    assert pop.live_credentials == {
        Strength.PASSWORD: 7,
        Strength.CERTIFICATE: 4,
        Strength.SYNCED_PASSKEY: 2,
        Strength.DEVICE_KEY: 1,
        Strength.HARDWARE_KEY: 1,
    }


def test_credential_mix_walks_back_from_today(app: Flask, db: Session) -> None:
    user = make_user(db, app, "mia")
    cert = factories.certificate(db, user)
    key = factories.passkey(db, user, synced=False)
    pw = next(c for c in user.credentials if c.kind.value == "password")
    day = timedelta(days=1)
    pw.created_at = NOW - 30 * day
    cert.created_at, cert.revoked_at = NOW - 3 * day, NOW - 1 * day
    key.created_at = NOW - 2 * day
    db.commit()
    current = dashboard.population(db).live_credentials
    mix = dashboard.credential_mix(db, now=NOW, days=5, current=current)
    assert [d.isoformat() for d in mix.days] == [
        "2030-01-06",
        "2030-01-07",
        "2030-01-08",
        "2030-01-09",
        "2030-01-10",
    ]
    assert mix.series["password"] == [1, 1, 1, 1, 1]
    assert mix.series["certificate file"] == [0, 1, 1, 0, 0]
    assert mix.series["device-bound key"] == [0, 0, 1, 1, 1]
    assert mix.series["attested hardware key"] == [0, 0, 0, 0, 0]


def _event(
    db: Session,
    tag: str,
    when: datetime,
    *,
    method: str | None = None,
    reason: str | None = None,
    outcome: str = "success",
    **kw: object,
) -> AuditEvent:
    row = AuditEvent(
        tag=tag,
        created_at=when,
        method=method,
        reason=reason,
        outcome=outcome,
        **{"details": {}, **kw},
    )
    db.add(row)
    return row


def test_sign_ins_and_failures_per_day(db: Session) -> None:
    day = timedelta(days=1)
    for when, tag in [
        (NOW, "auth:password:success"),
        (NOW, "auth:password:success"),
        (NOW - day, "auth:passkey:success"),
        (NOW - 9 * day, "auth:passkey:success"),
        (NOW, "auth:logout"),
    ]:
        _event(db, tag, when, method=tag.split(":")[1])
    for reason, n in (("wrong_password", 3), ("unknown_user", 1)):
        for _ in range(n):
            _event(
                db,
                "auth:password:failure",
                NOW,
                method="password",
                reason=reason,
                outcome="failure",
            )
    _event(
        db,
        "auth:passkey:failure",
        NOW - 20 * day,
        method="passkey",
        reason="cancelled",
        outcome="failure",
    )
    db.commit()
    series = dashboard.sign_ins_per_method(db, now=NOW, days=3)
    assert series.series["password"] == [0, 0, 2]
    assert series.series["passkey"] == [0, 1, 0]
    assert series.series["certificate"] == [0, 0, 0]
    failures = dashboard.failures_by_reason(db, now=NOW, days=7)
    assert [(f.label, f.count) for f in failures] == [
        ("password: wrong_password", 3),
        ("password: unknown_user", 1),
    ]


def test_credentials_report(db: Session, people: dict[str, User]) -> None:
    rows = {r["username"]: r for r in reports.credentials_report(db, batch=2)}
    assert list(rows) == sorted(rows)
    assert rows["sam"]["by_kind"] == {"password": 1, "certificate": 1, "passkey": 1}
    assert rows["sam"]["strongest"] == "synced_passkey"
    assert rows["hana"]["by_strength"]["hardware_key"] == 1
    assert rows["rita"]["by_strength"]["device_key"] == 1
    assert rows["rita"]["strongest"] == "device_key" and rows["rita"]["by_kind"]["passkey"] == 1
    assert rows["nobody"]["strongest"] is None and rows["nobody"]["by_kind"]["password"] == 0
    assert rows["carl"]["earliest_certificate_expiry"].startswith(
        (utcnow() + timedelta(days=10)).date().isoformat()
    )
    assert rows["pat"]["earliest_certificate_expiry"] is None


# -- audit queries ---------------------------------------------------------------------------


def test_audit_page_keyset_breaks_ties(db: Session) -> None:
    for _ in range(5):
        _event(db, "auth:password:success", NOW, method="password")
    _event(db, "auth:password:success", NOW - timedelta(seconds=1), method="password")
    db.commit()
    flt = AuditFilter(tag="auth:password:success")
    first = audit_queries.page(db, flt, limit=4)
    assert first.next_cursor is not None
    cursor = Cursor.decode(first.next_cursor.encode())
    rest = audit_queries.page(db, flt, after=cursor, limit=4)
    ids = [r.event.id for r in first.rows + rest.rows]
    assert len(ids) == 6 == len(set(ids)) and rest.next_cursor is None
    assert rest.rows[-1].event.created_at == NOW - timedelta(seconds=1)


def test_audit_filter_by_user_includes_what_they_did(
    db: Session, app: Flask, people: dict[str, User]
) -> None:
    _event(db, "admin:action", NOW, actor_id=people["hana"].id, user_id=people["pat"].id)
    _event(
        db,
        "auth:password:failure",
        NOW,
        user_id=people["pat"].id,
        outcome="failure",
        method="password",
    )
    db.commit()
    about_hana = audit_queries.page(db, AuditFilter(username="HANA"), limit=100).rows
    assert "admin:action" in {r.event.tag for r in about_hana}
    assert audit_queries.page(db, AuditFilter(username="nosuchuser")).rows == []
    failures = audit_queries.page(db, AuditFilter(username="pat", outcome="failure")).rows
    assert [r.event.tag for r in failures] == ["auth:password:failure"]
    window = AuditFilter(since=NOW, until=NOW + timedelta(seconds=1))
    assert len(audit_queries.page(db, window).rows) == 2


@pytest.mark.parametrize(
    ("raw", "end", "expected"),
    [
        ("", False, None),
        ("2030-01-10", False, datetime(2030, 1, 10, tzinfo=UTC)),
        ("2030-01-10", True, datetime(2030, 1, 11, tzinfo=UTC)),
        ("2030-01-10T05:06", True, datetime(2030, 1, 10, 5, 6, tzinfo=UTC)),
        ("2030-01-10T05:06+02:00", False, datetime(2030, 1, 10, 3, 6, tzinfo=UTC)),
    ],
)
def test_parse_bound(raw: str, end: bool, expected: datetime | None) -> None:
    assert audit_queries.parse_bound(raw, end=end) == expected


@pytest.mark.parametrize("raw", ["", "garbage", "2030-01-10~x", "~5", "2030-01-10~5", "x" * 500])
def test_cursor_decode_refuses_garbage(raw: str) -> None:
    assert Cursor.decode(raw) is None


HOSTILE = [
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\rx",
    '<script>alert("x")</script>',
    'a,b"c\nd',
]


def test_csv_export_defuses_formulas_and_quotes(db: Session, app: Flask) -> None:
    user = make_user(db, app, "eve")
    for agent in HOSTILE:
        _event(
            db,
            "auth:password:failure",
            NOW,
            user_id=user.id,
            user_agent=agent,
            method="password",
            outcome="failure",
            reason="wrong_password",
        )
    db.commit()
    text = "".join(
        audit_queries.export(
            db, AuditFilter(username="eve", tag="auth:password:failure"), ExportFormat.CSV
        )
    )
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    agents = [r["user_agent"] for r in rows]
    # a carriage return is shown as text (app.services.text), and then starts no formula
    assert agents == [
        "\\u000dx" if a == "\rx" else "'" + a if a[0] in "=+-@\t" else a for a in HOSTILE
    ]
    assert all(r["username"] == "eve" for r in rows)


def test_jsonl_export_round_trips(db: Session, app: Flask) -> None:
    user = make_user(db, app, "eve")
    _event(
        db,
        "auth:password:failure",
        NOW,
        user_id=user.id,
        user_agent=HOSTILE[0],
        outcome="failure",
        details={"k": "<v>"},
    )
    db.commit()
    lines = "".join(
        audit_queries.export(db, AuditFilter(username="eve"), ExportFormat.JSONL)
    ).splitlines()
    items = [json.loads(line) for line in lines]
    last = items[-1]
    assert last["user_agent"] == HOSTILE[0] and last["details"] == {"k": "<v>"}
    assert last["created_at"] == NOW.isoformat() and last["username"] == "eve"
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)


def test_export_chunks_stay_small() -> None:
    rows = ({c: "x" * 10 for c in audit_queries.COLUMNS} for _ in range(2000))
    chunks = list(audit_queries.to_csv(rows, chunk_rows=100))
    assert len(chunks) == 21 and max(len(c) for c in chunks) < 100 * 200
    assert list(audit_queries.to_jsonl(iter([]))) == []


def test_credential_strength_flag_is_computed_by_the_database(
    db: Session, people: dict[str, User]
) -> None:
    flags = {
        (c.user.username, c.kind.value): c.strength_flag
        for c in db.query(Credential).filter(Credential.revoked_at.is_(None))
    }
    assert flags[("pat", "password")] == 1 and flags[("cora", "certificate")] == 2
    assert flags[("sam", "passkey")] == 4 and flags[("rita", "passkey")] == 8
    assert flags[("hana", "passkey")] == 16
