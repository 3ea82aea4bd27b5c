"""gunicorn settings for Keystile: ``gunicorn -c python:app.gunicorn_conf 'app:create_app()'``.

A checkout's ``gunicorn.conf.py`` (which gunicorn reads from its working directory) loads
this module, so a plain ``gunicorn 'app:create_app()'`` run there gets it too.
"""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Move everything the freshly loaded app holds (modules, the app, compiled statements and
    templates) into the collector's permanent generation.

    Python's cyclic collector otherwise walks all of them in every full collection: a pause
    that grows with the app and lands on whichever request is running (``gc.callbacks``
    shows it under bench/passkey_login.py). ``gc.freeze()`` is the
    interpreter's own remedy for long-lived objects loaded before serving starts.
    """
    gc.freeze()
