"""gunicorn's worker hook: the loaded app's objects leave the cyclic collector's full scans."""

from __future__ import annotations

import gc
import os
import runpy
import subprocess
import sys

import pytest

from app.gunicorn_conf import post_fork, post_worker_init
from app.services.hash_budget import default_slots
from tests.e2e.proxies.servers import ROOT


def test_a_worker_freezes_what_the_loaded_app_holds() -> None:
    assert gc.get_freeze_count() == 0
    try:
        post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000  # the interpreter, pytest and Keystile's modules
    finally:
        gc.unfreeze()


def test_gunicorn_started_in_the_checkout_reads_keystiles_settings() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "app:create_app()"],
        cwd=ROOT,
        env={
            **os.environ,
            "KEYSTILE_ENV": "testing",
            "KEYSTILE_SECRET_KEY": "t" * 48,
            "KEYSTILE_DATABASE_URL": "sqlite://",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    settings = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(" = ") for line in shown.stdout.splitlines())
    }
    # gunicorn's own hook prints as "<PostWorkerInit.post_worker_init()>"; a function from a
    # config file as its plain name
    assert settings["post_worker_init"] == "<post_worker_init()>"
    assert settings["post_fork"] == "<post_fork()>"
    # gthread workers, one per core, with threads to spare beside the hash budget
    assert (settings["worker_class"], settings["threads"]) == ("gthread", "8")
    assert settings["workers"] == str(default_slots())
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"] is post_worker_init


class _Server:
    def __init__(self, workers: int) -> None:
        self.cfg = type("Config", (), {"workers": workers})()


@pytest.mark.parametrize(
    ("workers", "share"), [(1, default_slots()), (default_slots(), 1), (64, 1)]
)
def test_each_worker_gets_its_share_of_the_hash_budget(
    monkeypatch: pytest.MonkeyPatch, workers: int, share: int
) -> None:
    monkeypatch.delenv("KEYSTILE_HASH_SLOTS", raising=False)
    post_fork(_Server(workers), worker=None)
    assert os.environ["KEYSTILE_HASH_SLOTS"] == str(share)


def test_a_hash_budget_set_by_the_operator_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTILE_HASH_SLOTS", "3")
    post_fork(_Server(2), worker=None)
    assert os.environ["KEYSTILE_HASH_SLOTS"] == "3"
