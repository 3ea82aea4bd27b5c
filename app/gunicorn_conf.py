"""gunicorn settings for Keystile: ``gunicorn -c python:app.gunicorn_conf 'app:create_app()'``.

A checkout's ``gunicorn.conf.py`` (which gunicorn reads from its working directory) loads
this module, so a plain ``gunicorn 'app:create_app()'`` run there gets it too.

The layout (docs/deployment.md, "Sizing for a flood"): one gthread worker per core the
server may use, each with :data:`threads` threads, and the password-hashing budget
(``KEYSTILE_HASH_SLOTS``) split between the workers so that all of them together verify at
most one password per core at a time. argon2id runs in C without the interpreter lock, so
a worker's other threads keep serving passkey and certificate sign-ins and signed-in
requests while its slot hashes; a password sign-in that finds no slot is refused at once
instead of holding a thread. With sync workers a flood of guesses holds every worker, and
every other request queues behind them (issue 17).
"""

from __future__ import annotations

import gc
import os
from typing import Any

from app.services.hash_budget import default_slots

worker_class = "gthread"
#: one worker per core: Python's work runs on every core, one interpreter lock each
workers = default_slots()
#: per worker: its hash slot and as many waiting sign-ins hold two; the rest serve others
threads = 8


def post_fork(server: Any, worker: Any) -> None:
    """Before the worker loads the app: its share of the hash budget, unless set.

    ``KEYSTILE_HASH_SLOTS`` defaults to the cores a process may use, right for one process;
    ``workers`` processes share them (``--workers`` on the command line counts too).
    """
    share = max(1, default_slots() // max(1, int(server.cfg.workers)))
    os.environ.setdefault("KEYSTILE_HASH_SLOTS", str(share))


def post_worker_init(worker: Any) -> None:
    """Move everything the freshly loaded app holds (modules, the app, compiled statements and
    templates) into the collector's permanent generation.

    Python's cyclic collector otherwise walks all of them in every full collection: a pause
    that grows with the app and lands on whichever request is running (``gc.callbacks``
    shows it under bench/passkey_login.py). ``gc.freeze()`` is the
    interpreter's own remedy for long-lived objects loaded before serving starts.
    """
    gc.freeze()
