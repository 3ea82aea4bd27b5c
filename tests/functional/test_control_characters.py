"""Control characters from outside (a certificate subject, a user agent, a passkey's model
name) reach neither the operator's terminal nor an export raw: text shows them as
``\\uXXXX``, JSON escapes them and still decodes to the stored value (app.services.text)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from tests.conftest import AuthActions
from tests.support import factories
from tests.support.admin import admin_signed_in
from tests.support.pki import self_signed_named

#: C0 (ESC starting an ANSI sequence, CR, BEL), DEL and C1 (CSI, OSC, ST, NEL)
HOSTILE = "ev\x1b[2J\ril\x07\x7f\x9b31m\x9d0 t\x9c\x85"
SHOWN = "ev\\u001b[2J\\u000dil\\u0007\\u007f\\u009b31m\\u009d0 t\\u009c\\u0085"
RAW = "\x1b\r\x07\x7f\x9b\x9d\x9c\x85"


def raw_controls(text: str) -> set[str]:
    """The control characters in ``text``, but the CRLF that ends a CSV record."""
    return {ch for ch in text.replace("\r\n", "\n") if ch in RAW}


def test_cert_pin_and_list_show_a_hostile_subject_visibly(
    runner: Any, alice: User, tmp_path: Path
) -> None:
    cert = self_signed_named(HOSTILE)
    path = tmp_path / "hostile.pem"
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    pinned = runner.invoke(args=["cert", "pin", "alice", str(path)])
    assert pinned.exit_code == 0, pinned.output
    listed = runner.invoke(args=["cert", "list", "alice"])
    as_json = runner.invoke(args=["cert", "list", "alice", "--json"])
    for result in (pinned, listed, as_json):
        assert raw_controls(result.output) == set(), repr(result.output)
    assert f"CN={SHOWN}" in pinned.output and f"CN={SHOWN}" in listed.output
    assert json.loads(as_json.output)[0]["subject"].startswith(f"CN={HOSTILE},")


def test_passkey_list_shows_a_hostile_model_name_visibly(
    runner: Any, alice: User, db: Session
) -> None:
    factories.passkey(db, alice, synced=False, model=HOSTILE)
    text = runner.invoke(args=["passkey", "list", "alice"])
    as_json = runner.invoke(args=["passkey", "list", "alice", "--json"])
    assert raw_controls(text.output) == set() and SHOWN in text.output
    assert raw_controls(as_json.output) == set()
    assert json.loads(as_json.output)[0]["model_name"] == HOSTILE


def test_a_hostile_user_agent_is_neutralised_in_every_export(
    runner: Any, client: FlaskClient, alice: User, app: Flask, db: Session
) -> None:
    client.environ_base["HTTP_USER_AGENT"] = f"Mozilla/5.0 {HOSTILE}"
    assert AuthActions(client).login(password="not the password at all").status_code == 401
    csv_out = runner.invoke(args=["audit", "export", "--format", "csv"]).output
    jsonl_out = runner.invoke(args=["audit", "export", "--format", "jsonl"]).output
    admin = app.test_client()
    admin_signed_in(admin, db, app)
    web_csv = admin.get("/admin/audit/export?format=csv").get_data(as_text=True)
    web_jsonl = admin.get("/admin/audit/export?format=jsonl").get_data(as_text=True)
    for text in (csv_out, jsonl_out, web_csv, web_jsonl):
        assert raw_controls(text) == set(), repr(text)
    for text in (csv_out, web_csv):
        agents = [row["user_agent"] for row in csv.DictReader(io.StringIO(text, newline=""))]
        assert f"Mozilla/5.0 {SHOWN}" in agents
    for text in (jsonl_out, web_jsonl):
        agents = [json.loads(line)["user_agent"] for line in text.splitlines()]
        assert f"Mozilla/5.0 {HOSTILE}" in agents
