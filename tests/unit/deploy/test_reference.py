"""The configurations committed in ``deploy/`` are exactly what the renderer produces."""

from __future__ import annotations

from app.deploy.reference import DEPLOY_DIR, reference_configs


def test_committed_copies_match_the_renderer() -> None:
    expected = reference_configs()
    committed = {path.name: path.read_text() for path in DEPLOY_DIR.iterdir() if path.is_file()}
    stale = sorted(
        name
        for name in expected.keys() | committed.keys()
        if expected.get(name) != committed.get(name)
    )
    assert not stale, (
        f"deploy/ differs from the templates in {', '.join(stale)}: run "
        "`.venv/bin/python -m app.deploy.reference` and review the diff"
    )
