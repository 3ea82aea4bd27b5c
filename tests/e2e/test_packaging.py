"""The wheel is a whole Keystile: installed by pip away from this checkout (docs/deployment.md,
step 1), it migrates a database and serves its pages, scripts and styles under gunicorn.

The checkout keeps ``templates/``, ``static/`` and ``migrations/`` beside ``app/``; the wheel
must carry them inside the package (``setup.py``, ``app/resources.py``), or an installed
Keystile has no pages and no schema.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.proxies.servers import ROOT, Server, answers, free_ports

SOURCES = ("pyproject.toml", "setup.py", "README.md", "app", "templates", "static", "migrations")


def _run(cmd: list[str], **kwargs: object) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{cmd[:4]} failed:\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def _clean_copy(source: Path) -> Path:
    """What a source distribution holds, copied to ``source`` (no build leftovers)."""
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    return source


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built into a wheel from a clean copy, then installed into a directory of
    its own with pip (dependencies come from this environment)."""
    work = tmp_path_factory.mktemp("wheel")
    source = _clean_copy(work / "source")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    _run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ]
    )
    (wheel,) = (work / "dist").glob("keystile-*.whl")
    target = work / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)])
    return target


def _env(installed: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHONPATH": str(installed),
        "KEYSTILE_ENV": "development",
        "KEYSTILE_DATABASE_URL": f"sqlite:///{tmp_path / 'keystile.sqlite3'}",
        "KEYSTILE_ORIGIN": "http://localhost",
    }


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_installed_wheel_migrates_and_serves_every_resource(
    installed: Path, tmp_path: Path
) -> None:
    env = {**os.environ, **_env(installed, tmp_path)}
    where = _run([sys.executable, "-c", "import app; print(app.__file__)"], env=env, cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(installed), "the checkout's app was imported"
    assert not (installed / "templates").exists(), "resources belong inside the package"
    # HAProxy's gate action, loaded by `keystile proxy-config haproxy --protect` from here.
    assert (Path(where.strip()).parent / "deploy" / "templates" / "keystile_gate.lua").is_file()

    script = installed / "bin" / "keystile"
    out = _run([sys.executable, str(script), "db", "upgrade"], env=env, cwd=tmp_path)
    assert "0003" in out or (tmp_path / "keystile.sqlite3").stat().st_size > 0

    (port,) = free_ports(1)
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--no-control-socket",
        "--worker-tmp-dir",
        str(tmp_path),
        "app:create_app()",
    ]
    with Server(
        cmd,
        what="gunicorn (installed wheel)",
        log=tmp_path / "gunicorn.log",
        env=_env(installed, tmp_path),
        cwd=tmp_path,
        probe=lambda: answers(port),
    ).wait():
        status, page = _get(port, "/login")
        assert status == 200 and b'id="password-form"' in page
        for asset in ("/static/js/login.js", "/static/css/site.css"):
            status, body = _get(port, asset)
            assert status == 200 and body, asset
        status, page = _get(port, "/no-such-page")
        assert status == 404 and b"<html" in page  # the error page's template is there too


def test_metadata_is_current_and_builds_without_deprecation_warnings(
    installed: Path, tmp_path: Path
) -> None:
    """``project.license`` is an SPDX expression (PEP 639): setuptools deprecated the table
    form, and warned about it at every ``pip install -e .``, i.e. at the first ``make run``."""
    (metadata,) = installed.glob("keystile-*.dist-info/METADATA")
    assert "License-Expression: Apache-2.0" in metadata.read_text()
    source = _clean_copy(tmp_path / "source")
    (tmp_path / "meta").mkdir()
    build = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-c",
            "import sys; from setuptools import build_meta; "
            "build_meta.prepare_metadata_for_build_wheel(sys.argv[1])",
            str(tmp_path / "meta"),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert "Warning" not in build.stderr, build.stderr
